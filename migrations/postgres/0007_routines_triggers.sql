-- Routines get every trigger (cron, every, at, webhook, event), a pause,
-- and the record of their last fire; jobs keep their result; a turn's
-- stored messages name the job that wrote them (a retried turn resumes
-- from them); and every claw process and worker writes a heartbeat.
-- `next_fire_ms` is NULL for a routine no clock fires (webhook, event, an
-- `at` that has fired).
ALTER TABLE routines ADD COLUMN trigger TEXT NOT NULL DEFAULT 'cron';
ALTER TABLE routines ALTER COLUMN trigger DROP DEFAULT;
ALTER TABLE routines ALTER COLUMN next_fire_ms DROP NOT NULL;
ALTER TABLE routines ADD COLUMN cursor_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE routines ADD COLUMN paused BIGINT NOT NULL DEFAULT 0;
ALTER TABLE routines ADD COLUMN last_fire_ms BIGINT;
ALTER TABLE routines ADD COLUMN last_job_id BIGINT;

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
