-- The memory index: documents cut into overlapping chunks, each indexed for
-- full-text search (FTS5, BM25) and, once embedded, for vector search.
CREATE TABLE chunks (
    id        INTEGER PRIMARY KEY,
    path      TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    content   TEXT NOT NULL,
    -- The embedder that produced `embedding` (NULL until embedded), and the
    -- vector as little-endian f32s, L2-normalised.
    embedder  TEXT,
    dims      INTEGER,
    embedding BLOB
);
CREATE INDEX chunks_path ON chunks (path);
CREATE INDEX chunks_embedder ON chunks (embedder);

CREATE VIRTUAL TABLE chunks_fts USING fts5 (content, content = 'chunks', content_rowid = 'id', tokenize = 'porter unicode61');

CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;

-- Bumped on every change to the index, so in-process vector caches know
-- when to reload.
CREATE TABLE memory_state (id INTEGER PRIMARY KEY CHECK (id = 1), generation INTEGER NOT NULL);
INSERT INTO memory_state (id, generation) VALUES (1, 0);
