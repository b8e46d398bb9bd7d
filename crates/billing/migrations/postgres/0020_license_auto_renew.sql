-- A license may end at its expiry instead of renewing: the billing run issues renewal
-- invoices only for licenses that renew (the older billing system's `auto_renew`, and its
-- API's `create_subscription`). Existing licenses keep renewing.
ALTER TABLE licenses ADD COLUMN auto_renew BOOLEAN NOT NULL DEFAULT TRUE;
