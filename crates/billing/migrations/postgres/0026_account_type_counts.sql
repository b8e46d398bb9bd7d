-- Live hosting accounts per account type (the dashboard's "accounts by type"), kept
-- cheap at a million accounts. Kept in step with ../sqlite/0026_account_type_counts.sql
-- (a test compares them).
--
-- Counting them read every account (0.1-0.15 s at a million, and growing with the
-- table); no index helps a COUNT that must visit each live row. So the count is kept
-- here, by triggers in the same transaction as every change to an account, whichever
-- code or SQL makes it: exact, and the same for every server process on the database.
-- A type's count is split over 16 rows by account id, so that transactions creating or
-- removing accounts at the same time rarely wait on one another's row lock; a read sums
-- 48 rows. Live means pending, provisioning, active or suspended, as the report counts.
CREATE TABLE account_type_counts (
    account_type TEXT NOT NULL,
    shard INTEGER NOT NULL,
    live BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_type, shard)
);

INSERT INTO account_type_counts (account_type, shard, live)
SELECT account_type, CAST(id % 16 AS INTEGER), COUNT(*)
FROM hosting_accounts
WHERE state IN ('pending', 'provisioning', 'active', 'suspended')
GROUP BY 1, 2;

-- 1 for a live state, else 0.
CREATE FUNCTION account_state_live(state TEXT) RETURNS BIGINT
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN state IN ('pending', 'provisioning', 'active', 'suspended') THEN 1 ELSE 0 END::BIGINT
$$;

-- Inserts and deletes are statement-level, so a bulk insert (an import, a seed) is one
-- set-based write; rows are upserted in key order so that transactions touching the
-- same rows take their locks in the same order.
CREATE FUNCTION account_type_counts_bulk() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO account_type_counts AS c (account_type, shard, live)
        SELECT account_type, CAST(id % 16 AS INTEGER), SUM(account_state_live(state))
        FROM new_rows GROUP BY 1, 2 HAVING SUM(account_state_live(state)) <> 0 ORDER BY 1, 2
        ON CONFLICT (account_type, shard) DO UPDATE SET live = c.live + excluded.live;
    ELSE
        INSERT INTO account_type_counts AS c (account_type, shard, live)
        SELECT account_type, CAST(id % 16 AS INTEGER), -SUM(account_state_live(state))
        FROM old_rows GROUP BY 1, 2 HAVING SUM(account_state_live(state)) <> 0 ORDER BY 1, 2
        ON CONFLICT (account_type, shard) DO UPDATE SET live = c.live + excluded.live;
    END IF;
    RETURN NULL;
END
$$;

-- Updates are row-level with a WHEN, so the many updates that change neither the state
-- nor the type (usage, panel ids, leases) cost nothing; a move between two live states
-- (pending to active) writes nothing either.
CREATE FUNCTION account_type_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_type_counts AS c (account_type, shard, live)
    SELECT t, s, SUM(d)
    FROM (VALUES
        (OLD.account_type, CAST(OLD.id % 16 AS INTEGER), -account_state_live(OLD.state)),
        (NEW.account_type, CAST(NEW.id % 16 AS INTEGER), account_state_live(NEW.state))
    ) AS v (t, s, d)
    GROUP BY t, s HAVING SUM(d) <> 0 ORDER BY t, s
    ON CONFLICT (account_type, shard) DO UPDATE SET live = c.live + excluded.live;
    RETURN NULL;
END
$$;

CREATE TRIGGER account_type_counts_insert AFTER INSERT ON hosting_accounts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION account_type_counts_bulk();
CREATE TRIGGER account_type_counts_delete AFTER DELETE ON hosting_accounts
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION account_type_counts_bulk();
CREATE TRIGGER account_type_counts_update AFTER UPDATE OF state, account_type ON hosting_accounts
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.account_type IS DISTINCT FROM NEW.account_type)
    EXECUTE FUNCTION account_type_counts_move();
