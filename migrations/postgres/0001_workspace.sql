-- pgvector is required by the memory index; checking for it first gives
-- a clear error on a server without it.
CREATE EXTENSION IF NOT EXISTS vector;

-- The workspace: a tree of text documents addressed by path.
CREATE TABLE documents (
    path        TEXT PRIMARY KEY NOT NULL,
    content     TEXT NOT NULL,
    modified_ms BIGINT NOT NULL,
    -- Prompt-injection markers found when external content was written
    -- (comma-separated names), NULL when none: such text is never trusted.
    flagged     TEXT
);
