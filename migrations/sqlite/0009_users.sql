-- The gateway's users (host/src/gateway/users.rs): people and API clients,
-- each authenticating with tokens of their own. A token is stored as its
-- SHA-256 only (it is 256 random bits: no salt or slow hash is needed);
-- the token itself is shown once, when it is made.
CREATE TABLE users (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    -- 'person' (web chat, channels) or 'client' (the OpenAI-compatible API).
    kind       TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE user_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sha256       TEXT NOT NULL UNIQUE,
    -- The token's first characters, to tell tokens apart in `claw user list`.
    prefix       TEXT NOT NULL,
    label        TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    last_used_ms BIGINT
);
