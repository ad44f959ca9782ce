-- The memory index: documents cut into overlapping chunks, each indexed for
-- full-text search (tsvector) and, once embedded, for vector search
-- (pgvector; an HNSW index per dimension is created when an embedder of
-- that dimension is first used).
CREATE TABLE chunks (
    id        BIGSERIAL PRIMARY KEY,
    path      TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    content   TEXT NOT NULL,
    tsv       tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    embedder  TEXT,
    dims      INTEGER,
    embedding vector
);
CREATE INDEX chunks_path ON chunks (path);
CREATE INDEX chunks_embedder ON chunks (embedder);
CREATE INDEX chunks_tsv ON chunks USING GIN (tsv);

CREATE TABLE memory_state (id INTEGER PRIMARY KEY CHECK (id = 1), generation BIGINT NOT NULL);
INSERT INTO memory_state (id, generation) VALUES (1, 0);
