-- A component's small durable state (host/src/store/kv.rs): a channel's
-- offset, the ids it has seen. Keys belong to the component that wrote
-- them; `size` (key plus value, in bytes) is summed against its grant's cap.
CREATE TABLE kv (
    owner      TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    size       BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (owner, key)
);
