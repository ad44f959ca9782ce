//! Users of the gateway: people (web chat) and API clients, each with
//! tokens of their own (`claw user add|list|rm|token`). A token is
//! `claw_` and 43 characters of 256 random bits; only its SHA-256 is
//! stored, so a copy of the store lets nobody in, and the token is shown
//! once, when it is made. Each user's conversations are theirs alone: the
//! gateway prefixes every conversation with the user's id.

use crate::on_db;
use crate::problem::Problem;
use crate::store::{Db, Store};
use base64::Engine as _;
use sha2::Digest as _;

/// What a user is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    /// A person: the web chat.
    Person,
    /// A program: the OpenAI-compatible API.
    Client,
}

impl UserKind {
    /// Its name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            UserKind::Person => "person",
            UserKind::Client => "client",
        }
    }

    fn parse(s: &str) -> UserKind {
        if s == "client" { UserKind::Client } else { UserKind::Person }
    }
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its id: the prefix of its conversations.
    pub id: i64,
    /// Its unique name.
    pub name: String,
    /// Person or client.
    pub kind: UserKind,
    /// When it was added (ms).
    pub created_ms: i64,
}

/// A user from its row: id, name, kind, created.
pub(super) fn user_of((id, name, kind, created_ms): (i64, String, String, i64)) -> User {
    User { id, name, kind: UserKind::parse(&kind), created_ms }
}

/// A token as listed: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Its first characters (`claw_AbCd`).
    pub prefix: String,
    /// What the operator called it.
    pub label: String,
    /// When it was made (ms).
    pub created_ms: i64,
    /// When it last let a request in (ms).
    pub last_used_ms: Option<i64>,
}

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// Argon2id with its default cost (19 MiB, 2 passes), salted: stored as
/// `argon2id$SALT$HASH` (base64).
fn password_hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random generator failed");
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    format!("argon2id${}${}", b64.encode(salt), b64.encode(argon2id(password, &salt)))
}

fn argon2id(password: &str, salt: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // Fixed parameters and a 16-byte salt: the inputs are always valid.
    argon2::Argon2::default().hash_password_into(password.as_bytes(), salt, &mut out).expect("valid argon2 inputs");
    out
}

/// Whether `password` hashes to `stored`, compared in constant time.
fn password_matches(stored: &str, password: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let mut parts = stored.split('$');
    let (Some("argon2id"), Some(salt), Some(hash)) = (parts.next(), parts.next(), parts.next()) else { return false };
    let (Ok(salt), Ok(hash)) = (b64.decode(salt), b64.decode(hash)) else { return false };
    let got = argon2id(password, &salt);
    crate::inbound::same(&got, &hash)
}

/// A hash no password gives (its salt and digest are arbitrary), checked
/// for names that do not exist.
const UNKNOWN_USER_HASH: &str = "argon2id$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// What a token starts with (so a leaked one is recognisable in a scan).
pub const TOKEN_PREFIX: &str = "claw_";

/// The characters of a token kept for listing.
const SHOWN: usize = 9;

/// A new random token.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    // The OS's generator failing leaves no safe token to make.
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn digest(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// Store `$token`'s digest for user `$user` on `$exec` (a pool or a
/// transaction of either backend).
macro_rules! insert_token {
    ($exec:expr, $user:expr, $token:expr, $label:expr, $now:expr) => {{
        const SQL: &str =
            "INSERT INTO user_tokens (user_id, sha256, prefix, label, created_ms) VALUES ($1, $2, $3, $4, $5)";
        sqlx::query(SQL)
            .bind($user)
            .bind(digest($token))
            .bind(&$token[..SHOWN])
            .bind($label)
            .bind($now)
            .execute($exec)
            .await
            .map_err(|e| db_error("storing the token", e))?;
    }};
}

/// The users of a store.
#[derive(Clone, Copy)]
pub struct Users<'a> {
    store: &'a Store,
}

impl Store {
    /// The gateway's users.
    pub fn users(&self) -> Users<'_> {
        Users { store: self }
    }
}

fn db_error(what: &str, e: sqlx::Error) -> Problem {
    Problem::new(format!("{what} failed: {e}"))
}

