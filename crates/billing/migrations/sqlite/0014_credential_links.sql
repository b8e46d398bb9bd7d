-- Welcome credentials by link (welcome_credentials = "link"): the hosting password is not
-- in the email; a single-use, expiring link lets the customer see it once in the portal.
-- Kept in step with ../postgres/0014_credential_links.sql (a test compares them).

CREATE TABLE credential_links (
    -- SHA-256 of the link's code; the code itself is only in the email.
    token_digest TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES hosting_accounts (id),
    customer_id INTEGER NOT NULL REFERENCES users (id),
    -- The password sealed by the vault; erased once shown (or once the link expired).
    sealed_password TEXT,
    expires_at TEXT NOT NULL,
    revealed_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX credential_links_expires_idx ON credential_links (expires_at);
