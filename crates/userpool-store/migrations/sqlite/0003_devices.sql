-- 0003: devices and single-use sign-in states.

-- A device is issued (confirmed = 0) when a sign-in returns NewDeviceMetadata, and becomes
-- a tracked device at ConfirmDevice (confirmed = 1), with the verifier the client made.
CREATE TABLE devices (
    pool_id          TEXT NOT NULL,
    device_key       TEXT NOT NULL,
    username_key     TEXT NOT NULL,
    device_group_key TEXT NOT NULL,
    confirmed        INTEGER NOT NULL,
    remembered       INTEGER NOT NULL,
    name             TEXT,
    salt             BLOB,
    verifier         BLOB,
    last_ip          TEXT,
    sdk              TEXT NOT NULL,
    created_ms       INTEGER NOT NULL,
    modified_ms      INTEGER NOT NULL,
    last_auth_ms     INTEGER NOT NULL,
    PRIMARY KEY (pool_id, device_key),
    FOREIGN KEY (pool_id, username_key) REFERENCES users(pool_id, username_key) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX devices_by_user ON devices(pool_id, username_key, remembered, device_key);

-- Sign-in states (SECRET_BLOCK, Session) that have yielded tokens: each yields once.
CREATE TABLE consumed_states (
    nonce       BLOB PRIMARY KEY NOT NULL,
    expires_ms  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX consumed_states_by_expiry ON consumed_states(expires_ms);
