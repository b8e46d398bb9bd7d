-- Live hosting accounts per server and account type, kept as accounts change: the
-- dashboard's "accounts by type" and each server's `current_accounts`. Kept in step
-- with ../postgres/0026_account_type_counts.sql (a test compares them), which says why;
-- here the triggers are row-level (SQLite has no other kind). An account not yet on a
-- server counts under server_id 0.
CREATE TABLE account_type_counts (
    server_id BIGINT NOT NULL,
    account_type TEXT NOT NULL,
    live INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (server_id, account_type)
);

INSERT INTO account_type_counts (server_id, account_type, live)
SELECT COALESCE(server_id, 0), account_type, COUNT(*)
FROM hosting_accounts
WHERE state IN ('pending', 'provisioning', 'active', 'suspended')
GROUP BY 1, 2;

CREATE TRIGGER account_type_counts_insert AFTER INSERT ON hosting_accounts
WHEN NEW.state IN ('pending', 'provisioning', 'active', 'suspended')
BEGIN
    INSERT INTO account_type_counts (server_id, account_type, live) VALUES (COALESCE(NEW.server_id, 0), NEW.account_type, 1)
    ON CONFLICT (server_id, account_type) DO UPDATE SET live = live + 1;
END;

CREATE TRIGGER account_type_counts_delete AFTER DELETE ON hosting_accounts
WHEN OLD.state IN ('pending', 'provisioning', 'active', 'suspended')
BEGIN
    INSERT INTO account_type_counts (server_id, account_type, live) VALUES (COALESCE(OLD.server_id, 0), OLD.account_type, -1)
    ON CONFLICT (server_id, account_type) DO UPDATE SET live = live - 1;
END;

CREATE TRIGGER account_type_counts_update AFTER UPDATE OF state, account_type, server_id ON hosting_accounts
WHEN OLD.state IS NOT NEW.state OR OLD.account_type IS NOT NEW.account_type OR OLD.server_id IS NOT NEW.server_id
BEGIN
    INSERT INTO account_type_counts (server_id, account_type, live)
    SELECT COALESCE(OLD.server_id, 0), OLD.account_type, -1
    WHERE OLD.state IN ('pending', 'provisioning', 'active', 'suspended')
    ON CONFLICT (server_id, account_type) DO UPDATE SET live = live - 1;
    INSERT INTO account_type_counts (server_id, account_type, live)
    SELECT COALESCE(NEW.server_id, 0), NEW.account_type, 1
    WHERE NEW.state IN ('pending', 'provisioning', 'active', 'suspended')
    ON CONFLICT (server_id, account_type) DO UPDATE SET live = live + 1;
END;
