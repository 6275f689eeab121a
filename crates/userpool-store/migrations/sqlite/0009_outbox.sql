-- 0009: the outbox: every message a user would have received by email or SMS, rendered
-- from the pool's templates, its body sealed (it holds codes and temporary passwords).
-- Kept for a week, then pruned.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    pool_id      TEXT NOT NULL,
    username_key TEXT NOT NULL,
    username     TEXT NOT NULL,
    -- EMAIL or SMS
    channel      TEXT NOT NULL,
    destination  TEXT NOT NULL,
    subject      TEXT,
    sealed_body  BLOB NOT NULL,
    -- what it is: signup, forgot_password, verify:<attribute>, invitation, mfa:<factor>
    kind         TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_by_user ON outbox(pool_id, username_key, id);
CREATE INDEX outbox_by_expiry ON outbox(expires_ms);
