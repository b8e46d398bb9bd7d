//! Invoices and credit notes as documents (PDF, HTML): gathers what they print, with
//! the same access rules as the invoices themselves (customers their own, staff any).

use std::collections::BTreeMap;

use super::invoices::{amount_text, load_owned, number_of};
use super::tax::percent;
use super::{Actor, ServiceError};
use crate::config::Settings;
use crate::documents::{Document, DocumentLine, Party};
use crate::domain::role::Role;
use crate::domain::tax::{self, REVERSE_CHARGE_NOTE};
use crate::store::invoices::{BuyerRow, InvoiceRow};
use crate::store::{self, AsConn, Db};

/// A rendered document: its number (for the file name) and bytes or text.
pub struct Rendered<T> {
    /// The document's number.
    pub number: String,
    /// The PDF bytes or HTML text.
    pub body: T,
}

/// The non-empty lines of an address typed on several lines.
fn address_lines(text: Option<&str>) -> impl Iterator<Item = String> + '_ {
    text.into_iter()
        .flat_map(str::lines)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
}

fn seller(settings: &Settings) -> Party {
    let inv = &settings.invoicing;
    let mut address: Vec<String> = address_lines(inv.seller_address.as_deref()).collect();
    if let Some(country) = &inv.seller_country {
        address.push(country.clone());
    }
    Party {
        name: settings.company.name.clone(),
        address,
        tax_id: inv.seller_tax_id.clone(),
        contact: settings.company.support_email.clone(),
    }
}

