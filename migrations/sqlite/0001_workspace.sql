-- The workspace: a tree of text documents addressed by path.
CREATE TABLE documents (
    path        TEXT PRIMARY KEY NOT NULL,
    content     TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    -- Prompt-injection markers found when external content was written
    -- (comma-separated names), NULL when none: such text is never trusted.
    flagged     TEXT
);
