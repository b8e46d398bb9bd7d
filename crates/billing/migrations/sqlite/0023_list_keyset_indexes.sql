-- Every list reads newest first (ORDER BY id DESC) and, with `?after=`, from a cursor
-- (id < $n) with LIMIT and no OFFSET. That is only cheap at any depth when an index holds
-- the list's filter followed by id, so the engine walks it backwards from the cursor and
-- stops after one page instead of finding every matching row and sorting them. A list
-- without a filter walks the primary key. Where an older index on the filter column alone
-- exists, it is replaced (same name) by one that ends in id: it still serves every lookup
-- the old one did. On PostgreSQL each index is built inside the migration's transaction;
-- writes to its table wait for the build (seconds per million rows).
-- Kept in step with ../postgres/0023_list_keyset_indexes.sql (a test compares them).

-- Accounts list, ?customer_id= (also /me/accounts and a customer's page).
DROP INDEX hosting_accounts_customer_idx;
CREATE INDEX hosting_accounts_customer_idx ON hosting_accounts (customer_id, id);
-- Accounts list, ?server_id= (hosting_accounts_server_state_idx stays for the capacity counts).
CREATE INDEX hosting_accounts_server_list_idx ON hosting_accounts (server_id, id);
-- Accounts list, ?state= (nearly every account is active; the rarer states are the ones
-- looked for, and without this they were found by reading every account).
CREATE INDEX hosting_accounts_state_idx ON hosting_accounts (state, id);

-- Invoices list, ?customer_id= and /me/invoices.
DROP INDEX invoices_customer_idx;
CREATE INDEX invoices_customer_idx ON invoices (customer_id, id);
-- Invoices list, ?status= (invoices_status_due_idx orders by due date, for dunning).
CREATE INDEX invoices_status_list_idx ON invoices (status, id);

-- Licenses list, ?customer_id=, /me/licenses and /customers/{id}/licenses.
DROP INDEX licenses_customer_idx;
CREATE INDEX licenses_customer_idx ON licenses (customer_id, id);
-- Licenses list, ?status=.
CREATE INDEX licenses_status_idx ON licenses (status, id);

-- Audit log, ?entity_type=&entity_id= (one record's history).
DROP INDEX audit_log_entity_idx;
CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id, id);
-- Audit log, ?entity_type= alone (the console's filter).
CREATE INDEX audit_log_entity_type_idx ON audit_log (entity_type, id);

-- Jobs list, ?state= (jobs_ready_idx orders by run time, for the workers' claims).
CREATE INDEX jobs_state_list_idx ON jobs (state, id);
-- Email list, ?state= (email_outbox_ready_idx orders by next attempt, for the sender).
CREATE INDEX email_outbox_state_list_idx ON email_outbox (state, id);

-- Credit notes and disputes, ?customer_id= and /me/credit-notes.
DROP INDEX credit_notes_customer_idx;
CREATE INDEX credit_notes_customer_idx ON credit_notes (customer_id, id);
DROP INDEX disputes_customer_idx;
CREATE INDEX disputes_customer_idx ON disputes (customer_id, id);

-- Reconciliations, ?server_id=: reconciliations_server_idx is (server_id, id) already.
-- Customers and staff (users): the role filter keeps most rows (customers) or very few
-- (staff), and a search is a substring match no b-tree can serve; the primary key walk
-- stays the plan.
