//! Reading the log back, and checking its chain, its segments and its head.

use super::head::{Head, read_head};
use super::{AuditLog, GENESIS, Record};
use std::fs::File;
use std::io::{self, BufRead as _, BufReader};
use std::path::{Path, PathBuf};

/// A broken chain: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The file (a segment, the live file, or the head file).
    pub file: PathBuf,
    /// 1-based line number in that file; 0 when the file itself is missing.
    pub line: usize,
    /// The seq of the record found wanting (or of the first one missing),
    /// when there is one.
    pub seq: Option<u64>,
    /// What is wrong there.
    pub reason: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.file.display(), self.reason),
            n => write!(f, "{}:{n}: {}", self.file.display(), self.reason),
        }
    }
}

/// A log that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intact {
    /// How many records.
    pub records: usize,
    /// How many rotated segments (besides the live file).
    pub segments: usize,
    /// Whether a head file was there to check the end against (logs
    /// written before it existed have none).
    pub head: bool,
    /// Whether the live file ends in a torn line (a write cut short by a
    /// crash; the next append cuts it off).
    pub torn_tail: bool,
}

/// Why a scan stopped.
enum Stop {
    Io(io::Error),
    Broken(Broken),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Io(e)
    }
}

/// A rotation while reading would skip a segment: read again (a few times).
const ATTEMPTS: usize = 3;

impl AuditLog {
    /// Every record of every segment and the live file, in order (an
    /// unparseable line is an error; a torn last line is not a record).
    ///
    /// # Errors
    ///
    /// On I/O failure or a damaged line.
    pub fn read(&self) -> io::Result<Vec<Record>> {
        for _ in 0..ATTEMPTS {
            let segments = self.segments()?;
            let mut out = Vec::new();
            let scan = self.scan(&segments, |file, n, line| {
                let r = serde_json::from_slice(line).map_err(|e| {
                    io::Error::other(format!("line {n} of {} is not an audit record: {e}", file.display()))
                })?;
                out.push(r);
                Ok(())
            });
            match scan {
                Ok(_) if self.segments()? == segments => return Ok(out),
                Ok(_) => {}
                Err(Stop::Io(e)) => return Err(e),
                Err(Stop::Broken(b)) => return Err(io::Error::other(b.to_string())),
            }
        }
        Err(io::Error::other("the audit log kept rotating while it was read"))
    }

    /// Check the chain; `Ok(n)` with the number of records when whole.
    ///
    /// # Errors
    ///
    /// I/O failure as `Err(Err(..))`; a broken chain as `Err(Ok(Broken))`.
    pub fn verify(&self) -> Result<usize, Result<Broken, io::Error>> {
        self.verify_all().map(|i| i.records)
    }

    /// Check every segment in order, the chain across them, and the head:
    /// the first problem is named by file and line.
    ///
    /// # Errors
    ///
    /// I/O failure as `Err(Err(..))`; a broken chain as `Err(Ok(Broken))`.
    pub fn verify_all(&self) -> Result<Intact, Result<Broken, io::Error>> {
        let stop = |s: Stop| match s {
            Stop::Io(e) => Err(e),
            Stop::Broken(b) => Ok(b),
        };
        for _ in 0..ATTEMPTS {
            // The head first: appends after this only move the log past it.
            let head = read_head(self).map_err(Err)?;
            let segments = self.segments().map_err(Err)?;
            self.check_segments(&segments, None).map_err(Ok)?;
            let head_seq = match &head {
                Some(Ok(h)) if h.seq > 0 => Some(h.seq),
                _ => None,
            };
            let mut check = Check { head_seq, ..Check::default() };
            let torn = self.scan(&segments, |file, n, line| check.line(file, n, line)).map_err(stop)?;
            if self.segments().map_err(Err)? != segments {
                continue;
            }
            check.end(self, head.as_ref()).map_err(Ok)?;
            self.check_segments(&segments, head.as_ref()).map_err(Ok)?;
            return Ok(Intact {
                records: check.count,
                segments: segments.len(),
                head: head.is_some(),
                torn_tail: torn,
            });
        }
        Err(Err(io::Error::other("the audit log kept rotating while it was verified")))
    }

    /// Segments are numbered 1, 2, … with no gap, and (`head` given) as
    /// many as the head counts.
    fn check_segments(&self, segments: &[u64], head: Option<&Result<Head, String>>) -> Result<(), Broken> {
        let expected = match head {
            Some(Ok(h)) => h.segments.max(segments.len() as u64),
            _ => segments.len() as u64,
        };
        for n in 1..=expected {
            if segments.get(n as usize - 1) != Some(&n) {
                return Err(Broken {
                    file: self.segment_path(n),
                    line: 0,
                    seq: None,
                    reason: "this segment is missing (it was removed or renamed)".into(),
                });
            }
        }
        Ok(())
    }

