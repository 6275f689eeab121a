-- 0001: the whole schema, as the SQLite migrations 0001-0009 leave it (see
-- migrations/sqlite/ for why each table and column exists).
--
-- Conventions: text TEXT, binary BYTEA, integers and epoch milliseconds BIGINT, flags
-- BOOLEAN. Every text column that is a key, is ordered by, or is compared with `>`
-- (pagination resumes *after* a key) is `COLLATE "C"`: byte order, as SQLite's BINARY
-- collation orders the same UTF-8, so both engines page identically and the indexes serve
-- those comparisons. Constraint names are explicit: the store reads them to tell which
-- uniqueness a write broke (`users_pkey`: username, `users_by_sub`: sub,
-- `user_aliases_pkey`: alias).

CREATE TABLE user_pools (
    id          TEXT COLLATE "C" NOT NULL,
    name        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    modified_ms BIGINT NOT NULL,
    settings    TEXT NOT NULL,
    CONSTRAINT user_pools_pkey PRIMARY KEY (id)
);

CREATE TABLE app_clients (
    client_id   TEXT COLLATE "C" NOT NULL,
    pool_id     TEXT COLLATE "C" NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    modified_ms BIGINT NOT NULL,
    -- the client secret, sealed by the server's data key; never in clear
    secret      BYTEA,
    settings    TEXT NOT NULL,
    CONSTRAINT app_clients_pkey PRIMARY KEY (client_id)
);
CREATE INDEX app_clients_by_pool ON app_clients(pool_id, client_id);

CREATE TABLE users (
    pool_id          TEXT COLLATE "C" NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    -- the lookup key: the username, lowercased when the pool is case-insensitive
    username_key     TEXT COLLATE "C" NOT NULL,
    username         TEXT NOT NULL,
    sub              TEXT COLLATE "C" NOT NULL,
    status           TEXT COLLATE "C" NOT NULL,
    enabled          BOOLEAN NOT NULL,
    created_ms       BIGINT NOT NULL,
    modified_ms      BIGINT NOT NULL,
    -- JSON array of [name, value] pairs, in the order they were set
    attributes       TEXT NOT NULL,
    -- the SRP salt and verifier of the password (never the password)
    password_salt     BYTEA,
    password_verifier BYTEA,
    password_set_ms  BIGINT NOT NULL DEFAULT 0,
    failed_attempts  BIGINT NOT NULL DEFAULT 0,
    locked_until_ms  BIGINT NOT NULL DEFAULT 0,
    -- access and refresh tokens issued before this instant are refused (GlobalSignOut)
    tokens_valid_after_ms BIGINT NOT NULL DEFAULT 0,
    -- the concurrent-write rule: update_user writes only at the version read, and bumps it
    version          BIGINT NOT NULL DEFAULT 0,
    -- past the free password attempts, the instant until which the one check in flight
    -- holds the user's check slot (Store::spend_password_attempt)
    checking_until_ms BIGINT NOT NULL DEFAULT 0,
    -- MFA settings, encoded by the operations layer
    mfa              TEXT NOT NULL DEFAULT '',
    -- the last TOTP step accepted (Store::use_totp_step)
    totp_last_step   BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT users_pkey PRIMARY KEY (pool_id, username_key),
    CONSTRAINT users_by_sub UNIQUE (pool_id, sub)
);

-- Other names a user signs in with (email, phone_number, preferred_username): unique per
-- pool, so two nodes cannot hand one alias to two users.
CREATE TABLE user_aliases (
    pool_id      TEXT COLLATE "C" NOT NULL,
    alias_key    TEXT COLLATE "C" NOT NULL,
    username_key TEXT COLLATE "C" NOT NULL,
    CONSTRAINT user_aliases_pkey PRIMARY KEY (pool_id, alias_key),
    FOREIGN KEY (pool_id, username_key) REFERENCES users(pool_id, username_key) ON DELETE CASCADE
);
CREATE INDEX user_aliases_by_user ON user_aliases(pool_id, username_key);

-- Attribute values ListUsers can filter on (`email ^= "a"`), walked in (value, user) order.
CREATE TABLE user_search (
    pool_id      TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    value        TEXT COLLATE "C" NOT NULL,
    username_key TEXT COLLATE "C" NOT NULL,
    CONSTRAINT user_search_pkey PRIMARY KEY (pool_id, name, value, username_key),
    FOREIGN KEY (pool_id, username_key) REFERENCES users(pool_id, username_key) ON DELETE CASCADE
);
CREATE INDEX user_search_by_user ON user_search(pool_id, username_key);

-- One-time codes (sign-up confirmation, password reset, attribute verification), sealed.
CREATE TABLE codes (
    pool_id       TEXT COLLATE "C" NOT NULL,
    username_key  TEXT COLLATE "C" NOT NULL,
    purpose       TEXT COLLATE "C" NOT NULL,
    sealed_code   BYTEA NOT NULL,
    destination   TEXT NOT NULL,
    expires_ms    BIGINT NOT NULL,
    attempts_left BIGINT NOT NULL,
    CONSTRAINT codes_pkey PRIMARY KEY (pool_id, username_key, purpose),
    FOREIGN KEY (pool_id, username_key) REFERENCES users(pool_id, username_key) ON DELETE CASCADE
);
CREATE INDEX codes_by_expiry ON codes(expires_ms);

