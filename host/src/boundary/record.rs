//! The audit record of one request, as the boundary builds it: drafted from
//! what the component sent, cut of any vault value it wrote, and written
//! through the audit writer's thread (no file I/O on the async workers) —
//! an allowed request's decision before anything is sent, its outcome
//! after. A decision that cannot be written stops the request.

use super::Secrets;
use super::audit::{AuditLog, Auditor, Record};
use std::time::Instant;

/// A denial reason or rule text is cut to this many bytes: a component
/// controls the URL it names, and must not fill logs or errors with it.
pub const MAX_REASON: usize = 512;

/// The fields of a record known before the decision.
pub(super) struct Draft {
    pub(super) record: Record,
    started: Instant,
}

impl Draft {
    pub(super) fn new(component: &str, parts: &http::request::Parts) -> Draft {
        let scheme = parts.uri.scheme_str().unwrap_or("").to_string();
        let default_port = if scheme == "https" { 443 } else { 80 };
        let mut path: String = parts.uri.path().chars().take(512).collect();
        if path.contains("{secret:") {
            path = path.split("{secret:").next().unwrap_or("").to_string() + "{secret:…}";
        }
        Draft {
            record: Record {
                time_ms: crate::components::store_now_ms(),
                component: component.to_string(),
                method: parts.method.to_string(),
                scheme,
                host: parts.uri.host().unwrap_or("").to_ascii_lowercase(),
                port: parts.uri.port_u16().unwrap_or(default_port),
                path,
                ..Record::default()
            },
            started: Instant::now(),
        }
    }

    /// A record of the host's own (no request behind it).
    pub(super) fn note(component: &str) -> Draft {
        Draft {
            record: Record {
                time_ms: crate::components::store_now_ms(),
                component: component.to_string(),
                ..Record::default()
            },
            started: Instant::now(),
        }
    }

    /// When the request entered the boundary.
    pub(super) fn started(&self) -> Instant {
        self.started
    }

    /// Microseconds since the request entered the boundary.
    pub(super) fn elapsed_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }
}

/// Where a boundary's records go.
#[derive(Debug)]
pub(super) enum Recorder {
    /// No audit log (benchmarks of parts, unit tests): the host's log only.
    Off,
    /// The writer thread of the audit log.
    On(Auditor),
    /// The log could not be opened: nothing may be sent.
    Broken(String),
}

impl Recorder {
    pub(super) fn for_log(log: Option<&AuditLog>) -> Recorder {
        match log.map(Auditor::spawn) {
            None => Recorder::Off,
            Some(Ok(a)) => Recorder::On(a),
            Some(Err(e)) => {
                let path = log.map(|l| l.path().display().to_string()).unwrap_or_default();
                tracing::error!(target: "claw::boundary", "cannot open the audit log {path}: {e}; every outbound request is refused");
                Recorder::Broken(format!("the audit log {path} cannot be opened: {e}"))
            }
        }
    }

    /// Cut `record` of vault values, log it, and write it; the record as
    /// written (seq and hash filled in).
    pub(super) async fn write(&self, record: Record, secrets: &Secrets) -> std::io::Result<Record> {
        let record = prepare(record, secrets);
        match self {
            Recorder::Off => Ok(record),
            Recorder::On(a) => a.append_now(record).await.inspect_err(|e| {
                tracing::error!(target: "claw::boundary", "cannot write the audit log {}: {e}", a.path().display());
            }),
            Recorder::Broken(why) => Err(std::io::Error::other(why.clone())),
        }
    }

    /// [`Recorder::write`] without waiting: for an outcome, whose decision
    /// is already on disk.
    pub(super) fn write_later(&self, record: Record, secrets: &Secrets) {
        let record = prepare(record, secrets);
        if let Recorder::On(a) = self {
            a.append_later(record);
        }
    }

    /// Write any pending count of collapsed denials (at shutdown), and wait
    /// for every queued record.
    pub(super) fn flush(&self) {
        if let Recorder::On(a) = self {
            a.flush();
        }
    }
}

/// `record` with vault values cut out, logged.
fn prepare(mut record: Record, secrets: &Secrets) -> Record {
    {
        // What the component wrote (host, path) may carry a vault value:
        // the record keeps the place and the secret's name, not the value.
        let d = secrets.detector();
        record.host = bounded(&d.cut(&record.host), 256);
        record.path = bounded(&d.cut(&record.path), MAX_REASON);
        record.rule = bounded(&d.cut(&record.rule), 2 * MAX_REASON);
        let r = &record;
        match r.decision.as_str() {
            "deny" => {
                tracing::warn!(target: "claw::boundary", component = %r.component, "denied {} {}://{}:{}{}: {}", r.method, r.scheme, r.host, r.port, r.path, r.rule)
            }
            "allow" => {
                tracing::debug!(target: "claw::boundary", component = %r.component, "allowed {} {}://{}:{}{} ({})", r.method, r.scheme, r.host, r.port, r.path, r.rule)
            }
            // What an MCP server did, in the normal course (failures warn).
            "mcp-start" | "mcp-call" => {
                tracing::debug!(target: "claw::boundary", component = %r.component, "{}: {}", r.decision, r.rule)
            }
            other => tracing::warn!(target: "claw::boundary", component = %r.component, "{other}: {}", r.rule),
        }
    }
    record
}

/// `text` cut to at most `max` bytes (on a character boundary), marked.
pub fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes cut)", &text[..cut], text.len() - cut)
}
