//! Step 7: the audit log. Every boundary decision is one JSON line,
//! append-only and hash-chained: each record carries the hash of the one
//! before it and its own, so `claw audit verify` finds the first record
//! that was altered, removed or inserted. Records name secrets, never
//! values, and carry the path but not the query (where injected
//! credentials may sit).
//!
//! Files, for a log at `audit.jsonl`:
//!
//! - `audit.jsonl`: the live file, appended to;
//! - `audit.000001.jsonl`, `audit.000002.jsonl`, …: older segments, renamed
//!   from the live file when it passed the size limit (16 MiB by default);
//!   the chain runs on across them;
//! - `audit.head`: the last record's seq and hash (and the segment count),
//!   updated in place after every append — two checksummed slots written
//!   in turn, so a torn update leaves the previous head readable — so
//!   removing the last records or rehashing the last one shows (the chain
//!   alone cannot tell a short log from a cut one);
//! - `audit.lock`: never renamed, so every writer locks the same file while
//!   the live file rotates under it.
//!
//! Durability: a record is written to the file (not fsynced) before the
//! request it describes leaves, and the head likewise. That survives a crash of the process, not
//! a power loss; an fsync per record would cost more than the boundary's
//! whole latency budget. A write cut short by a crash leaves a torn last
//! line, which the next append cuts off (it was never a complete record).
//!
//! The chain proves order and completeness against anyone who cannot
//! rewrite the whole tail and the head file; it does not resist someone who
//! can (that needs the head kept elsewhere).
//!
//! [`AuditLog`] appends synchronously and writes every record. [`Auditor`]
//! is the handle for async code: a thread does the I/O, keeps the files
//! open, and collapses runs of identical denials.

mod chain;
mod collapse;
mod head;
mod verify;
mod writer;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

pub use verify::{Broken, Intact};
pub use writer::{Auditor, Clock};

/// The hash the first record chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The default size at which the live file becomes a segment.
pub const DEFAULT_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// One boundary decision, or the outcome of an allowed request.
///
/// Build one with struct update syntax over [`Record::default`]; `seq`,
/// `prev` and `hash` are filled in when it is appended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// 1-based position in the log.
    pub seq: u64,
    /// When, ms since the Unix epoch.
    pub time_ms: u64,
    /// The component that made the request.
    pub component: String,
    /// HTTP method.
    pub method: String,
    /// `http` or `https`.
    pub scheme: String,
    /// Host as the component named it.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path (no query).
    pub path: String,
    /// `allow` or `deny`.
    pub decision: String,
    /// The rule that allowed it, or why it was denied.
    pub rule: String,
    /// Secrets injected (names only).
    pub secrets: Vec<String>,
    /// Secrets redacted from the response (names only).
    pub redacted: Vec<String>,
    /// Request body bytes.
    pub request_bytes: u64,
    /// Response body bytes, when known.
    pub response_bytes: Option<u64>,
    /// Response status, when there was one.
    pub status: Option<u16>,
    /// Time spent in the boundary and on the wire, microseconds.
    pub duration_us: u64,
    /// This record stands for this many further denials identical to the
    /// one written before it in the same run, the last of them at
    /// `time_ms` (see [`Auditor`]).
    // Absent when `None`, so records written before the field existed
    // serialize, and so hash, exactly as they did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<u64>,
    /// This record is the outcome (status, sizes, redactions) of the allowed
    /// request whose decision record has this seq.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_of: Option<u64>,
    /// Hash of the previous record.
    pub prev: String,
    /// Hash of this record (with `hash` empty).
    pub hash: String,
}

impl Record {
    /// A draft of the outcome of this (appended) decision record: the same
    /// request, `outcome_of` set to this record's seq, nothing measured yet.
    /// Fill in `status`, `response_bytes`, `redacted` and `duration_us`.
    pub fn outcome(&self) -> Record {
        Record {
            time_ms: self.time_ms,
            component: self.component.clone(),
            method: self.method.clone(),
            scheme: self.scheme.clone(),
            host: self.host.clone(),
            port: self.port,
            path: self.path.clone(),
            decision: self.decision.clone(),
            rule: self.rule.clone(),
            secrets: self.secrets.clone(),
            request_bytes: self.request_bytes,
            outcome_of: Some(self.seq),
            ..Record::default()
        }
    }

