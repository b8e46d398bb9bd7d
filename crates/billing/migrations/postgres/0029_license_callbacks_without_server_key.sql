-- Remembered callback answers no longer reference servers by a foreign key.
-- Kept in step with ../sqlite/0029_license_callbacks_without_server_key.sql.
--
-- Every remembered answer checked its server through the key: a FOR KEY SHARE lock
-- of the server's row per inserted row (a heap write and a WAL record each), on the
-- busiest insert path there is (one row per license validation). The rows live
-- minutes (housekeeping trims them after the freshness window) and deleting a server
-- deletes its rows in the same transaction (store::servers::delete), which is all the
-- cascade did.
ALTER TABLE license_callbacks DROP CONSTRAINT IF EXISTS license_callbacks_server_id_fkey;
