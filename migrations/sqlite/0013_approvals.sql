-- Approvals (host/src/store/approvals.rs): a tool call whose grant says a
-- person must confirm it waits here as a request until the operator
-- approves or denies it (`claw approvals`), or it expires. An approval
-- for once is used by the first matching call; an "always" is a scope
-- kept in approval_scopes and honoured for every later call in it.
CREATE TABLE approvals (
    id         TEXT PRIMARY KEY,
    tool       TEXT NOT NULL,
    arguments  TEXT NOT NULL,
    state      TEXT NOT NULL,
    reason     TEXT,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    decided_ms BIGINT
);
CREATE INDEX approvals_by_call ON approvals (tool, arguments, state);

-- `arguments` is empty for a scope over every call of the tool.
CREATE TABLE approval_scopes (
    tool       TEXT NOT NULL,
    arguments  TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (tool, arguments)
);
