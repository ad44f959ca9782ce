-- Routines (host/src/jobs/routine.rs): a cron schedule that enqueues a job
-- at each tick. `next_fire_ms` moves by compare-and-set, so of several
-- processes exactly one fires each tick, and the job's idempotency key
-- (`routine:NAME:TICK`) makes a repeated fire a no-op.
CREATE TABLE routines (
    name         TEXT PRIMARY KEY NOT NULL,
    schedule     TEXT NOT NULL,
    tz           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    next_fire_ms BIGINT NOT NULL,
    created_ms   BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL
);
CREATE INDEX routines_due ON routines (next_fire_ms);
