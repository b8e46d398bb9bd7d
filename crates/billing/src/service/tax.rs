//! Tax: the rates admins keep (by country, region and dates), whether plan prices
//! include tax, the tax of a new invoice for its buyer, and the tax report.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::{nullable, Actor, ServiceError};
use crate::config::InvoicingSettings;
use crate::domain::invoice::Line;
use crate::domain::tax::{self, Rate};
use crate::domain::Invalid;
use crate::store::invoices::BuyerRow;
use crate::store::tax_rates::TaxRateRow;
use crate::store::users::UserRow;
use crate::store::{self, AsConn, Db};

const INCLUSIVE_KEY: &str = "tax.prices_include_tax";

/// A tax rate as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaxRate {
    /// Rate id.
    pub id: i64,
    /// Name on invoices: `VAT`, `GST`, `Sales tax`.
    pub name: String,
    /// Basis points: 1900 is 19 %.
    pub rate_bp: i64,
    /// The rate for people: `19%`, `8.25%`.
    pub rate_display: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// Region (state, province); `null` for the whole country.
    pub region: Option<String>,
    /// First day it applies.
    pub valid_from: NaiveDate,
    /// Last day it applies; `null` while in force.
    pub valid_to: Option<NaiveDate>,
    /// Whether an invoice was taxed at it (then only its name and end date may change).
    pub in_use: bool,
}

/// `1900` → `19%`, `825` → `8.25%`.
pub fn percent(bp: i64) -> String {
    let (whole, frac) = (bp / 100, bp % 100);
    if frac == 0 {
        format!("{whole}%")
    } else {
        format!("{whole}.{}%", format!("{frac:02}").trim_end_matches('0'))
    }
}

fn view(r: &TaxRateRow, in_use: bool) -> TaxRate {
    TaxRate {
        id: r.id,
        name: r.name.clone(),
        rate_bp: r.rate_bp,
        rate_display: percent(r.rate_bp),
        country: r.country.clone(),
        region: r.region.clone(),
        valid_from: r.valid_from,
        valid_to: r.valid_to,
        in_use,
    }
}

fn rate(r: &TaxRateRow) -> Rate {
    Rate {
        id: r.id,
        name: r.name.clone(),
        rate_bp: r.rate_bp,
        country: r.country.clone(),
        region: r.region.clone(),
        valid_from: r.valid_from,
        valid_to: r.valid_to,
    }
}

/// Body of `POST /api/v1/tax-rates`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTaxRate {
    /// Name on invoices.
    pub name: String,
    /// Basis points, 0 to 10000.
    pub rate_bp: i64,
    /// Country code.
    pub country: String,
    /// Region, for a rate that applies only there.
    pub region: Option<String>,
    /// First day it applies.
    pub valid_from: NaiveDate,
    /// Last day it applies.
    pub valid_to: Option<NaiveDate>,
}

/// Body of `PATCH /api/v1/tax-rates/{id}`: only the fields sent change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxRatePatch {
    /// New name.
    pub name: Option<String>,
    /// New rate (only while unused).
    pub rate_bp: Option<i64>,
    /// New country (only while unused).
    pub country: Option<String>,
    /// New region (only while unused; `null` for the whole country).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub region: Option<Option<String>>,
    /// New first day (only while unused).
    pub valid_from: Option<NaiveDate>,
    /// New last day (`null`: no end).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub valid_to: Option<Option<NaiveDate>>,
}

/// Every tax rate (admin, staff).
pub async fn list(db: &Db, actor: &Actor) -> Result<Vec<TaxRate>, ServiceError> {
    actor.require_staff()?;
    let mut conn = db.conn().await?;
    let rows = store::tax_rates::all(&mut conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(view(r, store::tax_rates::in_use(&mut conn, r.id).await?));
    }
    Ok(out)
}

/// Checks a rate and that no other rate applies to the same place on the same days.
async fn checked(conn: &mut impl AsConn, candidate: Rate) -> Result<Rate, ServiceError> {
    let mut candidate = candidate;
    candidate.name = candidate.name.trim().to_owned();
    candidate.country = tax::country(&candidate.country)?;
    candidate.region = candidate
        .region
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    tax::check(&candidate)?;
    let others = store::tax_rates::of_country(conn, &candidate.country).await?;
    if let Some(clash) = others
        .iter()
        .map(rate)
        .find(|o| o.id != candidate.id && o.overlaps(&candidate))
    {
        return Err(ServiceError::Conflict {
            field: Some("valid_from".into()),
            message: format!(
                "overlaps rate {} ({} {} for {}{}, from {}{}): end that one first (valid_to) or pick other dates",
                clash.id,
                clash.name,
                percent(clash.rate_bp),
                clash.country,
                clash.region.as_deref().map(|r| format!("/{r}")).unwrap_or_default(),
                clash.valid_from,
                clash.valid_to.map(|t| format!(" to {t}")).unwrap_or_default(),
            ),
        });
    }
    Ok(candidate)
}

