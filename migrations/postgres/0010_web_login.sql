-- The web chat's logins (host/src/gateway/login.rs): a person may also
-- have a password (Argon2id, salted), and each login is a session whose
-- cookie value is stored as its SHA-256 only, with the CSRF token that
-- every state-changing request of that session must carry.
ALTER TABLE users ADD COLUMN password_hash TEXT;
CREATE TABLE web_sessions (
    sha256     TEXT PRIMARY KEY NOT NULL,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX web_sessions_by_user ON web_sessions (user_id);