impl Users<'_> {
    /// Add user `name` of `kind` with a first token; returns the token
    /// (shown once).
    ///
    /// # Errors
    ///
    /// A name that is not a valid name or is taken; a database failure.
    pub async fn add(&self, name: &str, kind: UserKind) -> Result<String, Problem> {
        if !crate::grant::valid_name(name) {
            return Err(Problem::new(format!("`{name}` is not a valid user name"))
                .hint("use lowercase letters, digits, `-` and `_`, starting with a letter (e.g. `ana` or `ci-bot`)"));
        }
        const INSERT: &str =
            "INSERT INTO users (name, kind, created_ms) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING id";
        let now = self.store.now_ms();
        let token = new_token();
        // One transaction: a user never exists without its first token.
        macro_rules! add_in {
            ($pool:expr, $begin:expr) => {{
                let mut tx = $begin.await.map_err(|e| db_error("adding the user", e))?;
                let id: Option<i64> = sqlx::query_scalar(INSERT)
                    .bind(name)
                    .bind(kind.as_str())
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| db_error("adding the user", e))?;
                let Some(id) = id else {
                    return Err(Problem::new(format!("there is already a user named `{name}`"))
                        .hint(format!("`claw user token {name}` gives it another token")));
                };
                insert_token!(&mut *tx, id, &token, "first", now);
                tx.commit().await.map_err(|e| db_error("adding the user", e))?;
            }};
        }
        match self.store.db() {
            Db::Sqlite(p) => add_in!(p, p.begin_with("BEGIN IMMEDIATE")),
            Db::Postgres(p) => add_in!(p, p.begin()),
        }
        Ok(token)
    }

    /// A new token for user `name`, labelled `label`; returns it (shown once).
    ///
    /// # Errors
    ///
    /// No such user; a database failure.
    pub async fn new_token(&self, name: &str, label: &str) -> Result<String, Problem> {
        let user = self.get(name).await?;
        let token = new_token();
        let now = self.store.now_ms();
        match self.store.db() {
            Db::Sqlite(p) => insert_token!(p, user.id, &token, label, now),
            Db::Postgres(p) => insert_token!(p, user.id, &token, label, now),
        }
        Ok(token)
    }

    /// User `name`.
    ///
    /// # Errors
    ///
    /// No such user; a database failure.
    pub async fn get(&self, name: &str) -> Result<User, Problem> {
        const SQL: &str = "SELECT id, name, kind, created_ms FROM users WHERE name = $1";
        let row: Option<(i64, String, String, i64)> =
            on_db!(self.store.db(), p, SQL, SQL, |sql| sqlx::query_as(sql).bind(name).fetch_optional(p).await)
                .map_err(|e| db_error("reading the user", e))?;
        let (id, name, kind, created_ms) = row.ok_or_else(|| {
            Problem::new(format!("there is no user named `{name}`")).hint("`claw user list` shows the users")
        })?;
        Ok(user_of((id, name, kind, created_ms)))
    }

    /// Every user with its tokens, by name.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn list(&self) -> Result<Vec<(User, Vec<TokenInfo>)>, Problem> {
        const USERS: &str = "SELECT id, name, kind, created_ms FROM users ORDER BY name";
        const TOKENS: &str =
            "SELECT user_id, prefix, label, created_ms, last_used_ms FROM user_tokens ORDER BY created_ms, id";
        let users: Vec<(i64, String, String, i64)> =
            on_db!(self.store.db(), p, USERS, USERS, |sql| sqlx::query_as(sql).fetch_all(p).await)
                .map_err(|e| db_error("listing the users", e))?;
        let tokens: Vec<(i64, String, String, i64, Option<i64>)> =
            on_db!(self.store.db(), p, TOKENS, TOKENS, |sql| sqlx::query_as(sql).fetch_all(p).await)
                .map_err(|e| db_error("listing the users", e))?;
        Ok(users
            .into_iter()
            .map(|(id, name, kind, created_ms)| {
                let mine = tokens
                    .iter()
                    .filter(|t| t.0 == id)
                    .map(|t| TokenInfo { prefix: t.1.clone(), label: t.2.clone(), created_ms: t.3, last_used_ms: t.4 })
                    .collect();
                (user_of((id, name, kind, created_ms)), mine)
            })
            .collect())
    }

    /// Remove user `name` and its tokens (its stored conversations stay,
    /// unreachable through the gateway).
    ///
    /// # Errors
    ///
    /// No such user; a database failure.
    pub async fn remove(&self, name: &str) -> Result<(), Problem> {
        let user = self.get(name).await?;
        const TOKENS: &str = "DELETE FROM user_tokens WHERE user_id = $1";
        const LOGINS: &str = "DELETE FROM web_sessions WHERE user_id = $1";
        const USER: &str = "DELETE FROM users WHERE id = $1";
        macro_rules! remove_in {
            ($begin:expr) => {{
                let mut tx = $begin.await.map_err(|e| db_error("removing the user", e))?;
                for sql in [TOKENS, LOGINS, USER] {
                    sqlx::query(sql)
                        .bind(user.id)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| db_error("removing the user", e))?;
                }
                tx.commit().await.map_err(|e| db_error("removing the user", e))?;
            }};
        }
        match self.store.db() {
            Db::Sqlite(p) => remove_in!(p.begin_with("BEGIN IMMEDIATE")),
            Db::Postgres(p) => remove_in!(p.begin()),
        }
        Ok(())
    }

    /// Give person `name` a password (replacing any), for the web chat's
    /// login; its sessions so far end.
    ///
    /// # Errors
    ///
    /// No such user, an API client, a password under [`MIN_PASSWORD`]
    /// characters; a database failure.
    pub async fn set_password(&self, name: &str, password: &str) -> Result<(), Problem> {
        let user = self.get(name).await?;
        if user.kind != UserKind::Person {
            return Err(Problem::new(format!("`{name}` is an API client: it signs in with its token only"))
                .hint("passwords are for people using the web chat (`claw user add NAME`)"));
        }
        if password.chars().count() < MIN_PASSWORD {
            return Err(Problem::new(format!("the password is shorter than {MIN_PASSWORD} characters"))
                .hint("a passphrase of a few words is long enough and easy to type"));
        }
        let hash = password_hash(password);
        const SET: &str = "UPDATE users SET password_hash = $2 WHERE id = $1";
        const END: &str = "DELETE FROM web_sessions WHERE user_id = $1";
        on_db!(self.store.db(), p, SET, SET, |sql| sqlx::query(sql)
            .bind(user.id)
            .bind(&hash)
            .execute(p)
            .await
            .map(|_| ()))
        .map_err(|e| db_error("setting the password", e))?;
        on_db!(self.store.db(), p, END, END, |sql| sqlx::query(sql).bind(user.id).execute(p).await.map(|_| ()))
            .map_err(|e| db_error("ending the sessions", e))?;
        Ok(())
    }

    /// Person `name` if `password` is theirs.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn check_password(&self, name: &str, password: &str) -> Result<Option<User>, sqlx::Error> {
        const SQL: &str = "SELECT id, name, kind, created_ms, password_hash FROM users WHERE name = $1";
        let row: Option<(i64, String, String, i64, Option<String>)> =
            on_db!(self.store.db(), p, SQL, SQL, |sql| sqlx::query_as(sql).bind(name).fetch_optional(p).await)?;
        // Unknown names cost a hash too, so timing does not tell them apart.
        let stored = row.as_ref().and_then(|r| r.4.clone()).unwrap_or_else(|| UNKNOWN_USER_HASH.to_string());
        if !password_matches(&stored, password) {
            return Ok(None);
        }
        Ok(row.map(|(id, name, kind, created_ms, _)| user_of((id, name, kind, created_ms))))
    }

    /// The user a presented token belongs to, if any (and note its use).
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn authenticate(&self, token: &str) -> Result<Option<User>, sqlx::Error> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        const SQL: &str = "UPDATE user_tokens SET last_used_ms = $2 WHERE sha256 = $1 RETURNING user_id";
        const USER: &str = "SELECT id, name, kind, created_ms FROM users WHERE id = $1";
        let hash = digest(token);
        let now = self.store.now_ms();
        // A lookup by the hash's unique index: no comparison of secrets
        // whose timing depends on how much of a guess was right.
        let id: Option<i64> = on_db!(self.store.db(), p, SQL, SQL, |sql| sqlx::query_scalar(sql)
            .bind(&hash)
            .bind(now)
            .fetch_optional(p)
            .await)?;
        let Some(id) = id else { return Ok(None) };
        let row: Option<(i64, String, String, i64)> =
            on_db!(self.store.db(), p, USER, USER, |sql| sqlx::query_as(sql).bind(id).fetch_optional(p).await)?;
        Ok(row.map(user_of))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_stored_only_as_their_digest() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 43, "{}", a.len());
        let d = digest(&a);
        assert_eq!(d.len(), 64);
        assert!(!d.contains(&a[TOKEN_PREFIX.len()..]), "the digest does not carry the token");
        assert_eq!(digest(&a), d, "the same token, the same digest");
    }

    #[test]
    fn passwords_are_salted_argon2id_and_only_the_right_one_matches() {
        let (a, b) = (password_hash("correct horse battery"), password_hash("correct horse battery"));
        assert_ne!(a, b, "a salt of its own each time");
        assert!(a.starts_with("argon2id$") && !a.contains("horse"));
        assert!(password_matches(&a, "correct horse battery") && password_matches(&b, "correct horse battery"));
        assert!(!password_matches(&a, "correct horse batterY"));
        assert!(!password_matches(UNKNOWN_USER_HASH, ""), "the stand-in matches nothing");
        assert!(!password_matches("plain$text", "text"));
    }
}
