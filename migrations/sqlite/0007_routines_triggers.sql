-- Routines get every trigger (cron, every, at, webhook, event), a pause,
-- and the record of their last fire; jobs keep their result; a turn's
-- stored messages name the job that wrote them (a retried turn resumes
-- from them); and every claw process and worker writes a heartbeat.
--
-- SQLite cannot drop NOT NULL in place: the routines table is rebuilt.
-- `next_fire_ms` is NULL for a routine no clock fires (webhook, event, an
-- `at` that has fired).
CREATE TABLE routines_new (
    name         TEXT PRIMARY KEY NOT NULL,
    -- cron | every | at | webhook | event
    trigger      TEXT NOT NULL,
    -- cron: the expression; every: the period; at: the local time;
    -- webhook: verifier:SECRET; event: what it waits for.
    schedule     TEXT NOT NULL,
    tz           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    next_fire_ms BIGINT,
    -- event routines: how far the changes they watch have been read.
    cursor_ms    BIGINT NOT NULL DEFAULT 0,
    paused       BIGINT NOT NULL DEFAULT 0,
    last_fire_ms BIGINT,
    last_job_id  BIGINT,
    created_ms   BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL
);
INSERT INTO routines_new (name, trigger, schedule, tz, kind, payload, next_fire_ms, created_ms, updated_ms)
    SELECT name, 'cron', schedule, tz, kind, payload, next_fire_ms, created_ms, updated_ms FROM routines;
DROP TABLE routines;
ALTER TABLE routines_new RENAME TO routines;
CREATE INDEX routines_due ON routines (next_fire_ms);

ALTER TABLE jobs ADD COLUMN result TEXT;
CREATE INDEX jobs_by_kind ON jobs (kind, state);

ALTER TABLE session_messages ADD COLUMN turn_key TEXT;

-- One row per claw process (`worker` NULL) and per worker of it.
CREATE TABLE beats (
    owner      TEXT PRIMARY KEY NOT NULL,
    process    TEXT NOT NULL,
    worker     BIGINT,
    pid        BIGINT NOT NULL,
    job_id     BIGINT,
    started_ms BIGINT NOT NULL,
    beat_ms    BIGINT NOT NULL
);
