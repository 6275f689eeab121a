-- 0007: a user's MFA settings (factors enabled, the preferred one, the sealed TOTP
-- secret: JSON the operations layer encodes) and the last TOTP step accepted, which
-- `use_totp_step` raises in one statement so a code is accepted once.
ALTER TABLE users ADD COLUMN mfa TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
