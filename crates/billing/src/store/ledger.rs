//! The ledger check's SQL: every invariant of money and state as a query that returns
//! one line per violation, naming the rows at fault. Empty answers mean the books hold.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError};

/// Hosting account states that hold their username.
const LIVE: &str = "('pending', 'provisioning', 'active', 'suspended')";

/// One invariant: its name and the query listing what breaks it (`$1` binds the time
/// before which a manual refund may no longer be pending, `$2` a Stripe one).
pub struct Rule {
    /// Short name, for people and metrics.
    pub name: &'static str,
    /// One TEXT column per violation.
    sql: String,
}

/// Every rule the check runs.
pub fn rules() -> Vec<Rule> {
    let rule = |name, sql: &str| Rule {
        name,
        sql: sql.to_owned(),
    };
    vec![
        rule(
            "credit balance equals its ledger",
            "SELECT 'customer ' || CAST(b.customer_id AS TEXT) || ' ' || b.currency || ': balance ' \
             || CAST(b.balance_minor AS TEXT) || ', ledger sums to ' || CAST(COALESCE(e.total, 0) AS TEXT) \
             FROM credit_balances b LEFT JOIN (SELECT customer_id, currency, SUM(amount_minor) AS total \
             FROM credit_entries GROUP BY customer_id, currency) e \
             ON e.customer_id = b.customer_id AND e.currency = b.currency \
             WHERE b.balance_minor <> COALESCE(e.total, 0) \
             UNION ALL \
             SELECT 'customer ' || CAST(e.customer_id AS TEXT) || ' ' || e.currency \
             || ': no balance row, ledger sums to ' || CAST(e.total AS TEXT) \
             FROM (SELECT customer_id, currency, SUM(amount_minor) AS total FROM credit_entries \
             GROUP BY customer_id, currency) e WHERE e.total <> 0 AND NOT EXISTS \
             (SELECT 1 FROM credit_balances b WHERE b.customer_id = e.customer_id AND b.currency = e.currency)",
        ),
        rule(
            "credit balance never negative",
            "SELECT 'customer ' || CAST(customer_id AS TEXT) || ' ' || currency || ': balance ' \
             || CAST(balance_minor AS TEXT) FROM credit_balances WHERE balance_minor < 0",
        ),
        rule(
            "a paid invoice has one applied payment, any other none",
            "SELECT 'invoice ' || CAST(i.id AS TEXT) || ' (' || COALESCE(i.number, '') || ') is ' || i.status \
             || ' with ' || CAST(COUNT(p.id) AS TEXT) || ' applied payment(s)' \
             FROM invoices i LEFT JOIN payments p ON p.invoice_id = i.id AND p.applied \
             GROUP BY i.id, i.number, i.status \
             HAVING (i.status = 'paid' AND COUNT(p.id) <> 1) OR (i.status <> 'paid' AND COUNT(p.id) <> 0)",
        ),
        rule(
            "an applied payment is what its invoice asked",
            "SELECT 'payment ' || CAST(p.id AS TEXT) || ' of ' || CAST(p.amount_minor AS TEXT) || ' ' || p.currency \
             || ' (' || p.status || ') paid invoice ' || CAST(i.id AS TEXT) || ' of ' \
             || CAST(i.total_minor AS TEXT) || ' ' || i.currency \
             FROM payments p JOIN invoices i ON i.id = p.invoice_id WHERE p.applied \
             AND (p.amount_minor <> i.total_minor OR p.currency <> i.currency OR p.status <> 'succeeded')",
        ),
        rule(
            "refunds of a payment never exceed it",
            "SELECT 'payment ' || CAST(p.id AS TEXT) || ' of ' || CAST(p.amount_minor AS TEXT) \
             || ' has ' || CAST(r.total AS TEXT) || ' refunded or pending' \
             FROM payments p JOIN (SELECT payment_id, SUM(amount_minor) AS total FROM refunds \
             WHERE state IN ('pending', 'succeeded') GROUP BY payment_id) r ON r.payment_id = p.id \
             WHERE r.total > p.amount_minor",
        ),
        rule(
            "every completed refund has its credit note, and only those",
            "SELECT 'refund ' || CAST(r.id AS TEXT) || ' of ' || CAST(r.amount_minor AS TEXT) \
             || ' succeeded without a credit note of that amount' FROM refunds r \
             WHERE r.state = 'succeeded' AND NOT EXISTS (SELECT 1 FROM credit_notes c \
             WHERE c.refund_id = r.id AND c.amount_minor = r.amount_minor) \
             UNION ALL \
             SELECT 'credit note ' || c.number || ' documents refund ' || CAST(r.id AS TEXT) \
             || ', which is ' || r.state FROM credit_notes c JOIN refunds r ON r.id = c.refund_id \
             WHERE r.state <> 'succeeded'",
        ),
        rule(
            "no refund stays pending past the sweep",
            "SELECT 'refund ' || CAST(id AS TEXT) || ' (' || provider || ') pending since ' \
             || CAST(created_at AS TEXT) FROM refunds WHERE state = 'pending' \
             AND ((provider = 'manual' AND created_at < $1) OR (provider <> 'manual' AND created_at < $2))",
        ),
        rule(
            "a plan change's credit is given once, when it is applied",
            "SELECT 'plan change ' || CAST(pc.id AS TEXT) || ' (' || pc.state || ') credited ' \
             || CAST(COALESCE(e.total, 0) AS TEXT) || ' of ' || CAST(pc.credit_minor AS TEXT) \
             FROM plan_changes pc LEFT JOIN (SELECT plan_change_id, SUM(amount_minor) AS total \
             FROM credit_entries WHERE plan_change_id IS NOT NULL GROUP BY plan_change_id) e \
             ON e.plan_change_id = pc.id \
             WHERE COALESCE(e.total, 0) <> CASE WHEN pc.state = 'applied' THEN pc.credit_minor ELSE 0 END",
        ),
        rule(
            "a paid order has one license of its own",
            "SELECT 'order ' || CAST(id AS TEXT) || ' (' || COALESCE(number, '') || ') is paid without a license' \
             FROM invoices WHERE kind = 'order' AND status = 'paid' AND license_id IS NULL \
             UNION ALL \
             SELECT 'license ' || CAST(license_id AS TEXT) || ' was issued for ' || CAST(COUNT(*) AS TEXT) || ' orders' \
             FROM invoices WHERE kind = 'order' AND license_id IS NOT NULL \
             GROUP BY license_id HAVING COUNT(*) > 1",
        ),
        rule(
            "one live account or open order per hosting username",
            &format!(
                "SELECT 'username ' || username || ' has ' || CAST(COUNT(*) AS TEXT) || ' live accounts' \
                 FROM hosting_accounts WHERE state IN {LIVE} GROUP BY username HAVING COUNT(*) > 1 \
                 UNION ALL \
                 SELECT 'username ' || order_username || ' has ' || CAST(COUNT(*) AS TEXT) || ' open orders' \
                 FROM invoices WHERE kind = 'order' AND status = 'open' AND order_username IS NOT NULL \
                 GROUP BY order_username HAVING COUNT(*) > 1"
            ),
        ),
        rule(
            "document numbers are unique",
            "SELECT 'invoice number ' || number || ' is used ' || CAST(COUNT(*) AS TEXT) || ' times' \
             FROM invoices WHERE number IS NOT NULL GROUP BY number HAVING COUNT(*) > 1 \
             UNION ALL \
             SELECT 'credit note number ' || number || ' is used ' || CAST(COUNT(*) AS TEXT) || ' times' \
             FROM credit_notes GROUP BY number HAVING COUNT(*) > 1",
        ),
        rule(
            "credit note numbers are gapless",
            "SELECT 'credit notes: ' || CAST((SELECT COUNT(*) FROM credit_notes) AS TEXT) \
             || ' written, ' || CAST(COALESCE((SELECT SUM(last_value) FROM document_sequences \
             WHERE kind = 'credit_note'), 0) AS TEXT) || ' numbers taken' \
             WHERE (SELECT COUNT(*) FROM credit_notes) <> COALESCE((SELECT SUM(last_value) \
             FROM document_sequences WHERE kind = 'credit_note'), 0)",
        ),
    ]
}