/// Adds a rate (admin; audited).
pub async fn create(db: &Db, actor: &Actor, body: NewTaxRate) -> Result<TaxRate, ServiceError> {
    actor.require_admin()?;
    let mut tx = db.begin().await?;
    let r = checked(
        &mut tx,
        Rate {
            id: 0,
            name: body.name,
            rate_bp: body.rate_bp,
            country: body.country,
            region: body.region,
            valid_from: body.valid_from,
            valid_to: body.valid_to,
        },
    )
    .await?;
    let now = store::now();
    let row = store::tax_rates::insert(&mut tx, &row_of(&r, now)).await?;
    let shown = view(&row, false);
    audit::record(
        &mut tx,
        actor,
        Change::<(), _> {
            action: "tax_rate.created",
            entity_type: "tax_rate",
            entity_id: Some(row.id),
            before: None,
            after: Some(&shown),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(shown)
}

fn row_of(r: &Rate, now: DateTime<Utc>) -> TaxRateRow {
    TaxRateRow {
        id: r.id,
        name: r.name.clone(),
        rate_bp: r.rate_bp,
        country: r.country.clone(),
        region: r.region.clone(),
        valid_from: r.valid_from,
        valid_to: r.valid_to,
        created_at: now,
        updated_at: now,
    }
}

/// Changes a rate (admin; audited). A rate invoices used keeps its rate, place and
/// start: what was charged must stay explainable; end it and add a new one instead.
pub async fn update(
    db: &Db,
    actor: &Actor,
    id: i64,
    patch: TaxRatePatch,
) -> Result<TaxRate, ServiceError> {
    actor.require_admin()?;
    let mut tx = db.begin().await?;
    let before = store::tax_rates::find(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("tax rate"))?;
    let used = store::tax_rates::in_use(&mut tx, id).await?;
    if used {
        let fixed = [
            (
                "rate_bp",
                patch.rate_bp.is_some_and(|v| v != before.rate_bp),
            ),
            (
                "country",
                patch
                    .country
                    .as_ref()
                    .is_some_and(|v| !v.eq_ignore_ascii_case(&before.country)),
            ),
            (
                "region",
                patch.region.as_ref().is_some_and(|v| *v != before.region),
            ),
            (
                "valid_from",
                patch.valid_from.is_some_and(|v| v != before.valid_from),
            ),
        ];
        if let Some((field, _)) = fixed.iter().find(|(_, changed)| *changed) {
            return Err(ServiceError::Conflict {
                field: Some((*field).into()),
                message: format!(
                    "invoices were taxed at this rate, so its {field} cannot change; set valid_to to end it and add a new rate"
                ),
            });
        }
    }
    let mut r = rate(&before);
    if let Some(v) = patch.name {
        r.name = v;
    }
    if let Some(v) = patch.rate_bp {
        r.rate_bp = v;
    }
    if let Some(v) = patch.country {
        r.country = v;
    }
    if let Some(v) = patch.region {
        r.region = v;
    }
    if let Some(v) = patch.valid_from {
        r.valid_from = v;
    }
    if let Some(v) = patch.valid_to {
        r.valid_to = v;
    }
    let r = checked(&mut tx, r).await?;
    let mut row = row_of(&r, store::now());
    row.created_at = before.created_at;
    let saved = store::tax_rates::update(&mut tx, &row).await?;
    let shown = view(&saved, used);
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "tax_rate.updated",
            entity_type: "tax_rate",
            entity_id: Some(id),
            before: Some(&view(&before, used)),
            after: Some(&shown),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(shown)
}

/// Deletes a rate no invoice used (admin; audited).
pub async fn delete(db: &Db, actor: &Actor, id: i64) -> Result<(), ServiceError> {
    actor.require_admin()?;
    let mut tx = db.begin().await?;
    let before = store::tax_rates::find(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("tax rate"))?;
    if store::tax_rates::in_use(&mut tx, id).await? {
        return Err(ServiceError::Conflict {
            field: None,
            message: "invoices were taxed at this rate; set valid_to to end it instead".into(),
        });
    }
    store::tax_rates::delete(&mut tx, id).await?;
    audit::record::<_, ()>(
        &mut tx,
        actor,
        Change {
            action: "tax_rate.deleted",
            entity_type: "tax_rate",
            entity_id: Some(id),
            before: Some(&view(&before, false)),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether plan prices include tax (one setting for the shop).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxSettings {
    /// `true`: a plan's price is what the customer pays, tax included (B2C shops);
    /// `false` (default): tax is added on top (B2B shops).
    pub prices_include_tax: bool,
}

async fn inclusive(conn: &mut impl AsConn) -> Result<bool, ServiceError> {
    super::settings::flag(conn, INCLUSIVE_KEY).await
}

/// The tax settings (admin, staff).
pub async fn settings(db: &Db, actor: &Actor) -> Result<TaxSettings, ServiceError> {
    actor.require_staff()?;
    let mut conn = db.conn().await?;
    Ok(TaxSettings {
        prices_include_tax: inclusive(&mut conn).await?,
    })
}

/// Changes the tax settings (admin; audited). Issued invoices keep how they were taxed.
pub async fn update_settings(
    db: &Db,
    actor: &Actor,
    body: TaxSettings,
) -> Result<TaxSettings, ServiceError> {
    actor.require_admin()?;
    super::settings::set_flag(
        db,
        actor,
        INCLUSIVE_KEY,
        body.prices_include_tax,
        "settings.tax_updated",
    )
    .await?;
    Ok(body)
}

/// A new invoice's lines with their tax, its totals, and its buyer as billed.
#[derive(Debug)]
pub(crate) struct Priced {
    /// `(line, net, tax)`.
    pub lines: Vec<(Line, i64, i64)>,
    /// The rate applied to every line, if any.
    pub rate: Option<Rate>,
    /// Sum of nets.
    pub subtotal: i64,
    /// Sum of taxes.
    pub tax: i64,
    /// What the customer pays.
    pub total: i64,
    /// Whether prices included tax.
    pub prices_include_tax: bool,
    /// EU reverse charge.
    pub reverse_charge: bool,
    /// The buyer as billed.
    pub buyer: BuyerRow,
}

/// The tax settings and rates read so far in one transaction: an invoice run reads each
/// once rather than once per invoice.
#[derive(Debug, Default)]
pub(crate) struct Known {
    inclusive: Option<bool>,
    rates: HashMap<String, Vec<Rate>>,
}

/// Taxes `lines` for `customer` on `day`: the rate of the buyer's country (and region;
/// the seller's country when the buyer gave none), none under the EU reverse charge.
pub(crate) async fn price(
    conn: &mut impl AsConn,
    known: &mut Known,
    invoicing: &InvoicingSettings,
    customer: &UserRow,
    lines: Vec<Line>,
    day: NaiveDate,
) -> Result<Priced, ServiceError> {
    let b = &customer.billing;
    let place = b
        .billing_country
        .clone()
        .or_else(|| invoicing.seller_country.clone());
    let reverse_charge = b.billing_country.as_deref().is_some_and(|c| {
        tax::reverse_charge(invoicing.seller_country.as_deref(), c, b.tax_id.as_deref())
    });
    let rate = match (&place, reverse_charge) {
        (Some(country), false) => {
            let rates = match known.rates.entry(country.clone()) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(
                    store::tax_rates::of_country(conn, country)
                        .await?
                        .iter()
                        .map(rate)
                        .collect(),
                ),
            };
            tax::pick(rates, country, b.billing_region.as_deref(), day).cloned()
        }
        _ => None,
    };
    let prices_include_tax = match known.inclusive {
        Some(flag) => flag,
        None => *known.inclusive.insert(inclusive(conn).await?),
    };
    let amounts = lines
        .iter()
        .map(Line::amount)
        .collect::<Result<Vec<i64>, Invalid>>()?;
    let totals = tax::totals(
        &amounts,
        rate.as_ref().map_or(0, |r| r.rate_bp),
        prices_include_tax,
    )?;
    Ok(Priced {
        lines: lines
            .into_iter()
            .zip(totals.lines)
            .map(|(l, (net, t))| (l, net, t))
            .collect(),
        rate,
        subtotal: totals.subtotal,
        tax: totals.tax,
        total: totals.total,
        prices_include_tax,
        reverse_charge,
        buyer: BuyerRow {
            buyer_name: Some(customer.full_name.clone()),
            buyer_company: customer.company_name.clone(),
            buyer_address: [b.billing_address.clone(), b.billing_postal_code.clone()]
                .into_iter()
                .flatten()
                .reduce(|a, p| format!("{a}\n{p}")),
            buyer_country: b.billing_country.clone(),
            buyer_region: b.billing_region.clone(),
            buyer_tax_id: b.tax_id.clone(),
        },
    })
}

/// `?from=&to=` of the tax report (both days included).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportPeriod {
    /// First day (UTC).
    pub from: NaiveDate,
    /// Last day (UTC), included.
    pub to: NaiveDate,
}

/// One row of the tax report: a place, tax and currency.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaxReportRow {
    /// The buyer's country (`null`: none on the invoices).
    pub country: Option<String>,
    /// The tax, `No tax` or `Reverse charge`.
    pub tax: String,
    /// The rate in basis points.
    pub rate_bp: i64,
    /// ISO-4217 currency.
    pub currency: String,
    /// Invoices paid in the period.
    pub invoices: i64,
    /// Net amounts of those invoices.
    pub taxable: i64,
    /// Their tax.
    pub tax_amount: i64,
    /// Net amounts given back by credit notes issued in the period.
    pub refunded_taxable: i64,
    /// Tax given back by them.
    pub refunded_tax: i64,
    /// `taxable − refunded_taxable`.
    pub net_taxable: i64,
    /// `tax_amount − refunded_tax`: what is owed to the tax office.
    pub net_tax: i64,
}

/// Tax collected in a period: invoices by the day they were paid, credit notes by the
/// day they were issued (cash basis).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaxReport {
    /// First day.
    pub from: NaiveDate,
    /// Last day, included.
    pub to: NaiveDate,
    /// One row per country, tax, rate and currency.
    pub rows: Vec<TaxReportRow>,
}

fn tax_label(name: Option<&str>, reverse_charge: bool) -> String {
    match (reverse_charge, name) {
        (true, _) => "Reverse charge".to_owned(),
        (false, Some(n)) => n.to_owned(),
        (false, None) => "No tax".to_owned(),
    }
}

/// The tax report of a period (admin, staff).
pub async fn report(
    db: &Db,
    actor: &Actor,
    period: &ReportPeriod,
) -> Result<TaxReport, ServiceError> {
    actor.require_staff()?;
    if period.to < period.from {
        return Err(Invalid::new("to", "must not be before from").into());
    }
    let start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    let (Some(from), Some(until)) = (start(period.from), period.to.succ_opt().and_then(start))
    else {
        return Err(Invalid::new("to", "is out of range").into());
    };
    let mut conn = db.conn().await?;
    type Key = (Option<String>, String, i64, String);
    let mut rows: BTreeMap<Key, TaxReportRow> = BTreeMap::new();
    let blank = |k: &Key| TaxReportRow {
        country: k.0.clone(),
        tax: k.1.clone(),
        rate_bp: k.2,
        currency: k.3.clone(),
        invoices: 0,
        taxable: 0,
        tax_amount: 0,
        refunded_taxable: 0,
        refunded_tax: 0,
        net_taxable: 0,
        net_tax: 0,
    };
    for p in store::tax_rates::paid_in(&mut conn, from, until).await? {
        let key = (
            p.country,
            tax_label(p.tax_name.as_deref(), p.reverse_charge),
            p.tax_rate_bp,
            p.currency,
        );
        let row = rows.entry(key.clone()).or_insert_with(|| blank(&key));
        row.invoices += p.invoices;
        row.taxable += p.taxable_minor;
        row.tax_amount += p.tax_minor;
    }
    for c in store::tax_rates::credited_in(&mut conn, from, until).await? {
        // A refund gives back tax in the proportion the invoice carried it.
        let refunded_tax =
            tax::refunded_tax(c.amount_minor, c.invoice_tax_minor, c.invoice_total_minor);
        let key = (
            c.country,
            tax_label(c.tax_name.as_deref(), c.reverse_charge),
            c.tax_rate_bp,
            c.currency,
        );
        let row = rows.entry(key.clone()).or_insert_with(|| blank(&key));
        row.refunded_tax += refunded_tax;
        row.refunded_taxable += c.amount_minor - refunded_tax;
    }
    let rows = rows
        .into_values()
        .map(|mut r| {
            r.net_taxable = r.taxable - r.refunded_taxable;
            r.net_tax = r.tax_amount - r.refunded_tax;
            r
        })
        .collect();
    Ok(TaxReport {
        from: period.from,
        to: period.to,
        rows,
    })
}

/// The report as CSV (amounts in minor units, as everywhere in the API).
pub fn report_csv(report: &TaxReport) -> String {
    let mut out = String::from(
        "country,tax,rate_bp,currency,invoices,taxable,tax,refunded_taxable,refunded_tax,net_taxable,net_tax\n",
    );
    for r in &report.rows {
        let field = crate::domain::text::csv_field;
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{}\n",
            field(r.country.as_deref().unwrap_or("")),
            field(&r.tax),
            r.rate_bp,
            r.currency,
            r.invoices,
            r.taxable,
            r.tax_amount,
            r.refunded_taxable,
            r.refunded_tax,
            r.net_taxable,
            r.net_tax
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_percentages() {
        assert_eq!(percent(1900), "19%");
        assert_eq!(percent(825), "8.25%");
        assert_eq!(percent(750), "7.5%");
        assert_eq!(percent(5), "0.05%");
        assert_eq!(percent(0), "0%");
    }
}
