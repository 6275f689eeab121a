-- 0002: users, their lookup keys, one-time codes, refresh tokens, revocations, signing keys.

CREATE TABLE users (
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
    PRIMARY KEY (pool_id, username_key)
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX users_by_sub ON users(pool_id, sub);

-- Other names a user signs in with (email, phone_number, preferred_username): the database
-- keeps them unique per pool, so two nodes cannot hand one alias to two users.
CREATE TABLE user_aliases (
    pool_id      TEXT NOT NULL,
    alias_key    TEXT NOT NULL,
    username_key TEXT NOT NULL,
    PRIMARY KEY (pool_id, alias_key),
    FOREIGN KEY (pool_id, username_key) REFERENCES users(pool_id, username_key) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- Attribute values ListUsers can filter on (`email ^= "a"`), indexed for prefix search.
CREATE TABLE user_search (
    pool_id      TEXT NOT NULL,
    name         TEXT NOT NULL,
    value        TEXT NOT NULL,
    username_key TEXT NOT NULL,
    PRIMARY KEY (pool_id, name, value, username_key),
    FOREIGN KEY (pool_id, username_key) REFERENCES users(pool_id, username_key) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX user_search_by_user ON user_search(pool_id, username_key);
CREATE INDEX user_aliases_by_user ON user_aliases(pool_id, username_key);

-- One-time codes (sign-up confirmation, password reset, attribute verification), sealed.
CREATE TABLE codes (
    pool_id      TEXT NOT NULL,
    username_key TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    sealed_code  BLOB NOT NULL,
    destination  TEXT NOT NULL,
    expires_ms   INTEGER NOT NULL,
    attempts_left INTEGER NOT NULL,
    PRIMARY KEY (pool_id, username_key, purpose),
    FOREIGN KEY (pool_id, username_key) REFERENCES users(pool_id, username_key) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- Refresh tokens by the SHA-256 of the token (the token itself is never stored).
CREATE TABLE refresh_tokens (
    token_hash   BLOB PRIMARY KEY NOT NULL,
    pool_id      TEXT NOT NULL,
    username_key TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    device_key   TEXT,
    origin_jti   TEXT NOT NULL,
    auth_time    INTEGER NOT NULL,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    FOREIGN KEY (pool_id, username_key) REFERENCES users(pool_id, username_key) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX refresh_tokens_by_user ON refresh_tokens(pool_id, username_key);

-- Token families revoked by RevokeToken (access tokens carry origin_jti).
CREATE TABLE revoked_origins (
    origin_jti   TEXT PRIMARY KEY NOT NULL,
    expires_ms   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Each pool's RSA signing keys; the private half sealed by the data key.
CREATE TABLE signing_keys (
    pool_id      TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    kid          TEXT NOT NULL,
    token_use    TEXT NOT NULL,
    sealed_private BLOB NOT NULL,
    public_n     BLOB NOT NULL,
    public_e     BLOB NOT NULL,
    created_ms   INTEGER NOT NULL,
    PRIMARY KEY (pool_id, kid)
) STRICT, WITHOUT ROWID;