    /// Feed every line of the segments, then the live file, to `visit`.
    /// `Ok(true)` when the live file ends in a torn line (skipped).
    fn scan(
        &self,
        segments: &[u64],
        mut visit: impl FnMut(&Path, usize, &[u8]) -> Result<(), Stop>,
    ) -> Result<bool, Stop> {
        let files: Vec<PathBuf> =
            segments.iter().map(|n| self.segment_path(*n)).chain(std::iter::once(self.path.clone())).collect();
        for (i, path) in files.iter().enumerate() {
            let live = i + 1 == files.len();
            let file = match File::open(path) {
                Ok(f) => f,
                // A live file not yet created is empty; a vanished segment
                // is caught by the caller's second listing.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            let mut reader = BufReader::new(file);
            let mut line = Vec::new();
            let mut n = 0;
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line)? == 0 {
                    break;
                }
                n += 1;
                match line.strip_suffix(b"\n") {
                    Some(body) => visit(path, n, body)?,
                    None if live => return Ok(true),
                    None => visit(path, n, &line)?,
                }
            }
        }
        Ok(false)
    }
}

/// A record seen, and where.
#[derive(Clone)]
struct Seen {
    file: PathBuf,
    line: usize,
    seq: u64,
    hash: String,
}

/// The chain check, one line at a time.
#[derive(Default)]
struct Check {
    last: Option<Seen>,
    count: usize,
    /// The seq the head names, and the record with it once seen.
    head_seq: Option<u64>,
    at_head: Option<Seen>,
}

impl Check {
    fn line(&mut self, file: &Path, n: usize, bytes: &[u8]) -> Result<(), Stop> {
        let expected = self.last.as_ref().map_or(1, |l| l.seq + 1);
        let broken =
            |reason: String| Stop::Broken(Broken { file: file.to_path_buf(), line: n, seq: Some(expected), reason });
        let r: Record = serde_json::from_slice(bytes).map_err(|e| broken(format!("not an audit record: {e}")))?;
        if r.compute_hash() != r.hash {
            return Err(broken("its contents do not match its hash (it was altered)".into()));
        }
        // Fields serde would ignore, or spacing, are not in the hash.
        if serde_json::to_vec(&r).ok().as_deref() != Some(bytes) {
            return Err(broken("it is not as claw wrote it (a field was added or reformatted)".into()));
        }
        match &self.last {
            None if r.seq != 1 => {
                return Err(broken(format!(
                    "the log starts at record {} (records 1 to {} were removed)",
                    r.seq,
                    r.seq.saturating_sub(1)
                )));
            }
            None if r.prev != GENESIS => {
                return Err(broken("the first record does not start the chain (it was altered)".into()));
            }
            None => {}
            Some(last) if r.seq > last.seq + 1 => {
                let place =
                    if last.file != file { " (at the start of this file: a segment or records removed)" } else { "" };
                return Err(broken(format!(
                    "record {} follows record {}: record(s) {} to {} are missing{place}",
                    r.seq,
                    last.seq,
                    last.seq + 1,
                    r.seq - 1
                )));
            }
            Some(last) if r.seq <= last.seq => {
                return Err(broken(format!(
                    "record {} follows record {} (a record was inserted or the order changed)",
                    r.seq, last.seq
                )));
            }
            Some(last) if r.prev != last.hash => {
                // Both records match their own hashes and no seq is missing,
                // so the earlier one was changed and its hash recomputed:
                // this one still carries the hash it had when written.
                return Err(Stop::Broken(Broken {
                    file: last.file.clone(),
                    line: last.line,
                    seq: Some(last.seq),
                    reason: format!(
                        "record {} was changed and its hash recomputed: record {} chains to a different hash",
                        last.seq, r.seq
                    ),
                }));
            }
            Some(_) => {}
        }
        self.count += 1;
        let seen = Seen { file: file.to_path_buf(), line: n, seq: r.seq, hash: r.hash };
        if self.head_seq == Some(seen.seq) {
            self.at_head = Some(seen.clone());
        }
        self.last = Some(seen);
        Ok(())
    }

