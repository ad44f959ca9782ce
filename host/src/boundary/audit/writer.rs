//! The [`Auditor`]: a thread that owns the open log and does its file I/O,
//! so async workers hand records over and never block on the disk.

use super::chain::Chain;
use super::collapse::Collapse;
use super::{AuditLog, Record};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

/// The time in ms since the Unix epoch; injectable so tests need no sleeps.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// How many queued records one write takes at most.
const BATCH: usize = 256;

enum Msg {
    Append(Box<Record>, tokio::sync::oneshot::Sender<io::Result<Record>>),
    Flush(mpsc::SyncSender<()>),
}

/// The open log, collapsing denials; what the thread runs.
pub(super) struct Writer {
    chain: Chain,
    collapse: Collapse,
    clock: Clock,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl Writer {
    pub(super) fn open(log: &AuditLog, clock: Clock) -> io::Result<Writer> {
        Ok(Writer { chain: Chain::open(log)?, collapse: Collapse::default(), clock })
    }

    /// Append `drafts` in order with one lock and one write. A denial only
    /// counted into a run comes back as given (seq 0): it is not in the log
    /// yet, and a record standing for it will be.
    pub(super) fn append(&mut self, drafts: Vec<Record>) -> Vec<io::Result<Record>> {
        let now = (self.clock)();
        let mut out = Vec::with_capacity(drafts.len());
        // For each draft: the index of its record in `out`, or (a denial
        // only counted) a copy of it to hand back.
        let mut placed = Vec::with_capacity(drafts.len());
        for d in drafts {
            let copy = (d.decision == "deny").then(|| d.clone());
            if self.collapse.admit(d, now, &mut out) {
                placed.push((Some(out.len() - 1), None));
            } else {
                placed.push((None, copy));
            }
        }
        let written = self.write(&mut out);
        placed
            .into_iter()
            .map(|(index, copy)| match (index, &written) {
                (Some(i), Ok(())) => Ok(out[i].clone()),
                (Some(_), Err(e)) => Err(io::Error::new(e.kind(), e.to_string())),
                (None, _) => Ok(copy.unwrap_or_default()),
            })
            .collect()
    }

    /// Write a pending count whose window has passed.
    pub(super) fn tick(&mut self) -> io::Result<()> {
        let mut out = Vec::new();
        self.collapse.expire((self.clock)(), &mut out);
        self.write(&mut out)
    }

    /// Write any pending count.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        let mut out = Vec::new();
        self.collapse.flush(&mut out);
        self.write(&mut out)
    }

    fn write(&mut self, out: &mut [Record]) -> io::Result<()> {
        let result = self.chain.append_all(out);
        if result.is_err() {
            self.collapse.reset();
        }
        result
    }

    /// How long until a pending count is due.
    fn wait(&self) -> Option<Duration> {
        self.collapse.deadline_ms().map(|d| Duration::from_millis(d.saturating_sub((self.clock)())))
    }
}

