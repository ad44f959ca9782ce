//! Sessions: the agent's conversations, persisted per channel and
//! conversation. One session is active per conversation; `/new` retires it
//! and starts another. Messages are appended in order, never rewritten;
//! when the history outgrows its budget the agent stores a summary of the
//! older turns beside them.

use super::{Db, Store};
use crate::on_db;
use crate::store::BeginWrite as _;
use serde::{Deserialize, Serialize};

/// A session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Random id.
    pub id: String,
    /// The channel it belongs to (`repl`, `cli`, ...).
    pub channel: String,
    /// The conversation within the channel.
    pub conversation: String,
    /// Summary of the messages up to `summarised_through`.
    pub summary: Option<String>,
    /// The last message seq the summary covers (0: none).
    pub summarised_through: i64,
}

/// One tool call an assistant message made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCall {
    /// The provider's id.
    pub id: String,
    /// The tool.
    pub name: String,
    /// The arguments as the LLM wrote them.
    pub arguments: String,
}

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Position in the session, from 1.
    pub seq: i64,
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Its text (for a tool result: as the LLM saw it, wrapped).
    pub content: String,
    /// An assistant's tool calls.
    pub tool_calls: Vec<StoredCall>,
    /// For a tool result, the call it answers.
    pub tool_call_id: Option<String>,
    /// The turn (its job) that wrote it: a retried turn finds its steps.
    pub turn: Option<String>,
}

impl StoredMessage {
    /// A message not yet stored (its seq is assigned on append).
    pub fn new(role: &str, content: impl Into<String>) -> StoredMessage {
        StoredMessage {
            seq: 0,
            role: role.into(),
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            turn: None,
        }
    }
}

const ACTIVE: &str = "SELECT id, channel, conversation, summary, summarised_through FROM sessions
    WHERE channel = $1 AND conversation = $2 AND active = 1";
const CREATE: &str = "INSERT INTO sessions (id, channel, conversation, created_ms, active) VALUES ($1, $2, $3, $4, 1)";
const RETIRE: &str = "UPDATE sessions SET active = 0 WHERE channel = $1 AND conversation = $2 AND active = 1";
const NEXT_SEQ: &str = "SELECT COALESCE(MAX(seq), 0) FROM session_messages WHERE session_id = $1";
const APPEND: &str =
    "INSERT INTO session_messages (session_id, seq, role, content, tool_calls, tool_call_id, created_ms, turn_key)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const MESSAGES: &str = "SELECT seq, role, content, tool_calls, tool_call_id, turn_key FROM session_messages
    WHERE session_id = $1 AND seq > $2 ORDER BY seq";
const TURN: &str = "SELECT seq, role, content, tool_calls, tool_call_id, turn_key FROM session_messages
    WHERE session_id = $1 AND turn_key = $2 ORDER BY seq";
const SUMMARISE: &str = "UPDATE sessions SET summary = $2, summarised_through = $3 WHERE id = $1";

type Row = (String, String, String, Option<String>, i64);
type MessageRow = (i64, String, String, Option<String>, Option<String>, Option<String>);

fn stored(rows: Vec<MessageRow>) -> Vec<StoredMessage> {
    rows.into_iter()
        .map(|(seq, role, content, calls, tool_call_id, turn)| StoredMessage {
            seq,
            role,
            content,
            tool_calls: calls.and_then(|c| serde_json::from_str(&c).ok()).unwrap_or_default(),
            tool_call_id,
            turn,
        })
        .collect()
}

fn session(row: Row) -> Session {
    let (id, channel, conversation, summary, summarised_through) = row;
    Session { id, channel, conversation, summary, summarised_through }
}

fn new_id() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    hex::encode(bytes)
}

fn now_ms() -> i64 {
    crate::components::store_now_ms() as i64
}

/// The sessions of a store.
#[derive(Debug, Clone, Copy)]
pub struct Sessions<'a> {
    store: &'a Store,
}

impl Store {
    /// The sessions.
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions { store: self }
    }
}

