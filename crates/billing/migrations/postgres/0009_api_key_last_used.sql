-- When each API key was last used, so admins can find and revoke idle ones.
-- Kept in step with ../sqlite/0009_api_key_last_used.sql (a test compares them).

ALTER TABLE api_keys ADD COLUMN last_used_at TIMESTAMPTZ;