/// A handle on the log for async code: cheap to clone, shared by every
/// component. One OS thread per log does the writing; dropping the last
/// handle flushes any pending count and stops it.
///
/// Unlike [`AuditLog::append`], runs of identical denials (same component,
/// method, scheme, host, port, path and rule, nothing else between) are
/// collapsed: the first is written at once, the repeats become one record
/// with `repeats` set, written when a different record arrives, after 60 s,
/// after 10,000 repeats, or on [`Auditor::flush`].
///
/// In the boundary, an allowed request takes two records:
///
/// ```text
/// let d = auditor.append(decision).await?;   // Err: do not send
/// // ... send, read the response ...
/// let mut o = d.outcome();                    // outcome_of = Some(d.seq)
/// o.status = Some(status); o.response_bytes = ...; o.duration_us = ...;
/// auditor.append(o).await                     // log an Err; the request is done
/// ```
///
/// and a denial one (`auditor.append(denial).await`). At shutdown call
/// [`Auditor::flush`], or drop the last handle, which flushes and joins
/// the thread (so it blocks for as long as that write takes).
#[derive(Debug, Clone)]
pub struct Auditor {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tx: Option<mpsc::Sender<Msg>>,
    /// Shared with the thread: a record the caller must wait for anyway
    /// is written on the caller's thread (see [`Auditor::append_now`]).
    writer: Arc<Mutex<Writer>>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel tells the thread to flush and stop.
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Auditor {
    /// Start the thread writing to `log`.
    ///
    /// # Errors
    ///
    /// When the log's directory or lock file cannot be created.
    pub fn spawn(log: &AuditLog) -> io::Result<Auditor> {
        let clock: Clock = Arc::new(crate::components::store_now_ms);
        Auditor::with_clock(log, clock)
    }

    /// [`Auditor::spawn`] with the time taken from `clock`.
    ///
    /// # Errors
    ///
    /// As [`Auditor::spawn`].
    pub fn with_clock(log: &AuditLog, clock: Clock) -> io::Result<Auditor> {
        let writer = Arc::new(Mutex::new(Writer::open(log, clock)?));
        let (tx, rx) = mpsc::channel();
        let shared = writer.clone();
        let thread = std::thread::Builder::new().name("claw-audit".into()).spawn(move || run(&shared, &rx))?;
        Ok(Auditor {
            inner: Arc::new(Inner { tx: Some(tx), writer, thread: Some(thread), path: log.path().to_path_buf() }),
        })
    }

    /// Where the live file is.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Append `record` and return it as written (`seq`, `prev`, `hash`
    /// filled in). Await it before acting on the decision: when it fails,
    /// the request must not be sent.
    ///
    /// A denial that only extends a run of identical ones comes back as
    /// given, with `seq` 0.
    ///
    /// # Errors
    ///
    /// When the record could not be written, or the writer thread is gone.
    ///
    /// # Cancel safety
    ///
    /// Once polled, the record is written even if the future is dropped.
    pub async fn append(&self, record: Record) -> io::Result<Record> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Msg::Append(Box::new(record), tx))?;
        rx.await.map_err(|_| gone())?
    }

    /// Append `record` and wait for it, writing it on this thread inside
    /// `block_in_place` on a multi-threaded runtime (the runtime moves this
    /// worker's other tasks elsewhere meanwhile), which spares the two
    /// thread hand-offs of [`Auditor::append`]; elsewhere, as `append`.
    ///
    /// # Errors
    ///
    /// As [`Auditor::append`].
    pub async fn append_now(&self, record: Record) -> io::Result<Record> {
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if !multi {
            return self.append(record).await;
        }
        tokio::task::block_in_place(|| {
            let mut writer = self.inner.writer.lock().map_err(|_| gone())?;
            writer.append(vec![record]).pop().unwrap_or_else(|| Err(gone()))
        })
    }

    /// Queue `record` without waiting for it to be written: for a record
    /// nothing waits on (an allowed request's outcome, after its decision
    /// is already on disk). Records are written in the order given; a
    /// failure is logged. [`Auditor::flush`] waits for everything queued.
    pub fn append_later(&self, record: Record) {
        let (tx, _rx) = tokio::sync::oneshot::channel();
        if let Err(e) = self.send(Msg::Append(Box::new(record), tx)) {
            tracing::error!(target: "claw::boundary", "cannot write the audit log {}: {e}", self.path().display());
        }
    }

    /// Write any pending count of repeated denials now, and wait until it
    /// and everything queued before it is written (call at shutdown, or
    /// before reading the log; a failure is logged).
    pub fn flush(&self) {
        let (tx, rx) = mpsc::sync_channel(1);
        if self.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    fn send(&self, msg: Msg) -> io::Result<()> {
        self.inner.tx.as_ref().ok_or_else(gone)?.send(msg).map_err(|_| gone())
    }
}

fn gone() -> io::Error {
    io::Error::other("the audit writer has stopped")
}

fn report(result: io::Result<()>) {
    if let Err(e) = result {
        tracing::error!(target: "claw::audit", "cannot write the audit log: {e}");
    }
}

/// The thread: take what is queued, write it in one go, reply; write a
/// pending count when it falls due; flush when the last handle is gone.
fn run(shared: &Mutex<Writer>, rx: &mpsc::Receiver<Msg>) {
    let lock = || shared.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let wait = lock().wait();
        let first = match wait {
            Some(wait) => match rx.recv_timeout(wait) {
                Ok(m) => m,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    report(lock().tick());
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(m) => m,
                Err(_) => break,
            },
        };
        let mut drafts = Vec::new();
        let mut replies = Vec::new();
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Append(r, reply) => {
                    drafts.push(*r);
                    replies.push(reply);
                }
                Msg::Flush(done) => {
                    let mut writer = lock();
                    answer(&mut writer, &mut drafts, &mut replies);
                    report(writer.flush());
                    let _ = done.send(());
                }
            }
            if drafts.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        answer(&mut lock(), &mut drafts, &mut replies);
    }
    report(lock().flush());
}

