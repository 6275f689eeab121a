-- 0010: a pool's configuration objects kept whole as JSON (domains, resource servers,
-- identity providers, UI customizations), and the OAuth scopes of a refresh token.
CREATE TABLE pool_objects (
    kind         TEXT NOT NULL,
    -- the pool for every kind but domains, which are unique across pools ('')
    scope        TEXT NOT NULL,
    name         TEXT NOT NULL,
    pool_id      TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    body         TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    modified_ms  INTEGER NOT NULL,
    PRIMARY KEY (kind, scope, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX pool_objects_by_pool ON pool_objects(pool_id, kind, name);

ALTER TABLE refresh_tokens ADD COLUMN scope TEXT;
