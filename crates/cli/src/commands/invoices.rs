//! `invoices list|show|order|checkout|mark-paid|void|refund|run`: orders, invoices,
//! payments and refunds.

use clap::Subcommand;
use serde_json::{json, Value};

use crate::client::{query, Client};
use crate::output::{items, money, print_json, print_page, text, Table};

/// What to do with invoices.
#[derive(Subcommand)]
pub enum InvoicesCommand {
    /// List invoices, newest first.
    #[command(
        after_help = "Examples:\n  nextpanel-bill invoices list --status open\n  nextpanel-bill invoices list --customer ann@example.com"
    )]
    List {
        /// Only `open`, `paid` or `void` invoices.
        #[arg(long)]
        status: Option<String>,
        /// Only this customer's (id or exact email).
        #[arg(long)]
        customer: Option<String>,
        /// Page number.
        #[arg(long)]
        page: Option<i64>,
        /// Items per page (1 to 200).
        #[arg(long)]
        per_page: Option<i64>,
    },
    /// Show an invoice with its lines and payments.
    #[command(after_help = "Example:\n  nextpanel-bill invoices show 42")]
    Show {
        /// Invoice id or number (INV-2026-000042).
        invoice: String,
    },
    /// Order a plan for a customer: an open invoice; paying it creates the hosting account.
    #[command(
        after_help = "Example:\n  nextpanel-bill invoices order --customer ann@example.com --plan 1 --username ann --cycle annual"
    )]
    Order {
        /// Customer id or exact email.
        #[arg(long)]
        customer: String,
        /// Plan id.
        #[arg(long)]
        plan: i64,
        /// Hosting username to create when it is paid.
        #[arg(long)]
        username: String,
        /// monthly, quarterly, semiannual or annual [default: the shortest the plan is sold in].
        #[arg(long)]
        cycle: Option<String>,
    },
    /// Print a Stripe Checkout link for an open invoice, to send to the customer.
    #[command(after_help = "Example:\n  nextpanel-bill invoices checkout 42")]
    Checkout {
        /// Invoice id or number.
        invoice: String,
    },
    /// Record a payment received outside Stripe (bank transfer) and apply it.
    #[command(
        after_help = "Example:\n  nextpanel-bill invoices mark-paid INV-2026-000042 --reference 'SEPA 2026-11-25 #4411'"
    )]
    MarkPaid {
        /// Invoice id or number.
        invoice: String,
        /// The transfer or receipt reference.
        #[arg(long)]
        reference: String,
    },
    /// Void an open invoice: it can no longer be paid.
    #[command(after_help = "Example:\n  nextpanel-bill invoices void 42 --reason 'ordered twice'")]
    Void {
        /// Invoice id or number.
        invoice: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Refund a payment of an invoice, in full or in part, with a credit note.
    #[command(
        after_help = "Examples:\n  nextpanel-bill invoices refund INV-2026-000042 --amount 4.99 --reason 'goodwill for the outage'\n  nextpanel-bill invoices refund 42 --reason 'customer left' --service terminate --key ticket-311"
    )]
    Refund {
        /// Invoice id or number.
        invoice: String,
        /// The payment to refund (its id, from `invoices show`) when the invoice has several.
        #[arg(long)]
        payment: Option<i64>,
        /// How much, in the invoice's currency (e.g. 4.99) [default: all not refunded yet].
        #[arg(long)]
        amount: Option<String>,
        /// Why; printed on the credit note.
        #[arg(long)]
        reason: String,
        /// What happens to the hosting it paid for: none, suspend or terminate.
        #[arg(long, default_value = "none")]
        service: String,
        /// Repeat-safe key: a second refund with the same key is refused.
        #[arg(long)]
        key: Option<String>,
    },
    /// Run billing now: renewal invoices, overdue reminders, suspensions for non-payment.
    #[command(after_help = "Example:\n  nextpanel-bill invoices run")]
    Run,
}

