-- Live hosting accounts per account type (the dashboard's "accounts by type"), kept
-- cheap at any size. Kept in step with ../postgres/0026_account_type_counts.sql (a test
-- compares them), which says why; here the triggers are row-level (SQLite has no other
-- kind), and the 16 rows per type only mirror PostgreSQL's (one writer at a time here).
CREATE TABLE account_type_counts (
    account_type TEXT NOT NULL,
    shard INTEGER NOT NULL,
    live INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_type, shard)
);

INSERT INTO account_type_counts (account_type, shard, live)
SELECT account_type, id % 16, COUNT(*)
FROM hosting_accounts
WHERE state IN ('pending', 'provisioning', 'active', 'suspended')
GROUP BY 1, 2;

CREATE TRIGGER account_type_counts_insert AFTER INSERT ON hosting_accounts
WHEN NEW.state IN ('pending', 'provisioning', 'active', 'suspended')
BEGIN
    INSERT INTO account_type_counts (account_type, shard, live) VALUES (NEW.account_type, NEW.id % 16, 1)
    ON CONFLICT (account_type, shard) DO UPDATE SET live = live + 1;
END;

CREATE TRIGGER account_type_counts_delete AFTER DELETE ON hosting_accounts
WHEN OLD.state IN ('pending', 'provisioning', 'active', 'suspended')
BEGIN
    INSERT INTO account_type_counts (account_type, shard, live) VALUES (OLD.account_type, OLD.id % 16, -1)
    ON CONFLICT (account_type, shard) DO UPDATE SET live = live - 1;
END;

CREATE TRIGGER account_type_counts_update AFTER UPDATE OF state, account_type ON hosting_accounts
WHEN OLD.state IS NOT NEW.state OR OLD.account_type IS NOT NEW.account_type
BEGIN
    INSERT INTO account_type_counts (account_type, shard, live)
    SELECT OLD.account_type, OLD.id % 16, -1
    WHERE OLD.state IN ('pending', 'provisioning', 'active', 'suspended')
    ON CONFLICT (account_type, shard) DO UPDATE SET live = live - 1;
    INSERT INTO account_type_counts (account_type, shard, live)
    SELECT NEW.account_type, NEW.id % 16, 1
    WHERE NEW.state IN ('pending', 'provisioning', 'active', 'suspended')
    ON CONFLICT (account_type, shard) DO UPDATE SET live = live + 1;
END;
