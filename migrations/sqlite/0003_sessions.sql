-- Conversations with the agent: one active session per channel and
-- conversation (`/new` retires it and starts another), and its messages.
CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY NOT NULL,
    channel            TEXT NOT NULL,
    conversation       TEXT NOT NULL,
    created_ms         INTEGER NOT NULL,
    active             INTEGER NOT NULL,
    -- What the turns up to and including `summarised_through` said, written
    -- when the history outgrew its token budget.
    summary            TEXT,
    summarised_through INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX sessions_one_active ON sessions (channel, conversation) WHERE active = 1;

CREATE TABLE session_messages (
    session_id   TEXT NOT NULL REFERENCES sessions (id),
    seq          INTEGER NOT NULL,
    role         TEXT NOT NULL,
    content      TEXT NOT NULL,
    -- JSON array of {id, name, arguments} for an assistant's tool calls.
    tool_calls   TEXT,
    tool_call_id TEXT,
    created_ms   INTEGER NOT NULL,
    PRIMARY KEY (session_id, seq)
);
