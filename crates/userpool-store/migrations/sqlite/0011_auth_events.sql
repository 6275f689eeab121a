-- 0011: threat protection's user event history (AdminListUserAuthEvents): one row per
-- sign-in, sign-up, password change, ... of a user, the event kept whole as JSON by the
-- operations layer. A user's events go with the user; each expires two years after it
-- was recorded (Cognito's retention) and is pruned then.
CREATE TABLE auth_events (
    pool_id      TEXT NOT NULL,
    username_key TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    body         TEXT NOT NULL,
    expires_ms   INTEGER NOT NULL,
    PRIMARY KEY (pool_id, event_id),
    FOREIGN KEY (pool_id, username_key) REFERENCES users(pool_id, username_key) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
-- newest first: read backwards
CREATE INDEX auth_events_by_user ON auth_events(pool_id, username_key, created_ms, event_id);
CREATE INDEX auth_events_by_expiry ON auth_events(expires_ms);
