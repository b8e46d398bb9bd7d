-- The billing run looks for licenses that renew and expire within the lead time, every
-- hour. Without this index that is a scan of every license (a million at a large host);
-- with it, the run reads only the licenses near their expiry, in the order it walks them.
-- Kept in step with ../postgres/0022_renewal_scan_index.sql (a test compares them).
CREATE INDEX licenses_renewal_due_idx ON licenses (expires_at, id)
    WHERE status IN ('active', 'suspended') AND auto_renew;

-- A license's invoices: the renewal run asks whether a coupon paid with the license's order
-- still discounts its renewals, once per renewal; without this it read every invoice.
CREATE INDEX invoices_license_idx ON invoices (license_id);
