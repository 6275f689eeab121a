-- 0002: a pool's configuration objects kept whole as JSON (domains, resource servers,
-- identity providers, UI customizations), and the OAuth scopes of a refresh token.
CREATE TABLE pool_objects (
    kind         TEXT COLLATE "C" NOT NULL,
    -- the pool for every kind but domains, which are unique across pools ('')
    scope        TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    pool_id      TEXT COLLATE "C" NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    body         TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    modified_ms  BIGINT NOT NULL,
    CONSTRAINT pool_objects_pkey PRIMARY KEY (kind, scope, name)
);
CREATE INDEX pool_objects_by_pool ON pool_objects(pool_id, kind, name);

ALTER TABLE refresh_tokens ADD COLUMN scope TEXT;
