-- 0006: the concurrent-write rule (see the Store trait) and per-user limits.
--
-- A user or device row carries a version: `update_user` / `update_device` write only if
-- it is still the one the caller read, and bump it (compare-and-set), so no acknowledged
-- change is undone by a write that read the row earlier.
ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

-- Past the free password attempts (the lock has started), one password check at a time:
-- the instant until which the one check in flight holds the slot (see
-- `Store::spend_password_attempt`).
ALTER TABLE users ADD COLUMN checking_until_ms INTEGER NOT NULL DEFAULT 0;

-- Events counted in fixed windows (code requests and wrong guesses per user and purpose),
-- each count raised by one statement; rows go once their window has passed.
CREATE TABLE rate_counters (
    key          TEXT NOT NULL PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX rate_counters_by_expiry ON rate_counters(expires_ms);