/// The succeeded payment of an invoice to refund: the one named, or the only one.
fn payment_to_refund(invoice: &Value, named: Option<i64>) -> anyhow::Result<i64> {
    let paid: Vec<i64> = items(&invoice["payments"])
        .iter()
        .filter(|p| p["status"] == "succeeded")
        .filter_map(|p| p["id"].as_i64())
        .collect();
    match (named, paid.as_slice()) {
        (Some(id), _) if paid.contains(&id) => Ok(id),
        (Some(id), _) => anyhow::bail!(
            "payment {id} is not a succeeded payment of {}",
            text(&invoice["number"])
        ),
        (None, [only]) => Ok(*only),
        (None, []) => anyhow::bail!(
            "{} has no succeeded payment to refund",
            text(&invoice["number"])
        ),
        (None, _) => anyhow::bail!(
            "{} has several payments ({}); name one with --payment",
            text(&invoice["number"]),
            paid.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// An invoice id (`42`) as given, or the id of the invoice with that number
/// (`INV-2026-000042`, looked up on the server).
async fn invoice_id(client: &mut Client, raw: &str) -> anyhow::Result<i64> {
    let raw = raw.trim();
    if let Some(id) = plain_id(raw) {
        return Ok(id);
    }
    if raw.is_empty() {
        anyhow::bail!("give an invoice id or number like INV-2026-000042");
    }
    let found = client
        .get(&format!(
            "/api/v1/invoices{}",
            query(&[("number", Some(raw.to_owned()))])
        ))
        .await?;
    found["items"][0]["id"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("no invoice has the number {raw:?}"))
}

/// `42` → `42`; anything else is a number to look up.
fn plain_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

fn total(invoice: &Value) -> String {
    invoice["total"]
        .as_i64()
        .map(|t| money(t, invoice["currency"].as_str().unwrap_or("")))
        .unwrap_or_default()
}

fn print_invoice(invoice: &Value) {
    for (label, value) in [
        ("invoice", text(&invoice["number"])),
        ("status", text(&invoice["status"])),
        ("kind", text(&invoice["kind"])),
        ("customer", text(&invoice["customer_id"])),
        ("plan", text(&invoice["plan_id"])),
        ("cycle", text(&invoice["billing_cycle"])),
        ("total", total(invoice)),
        ("due", text(&invoice["due_at"])),
        ("paid", text(&invoice["paid_at"])),
        ("username", text(&invoice["username"])),
        ("license", text(&invoice["license_id"])),
        ("hosting account", text(&invoice["hosting_account_id"])),
    ] {
        println!("{label:<16} {value}");
    }
    println!();
    let currency = invoice["currency"].as_str().unwrap_or("");
    let mut lines = Table::new(&["DESCRIPTION", "QTY", "AMOUNT"]);
    for l in items(&invoice["lines"]) {
        lines.row(vec![
            text(&l["description"]),
            text(&l["quantity"]),
            money(l["amount"].as_i64().unwrap_or(0), currency),
        ]);
    }
    lines.print("lines");
    let mut payments = Table::new(&[
        "PAYMENT",
        "PROVIDER",
        "REFERENCE",
        "STATUS",
        "AMOUNT",
        "NOTE",
    ]);
    for p in items(&invoice["payments"]) {
        payments.row(vec![
            text(&p["id"]),
            text(&p["provider"]),
            text(&p["reference"]),
            text(&p["status"]),
            money(
                p["amount"].as_i64().unwrap_or(0),
                p["currency"].as_str().unwrap_or(""),
            ),
            text(&p["message"]),
        ]);
    }
    payments.print("payments");
    let refunds = items(&invoice["refunds"]);
    if !refunds.is_empty() {
        let mut t = Table::new(&[
            "REFUND",
            "PAYMENT",
            "AMOUNT",
            "STATUS",
            "CREDIT NOTE",
            "REASON",
        ]);
        for r in refunds {
            t.row(vec![
                text(&r["id"]),
                text(&r["payment_id"]),
                text(&r["amount_display"]),
                text(&r["state"]),
                text(&r["credit_note"]["number"]),
                text(&r["reason"]),
            ]);
        }
        t.print("refunds");
    }
}

/// Runs an `invoices` command.
pub async fn run(cmd: InvoicesCommand, client: &mut Client, json: bool) -> anyhow::Result<()> {
    match cmd {
        InvoicesCommand::List {
            status,
            customer,
            page,
            per_page,
        } => {
            let customer_id = match customer {
                Some(c) => Some(super::customers::customer_id(client, &c).await?),
                None => None,
            };
            let path = format!(
                "/api/v1/invoices{}",
                query(&[
                    ("status", status),
                    ("customer_id", customer_id),
                    ("page", page.map(|p| p.to_string())),
                    ("per_page", per_page.map(|p| p.to_string())),
                ])
            );
            let list = client.get(&path).await?;
            if json {
                return print_json(&list);
            }
            let mut t = Table::new(&[
                "INVOICE", "CUSTOMER", "KIND", "STATUS", "TOTAL", "DUE", "PAID",
            ]);
            for i in items(&list["items"]) {
                t.row(vec![
                    text(&i["number"]),
                    text(&i["customer_id"]),
                    text(&i["kind"]),
                    text(&i["status"]),
                    total(i),
                    text(&i["due_at"]),
                    text(&i["paid_at"]),
                ]);
            }
            t.print("invoices");
            print_page(&list);
        }
        InvoicesCommand::Show { invoice } => {
            let id = invoice_id(client, &invoice).await?;
            let found = client.get(&format!("/api/v1/invoices/{}", id)).await?;
            if json {
                return print_json(&found);
            }
            print_invoice(&found);
        }
        InvoicesCommand::Order {
            customer,
            plan,
            username,
            cycle,
        } => {
            let id = super::customers::customer_id(client, &customer).await?;
            let mut body = json!({"plan_id": plan, "username": username});
            if let Some(cycle) = cycle {
                body["billing_cycle"] = json!(cycle);
            }
            let created = client
                .post(&format!("/api/v1/customers/{id}/orders"), &body)
                .await?;
            if json {
                return print_json(&created);
            }
            println!(
                "{} for {} is open (due {}); the customer was emailed. Send them `nextpanel-bill invoices checkout {}` or record a transfer with `mark-paid`.",
                text(&created["number"]),
                total(&created),
                text(&created["due_at"]),
                text(&created["id"])
            );
        }
        InvoicesCommand::Checkout { invoice } => {
            let id = invoice_id(client, &invoice).await?;
            let link = client
                .post(&format!("/api/v1/invoices/{}/checkout", id), &json!({}))
                .await?;
            if json {
                return print_json(&link);
            }
            println!("{}", text(&link["url"]));
        }
        InvoicesCommand::MarkPaid { invoice, reference } => {
            let id = invoice_id(client, &invoice).await?;
            let paid = client
                .post(
                    &format!("/api/v1/invoices/{}/mark-paid", id),
                    &json!({ "reference": reference }),
                )
                .await?;
            if json {
                return print_json(&paid);
            }
            print_invoice(&paid);
        }
        InvoicesCommand::Void { invoice, reason } => {
            let mut body = json!({});
            if let Some(reason) = reason {
                body["reason"] = json!(reason);
            }
            let id = invoice_id(client, &invoice).await?;
            let voided = client
                .post(&format!("/api/v1/invoices/{}/void", id), &body)
                .await?;
            if json {
                return print_json(&voided);
            }
            println!("{} is void", text(&voided["number"]));
        }
        InvoicesCommand::Refund {
            invoice,
            payment,
            amount,
            reason,
            service,
            key,
        } => {
            let id = invoice_id(client, &invoice).await?;
            let found = client.get(&format!("/api/v1/invoices/{}", id)).await?;
            let payment = payment_to_refund(&found, payment)?;
            let mut body = json!({"reason": reason, "service_action": service});
            if let Some(amount) = amount {
                let currency = billing::domain::money::Currency::parse(
                    found["currency"].as_str().unwrap_or_default(),
                )
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                let money =
                    billing::domain::money::Money::parse_decimal("--amount", &amount, currency)
                        .map_err(|e| anyhow::anyhow!("--amount {}", e.message))?;
                body["amount"] = json!(money.minor());
            }
            let headers: Vec<(&str, &str)> = key
                .as_deref()
                .map(|k| vec![("Idempotency-Key", k)])
                .unwrap_or_default();
            let made = client
                .send(
                    reqwest::Method::POST,
                    &format!("/api/v1/payments/{payment}/refund"),
                    Some(&body),
                    &headers,
                )
                .await?
                .body;
            if json {
                return print_json(&made);
            }
            println!(
                "refunded {} of {} ({}); credit note {}",
                text(&made["amount_display"]),
                text(&found["number"]),
                text(&made["state"]),
                text(&made["credit_note"]["number"])
            );
        }
        InvoicesCommand::Run => {
            let report = client.post("/api/v1/billing/run", &json!({})).await?;
            if json {
                return print_json(&report);
            }
            println!(
                "{:<20} {}",
                "paid by saved card",
                text(&report["autopay"]["charged"])
            );
            for (label, key) in [
                ("renewal invoices", "renewal_invoices"),
                ("renewals skipped", "renewals_skipped"),
                ("reminders", "reminders"),
                ("licenses suspended", "licenses_suspended"),
                ("accounts suspended", "accounts_suspended"),
            ] {
                println!("{label:<20} {}", text(&report[key]));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoices_are_named_by_id_or_number() {
        assert_eq!(plain_id("42"), Some(42));
        assert_eq!(plain_id("INV-000042"), None);
        assert_eq!(plain_id("0"), None);
    }
}