impl Sessions<'_> {
    /// The active session of a conversation, created if there is none.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn active(&self, channel: &str, conversation: &str) -> Result<Session, sqlx::Error> {
        let found: Option<Row> = on_db!(self.store.db(), p, ACTIVE, ACTIVE, |sql| sqlx::query_as(sql)
            .bind(channel)
            .bind(conversation)
            .fetch_optional(p)
            .await?);
        match found {
            Some(row) => Ok(session(row)),
            None => self.start(channel, conversation, false).await,
        }
    }

    /// The active sessions of `channel` whose conversation is under
    /// `owner/` (the gateway's user id), newest first: (conversation
    /// without the prefix, created ms).
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn list_owned(&self, channel: &str, owner: i64) -> Result<Vec<(String, i64)>, sqlx::Error> {
        const SQL: &str = "SELECT conversation, created_ms FROM sessions \
            WHERE channel = $1 AND active = 1 AND conversation LIKE $2 ORDER BY created_ms DESC, id LIMIT 200";
        // Built from an integer: no LIKE wildcard can be in it.
        let prefix = format!("{owner}/");
        let rows: Vec<(String, i64)> = on_db!(self.store.db(), p, SQL, SQL, |sql| sqlx::query_as(sql)
            .bind(channel)
            .bind(format!("{prefix}%"))
            .fetch_all(p)
            .await?);
        Ok(rows.into_iter().filter_map(|(c, at)| Some((c.strip_prefix(&prefix)?.to_string(), at))).collect())
    }

    /// Retire the active session of a conversation (if any) and start a new one.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn start_new(&self, channel: &str, conversation: &str) -> Result<Session, sqlx::Error> {
        self.start(channel, conversation, true).await
    }

    async fn start(&self, channel: &str, conversation: &str, retire: bool) -> Result<Session, sqlx::Error> {
        let id = new_id();
        on_db!(self.store.db(), p, CREATE, CREATE, |sql| {
            let mut tx = p.begin_write().await?;
            if retire {
                sqlx::query(RETIRE).bind(channel).bind(conversation).execute(&mut *tx).await?;
            }
            sqlx::query(sql).bind(&id).bind(channel).bind(conversation).bind(now_ms()).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(Session {
            id,
            channel: channel.into(),
            conversation: conversation.into(),
            summary: None,
            summarised_through: 0,
        })
    }

    /// Append messages in order, in one transaction; returns them with their seqs.
    ///
    /// # Errors
    ///
    /// A database failure (then nothing is appended).
    pub async fn append(
        &self,
        session_id: &str,
        messages: Vec<StoredMessage>,
    ) -> Result<Vec<StoredMessage>, sqlx::Error> {
        let mut out = Vec::with_capacity(messages.len());
        on_db!(self.store.db(), p, APPEND, APPEND, |sql| {
            let mut tx = p.begin_write().await?;
            let mut seq: i64 = sqlx::query_scalar(NEXT_SEQ).bind(session_id).fetch_one(&mut *tx).await?;
            for mut m in messages {
                seq += 1;
                m.seq = seq;
                let calls = (!m.tool_calls.is_empty())
                    .then(|| serde_json::to_string(&m.tool_calls).expect("tool calls serialise"));
                sqlx::query(sql)
                    .bind(session_id)
                    .bind(seq)
                    .bind(&m.role)
                    .bind(&m.content)
                    .bind(calls)
                    .bind(&m.tool_call_id)
                    .bind(now_ms())
                    .bind(&m.turn)
                    .execute(&mut *tx)
                    .await?;
                out.push(m);
            }
            tx.commit().await?;
        });
        Ok(out)
    }

    /// The messages after `after_seq`, in order.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn messages(&self, session_id: &str, after_seq: i64) -> Result<Vec<StoredMessage>, sqlx::Error> {
        let rows: Vec<MessageRow> = on_db!(self.store.db(), p, MESSAGES, MESSAGES, |sql| sqlx::query_as(sql)
            .bind(session_id)
            .bind(after_seq)
            .fetch_all(p)
            .await?);
        Ok(stored(rows))
    }

    /// The messages turn `key` stored in a session, in order.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn turn_messages(&self, session_id: &str, key: &str) -> Result<Vec<StoredMessage>, sqlx::Error> {
        let rows: Vec<MessageRow> = on_db!(self.store.db(), p, TURN, TURN, |sql| sqlx::query_as(sql)
            .bind(session_id)
            .bind(key)
            .fetch_all(p)
            .await?);
        Ok(stored(rows))
    }
    /// Record a summary of the messages up to and including `through`.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn summarise(&self, session_id: &str, summary: &str, through: i64) -> Result<(), sqlx::Error> {
        on_db!(self.store.db(), p, SUMMARISE, SUMMARISE, |sql| sqlx::query(sql)
            .bind(session_id)
            .bind(summary)
            .bind(through)
            .execute(p)
            .await
            .map(|_| ())?);
        Ok(())
    }
}
