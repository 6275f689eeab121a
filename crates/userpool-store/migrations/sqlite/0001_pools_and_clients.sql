-- 0001: user pools and app clients.
-- `settings` holds the pool's (or client's) configuration as the operations layer encodes it
-- (JSON of the Cognito wire members it keeps); the store only keys, orders and dates it.
CREATE TABLE user_pools (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    settings    TEXT NOT NULL
) STRICT;

CREATE TABLE app_clients (
    client_id   TEXT PRIMARY KEY NOT NULL,
    pool_id     TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    -- the client secret, sealed (AES-256-GCM) by the server's data key; never in clear
    secret      BLOB,
    settings    TEXT NOT NULL
) STRICT;

CREATE INDEX app_clients_by_pool ON app_clients(pool_id, client_id);
