//! Approvals: tool calls a grant says a person must confirm. A call that
//! needs one and has none becomes a pending request (one per tool and
//! arguments, reused while it waits); the operator approves it once or
//! for a scope ("always" this tool, or this tool with these arguments),
//! or denies it with a reason that is returned to the LLM. Nothing is
//! approved by default: a request no one answers expires, and the call
//! stays refused.

use super::{Db, Store};
use crate::grant::Approval;
use crate::on_db;

/// How long a request waits for a person.
pub const REQUEST_TTL_MS: i64 = 24 * 3_600_000;

/// One request, as `claw approvals list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Request {
    /// Its id, what `claw approvals approve|deny` take.
    pub id: String,
    /// The tool to be called.
    pub tool: String,
    /// Its arguments, JSON, exactly as the call will pass them.
    pub arguments: String,
    /// `pending`, `approved` (once, not used yet), `used`, `always`,
    /// `denied` or `expired`.
    pub state: String,
    /// Why it was denied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why it asks, beyond the grant's `[approval]`: the data-flow
    /// policy's words (what untrusted content, which sinks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// When it was asked for (ms since the epoch).
    pub created_ms: i64,
    /// When it stops waiting.
    pub expires_ms: i64,
}

/// What a call may do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Run it.
    Pass,
    /// It waits for a person: this request.
    Pending(Request),
    /// A person said no, for this reason.
    Denied(Request),
}

impl Gate {
    /// What the LLM is told when the call may not run (`None`: it may);
    /// `because` is the data-flow policy's reason, or empty; `undone` says
    /// what did not happen ("It has not run.").
    pub fn refusal(&self, tool: &str, because: &str, undone: &str) -> Option<String> {
        let because = if because.is_empty() { String::new() } else { format!(" because {because}") };
        match self {
            Gate::Pass => None,
            Gate::Pending(r) => Some(format!(
                "the tool `{tool}` needs a person's approval before it runs{because}, and approval request {id} waits for one \
                 (the operator answers with `claw approvals approve {id}` or `claw approvals deny {id}`). {undone} \
                 Do not call it again in this turn: tell the person what you want to do and why.",
                id = r.id
            )),
            Gate::Denied(r) => Some(format!(
                "the operator denied this call of `{tool}` (approval request {}): {}. Do not ask again in this turn.",
                r.id,
                r.reason.as_deref().unwrap_or("no reason given")
            )),
        }
    }
}

/// One spelling per set of arguments (JSON re-serialised, keys sorted), so
/// "always with these arguments" holds however the LLM spaced them.
pub fn canonical(arguments: &str) -> String {
    serde_json::from_str::<serde_json::Value>(arguments).map_or_else(|_| arguments.to_string(), |v| v.to_string())
}

/// What an approval covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// This one call.
    Once,
    /// Every later call of the tool with these same arguments.
    Arguments,
    /// Every later call of the tool.
    Tool,
}

/// Why a decision did nothing.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// No request has this id.
    #[error("no approval request has the id `{0}`")]
    NoSuch(String),
    /// The request waited too long.
    #[error("approval request `{0}` has expired; the call was refused, and a new call asks again")]
    Expired(String),
    /// Someone decided already.
    #[error("approval request `{id}` was already decided ({state})")]
    Decided {
        /// The id.
        id: String,
        /// What was decided.
        state: String,
    },
    /// The store failed.
    #[error("the store failed: {0}")]
    Db(#[from] sqlx::Error),
}

/// The approvals of the store.
#[derive(Clone, Copy)]
pub struct Approvals<'a> {
    store: &'a Store,
}

impl Store {
    /// The approval requests and the scopes the operator approved.
    pub fn approvals(&self) -> Approvals<'_> {
        Approvals { store: self }
    }
}

type Row = (String, String, String, String, Option<String>, i64, i64, Option<String>);
/// The columns of a [`Row`], for `concat!` (the queries must be static).
macro_rules! columns {
    () => {
        "id, tool, arguments, state, reason, created_ms, expires_ms, why"
    };
}

