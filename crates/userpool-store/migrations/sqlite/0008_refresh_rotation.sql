-- 0008: refresh-token rotation (an app client's RefreshTokenRotation): when a token was
-- exchanged for a new one; it stays usable for the client's grace period after that.
ALTER TABLE refresh_tokens ADD COLUMN rotated_at_ms INTEGER;
