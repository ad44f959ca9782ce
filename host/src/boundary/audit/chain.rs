//! Appending: the lock, the head file, torn-tail repair and rotation.

use super::head::{Head, HeadFile};
use super::{AuditLog, GENESIS, Record};
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read, Seek as _, SeekFrom, Write as _};
use std::path::Path;

/// The head as of this process's last append, and the live file's identity
/// and length right after it: if both are unchanged under the lock, nobody
/// else wrote since and the tail need not be read again.
#[derive(Debug, Clone)]
struct Tip {
    head: Head,
    id: Option<FileId>,
    len: u64,
}

/// Device and inode: rotation by another process shows as a new inode.
pub(super) type FileId = (u64, u64);

#[cfg(unix)]
pub(super) fn file_id(meta: &Metadata) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt as _;
    Some((meta.dev(), meta.ino()))
}

/// Without inodes an open file cannot be matched to the path: reopen and
/// re-read every time (correct, slower).
#[cfg(not(unix))]
fn file_id(_: &Metadata) -> Option<FileId> {
    None
}

/// An open log: the lock file, the live file, the head file, and what we
/// last wrote.
#[derive(Debug)]
pub(super) struct Chain {
    log: AuditLog,
    lock: File,
    live: Option<(File, Option<FileId>)>,
    head: HeadFile,
    tip: Option<Tip>,
}

impl Chain {
    /// Open (creating the directory and lock file if need be).
    pub(super) fn open(log: &AuditLog) -> io::Result<Chain> {
        if let Some(dir) = log.path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        let lock = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(log.lock_path())?;
        Ok(Chain { log: log.clone(), lock, live: None, head: HeadFile::new(log), tip: None })
    }

    /// Append `records` in order under one lock, one write and one head
    /// update (rotating between them when the live file fills up); fills in
    /// their `seq`, `prev` and `hash`.
    pub(super) fn append_all(&mut self, records: &mut [Record]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.lock.lock()?;
        let result = self.append_locked(records);
        if result.is_err() {
            // What is on disk is unknown now: re-read (and repair) next time.
            self.tip = None;
            self.live = None;
            self.head.forget();
        }
        let unlocked = self.lock.unlock();
        result.and(unlocked)
    }

    fn append_locked(&mut self, records: &mut [Record]) -> io::Result<()> {
        let mut tip = self.sync()?;
        let mut buf = Vec::with_capacity(512 * records.len());
        for r in records.iter_mut() {
            r.seq = tip.head.seq + 1;
            r.prev = std::mem::take(&mut tip.head.hash);
            r.hash = r.compute_hash();
            let start = buf.len();
            serde_json::to_writer(&mut buf, &*r).map_err(io::Error::other)?;
            buf.push(b'\n');
            if tip.len + start as u64 > 0 && tip.len + buf.len() as u64 > self.log.max_bytes {
                self.write(&buf[..start])?;
                tip.len += start as u64;
                buf.drain(..start);
                self.rotate(&mut tip)?;
            }
            tip.head.seq = r.seq;
            tip.head.hash.clone_from(&r.hash);
        }
        self.write(&buf)?;
        tip.len += buf.len() as u64;
        self.head.write(&tip.head)?;
        self.tip = Some(tip);
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.live {
            Some((file, _)) => file.write_all(bytes),
            None => Err(io::Error::other("the audit log is not open")),
        }
    }