fn request(r: Row, now: i64) -> Request {
    let expired = r.3 == "pending" && r.6 <= now;
    Request {
        id: r.0,
        tool: r.1,
        arguments: r.2,
        state: if expired { "expired".into() } else { r.3 },
        reason: r.4,
        created_ms: r.5,
        expires_ms: r.6,
        why: r.7,
    }
}

impl Approvals<'_> {
    /// Whether `tool` may run with `arguments` under `need`: a scope or an
    /// unused once-approval covers it (the once-approval is used up), a
    /// denial answers it, or it waits on a (new or reused) request, which
    /// a new one records `why` it asks.
    ///
    /// # Errors
    ///
    /// The store failing.
    pub async fn gate(
        &self,
        tool: &str,
        arguments: &str,
        need: Approval,
        why: Option<&str>,
    ) -> Result<Gate, sqlx::Error> {
        const SCOPED: &str =
            "SELECT COUNT(*) FROM approval_scopes WHERE tool = $1 AND (arguments = '' OR arguments = $2)";
        const USED_BEFORE: &str = "SELECT COUNT(*) FROM approvals WHERE tool = $1 AND state IN ('used', 'always')";
        const USE_ONCE: &str = "UPDATE approvals SET state = 'used' WHERE id = (SELECT id FROM approvals \
             WHERE tool = $1 AND arguments = $2 AND state = 'approved' ORDER BY created_ms LIMIT 1) \
             AND state = 'approved' RETURNING id";
        if need == Approval::Never {
            return Ok(Gate::Pass);
        }
        let now = self.store.now_ms();
        let db = self.store.db();
        let scoped: i64 =
            on_db!(db, p, SCOPED, SCOPED, |q| sqlx::query_scalar(q).bind(tool).bind(arguments).fetch_one(p).await?);
        if scoped > 0 {
            return Ok(Gate::Pass);
        }
        if need == Approval::FirstUse {
            let before: i64 =
                on_db!(db, p, USED_BEFORE, USED_BEFORE, |q| sqlx::query_scalar(q).bind(tool).fetch_one(p).await?);
            if before > 0 {
                return Ok(Gate::Pass);
            }
        }
        let once: Option<String> = on_db!(db, p, USE_ONCE, USE_ONCE, |q| sqlx::query_scalar(q)
            .bind(tool)
            .bind(arguments)
            .fetch_optional(p)
            .await?);
        if once.is_some() {
            return Ok(Gate::Pass);
        }
        // A denial of this very call stands until its request would have expired.
        const DENIED: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM approvals WHERE tool = $1 AND arguments = $2 AND state = 'denied' \
             AND expires_ms > $3 ORDER BY decided_ms DESC LIMIT 1"
        );
        if let Some(r) = self.one_of_call(DENIED, tool, arguments, now).await? {
            return Ok(Gate::Denied(r));
        }
        self.ask(tool, arguments, now, why).await.map(Gate::Pending)
    }

    /// The request `q` picks among those of this call (`$1` tool, `$2`
    /// arguments, `$3` now).
    async fn one_of_call(
        &self,
        q: &'static str,
        tool: &str,
        arguments: &str,
        now: i64,
    ) -> Result<Option<Request>, sqlx::Error> {
        let row: Option<Row> = on_db!(self.store.db(), p, q, q, |sql| sqlx::query_as(sql)
            .bind(tool)
            .bind(arguments)
            .bind(now)
            .fetch_optional(p)
            .await?);
        Ok(row.map(|r| request(r, now)))
    }

    /// The pending request for this call, or a new one.
    async fn ask(&self, tool: &str, arguments: &str, now: i64, why: Option<&str>) -> Result<Request, sqlx::Error> {
        const WAITING: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM approvals WHERE tool = $1 AND arguments = $2 AND state = 'pending' \
             AND expires_ms > $3 ORDER BY created_ms LIMIT 1"
        );
        const PUT: &str = "INSERT INTO approvals (id, tool, arguments, state, created_ms, expires_ms, why) \
             VALUES ($1, $2, $3, 'pending', $4, $5, $6)";
        if let Some(r) = self.one_of_call(WAITING, tool, arguments, now).await? {
            return Ok(r);
        }
        let db = self.store.db();
        let id = super::pairing::new_code();
        let expires = now + REQUEST_TTL_MS;
        on_db!(db, p, PUT, PUT, |q| sqlx::query(q)
            .bind(&id)
            .bind(tool)
            .bind(arguments)
            .bind(now)
            .bind(expires)
            .bind(why)
            .execute(p)
            .await?
            .rows_affected());
        Ok(Request {
            id,
            tool: tool.into(),
            arguments: arguments.into(),
            state: "pending".into(),
            reason: None,
            created_ms: now,
            expires_ms: expires,
            why: why.map(str::to_string),
        })
    }

    /// The requests waiting for a person (with `all`, every request), oldest first.
    ///
    /// # Errors
    ///
    /// The store failing.
    pub async fn list(&self, all: bool) -> Result<Vec<Request>, sqlx::Error> {
        let now = self.store.now_ms();
        const ALL: &str = concat!("SELECT ", columns!(), " FROM approvals ORDER BY created_ms, id");
        const WAITING: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM approvals WHERE state = 'pending' AND expires_ms > $1 ORDER BY created_ms, id"
        );
        let rows: Vec<Row> = if all {
            on_db!(self.store.db(), p, ALL, ALL, |q| sqlx::query_as(q).fetch_all(p).await?)
        } else {
            on_db!(self.store.db(), p, WAITING, WAITING, |q| sqlx::query_as(q).bind(now).fetch_all(p).await?)
        };
        Ok(rows.into_iter().map(|r| request(r, now)).collect())
    }

    /// Approve request `id` for `scope`.
    ///
    /// # Errors
    ///
    /// [`ApprovalError::NoSuch`], [`ApprovalError::Expired`],
    /// [`ApprovalError::Decided`], the store failing.
    pub async fn approve(&self, id: &str, scope: Scope) -> Result<Request, ApprovalError> {
        const SCOPE: &str = "INSERT INTO approval_scopes (tool, arguments, created_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (tool, arguments) DO NOTHING";
        let state = if scope == Scope::Once { "approved" } else { "always" };
        let req = self.decide(id, state, None).await?;
        if scope != Scope::Once {
            let args = if scope == Scope::Tool { "" } else { req.arguments.as_str() };
            let now = self.store.now_ms();
            on_db!(self.store.db(), p, SCOPE, SCOPE, |q| sqlx::query(q)
                .bind(&req.tool)
                .bind(args)
                .bind(now)
                .execute(p)
                .await?
                .rows_affected());
        }
        Ok(req)
    }

    /// Deny request `id`; `reason` goes back to the LLM.
    ///
    /// # Errors
    ///
    /// As [`Approvals::approve`].
    pub async fn deny(&self, id: &str, reason: &str) -> Result<Request, ApprovalError> {
        self.decide(id, "denied", Some(reason)).await
    }

    async fn decide(&self, id: &str, state: &str, reason: Option<&str>) -> Result<Request, ApprovalError> {
        const SET: &str = concat!(
            "UPDATE approvals SET state = $1, reason = $2, decided_ms = $3 \
             WHERE id = $4 AND state = 'pending' AND expires_ms > $3 RETURNING ",
            columns!()
        );
        const ONE: &str = concat!("SELECT ", columns!(), " FROM approvals WHERE id = $1");
        let now = self.store.now_ms();
        let db = self.store.db();
        let id = super::pairing::normalise(id);
        let done: Option<Row> = on_db!(db, p, SET, SET, |q| sqlx::query_as(q)
            .bind(state)
            .bind(reason)
            .bind(now)
            .bind(&id)
            .fetch_optional(p)
            .await?);
        if let Some(r) = done {
            return Ok(request(r, now));
        }
        let row: Option<Row> = on_db!(db, p, ONE, ONE, |q| sqlx::query_as(q).bind(&id).fetch_optional(p).await?);
        Err(match row.map(|r| request(r, now)) {
            None => ApprovalError::NoSuch(id),
            Some(r) if r.state == "expired" => ApprovalError::Expired(id),
            Some(r) => ApprovalError::Decided { id, state: r.state },
        })
    }
}
