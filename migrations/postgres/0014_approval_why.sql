-- Why a request asks (host/src/store/approvals.rs): the data-flow policy
-- names the untrusted content in the turn and the sinks the tool can
-- reach, so the person deciding sees what they are deciding about.
ALTER TABLE approvals ADD COLUMN why TEXT;
