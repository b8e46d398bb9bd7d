-- Live hosting accounts per server and account type, kept as accounts change: the
-- dashboard's "accounts by type" and each server's `current_accounts` (which every
-- server choice reads, under the slot lock). Kept in step with
-- ../sqlite/0026_account_type_counts.sql (a test compares them).
--
-- Both used to count the accounts: "by type" read every account (0.1-0.15 s at a
-- million), and choosing a server for one new account counted the live accounts of
-- every server (a million index entries at a million accounts, while holding the lock
-- that every order takes in turn). No index helps a COUNT that must visit each row. So
-- the counts are kept here, by triggers in the same transaction as every change to an
-- account, whichever code or SQL makes it: exact, and the same for every server process
-- on the database. Live means pending, provisioning, active or suspended; an account
-- not yet on a server counts under server_id 0 (no server has that id).
--
-- Writers of one row wait for each other: accounts are created on one server one at a
-- time anyway (the slot lock), and other changes hold the row for the rest of a short
-- transaction. Rows are written in key order, so transactions meet in the same order.
CREATE TABLE account_type_counts (
    server_id BIGINT NOT NULL,
    account_type TEXT NOT NULL,
    live BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (server_id, account_type)
);

INSERT INTO account_type_counts (server_id, account_type, live)
SELECT COALESCE(server_id, 0), account_type, COUNT(*)
FROM hosting_accounts
WHERE state IN ('pending', 'provisioning', 'active', 'suspended')
GROUP BY 1, 2;

-- 1 for a live state, else 0.
CREATE FUNCTION account_state_live(state TEXT) RETURNS BIGINT
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN state IN ('pending', 'provisioning', 'active', 'suspended') THEN 1 ELSE 0 END::BIGINT
$$;

-- Inserts and deletes are statement-level, so a bulk insert (an import, a seed) is one
-- set-based write.
CREATE FUNCTION account_type_counts_bulk() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO account_type_counts AS c (server_id, account_type, live)
        SELECT COALESCE(server_id, 0), account_type, SUM(account_state_live(state))
        FROM new_rows GROUP BY 1, 2 HAVING SUM(account_state_live(state)) <> 0 ORDER BY 1, 2
        ON CONFLICT (server_id, account_type) DO UPDATE SET live = c.live + excluded.live;
    ELSE
        INSERT INTO account_type_counts AS c (server_id, account_type, live)
        SELECT COALESCE(server_id, 0), account_type, -SUM(account_state_live(state))
        FROM old_rows GROUP BY 1, 2 HAVING SUM(account_state_live(state)) <> 0 ORDER BY 1, 2
        ON CONFLICT (server_id, account_type) DO UPDATE SET live = c.live + excluded.live;
    END IF;
    RETURN NULL;
END
$$;

-- Updates are row-level with a WHEN, so the many updates that change neither the state,
-- the type nor the server (usage, panel ids, renewals) cost nothing; a move between two
-- live states (pending to active) writes nothing either.
CREATE FUNCTION account_type_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_type_counts AS c (server_id, account_type, live)
    SELECT s, t, SUM(d)
    FROM (VALUES
        (COALESCE(OLD.server_id, 0), OLD.account_type, -account_state_live(OLD.state)),
        (COALESCE(NEW.server_id, 0), NEW.account_type, account_state_live(NEW.state))
    ) AS v (s, t, d)
    GROUP BY s, t HAVING SUM(d) <> 0 ORDER BY s, t
    ON CONFLICT (server_id, account_type) DO UPDATE SET live = c.live + excluded.live;
    RETURN NULL;
END
$$;

CREATE TRIGGER account_type_counts_insert AFTER INSERT ON hosting_accounts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION account_type_counts_bulk();
CREATE TRIGGER account_type_counts_delete AFTER DELETE ON hosting_accounts
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION account_type_counts_bulk();
CREATE TRIGGER account_type_counts_update AFTER UPDATE OF state, account_type, server_id ON hosting_accounts
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.account_type IS DISTINCT FROM NEW.account_type
        OR OLD.server_id IS DISTINCT FROM NEW.server_id)
    EXECUTE FUNCTION account_type_counts_move();