    /// The log must reach the head, and agree with it there.
    fn end(&self, log: &AuditLog, head: Option<&Result<Head, String>>) -> Result<(), Broken> {
        let h = match head {
            None => return Ok(()),
            Some(Err(e)) => {
                return Err(Broken {
                    file: log.head_path(),
                    line: 1,
                    seq: None,
                    reason: format!("the head file is damaged: {e}"),
                });
            }
            Some(Ok(h)) => h,
        };
        let last_seq = self.last.as_ref().map_or(0, |l| l.seq);
        if last_seq < h.seq {
            let (file, line) = self.last.as_ref().map_or((log.path.clone(), 1), |l| (l.file.clone(), l.line + 1));
            return Err(Broken {
                file,
                line,
                seq: Some(last_seq + 1),
                reason: format!(
                    "the log ends at record {last_seq} but the head says {}: the last {} record(s) were removed",
                    h.seq,
                    h.seq - last_seq
                ),
            });
        }
        match &self.at_head {
            Some(at) if at.hash != h.hash => Err(Broken {
                file: at.file.clone(),
                line: at.line,
                seq: Some(at.seq),
                reason: format!(
                    "record {} was changed and its hash recomputed: the head file holds a different hash",
                    at.seq
                ),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::draft;
    use super::*;

    /// Two lines as the format before `repeats`, `outcome_of` and the head
    /// file wrote them (checked against that code's `verify`).
    const TODAYS_FORMAT: &str = concat!(
        r#"{"seq":1,"time_ms":1767225600000,"component":"fetch","method":"GET","scheme":"https","host":"api.example.com","port":443,"path":"/v1/items","decision":"allow","rule":"line 3","secrets":["token"],"redacted":[],"request_bytes":0,"response_bytes":120,"status":200,"duration_us":850,"prev":"0000000000000000000000000000000000000000000000000000000000000000","hash":"3eeb05953c7e6e024cde7fafa0c6af892b88a3c8c7b3fd4c31b706ee0b1a86fb"}"#,
        "\n",
        r#"{"seq":2,"time_ms":1767225600000,"component":"fetch","method":"POST","scheme":"https","host":"api.example.com","port":443,"path":"/v1/upload","decision":"deny","rule":"no rule allows POST","secrets":[],"redacted":[],"request_bytes":0,"response_bytes":null,"status":null,"duration_us":12,"prev":"3eeb05953c7e6e024cde7fafa0c6af892b88a3c8c7b3fd4c31b706ee0b1a86fb","hash":"75eabdc112dfd381649184ae42f7d7a519ba1ec3a7b60d7e612f9d888e9cfa45"}"#,
        "\n",
    );

    fn five(dir: &Path) -> (AuditLog, Vec<String>) {
        let log = AuditLog::new(&dir.join("audit.jsonl"));
        for i in 0..5 {
            log.append(draft(&format!("/{i}"), "allow")).unwrap();
        }
        let text = std::fs::read_to_string(log.path()).unwrap();
        (log, text.lines().map(str::to_string).collect())
    }

    fn write_lines(log: &AuditLog, lines: &[String]) {
        std::fs::write(log.path(), lines.join("\n") + "\n").unwrap();
    }

    fn broken(log: &AuditLog) -> Broken {
        log.verify_all().unwrap_err().unwrap()
    }

    /// Change record `n` (1-based) and recompute its hash, as someone
    /// covering their tracks would.
    fn rehash(lines: &mut [String], n: usize) {
        let mut r: Record = serde_json::from_str(&lines[n - 1]).unwrap();
        r.path = "/evil".into();
        r.hash = r.compute_hash();
        lines[n - 1] = serde_json::to_string(&r).unwrap();
    }

    #[test]
    fn the_chain_verifies_and_names_the_first_broken_record() {
        let dir = tempfile::tempdir().unwrap();
        let (log, lines) = five(dir.path());
        assert_eq!(log.verify().unwrap(), 5);

        // Alter record 3.
        let altered: Vec<String> = lines.iter().map(|l| l.replace("\"path\":\"/2\"", "\"path\":\"/evil\"")).collect();
        write_lines(&log, &altered);
        let b = broken(&log);
        assert_eq!((b.file.as_path(), b.line), (log.path(), 3));
        assert!(b.reason.contains("altered"), "{}", b.reason);

        // Remove record 2.
        let removed: Vec<String> = lines.iter().enumerate().filter(|(i, _)| *i != 1).map(|(_, l)| l.clone()).collect();
        write_lines(&log, &removed);
        let b = broken(&log);
        assert_eq!(b.line, 2);
        assert!(b.reason.contains("missing"), "{}", b.reason);
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

    #[test]
    fn an_edited_and_rehashed_record_is_named_not_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let (log, mut lines) = five(dir.path());
        rehash(&mut lines, 3);
        write_lines(&log, &lines);
        let b = broken(&log);
        assert_eq!(b.line, 3, "{}", b.reason);
        assert!(b.reason.contains("record 3 was changed and its hash recomputed"), "{}", b.reason);
    }

    #[test]
    fn a_rehashed_last_record_is_caught_by_the_head() {
        let dir = tempfile::tempdir().unwrap();
        let (log, mut lines) = five(dir.path());
        rehash(&mut lines, 5);
        write_lines(&log, &lines);
        let b = broken(&log);
        assert_eq!(b.line, 5, "{}", b.reason);
        assert!(b.reason.contains("head file holds a different hash"), "{}", b.reason);
    }

    #[test]
    fn cutting_off_the_last_records_is_named_by_the_head() {
        let dir = tempfile::tempdir().unwrap();
        let (log, lines) = five(dir.path());
        write_lines(&log, &lines[..3]);
        let b = broken(&log);
        assert_eq!((b.file.as_path(), b.line), (log.path(), 4));
        assert!(b.reason.contains("ends at record 3 but the head says 5"), "{}", b.reason);

        // The next append does not paper over it.
        log.append(draft("/after", "allow")).unwrap();
        let b = broken(&log);
        assert_eq!(b.line, 4);
        assert!(b.reason.contains("missing"), "{}", b.reason);
    }

    #[test]
    fn with_the_newest_head_slot_torn_the_previous_one_still_catches_cuts_and_rehashes() {
        let dir = tempfile::tempdir().unwrap();
        let (log, lines) = five(dir.path());
        super::super::head::tests::tear_newest(&log);
        assert_eq!(log.verify().unwrap(), 5);

        write_lines(&log, &lines[..3]);
        let b = broken(&log);
        assert_eq!(b.line, 4);
        assert!(b.reason.contains("ends at record 3 but the head says 4"), "{}", b.reason);

        let mut lines = lines[..4].to_vec();
        rehash(&mut lines, 4);
        write_lines(&log, &lines);
        let b = broken(&log);
        assert_eq!(b.line, 4, "{}", b.reason);
        assert!(b.reason.contains("head file holds a different hash"), "{}", b.reason);
    }

    #[test]
    fn a_rehashed_last_record_stays_visible_after_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let (log, mut lines) = five(dir.path());
        rehash(&mut lines, 5);
        write_lines(&log, &lines);
        log.append(draft("/after", "allow")).unwrap();
        let b = broken(&log);
        assert_eq!(b.line, 5, "{}", b.reason);
    }

    #[test]
    fn a_field_added_to_a_record_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (log, mut lines) = five(dir.path());
        lines[1] = lines[1].replacen('{', "{\"note\":\"x\",", 1);
        write_lines(&log, &lines);
        let b = broken(&log);
        assert_eq!(b.line, 2);
        assert!(b.reason.contains("not as claw wrote it"), "{}", b.reason);
    }

    #[test]
    fn a_removed_middle_segment_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::with_max_bytes(&dir.path().join("audit.jsonl"), 700);
        for i in 0..12 {
            log.append(draft(&format!("/{i}"), "allow")).unwrap();
        }
        assert!(log.segments().unwrap().len() >= 3);
        std::fs::remove_file(log.segment_path(2)).unwrap();
        let b = broken(&log);
        assert_eq!((b.file, b.line), (log.segment_path(2), 0));

        // Renaming the later ones down to close the gap does not help.
        let last = *log.segments().unwrap().last().unwrap();
        for n in 3..=last {
            std::fs::rename(log.segment_path(n), log.segment_path(n - 1)).unwrap();
        }
        let b = broken(&log);
        assert_eq!((b.file, b.line), (log.segment_path(2), 1), "{}", b.reason);
        assert!(b.reason.contains("missing"), "{}", b.reason);
    }

    #[test]
    fn a_log_in_todays_format_still_verifies_and_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(&dir.path().join("audit.jsonl"));
        std::fs::write(log.path(), TODAYS_FORMAT).unwrap();
        assert_eq!(log.verify_all().unwrap(), Intact { records: 2, segments: 0, head: false, torn_tail: false });
        let r = log.append(draft("/3", "allow")).unwrap();
        assert_eq!(r.seq, 3);
        assert_eq!(log.verify().unwrap(), 3);
        assert_eq!(log.read().unwrap()[1].rule, "no rule allows POST");
    }

    #[test]
    fn a_torn_tail_not_yet_cut_is_not_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let (log, lines) = five(dir.path());
        std::fs::write(log.path(), lines.join("\n") + "\n{\"seq\":6,\"ti").unwrap();
        let intact = log.verify_all().unwrap();
        assert_eq!((intact.records, intact.torn_tail), (5, true));
        assert_eq!(log.read().unwrap().len(), 5);
    }
}
