-- What NextPanel servers report they created under a license (domains, databases,
-- mailboxes), so license validation can enforce the plan's quotas.
-- Kept in step with ../sqlite/0006_license_usage.sql (a test compares them).

CREATE TABLE license_usage (
    license_id BIGINT NOT NULL REFERENCES licenses (id),
    resource TEXT NOT NULL,
    used BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (license_id, resource)
);
