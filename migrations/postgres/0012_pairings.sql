-- A channel's people and the operator (host/src/store/pairing.rs): a
-- sender who asked to pair holds a pending code until the operator
-- approves it (`claw pairing approve`); a paired sender is one of the
-- operator's own identities, whose messages are not external content.
CREATE TABLE pairings (
    channel    TEXT NOT NULL,
    sender     TEXT NOT NULL,
    code       TEXT,
    paired     BOOLEAN NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT,
    PRIMARY KEY (channel, sender)
);
CREATE UNIQUE INDEX pairings_code ON pairings (channel, code) WHERE code IS NOT NULL;
