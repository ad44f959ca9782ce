-- The claim's questions, each answered by a small index of its own
-- (host/src/jobs/queue.rs): which waiting jobs are due, in order; which
-- running jobs' leases have run out; which job heads its queue key.
-- Finished jobs, the bulk of the table, are in none of them, so a claim
-- costs the same after a million jobs.
CREATE INDEX jobs_waiting ON jobs (run_after_ms, id) WHERE state IN ('available', 'retrying');
CREATE INDEX jobs_leased ON jobs (lease_expires_ms) WHERE state = 'running';
CREATE INDEX jobs_unfinished_by_key ON jobs (queue_key, id)
    WHERE queue_key IS NOT NULL AND state IN ('available', 'retrying', 'running');
-- Every claim and completion rewrote these too; the ones above replace them.
DROP INDEX jobs_due;
DROP INDEX jobs_by_key;
