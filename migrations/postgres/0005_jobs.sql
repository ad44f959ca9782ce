-- The durable job queue (host/src/jobs). A job is claimed by one worker at
-- a time under a lease; `lease_epoch` grows with every claim, and a worker
-- may complete, fail or renew a job only with the epoch it claimed it at
-- (fencing: a worker whose lease was taken over changes nothing).
CREATE TABLE jobs (
    id               BIGSERIAL PRIMARY KEY,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    -- Jobs with the same queue key run one at a time, in id order.
    queue_key        TEXT,
    -- A second enqueue with the same key is a no-op.
    idempotency_key  TEXT UNIQUE,
    state            TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL,
    run_after_ms     BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_expires_ms BIGINT,
    lease_epoch      BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_ms       BIGINT NOT NULL,
    updated_ms       BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, run_after_ms);
CREATE INDEX jobs_by_key ON jobs (queue_key, id);
-- A safety net under the claim's own rule: one running job per queue key.
CREATE UNIQUE INDEX jobs_one_running_per_key ON jobs (queue_key) WHERE state = 'running' AND queue_key IS NOT NULL;