    /// The live file becomes the next segment; a new live file starts.
    fn rotate(&mut self, tip: &mut Tip) -> io::Result<()> {
        let n = tip.head.segments + 1;
        let to = self.log.segment_path(n);
        // rename would replace an existing segment silently.
        if to.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("cannot rotate the audit log: {} exists", to.display()),
            ));
        }
        std::fs::rename(&self.log.path, &to)?;
        tip.head.segments = n;
        let (file, id) = open_live(&self.log.path)?;
        self.live = Some((file, id));
        tip.id = id;
        tip.len = 0;
        Ok(())
    }

    /// Where the chain stands, under the lock. The fast path is one `stat`:
    /// same live file, same length as after our last write.
    fn sync(&mut self) -> io::Result<Tip> {
        let meta = match std::fs::metadata(&self.log.path) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let id_now = meta.as_ref().and_then(file_id);
        let (file, id, len) = match (self.live.take(), meta) {
            (Some((file, Some(id))), Some(meta)) if id_now == Some(id) => (file, Some(id), meta.len()),
            _ => {
                let (file, id) = open_live(&self.log.path)?;
                let len = file.metadata()?.len();
                (file, id, len)
            }
        };
        self.live = Some((file, id));
        if let Some(tip) = self.tip.take()
            && tip.id.is_some()
            && tip.id == id
            && tip.len == len
        {
            return Ok(tip);
        }
        let Some((file, _)) = &mut self.live else { unreachable!("just set") };
        // Someone else may have appended: what we knew of the head file is
        // stale too, and `recover` reads it again.
        recover(&self.log, &mut self.head, file, id, len)
    }
}

fn open_live(path: &Path) -> io::Result<(File, Option<FileId>)> {
    let file = OpenOptions::new().read(true).append(true).create(true).open(path)?;
    let id = file_id(&file.metadata()?);
    Ok((file, id))
}

/// The slow path: read the head and the tail, cut a torn last line, and
/// decide where the chain goes on.
fn recover(log: &AuditLog, head_file: &mut HeadFile, live: &mut File, id: Option<FileId>, len: u64) -> io::Result<Tip> {
    let head = match head_file.read()? {
        Some(Ok(h)) => Some(h),
        Some(Err(e)) => {
            tracing::warn!(target: "claw::audit", "ignoring a damaged head file {}: {e}", log.head_path().display());
            None
        }
        None => None,
    };
    let (complete, last) = tail(live, len)?;
    if complete < len {
        // A write cut short (a crash): never a complete record.
        live.set_len(complete)?;
        tracing::warn!(target: "claw::audit", "cut a torn last line ({} bytes) off {}", len - complete, log.path.display());
    }
    // The usual case: the head describes the live file's last record, and
    // so knows the segments too (no directory listing needed).
    if let (Some(line), Some(h)) = (&last, &head)
        && let Ok(r) = serde_json::from_slice::<Record>(line)
        && r.seq == h.seq
        && r.hash == h.hash
    {
        return Ok(Tip { head: h.clone(), id, len: complete });
    }
    let listed = log.segments()?;
    let segments = listed.last().copied().unwrap_or(0).max(head.as_ref().map_or(0, |h| h.segments));
    let last = match last {
        Some(line) => Some((line, log.path.clone())),
        None => match listed.last() {
            Some(n) => {
                let path = log.segment_path(*n);
                let mut f = File::open(&path)?;
                let flen = f.metadata()?.len();
                tail(&mut f, flen)?.1.map(|line| (line, path))
            }
            None => None,
        },
    };
    let from_log = match last {
        Some((line, path)) => match serde_json::from_slice::<Record>(&line) {
            Ok(r) => Some((r.seq, r.hash)),
            Err(_) if head.is_some() => None,
            Err(e) => {
                return Err(io::Error::other(format!(
                    "the last line of {} is not an audit record ({e}) and there is no head file to go on from; \
                     run `claw audit verify`",
                    path.display()
                )));
            }
        },
        None => None,
    };
    let (seq, hash) = match (from_log, head) {
        // The head is ahead of the log (records were cut off) or disagrees
        // with its last record (it was rehashed): go on from the head, so
        // the gap stays visible to `verify` instead of being papered over.
        (Some((seq, hash)), Some(h)) if h.seq > seq || (h.seq == seq && h.hash != hash) => (h.seq, h.hash),
        (Some(l), _) => l,
        (None, Some(h)) => (h.seq, h.hash),
        (None, None) => (0, GENESIS.to_string()),
    };
    Ok(Tip { head: Head { seq, hash, segments }, id, len: complete })
}