    fn compute_hash(&self) -> String {
        let mut copy = self.clone();
        copy.hash = String::new();
        let bytes = serde_json::to_vec(&copy).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }
}

/// The append-only log: the live file and its rotated segments.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
    max_bytes: u64,
}

impl AuditLog {
    /// The log whose live file is `path`, rotating at 16 MiB.
    pub fn new(path: &Path) -> AuditLog {
        AuditLog::with_max_bytes(path, DEFAULT_MAX_BYTES)
    }

    /// The log whose live file is `path`, rotating once it would pass
    /// `max_bytes` (a single record larger than that still gets a file).
    pub fn with_max_bytes(path: &Path, max_bytes: u64) -> AuditLog {
        AuditLog { path: path.to_path_buf(), max_bytes }
    }

    /// Where the live file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append `record` (its `seq`, `prev` and `hash` are filled in here),
    /// under an exclusive lock so several processes keep one chain. Opens
    /// and reads the files anew each time; [`Auditor`] keeps them open.
    ///
    /// # Errors
    ///
    /// On I/O failure, or when the log's last line is damaged and no head
    /// file says where the chain stands.
    pub fn append(&self, record: Record) -> std::io::Result<Record> {
        let mut records = [record];
        chain::Chain::open(self)?.append_all(&mut records)?;
        let [record] = records;
        Ok(record)
    }

    /// The file beside the live one, named `<stem><suffix>`.
    fn sibling(&self, suffix: &str) -> PathBuf {
        let stem = self.path.file_stem().unwrap_or_default().to_string_lossy();
        self.path.with_file_name(format!("{stem}{suffix}"))
    }

    /// Segment `n` (1-based): `audit.000001.jsonl` for `audit.jsonl`.
    pub fn segment_path(&self, n: u64) -> PathBuf {
        match self.path.extension() {
            Some(ext) => self.sibling(&format!(".{n:06}.{}", ext.to_string_lossy())),
            None => self.sibling(&format!(".{n:06}")),
        }
    }

    /// The head file: `audit.head`.
    pub fn head_path(&self) -> PathBuf {
        self.sibling(".head")
    }

    fn lock_path(&self) -> PathBuf {
        self.sibling(".lock")
    }

    /// The numbers of the segments present, ascending.
    fn segments(&self) -> std::io::Result<Vec<u64>> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let stem = self.path.file_stem().unwrap_or_default().to_string_lossy().into_owned() + ".";
        let ext = self.path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for entry in entries {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            let number = name.strip_prefix(&stem).and_then(|rest| rest.strip_suffix(&ext));
            if let Some(n) = number
                && n.len() >= 6
                && n.bytes().all(|b| b.is_ascii_digit())
                && let Ok(n) = n.parse::<u64>()
            {
                out.push(n);
            }
        }
        out.sort_unstable();
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn draft(path: &str, decision: &str) -> Record {
        Record {
            time_ms: 1,
            component: "c".into(),
            method: "GET".into(),
            scheme: "https".into(),
            host: "x.com".into(),
            port: 443,
            path: path.into(),
            decision: decision.into(),
            rule: "line 3".into(),
            duration_us: 5,
            ..Record::default()
        }
    }

    #[test]
    fn an_outcome_draft_points_at_its_decision() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(&dir.path().join("audit.jsonl"));
        let d = log.append(draft("/a", "allow")).unwrap();
        let mut o = d.outcome();
        o.status = Some(200);
        let o = log.append(o).unwrap();
        assert_eq!((o.seq, o.outcome_of, o.path.as_str()), (2, Some(1), "/a"));
        assert_eq!(log.read().unwrap()[1], o);
        assert_eq!(log.verify().unwrap(), 2);
    }

    #[test]
    fn segment_head_and_lock_files_sit_beside_the_log() {
        let log = AuditLog::new(Path::new("/d/audit.jsonl"));
        assert_eq!(log.segment_path(2), Path::new("/d/audit.000002.jsonl"));
        assert_eq!(log.head_path(), Path::new("/d/audit.head"));
        assert_eq!(log.lock_path(), Path::new("/d/audit.lock"));
    }
}
