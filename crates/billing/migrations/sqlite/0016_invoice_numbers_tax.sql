-- Invoices an accountant can file: numbers from a gapless sequence (assigned in the
-- transaction that issues the invoice), tax per line with the rate's name and rate,
-- the buyer as billed (a later change of address does not rewrite an issued invoice),
-- tax rates by place and date, and the customer's billing address and tax id.
-- Kept in step with ../postgres/0016_invoice_numbers_tax.sql (a test compares them).

ALTER TABLE invoices ADD COLUMN number TEXT;
-- Invoices issued before numbering existed keep the number they were shown with.
UPDATE invoices SET number = 'INV-' || printf('%06d', id);
CREATE UNIQUE INDEX invoices_number_idx ON invoices (number);
ALTER TABLE invoices ADD COLUMN subtotal_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN tax_minor BIGINT NOT NULL DEFAULT 0;
UPDATE invoices SET subtotal_minor = total_minor;
ALTER TABLE invoices ADD COLUMN prices_include_tax BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE invoices ADD COLUMN reverse_charge BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE invoices ADD COLUMN buyer_name TEXT;
ALTER TABLE invoices ADD COLUMN buyer_company TEXT;
ALTER TABLE invoices ADD COLUMN buyer_address TEXT;
ALTER TABLE invoices ADD COLUMN buyer_country TEXT;
ALTER TABLE invoices ADD COLUMN buyer_region TEXT;
ALTER TABLE invoices ADD COLUMN buyer_tax_id TEXT;

ALTER TABLE invoice_lines ADD COLUMN tax_rate_id BIGINT;
ALTER TABLE invoice_lines ADD COLUMN tax_name TEXT;
ALTER TABLE invoice_lines ADD COLUMN tax_rate_bp BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invoice_lines ADD COLUMN tax_minor BIGINT NOT NULL DEFAULT 0;

CREATE TABLE tax_rates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    rate_bp BIGINT NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000),
    country TEXT NOT NULL,
    region TEXT,
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX tax_rates_country_idx ON tax_rates (country);

ALTER TABLE users ADD COLUMN billing_address TEXT;
ALTER TABLE users ADD COLUMN billing_postal_code TEXT;
ALTER TABLE users ADD COLUMN billing_region TEXT;
ALTER TABLE users ADD COLUMN billing_country TEXT;
ALTER TABLE users ADD COLUMN tax_id TEXT;

-- A credit note names the invoice it corrects by that invoice's number.
ALTER TABLE credit_notes ADD COLUMN invoice_number TEXT NOT NULL DEFAULT '';
UPDATE credit_notes SET invoice_number = (SELECT number FROM invoices WHERE invoices.id = credit_notes.invoice_id);

-- So does a dispute.
ALTER TABLE disputes ADD COLUMN invoice_number TEXT NOT NULL DEFAULT '';
UPDATE disputes SET invoice_number = (SELECT number FROM invoices WHERE invoices.id = disputes.invoice_id);