/// The length up to and including the last newline, and the last complete
/// line (without its newline), reading backwards from `len`.
pub(super) fn tail(file: &mut File, len: u64) -> io::Result<(u64, Option<Vec<u8>>)> {
    let mut window = 4096u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        Read::take(&mut *file, len - start).read_to_end(&mut buf)?;
        match buf.iter().rposition(|b| *b == b'\n') {
            None if start > 0 => {}
            None => return Ok((0, None)),
            Some(end) => {
                let complete = start + end as u64 + 1;
                match buf[..end].iter().rposition(|b| *b == b'\n') {
                    Some(p) => return Ok((complete, Some(buf[p + 1..end].to_vec()))),
                    None if start == 0 => return Ok((complete, Some(buf[..end].to_vec()))),
                    None => {}
                }
            }
        }
        window *= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::draft;
    use super::*;

    #[test]
    fn a_torn_last_line_is_cut_and_the_chain_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(&dir.path().join("audit.jsonl"));
        let mut third = None;
        for i in 0..3 {
            third = Some(log.append(draft(&format!("/{i}"), "allow")).unwrap());
        }
        let mut f = OpenOptions::new().append(true).open(log.path()).unwrap();
        f.write_all(b"{\"seq\":4,\"time_ms\":1,\"compo").unwrap();
        drop(f);
        let r = log.append(draft("/next", "allow")).unwrap();
        assert_eq!(r.seq, 4);
        assert_eq!(r.prev, third.unwrap().hash);
        assert_eq!(log.verify().unwrap(), 4);
        assert_eq!(log.read().unwrap().len(), 4);
    }

    #[test]
    fn a_torn_line_left_by_another_process_is_cut_by_an_open_chain() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(&dir.path().join("audit.jsonl"));
        let mut chain = Chain::open(&log).unwrap();
        chain.append_all(&mut [draft("/a", "allow")]).unwrap();
        let mut f = OpenOptions::new().append(true).open(log.path()).unwrap();
        f.write_all(b"{\"seq\":2,").unwrap();
        drop(f);
        let mut next = [draft("/b", "allow")];
        chain.append_all(&mut next).unwrap();
        assert_eq!(next[0].seq, 2);
        assert_eq!(log.verify().unwrap(), 2);
    }

    #[test]
    fn rotation_keeps_one_chain_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::with_max_bytes(&dir.path().join("audit.jsonl"), 1000);
        for i in 0..20 {
            log.append(draft(&format!("/{i}"), "allow")).unwrap();
        }
        let segments = log.segments().unwrap();
        assert!(segments.len() >= 5, "{segments:?}");
        assert_eq!(segments, (1..=segments.len() as u64).collect::<Vec<_>>());
        for n in &segments {
            assert!(std::fs::metadata(log.segment_path(*n)).unwrap().len() <= 1000);
        }
        let records = log.read().unwrap();
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=20).collect::<Vec<_>>());
        assert_eq!(records[19].path, "/19");
        let intact = log.verify_all().unwrap();
        assert_eq!((intact.records, intact.segments, intact.head), (20, segments.len(), true));
    }

    #[test]
    fn concurrent_writers_keep_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    // Half keep their files open (the cached fast path), half
                    // reopen for every append.
                    let log = AuditLog::with_max_bytes(&path, 4000);
                    let mut chain = Chain::open(&log).unwrap();
                    for i in 0..50 {
                        let r = draft(&format!("/{t}/{i}"), "allow");
                        if t % 2 == 0 {
                            chain.append_all(&mut [r]).unwrap();
                        } else {
                            log.append(r).unwrap();
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let log = AuditLog::new(&path);
        let records = log.read().unwrap();
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=200).collect::<Vec<_>>());
        for t in 0..4 {
            for i in 0..50 {
                let p = format!("/{t}/{i}");
                assert_eq!(records.iter().filter(|r| r.path == p).count(), 1, "{p}");
            }
        }
        let intact = log.verify_all().unwrap();
        assert_eq!(intact.records, 200);
        assert!(intact.segments > 1);
    }
}
