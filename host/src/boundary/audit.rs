//! Step 7: the audit log. Every boundary decision is one JSON line,
//! append-only and hash-chained: each record carries the hash of the one
//! before it and its own, so `claw audit verify` finds the first record
//! that was altered, removed or inserted. Records name secrets, never
//! values, and carry the path but not the query (where injected
//! credentials may sit).

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

/// The hash the first record chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One boundary decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Hash of the previous record.
    pub prev: String,
    /// Hash of this record (with `hash` empty).
    pub hash: String,
}

impl Record {
    fn compute_hash(&self) -> String {
        let mut copy = self.clone();
        copy.hash = String::new();
        let bytes = serde_json::to_vec(&copy).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }
}

/// A broken chain: which record, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// 1-based line number in the file.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// The append-only log file.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    /// The log at `path`.
    pub fn new(path: &Path) -> AuditLog {
        AuditLog { path: path.to_path_buf() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append `record` (its `seq`, `prev` and `hash` are filled in here),
    /// under an exclusive lock so several processes keep one chain.
    ///
    /// # Errors
    ///
    /// On I/O failure.
    pub fn append(&self, mut record: Record) -> std::io::Result<Record> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(&self.path)?;
        file.lock()?;
        let last = last_record(&mut file)?;
        record.seq = last.as_ref().map_or(1, |r| r.seq + 1);
        record.prev = last.map_or_else(|| GENESIS.to_string(), |r| r.hash);
        record.hash = record.compute_hash();
        let mut line = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        file.write_all(&line)?;
        file.unlock()?;
        Ok(record)
    }

    /// Every record, in order (an unparseable line is an error).
    ///
    /// # Errors
    ///
    /// On I/O failure or a damaged line.
    pub fn read(&self) -> std::io::Result<Vec<Record>> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line?;
            let r: Record = serde_json::from_str(&line).map_err(|e| {
                std::io::Error::other(format!("line {} of {} is not an audit record: {e}", i + 1, self.path.display()))
            })?;
            out.push(r);
        }
        Ok(out)
    }

    /// Check the chain; `Ok(n)` with the number of records when whole.
    ///
    /// # Errors
    ///
    /// I/O failure as `Err(Err(..))`; a broken chain as `Err(Ok(Broken))`.
    pub fn verify(&self) -> Result<usize, Result<Broken, std::io::Error>> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Err(e)),
        };
        let mut prev = GENESIS.to_string();
        let mut count = 0;
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(Err)?;
            let n = i + 1;
            let broken = |reason: String| Err(Ok(Broken { line: n, reason }));
            let r: Record = match serde_json::from_str(&line) {
                Ok(r) => r,
                Err(e) => return broken(format!("not a record: {e}")),
            };
            if r.seq != n as u64 {
                return broken(format!(
                    "sequence number {} where {n} was expected (a record was removed or inserted)",
                    r.seq
                ));
            }
            if r.prev != prev {
                return broken("does not chain to the record before it".into());
            }
            if r.compute_hash() != r.hash {
                return broken("its contents do not match its hash (it was altered)".into());
            }
            prev = r.hash;
            count += 1;
        }
        Ok(count)
    }
}

/// The last complete record of an open log, reading backwards from the end.
fn last_record(file: &mut File) -> std::io::Result<Option<Record>> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(None);
    }
    let mut window = 4096u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)?;
        let trimmed = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if let Some(pos) = trimmed.iter().rposition(|b| *b == b'\n') {
            return Ok(serde_json::from_slice(&trimmed[pos + 1..]).ok());
        }
        if start == 0 {
            return Ok(serde_json::from_slice(trimmed).ok());
        }
        window *= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(path: &str, decision: &str) -> Record {
        Record {
            seq: 0,
            time_ms: 1,
            component: "c".into(),
            method: "GET".into(),
            scheme: "https".into(),
            host: "x.com".into(),
            port: 443,
            path: path.into(),
            decision: decision.into(),
            rule: "line 3".into(),
            secrets: vec![],
            redacted: vec![],
            request_bytes: 0,
            response_bytes: None,
            status: None,
            duration_us: 5,
            prev: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn the_chain_verifies_and_names_the_first_broken_record() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(&dir.path().join("audit.jsonl"));
        for i in 0..5 {
            log.append(draft(&format!("/{i}"), "allow")).unwrap();
        }
        assert_eq!(log.verify().unwrap(), 5);
        let text = std::fs::read_to_string(log.path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();

        // Alter record 3.
        let altered = text.replace("\"path\":\"/2\"", "\"path\":\"/evil\"");
        std::fs::write(log.path(), &altered).unwrap();
        let b = log.verify().unwrap_err().unwrap();
        assert_eq!(b.line, 3);
        assert!(b.reason.contains("altered"), "{}", b.reason);

        // Remove record 2.
        let removed: Vec<&str> = lines.iter().enumerate().filter(|(i, _)| *i != 1).map(|(_, l)| *l).collect();
        std::fs::write(log.path(), removed.join("\n") + "\n").unwrap();
        let b = log.verify().unwrap_err().unwrap();
        assert_eq!(b.line, 2);
    }

    #[test]
    fn appends_continue_the_chain_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        AuditLog::new(&path).append(draft("/a", "deny")).unwrap();
        let r = AuditLog::new(&path).append(draft("/b", "allow")).unwrap();
        assert_eq!(r.seq, 2);
        assert_eq!(AuditLog::new(&path).verify().unwrap(), 2);
    }
}