fn answer(
    writer: &mut Writer,
    drafts: &mut Vec<Record>,
    replies: &mut Vec<tokio::sync::oneshot::Sender<io::Result<Record>>>,
) {
    if drafts.is_empty() {
        return;
    }
    for (result, reply) in writer.append(std::mem::take(drafts)).into_iter().zip(replies.drain(..)) {
        // The caller may have gone away (or never waited): the record is
        // written regardless, and a failure nobody hears of is logged.
        if let Err(Err(e)) = reply.send(result) {
            tracing::error!(target: "claw::boundary", "cannot write an audit record: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::draft;
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn fake_clock() -> (Arc<AtomicU64>, Clock) {
        let now = Arc::new(AtomicU64::new(1_000));
        let read = now.clone();
        (now, Arc::new(move || read.load(Ordering::SeqCst)))
    }

    #[tokio::test]
    async fn a_decision_then_its_outcome_and_a_count_flushed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(&dir.path().join("audit.jsonl"));
        let (_, clock) = fake_clock();
        let auditor = Auditor::with_clock(&log, clock).unwrap();
        let d = auditor.append(draft("/ok", "allow")).await.unwrap();
        assert_eq!(d.seq, 1);
        let mut o = d.outcome();
        o.status = Some(200);
        let o = auditor.append(o).await.unwrap();
        assert_eq!((o.seq, o.outcome_of), (2, Some(1)));
        let clone = auditor.clone();
        for _ in 0..5 {
            clone.append(draft("/no", "deny")).await.unwrap();
        }
        drop(clone);
        assert_eq!(log.read().unwrap().len(), 3);
        drop(auditor);
        let records = log.read().unwrap();
        assert_eq!(records.len(), 4);
        assert_eq!((records[3].path.as_str(), records[3].repeats), ("/no", Some(4)));
        assert_eq!(log.verify().unwrap(), 4);
    }

    #[tokio::test]
    async fn flush_writes_the_pending_count() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(&dir.path().join("audit.jsonl"));
        let (_, clock) = fake_clock();
        let auditor = Auditor::with_clock(&log, clock).unwrap();
        for _ in 0..3 {
            auditor.append(draft("/no", "deny")).await.unwrap();
        }
        auditor.flush();
        let records = log.read().unwrap();
        assert_eq!(records.iter().map(|r| r.repeats).collect::<Vec<_>>(), [None, Some(2)]);
    }

    #[test]
    fn a_count_falls_due_at_the_next_append_after_60_s() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(&dir.path().join("audit.jsonl"));
        let (now, clock) = fake_clock();
        let mut w = Writer::open(&log, clock).unwrap();
        w.append(vec![draft("/no", "deny"), draft("/no", "deny")]);
        now.fetch_add(30_000, Ordering::SeqCst);
        w.tick().unwrap();
        assert_eq!(log.read().unwrap().len(), 1);
        now.fetch_add(30_000, Ordering::SeqCst);
        w.tick().unwrap();
        assert_eq!(log.read().unwrap().iter().map(|r| r.repeats).collect::<Vec<_>>(), [None, Some(1)]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_tasks_appending_get_distinct_seqs() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::with_max_bytes(&dir.path().join("audit.jsonl"), 5000);
        let auditor = Auditor::spawn(&log).unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let a = auditor.clone();
                tokio::spawn(async move {
                    let mut seqs = Vec::new();
                    for i in 0..25 {
                        seqs.push(a.append(draft(&format!("/{t}/{i}"), "allow")).await.unwrap().seq);
                    }
                    seqs
                })
            })
            .collect();
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.extend(t.await.unwrap());
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
        assert_eq!(log.verify().unwrap(), 200);
    }

    /// Not a claim, a measurement: `cargo test -p claw --lib --release
    /// audit_latency -- --ignored --nocapture`.
    #[tokio::test]
    #[ignore = "a measurement"]
    #[allow(clippy::print_stderr)]
    async fn audit_latency() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(&dir.path().join("audit.jsonl"));
        let auditor = Auditor::spawn(&log).unwrap();
        let mut times = Vec::new();
        for i in 0..2000 {
            let started = std::time::Instant::now();
            auditor.append(draft(&format!("/{i}"), "allow")).await.unwrap();
            times.push(started.elapsed().as_micros());
        }
        times.sort_unstable();
        eprintln!("append through the Auditor: p50 {} µs, p99 {} µs", times[1000], times[1980]);
        assert!(times[1000] < 100_000);
    }
}
