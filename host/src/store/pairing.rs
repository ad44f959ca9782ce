//! Pairing: which senders on a channel are the operator's own. A sender
//! asks (a channel calls `inbox.pair`) and gets a short code; the operator
//! approves it at the terminal. Until then everything the sender says is
//! external content. Codes are random, short-lived and few per channel, so
//! a stranger can neither guess one nor flood the operator with them.

use super::{Db, Store};

/// How long a code stays valid.
pub const CODE_TTL_MS: i64 = 3_600_000;
/// Pending codes one channel may have at once.
pub const MAX_PENDING: i64 = 10;
/// Letters and digits that cannot be mistaken for one another.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_LEN: usize = 8;

/// One sender of a channel, paired or waiting.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pairing {
    /// The channel.
    pub channel: String,
    /// The sender, in the channel's words.
    pub sender: String,
    /// Approved by the operator.
    pub paired: bool,
    /// The code, while it waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// When it was asked for (ms since the epoch).
    pub created_ms: i64,
    /// When the code stops being valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<i64>,
}

/// Why a pairing step did nothing.
#[derive(Debug, thiserror::Error)]
pub enum PairingError {
    /// The sender is paired already.
    #[error("this chat is already paired with the operator")]
    AlreadyPaired,
    /// Too many codes wait on this channel.
    #[error("too many pairing requests are waiting on this channel; try again in an hour")]
    TooMany,
    /// No pending code matches.
    #[error("no pending pairing on `{channel}` has the code {code}")]
    NoSuchCode {
        /// The channel.
        channel: String,
        /// The code given.
        code: String,
    },
    /// The store failed.
    #[error("the store failed: {0}")]
    Db(#[from] sqlx::Error),
}

/// The pairings of the store.
#[derive(Clone, Copy)]
pub struct Pairings<'a> {
    store: &'a Store,
}

impl Store {
    /// Who is paired with the operator, on every channel.
    pub fn pairings(&self) -> Pairings<'_> {
        Pairings { store: self }
    }
}

