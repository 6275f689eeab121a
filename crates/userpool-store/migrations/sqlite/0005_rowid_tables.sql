-- 0005: users, devices and refresh tokens become rowid tables, unique on the same keys.
--
-- A WITHOUT ROWID table keeps whole rows in its interior B-tree pages. A user row is about
-- 700 bytes (the 384-byte SRP verifier, attributes), a device row about 500 and a refresh
-- token row about 250, so an interior page held only a handful of them and the trees grew
-- a level per few-fold growth: at 1,000,000 users a lookup walked eight pages, and every
-- sign-in's refresh token landed on a random page of a deep tree. As rowid tables their
-- interior pages hold only integers (and new tokens append), and the unique indexes hold
-- only the short keys.
-- Run with foreign keys off (see `migrate`): the old tables are dropped under their
-- children, whose references name the new tables once renamed.

CREATE TABLE users_0005 (
    pool_id          TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    -- the lookup key: the username, lowercased when the pool is case-insensitive
    username_key     TEXT NOT NULL,
    username         TEXT NOT NULL,
    sub              TEXT NOT NULL,
    status           TEXT NOT NULL,
    enabled          INTEGER NOT NULL,
    created_ms       INTEGER NOT NULL,
    modified_ms      INTEGER NOT NULL,
    -- JSON array of [name, value] pairs, in the order they were set
    attributes       TEXT NOT NULL,
    -- the SRP salt and verifier of the password (never the password)
    password_salt    BLOB,
    password_verifier BLOB,
    password_set_ms  INTEGER NOT NULL DEFAULT 0,
    failed_attempts  INTEGER NOT NULL DEFAULT 0,
    locked_until_ms  INTEGER NOT NULL DEFAULT 0,
    -- access and refresh tokens issued before this instant are refused (GlobalSignOut)
    tokens_valid_after_ms INTEGER NOT NULL DEFAULT 0,
    UNIQUE (pool_id, username_key)
) STRICT;
INSERT INTO users_0005 (pool_id, username_key, username, sub, status, enabled, created_ms, modified_ms,
    attributes, password_salt, password_verifier, password_set_ms, failed_attempts, locked_until_ms,
    tokens_valid_after_ms)
SELECT pool_id, username_key, username, sub, status, enabled, created_ms, modified_ms,
    attributes, password_salt, password_verifier, password_set_ms, failed_attempts, locked_until_ms,
    tokens_valid_after_ms
FROM users ORDER BY pool_id, username_key;
DROP TABLE users;
ALTER TABLE users_0005 RENAME TO users;
CREATE UNIQUE INDEX users_by_sub ON users(pool_id, sub);

CREATE TABLE devices_0005 (
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
    UNIQUE (pool_id, device_key),
    FOREIGN KEY (pool_id, username_key) REFERENCES users(pool_id, username_key) ON DELETE CASCADE
) STRICT;
INSERT INTO devices_0005 (pool_id, device_key, username_key, device_group_key, confirmed, remembered, name,
    salt, verifier, last_ip, sdk, created_ms, modified_ms, last_auth_ms)
SELECT pool_id, device_key, username_key, device_group_key, confirmed, remembered, name,
    salt, verifier, last_ip, sdk, created_ms, modified_ms, last_auth_ms
FROM devices ORDER BY pool_id, device_key;
DROP TABLE devices;
ALTER TABLE devices_0005 RENAME TO devices;
CREATE INDEX devices_by_user ON devices(pool_id, username_key, remembered, device_key);

CREATE TABLE refresh_tokens_0005 (
    -- the SHA-256 of the token (the token itself is never stored)
    token_hash   BLOB NOT NULL UNIQUE,
    pool_id      TEXT NOT NULL,
    username_key TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    device_key   TEXT,
    origin_jti   TEXT NOT NULL,
    auth_time    INTEGER NOT NULL,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    FOREIGN KEY (pool_id, username_key) REFERENCES users(pool_id, username_key) ON DELETE CASCADE
) STRICT;
INSERT INTO refresh_tokens_0005 (token_hash, pool_id, username_key, client_id, device_key, origin_jti, auth_time,
    created_ms, expires_ms)
SELECT token_hash, pool_id, username_key, client_id, device_key, origin_jti, auth_time, created_ms, expires_ms
FROM refresh_tokens ORDER BY created_ms;
DROP TABLE refresh_tokens;
ALTER TABLE refresh_tokens_0005 RENAME TO refresh_tokens;
CREATE INDEX refresh_tokens_by_user ON refresh_tokens(pool_id, username_key);

-- Expired rows are deleted in the background (`Store::prune_expired`), oldest first.
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens(expires_ms);
CREATE INDEX revoked_origins_by_expiry ON revoked_origins(expires_ms);
CREATE INDEX codes_by_expiry ON codes(expires_ms);