/// The violations of `rule`, each naming its rows.
pub async fn violations(
    conn: &mut impl AsConn,
    rule: &Rule,
    manual_refund_stale: DateTime<Utc>,
    provider_refund_stale: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<String> = on_conn!(conn, |c| {
        let mut q = sqlx::query_scalar(&rule.sql);
        if rule.sql.contains("$1") {
            q = q.bind(manual_refund_stale).bind(provider_refund_stale);
        }
        q.fetch_all(c).await
    })?;
    Ok(rows)
}

/// Invoice numbering, as `(numbers taken from the sequence, invoices numbered from it)`:
/// every invoice holds a number from the sequence but those numbered before the sequence
/// existed (`INV-` and their id in six digits, counted here by the caller).
pub async fn invoice_numbering(
    conn: &mut impl AsConn,
) -> Result<(i64, Vec<(i64, String)>, i64), StoreError> {
    let taken: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(last_value), 0) AS BIGINT) FROM document_sequences WHERE kind = 'invoice'"
    )
    .fetch_one(c)
    .await
    })?;
    let numbered: i64 = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM invoices WHERE number IS NOT NULL"
    )
    .fetch_one(c)
    .await)?;
    // Numbers of the shape the first numbering gave (`INV-000042`): few, read whole.
    let early: Vec<(i64, String)> = on_conn!(conn, |c| sqlx::query_as(
        "SELECT id, number FROM invoices WHERE number LIKE 'INV-______'"
    )
    .fetch_all(c)
    .await)?;
    Ok((taken, early, numbered))
}