-- Refresh tokens by the SHA-256 of the token (the token itself is never stored).
CREATE TABLE refresh_tokens (
    token_hash    BYTEA NOT NULL,
    pool_id       TEXT COLLATE "C" NOT NULL,
    username_key  TEXT COLLATE "C" NOT NULL,
    client_id     TEXT COLLATE "C" NOT NULL,
    device_key    TEXT COLLATE "C",
    origin_jti    TEXT COLLATE "C" NOT NULL,
    auth_time     BIGINT NOT NULL,
    created_ms    BIGINT NOT NULL,
    expires_ms    BIGINT NOT NULL,
    -- when it was exchanged for a new one (refresh-token rotation)
    rotated_at_ms BIGINT,
    CONSTRAINT refresh_tokens_pkey PRIMARY KEY (token_hash),
    FOREIGN KEY (pool_id, username_key) REFERENCES users(pool_id, username_key) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens(pool_id, username_key);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens(expires_ms);

-- Token families revoked by RevokeToken / GlobalSignOut (access tokens carry origin_jti).
CREATE TABLE revoked_origins (
    origin_jti TEXT COLLATE "C" NOT NULL,
    expires_ms BIGINT NOT NULL,
    CONSTRAINT revoked_origins_pkey PRIMARY KEY (origin_jti)
);
CREATE INDEX revoked_origins_by_expiry ON revoked_origins(expires_ms);

-- Each pool's RSA signing keys; the private half sealed by the data key.
CREATE TABLE signing_keys (
    pool_id        TEXT COLLATE "C" NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    kid            TEXT COLLATE "C" NOT NULL,
    token_use      TEXT NOT NULL,
    sealed_private BYTEA NOT NULL,
    public_n       BYTEA NOT NULL,
    public_e       BYTEA NOT NULL,
    created_ms     BIGINT NOT NULL,
    CONSTRAINT signing_keys_pkey PRIMARY KEY (pool_id, kid)
);

-- A device is issued (confirmed false) when a sign-in returns NewDeviceMetadata, and
-- becomes a tracked device at ConfirmDevice, with the verifier the client made.
CREATE TABLE devices (
    pool_id          TEXT COLLATE "C" NOT NULL,
    device_key       TEXT COLLATE "C" NOT NULL,
    username_key     TEXT COLLATE "C" NOT NULL,
    device_group_key TEXT NOT NULL,
    confirmed        BOOLEAN NOT NULL,
    remembered       BOOLEAN NOT NULL,
    name             TEXT,
    salt             BYTEA,
    verifier         BYTEA,
    last_ip          TEXT,
    sdk              TEXT NOT NULL,
    created_ms       BIGINT NOT NULL,
    modified_ms      BIGINT NOT NULL,
    last_auth_ms     BIGINT NOT NULL,
    version          BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT devices_pkey PRIMARY KEY (pool_id, device_key),
    FOREIGN KEY (pool_id, username_key) REFERENCES users(pool_id, username_key) ON DELETE CASCADE
);
CREATE INDEX devices_by_user ON devices(pool_id, username_key, remembered, device_key);

-- Sign-in states (SECRET_BLOCK, Session) that have yielded tokens: each yields once.
CREATE TABLE consumed_states (
    nonce      BYTEA NOT NULL,
    expires_ms BIGINT NOT NULL,
    CONSTRAINT consumed_states_pkey PRIMARY KEY (nonce)
);
CREATE INDEX consumed_states_by_expiry ON consumed_states(expires_ms);

CREATE TABLE groups (
    pool_id     TEXT COLLATE "C" NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    name        TEXT COLLATE "C" NOT NULL,
    description TEXT,
    role_arn    TEXT,
    precedence  BIGINT,
    created_ms  BIGINT NOT NULL,
    modified_ms BIGINT NOT NULL,
    CONSTRAINT groups_pkey PRIMARY KEY (pool_id, name)
);

CREATE TABLE group_members (
    pool_id      TEXT COLLATE "C" NOT NULL,
    group_name   TEXT COLLATE "C" NOT NULL,
    username_key TEXT COLLATE "C" NOT NULL,
    CONSTRAINT group_members_pkey PRIMARY KEY (pool_id, group_name, username_key),
    FOREIGN KEY (pool_id, group_name) REFERENCES groups(pool_id, name) ON DELETE CASCADE,
    FOREIGN KEY (pool_id, username_key) REFERENCES users(pool_id, username_key) ON DELETE CASCADE
);
CREATE INDEX group_members_by_user ON group_members(pool_id, username_key, group_name);

-- Events counted in fixed windows, each count raised by one statement
-- (Store::count_in_window); rows go once their window has passed.
CREATE TABLE rate_counters (
    key          TEXT COLLATE "C" NOT NULL,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    expires_ms   BIGINT NOT NULL,
    CONSTRAINT rate_counters_pkey PRIMARY KEY (key)
);
CREATE INDEX rate_counters_by_expiry ON rate_counters(expires_ms);

-- The outbox: every message a user would have received by email or SMS, its body sealed.
CREATE TABLE outbox (
    id           BIGINT GENERATED BY DEFAULT AS IDENTITY,
    pool_id      TEXT COLLATE "C" NOT NULL,
    username_key TEXT COLLATE "C" NOT NULL,
    username     TEXT NOT NULL,
    -- EMAIL or SMS
    channel      TEXT NOT NULL,
    destination  TEXT NOT NULL,
    subject      TEXT,
    sealed_body  BYTEA NOT NULL,
    -- signup, forgot_password, verify:<attribute>, invitation, mfa:<factor>
    kind         TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    expires_ms   BIGINT NOT NULL,
    CONSTRAINT outbox_pkey PRIMARY KEY (id)
);
CREATE INDEX outbox_by_user ON outbox(pool_id, username_key, id);
CREATE INDEX outbox_by_expiry ON outbox(expires_ms);