fn buyer(b: &BuyerRow, fallback_name: &str) -> Party {
    let mut address = Vec::new();
    address.extend(b.buyer_company.clone());
    address.extend(address_lines(b.buyer_address.as_deref()));
    let place = [b.buyer_region.clone(), b.buyer_country.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    if !place.is_empty() {
        address.push(place);
    }
    Party {
        name: b
            .buyer_name
            .clone()
            .unwrap_or_else(|| fallback_name.to_owned()),
        address,
        tax_id: b.buyer_tax_id.clone(),
        contact: None,
    }
}

fn day(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

async fn customer_name(conn: &mut impl AsConn, id: i64) -> Result<String, ServiceError> {
    Ok(store::users::find(conn, id)
        .await?
        .map_or_else(|| format!("customer {id}"), |u| u.full_name))
}

/// The document of an invoice the caller may see.
pub async fn invoice(
    db: &Db,
    settings: &Settings,
    actor: &Actor,
    id: i64,
) -> Result<Document, ServiceError> {
    let mut conn = db.conn().await?;
    let row = load_owned(&mut conn, actor, id).await?;
    invoice_document(&mut conn, settings, &row).await
}

/// The document of an invoice (no access check: for mail the system sends).
pub(crate) async fn invoice_document(
    conn: &mut impl AsConn,
    settings: &Settings,
    row: &InvoiceRow,
) -> Result<Document, ServiceError> {
    let lines = store::invoices::lines(conn, row.id).await?;
    let money = |minor: i64| amount_text(minor, &row.currency);
    let mut tax_by_rate: BTreeMap<(String, i64), i64> = BTreeMap::new();
    for l in &lines {
        if let Some(name) = &l.tax_name {
            *tax_by_rate
                .entry((name.clone(), l.tax_rate_bp))
                .or_default() += l.tax_minor;
        }
    }
    let mut totals = Vec::new();
    if !tax_by_rate.is_empty() || row.reverse_charge {
        totals.push(("Net".to_owned(), money(row.subtotal_minor)));
        for ((name, bp), amount) in &tax_by_rate {
            totals.push((format!("{name} {}", percent(*bp)), money(*amount)));
        }
        if row.reverse_charge {
            totals.push(("VAT (reverse charge)".to_owned(), money(0)));
        }
    }
    if row.credit_applied_minor > 0 {
        totals.push((
            "Total".to_owned(),
            money(row.total_minor + row.credit_applied_minor),
        ));
        totals.push((
            "Credit applied".to_owned(),
            money(-row.credit_applied_minor),
        ));
        totals.push(("Amount due".to_owned(), money(row.total_minor)));
    } else {
        totals.push(("Total".to_owned(), money(row.total_minor)));
    }
    let mut facts = vec![("Date".to_owned(), day(row.created_at))];
    if let (Some(from), Some(to)) = (row.period_start, row.period_end) {
        facts.push(("Period".to_owned(), format!("{} to {}", day(from), day(to))));
    }
    facts.push(("Due".to_owned(), day(row.due_at)));
    let status = match (row.status.as_str(), row.paid_at, row.voided_at) {
        ("paid", Some(at), _) => format!("Paid on {}", day(at)),
        ("void", _, Some(at)) => format!("Void: cancelled on {}", day(at)),
        _ => format!(
            "Open: please pay {} by {}",
            money(row.total_minor),
            day(row.due_at)
        ),
    };
    let mut notes = Vec::new();
    if row.reverse_charge {
        notes.push(REVERSE_CHARGE_NOTE.to_owned());
    }
    if row.prices_include_tax && row.tax_minor > 0 {
        notes.push("Prices include tax.".to_owned());
    }
    for note in store::refunds::credit_notes_of_invoice(conn, row.id).await? {
        notes.push(format!(
            "Credit note {} of {} refunds part of this invoice ({}).",
            note.number,
            day(note.created_at),
            amount_text(note.amount_minor, &note.currency)
        ));
    }
    let fallback = customer_name(conn, row.customer_id).await?;
    Ok(Document {
        title: "INVOICE".to_owned(),
        number: number_of(row),
        facts,
        seller: seller(settings),
        buyer: buyer(&row.buyer, &fallback),
        lines: lines
            .iter()
            .map(|l| DocumentLine {
                description: l.description.clone(),
                quantity: l.quantity.to_string(),
                unit: money(l.unit_amount_minor),
                tax: l
                    .tax_name
                    .as_ref()
                    .map(|n| format!("{n} {}", percent(l.tax_rate_bp)))
                    .unwrap_or_default(),
                amount: money(l.amount_minor),
            })
            .collect(),
        totals,
        status,
        notes,
    })
}

/// The document of a credit note the caller may see.
pub async fn credit_note(
    db: &Db,
    settings: &Settings,
    actor: &Actor,
    id: i64,
) -> Result<Document, ServiceError> {
    let mut conn = db.conn().await?;
    let note = store::refunds::find_credit_note(&mut conn, id)
        .await?
        .filter(|n| actor.role != Role::Customer || actor.user_id == Some(n.customer_id))
        .ok_or(ServiceError::NotFound("credit note"))?;
    let invoice = store::invoices::find(&mut conn, note.invoice_id)
        .await?
        .ok_or(ServiceError::NotFound("invoice"))?;
    let money = |minor: i64| amount_text(minor, &note.currency);
    // A refund gives back tax in the share the invoice carried it (as the tax report).
    let tax_back = tax::refunded_tax(
        note.amount_minor,
        invoice.tax_minor,
        invoice.total_minor + invoice.credit_applied_minor,
    );
    let first = store::invoices::lines(&mut conn, invoice.id)
        .await?
        .into_iter()
        .next();
    let tax_label = first
        .as_ref()
        .and_then(|l| {
            l.tax_name
                .as_ref()
                .map(|n| format!("{n} {}", percent(l.tax_rate_bp)))
        })
        .unwrap_or_default();
    let mut totals = Vec::new();
    if tax_back != 0 {
        totals.push(("Net".to_owned(), money(note.amount_minor - tax_back)));
        totals.push((tax_label.clone(), money(tax_back)));
    }
    totals.push(("Total credited".to_owned(), money(note.amount_minor)));
    let fallback = customer_name(&mut conn, note.customer_id).await?;
    Ok(Document {
        title: "CREDIT NOTE".to_owned(),
        number: note.number.clone(),
        facts: vec![
            ("Date".to_owned(), day(note.created_at)),
            ("Corrects invoice".to_owned(), note.invoice_number.clone()),
        ],
        seller: seller(settings),
        buyer: buyer(&invoice.buyer, &fallback),
        lines: vec![DocumentLine {
            description: format!(
                "Refund for invoice {}: {}",
                note.invoice_number, note.reason
            ),
            quantity: "1".to_owned(),
            unit: money(note.amount_minor - tax_back),
            tax: tax_label,
            amount: money(note.amount_minor - tax_back),
        }],
        totals,
        status: "Refunded to the original payment method".to_owned(),
        notes: invoice
            .reverse_charge
            .then(|| REVERSE_CHARGE_NOTE.to_owned())
            .into_iter()
            .collect(),
    })
}

/// A document as PDF bytes.
pub fn pdf(doc: &Document) -> Rendered<Vec<u8>> {
    Rendered {
        number: doc.number.clone(),
        body: crate::documents::pdf::render(doc),
    }
}

/// A document as an HTML page.
pub fn html(doc: &Document) -> Rendered<String> {
    Rendered {
        number: doc.number.clone(),
        body: crate::documents::html::render(doc),
    }
}