/// A fresh code (never a value derived from the sender).
pub(super) fn new_code() -> String {
    let mut bytes = [0u8; CODE_LEN];
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    // 256 is a multiple of the alphabet's 32 letters: no bias.
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

/// The code as the operator may type it: any case, spaces and dashes ignored.
pub fn normalise(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_ascii_uppercase()
}

type Row = (String, String, Option<String>, bool, i64, Option<i64>);

fn pairing(r: Row) -> Pairing {
    Pairing { channel: r.0, sender: r.1, code: r.2, paired: r.3, created_ms: r.4, expires_ms: r.5 }
}

impl Pairings<'_> {
    /// Whether `sender` is one of the operator's own on `channel`.
    ///
    /// # Errors
    ///
    /// The store failing.
    pub async fn is_paired(&self, channel: &str, sender: &str) -> Result<bool, sqlx::Error> {
        const Q: &str = "SELECT paired FROM pairings WHERE channel = $1 AND sender = $2";
        let v: Option<bool> = match self.store.db() {
            Db::Sqlite(p) => sqlx::query_scalar(Q).bind(channel).bind(sender).fetch_optional(p).await?,
            Db::Postgres(p) => sqlx::query_scalar(Q).bind(channel).bind(sender).fetch_optional(p).await?,
        };
        Ok(v == Some(true))
    }

    /// A code for `sender`: the one still pending, or a new one.
    ///
    /// # Errors
    ///
    /// [`PairingError::AlreadyPaired`], [`PairingError::TooMany`], the store failing.
    pub async fn request(&self, channel: &str, sender: &str) -> Result<String, PairingError> {
        const MINE: &str = "SELECT paired, code, expires_ms FROM pairings WHERE channel = $1 AND sender = $2";
        const EXPIRE: &str = "DELETE FROM pairings WHERE channel = $1 AND NOT paired AND expires_ms <= $2";
        const PENDING: &str = "SELECT COUNT(*) FROM pairings WHERE channel = $1 AND NOT paired";
        const PUT: &str = "INSERT INTO pairings (channel, sender, code, paired, created_ms, expires_ms) \
             VALUES ($1, $2, $3, FALSE, $4, $5)";
        let now = self.store.now_ms();
        let code = new_code();
        macro_rules! request_in {
            ($begin:expr, $lock:expr) => {{
                let mut tx = $begin.await?;
                if let Some(lock) = $lock {
                    // One request per channel at a time, so the cap holds.
                    sqlx::query(lock).bind(channel).execute(&mut *tx).await?;
                }
                sqlx::query(EXPIRE).bind(channel).bind(now).execute(&mut *tx).await?;
                let mine: Option<(bool, Option<String>, Option<i64>)> =
                    sqlx::query_as(MINE).bind(channel).bind(sender).fetch_optional(&mut *tx).await?;
                match mine {
                    Some((true, _, _)) => return Err(PairingError::AlreadyPaired),
                    Some((false, Some(code), _)) => {
                        tx.commit().await?;
                        return Ok(code);
                    }
                    _ => {}
                }
                let pending: i64 = sqlx::query_scalar(PENDING).bind(channel).fetch_one(&mut *tx).await?;
                if pending >= MAX_PENDING {
                    return Err(PairingError::TooMany);
                }
                sqlx::query(PUT)
                    .bind(channel)
                    .bind(sender)
                    .bind(&code)
                    .bind(now)
                    .bind(now + CODE_TTL_MS)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }};
        }
        match self.store.db() {
            Db::Sqlite(p) => request_in!(p.begin_with("BEGIN IMMEDIATE"), None::<&str>),
            Db::Postgres(p) => request_in!(p.begin(), Some("SELECT pg_advisory_xact_lock(hashtext('pairing:' || $1))")),
        }
        Ok(code)
    }

    /// Approve the pending `code` on `channel`; the sender it pairs.
    ///
    /// # Errors
    ///
    /// [`PairingError::NoSuchCode`] (also for an expired code), the store failing.
    pub async fn approve(&self, channel: &str, code: &str) -> Result<String, PairingError> {
        const Q: &str = "UPDATE pairings SET paired = TRUE, code = NULL, expires_ms = NULL \
             WHERE channel = $1 AND code = $2 AND NOT paired AND expires_ms > $3 RETURNING sender";
        self.settle(Q, channel, code).await
    }

    /// Refuse the pending `code` on `channel`; the sender it named.
    ///
    /// # Errors
    ///
    /// [`PairingError::NoSuchCode`], the store failing.
    pub async fn deny(&self, channel: &str, code: &str) -> Result<String, PairingError> {
        const Q: &str =
            "DELETE FROM pairings WHERE channel = $1 AND code = $2 AND NOT paired AND expires_ms > $3 RETURNING sender";
        self.settle(Q, channel, code).await
    }

    async fn settle(&self, q: &'static str, channel: &str, code: &str) -> Result<String, PairingError> {
        let code = normalise(code);
        let now = self.store.now_ms();
        let sender: Option<String> = match self.store.db() {
            Db::Sqlite(p) => sqlx::query_scalar(q).bind(channel).bind(&code).bind(now).fetch_optional(p).await?,
            Db::Postgres(p) => sqlx::query_scalar(q).bind(channel).bind(&code).bind(now).fetch_optional(p).await?,
        };
        sender.ok_or_else(|| PairingError::NoSuchCode { channel: channel.to_string(), code })
    }

    /// Unpair `sender` on `channel` (or drop its pending code); whether it was there.
    ///
    /// # Errors
    ///
    /// The store failing.
    pub async fn remove(&self, channel: &str, sender: &str) -> Result<bool, sqlx::Error> {
        const Q: &str = "DELETE FROM pairings WHERE channel = $1 AND sender = $2";
        let n = match self.store.db() {
            Db::Sqlite(p) => sqlx::query(Q).bind(channel).bind(sender).execute(p).await?.rows_affected(),
            Db::Postgres(p) => sqlx::query(Q).bind(channel).bind(sender).execute(p).await?.rows_affected(),
        };
        Ok(n > 0)
    }

    /// Every paired sender and every code still valid, by channel and sender.
    ///
    /// # Errors
    ///
    /// The store failing.
    pub async fn list(&self) -> Result<Vec<Pairing>, sqlx::Error> {
        const Q: &str = "SELECT channel, sender, code, paired, created_ms, expires_ms FROM pairings \
             WHERE paired OR expires_ms > $1 ORDER BY channel, sender";
        let now = self.store.now_ms();
        let rows: Vec<Row> = match self.store.db() {
            Db::Sqlite(p) => sqlx::query_as(Q).bind(now).fetch_all(p).await?,
            Db::Postgres(p) => sqlx::query_as(Q).bind(now).fetch_all(p).await?,
        };
        Ok(rows.into_iter().map(pairing).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_unambiguous_alphabet_and_differ() {
        let a = new_code();
        assert_eq!(a.len(), CODE_LEN);
        assert!(a.bytes().all(|b| ALPHABET.contains(&b)), "{a}");
        assert!(!a.contains('0') && !a.contains('O') && !a.contains('1') && !a.contains('I'));
        assert_ne!(a, new_code());
        assert_eq!(normalise(" abcd-ef 23 "), "ABCDEF23");
    }
}
