//! Hosting plans: admins write them, everyone reads the active ones.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::{nullable, Actor, ServiceError};
use crate::domain::money::Currency;
use crate::domain::plan::{self, AccountType, BillingCycle, PriceList, Quotas};
use crate::domain::Invalid;
use crate::store::plan_prices::PlanPricesRow;
use crate::store::plans::PlanRow;
use crate::store::{self, AsConn, Db};

/// A plan as the API shows it. Prices are integer minor units of `currency`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Plan {
    /// Plan id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Description for customers.
    pub description: String,
    /// ISO-4217 code of every price.
    pub currency: String,
    /// Price per billing cycle offered, in minor units (cents).
    #[schema(value_type = BTreeMap<String, i64>)]
    pub prices: BTreeMap<BillingCycle, i64>,
    /// One-off setup fee in minor units.
    pub setup_fee: i64,
    /// Resource limits; -1 is unlimited.
    pub quotas: Quotas,
    /// Kind of NextPanel account created.
    pub account_type: AccountType,
    /// NextPanel package id.
    pub package_id: Option<i64>,
    /// Server group new accounts go to.
    pub server_group: Option<String>,
    /// Location new accounts go to.
    pub location: Option<String>,
    /// Whether it can be bought.
    pub is_active: bool,
    /// Display order.
    pub sort_order: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Prices in more currencies than `currency`, by ISO code.
    pub other_prices: BTreeMap<String, CurrencyPrices>,
}

/// A plan's prices in one more currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CurrencyPrices {
    /// Price per billing cycle in minor units of this currency.
    pub prices: BTreeMap<String, i64>,
    /// One-off setup fee in minor units of this currency.
    #[serde(default)]
    pub setup_fee: i64,
}

/// The prices stored per cycle column, for the cycles offered.
fn offered(
    monthly: Option<i64>,
    quarterly: Option<i64>,
    semiannual: Option<i64>,
    annual: Option<i64>,
) -> Vec<(BillingCycle, i64)> {
    [
        (BillingCycle::Monthly, monthly),
        (BillingCycle::Quarterly, quarterly),
        (BillingCycle::Semiannual, semiannual),
        (BillingCycle::Annual, annual),
    ]
    .into_iter()
    .filter_map(|(cycle, price)| price.map(|p| (cycle, p)))
    .collect()
}

fn offered_in(r: &PlanPricesRow) -> Vec<(BillingCycle, i64)> {
    offered(
        r.price_monthly,
        r.price_quarterly,
        r.price_semiannual,
        r.price_annual,
    )
}

fn offered_by(r: &PlanRow) -> Vec<(BillingCycle, i64)> {
    offered(
        r.price_monthly,
        r.price_quarterly,
        r.price_semiannual,
        r.price_annual,
    )
}

impl From<&PlanPricesRow> for CurrencyPrices {
    fn from(r: &PlanPricesRow) -> Self {
        let prices = offered_in(r)
            .into_iter()
            .map(|(cycle, p)| (cycle.as_str().to_owned(), p))
            .collect();
        CurrencyPrices {
            prices,
            setup_fee: r.setup_fee,
        }
    }
}

/// Checks a plan's other currencies into rows (none may be the plan's own currency).
fn other_rows(
    base: &str,
    raw: &BTreeMap<String, CurrencyPrices>,
) -> Result<Vec<PlanPricesRow>, Invalid> {
    let mut rows = Vec::with_capacity(raw.len());
    for (code, cp) in raw {
        let bad = |message: String| Invalid::new("other_prices", format!("{code}: {message}"));
        let currency = Currency::parse(code).map_err(|e| bad(e.message))?;
        if currency.code() == base {
            return Err(bad(
                "is the plan's own currency; set its prices in prices".to_owned()
            ));
        }
        let prices = parse_prices(&cp.prices).map_err(|e| bad(e.message))?;
        let list: Vec<(BillingCycle, i64)> = prices.iter().map(|(c, p)| (*c, *p)).collect();
        PriceList::new(currency, &list, cp.setup_fee).map_err(|e| bad(e.message))?;
        let get = |c| prices.get(&c).copied();
        rows.push(PlanPricesRow {
            plan_id: 0,
            currency: currency.code().to_owned(),
            price_monthly: get(BillingCycle::Monthly),
            price_quarterly: get(BillingCycle::Quarterly),
            price_semiannual: get(BillingCycle::Semiannual),
            price_annual: get(BillingCycle::Annual),
            setup_fee: cp.setup_fee,
        });
    }
    Ok(rows)
}

/// The plan's price list in `currency`: its own, or one of its other currencies; `None`
/// when it is not sold in that currency.
pub async fn prices_in(
    conn: &mut impl AsConn,
    plan: &PlanRow,
    currency: &str,
) -> Result<Option<PriceList>, ServiceError> {
    if plan.currency == currency {
        return prices_of(plan).map(Some);
    }
    let Some(row) = store::plan_prices::find(conn, plan.id, currency).await? else {
        return Ok(None);
    };
    Ok(Some(PriceList::new(
        Currency::parse(currency)?,
        &offered_in(&row),
        row.setup_fee,
    )?))
}

/// A plan view with its other currencies.
async fn full_view(conn: &mut impl AsConn, row: &PlanRow) -> Result<Plan, ServiceError> {
    let mut view = Plan::from(row);
    view.other_prices = store::plan_prices::of_plan(conn, row.id)
        .await?
        .iter()
        .map(|r| (r.currency.clone(), CurrencyPrices::from(r)))
        .collect();
    Ok(view)
}

impl From<&PlanRow> for Plan {
    fn from(r: &PlanRow) -> Self {
        let prices = offered_by(r).into_iter().collect();
        Plan {
            id: r.id,
            name: r.name.clone(),
            description: r.description.clone(),
            currency: r.currency.clone(),
            prices,
            setup_fee: r.setup_fee,
            quotas: quotas_of(r),
            account_type: AccountType::parse(&r.account_type).unwrap_or(AccountType::Panel),
            package_id: r.package_id,
            server_group: r.server_group.clone(),
            location: r.location.clone(),
            is_active: r.is_active,
            sort_order: r.sort_order,
            created_at: r.created_at,
            updated_at: r.updated_at,
            other_prices: BTreeMap::new(),
        }
    }
}

/// The quotas stored on a plan row.
pub fn quotas_of(r: &PlanRow) -> Quotas {
    Quotas {
        max_accounts: r.max_accounts,
        max_domains: r.max_domains,
        max_databases: r.max_databases,
        max_emails: r.max_emails,
        storage_mb: r.storage_mb,
        bandwidth_mb: r.bandwidth_mb,
    }
}

/// The price list stored on a plan row.
pub fn prices_of(r: &PlanRow) -> Result<PriceList, ServiceError> {
    let currency = Currency::parse(&r.currency)?;
    Ok(PriceList::new(currency, &offered_by(r), r.setup_fee)?)
}

/// Body of `POST /api/v1/plans`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlan {
    /// Unique name, 1 to 100 characters.
    pub name: String,
    /// Description (up to 2000 characters).
    #[serde(default)]
    pub description: String,
    /// ISO-4217 code, e.g. `USD`.
    pub currency: String,
    /// Price per billing cycle in minor units, e.g. `{"monthly": 999, "annual": 9990}`.
    pub prices: BTreeMap<String, i64>,
    /// One-off setup fee in minor units.
    #[serde(default)]
    pub setup_fee: i64,
    /// Resource limits; -1 is unlimited.
    pub quotas: Quotas,
    /// Kind of account; default `panel`.
    pub account_type: Option<AccountType>,
    /// NextPanel package id.
    pub package_id: Option<i64>,
    /// Server group new accounts go to.
    pub server_group: Option<String>,
    /// Location new accounts go to.
    pub location: Option<String>,
    /// Whether it can be bought; default true.
    pub is_active: Option<bool>,
    /// Display order; default 0.
    pub sort_order: Option<i64>,
    /// Prices in more currencies, e.g. `{"EUR": {"prices": {"monthly": 899}, "setup_fee": 0}}`.
    #[serde(default)]
    pub other_prices: BTreeMap<String, CurrencyPrices>,
}

/// Body of `PATCH /api/v1/plans/{id}`: only fields present change; `null` clears the optional ones.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanPatch {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New currency (applies to all prices).
    pub currency: Option<String>,
    /// Replaces the whole price list.
    pub prices: Option<BTreeMap<String, i64>>,
    /// New setup fee.
    pub setup_fee: Option<i64>,
    /// Replaces the quotas (existing licenses keep theirs).
    pub quotas: Option<Quotas>,
    /// New account type.
    pub account_type: Option<AccountType>,
    /// New package id (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub package_id: Option<Option<i64>>,
    /// New server group (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub server_group: Option<Option<String>>,
    /// New location (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub location: Option<Option<String>>,
    /// Activate or retire the plan.
    pub is_active: Option<bool>,
    /// New display order.
    pub sort_order: Option<i64>,
    /// New prices in other currencies (replaces them all).
    pub other_prices: Option<BTreeMap<String, CurrencyPrices>>,
}

/// Validates a complete plan row: every rule of the domain at once.
fn validate(row: &PlanRow) -> Result<(), ServiceError> {
    plan::name(&row.name)?;
    plan::description(&row.description)?;
    prices_of(row)?;
    quotas_of(row).validate()?;
    plan::package_id(row.package_id)?;
    plan::placement("server_group", row.server_group.as_deref())?;
    plan::placement("location", row.location.as_deref())?;
    Ok(())
}

/// Reads a price list keyed by cycle name, refusing unknown cycles.
fn parse_prices(raw: &BTreeMap<String, i64>) -> Result<BTreeMap<BillingCycle, i64>, Invalid> {
    raw.iter()
        .map(|(name, amount)| {
            BillingCycle::parse(name).map(|cycle| (cycle, *amount)).ok_or_else(|| {
                Invalid::new(
                    "prices",
                    format!("'{name}' is not a billing cycle; use monthly, quarterly, semiannual or annual"),
                )
            })
        })
        .collect()
}

fn set_prices(row: &mut PlanRow, raw: &BTreeMap<String, i64>) -> Result<(), Invalid> {
    let prices = parse_prices(raw)?;
    let get = |c| prices.get(&c).copied();
    row.price_monthly = get(BillingCycle::Monthly);
    row.price_quarterly = get(BillingCycle::Quarterly);
    row.price_semiannual = get(BillingCycle::Semiannual);
    row.price_annual = get(BillingCycle::Annual);
    Ok(())
}

fn set_quotas(row: &mut PlanRow, q: Quotas) {
    row.max_accounts = q.max_accounts;
    row.max_domains = q.max_domains;
    row.max_databases = q.max_databases;
    row.max_emails = q.max_emails;
    row.storage_mb = q.storage_mb;
    row.bandwidth_mb = q.bandwidth_mb;
}

fn name_taken() -> ServiceError {
    ServiceError::Conflict {
        field: Some("name".to_owned()),
        message: "a plan with this name already exists".to_owned(),
    }
}

/// Creates a plan (admin only).
pub async fn create(db: &Db, actor: &Actor, body: NewPlan) -> Result<Plan, ServiceError> {
    actor.require_admin()?;
    let currency = Currency::parse(&body.currency)?;
    let now = store::now();
    let mut row = PlanRow {
        id: 0,
        name: plan::name(&body.name)?,
        description: plan::description(&body.description)?,
        currency: currency.code().to_owned(),
        price_monthly: None,
        price_quarterly: None,
        price_semiannual: None,
        price_annual: None,
        setup_fee: body.setup_fee,
        max_accounts: 0,
        max_domains: 0,
        max_databases: 0,
        max_emails: 0,
        storage_mb: 0,
        bandwidth_mb: 0,
        account_type: body
            .account_type
            .unwrap_or(AccountType::Panel)
            .as_str()
            .to_owned(),
        package_id: body.package_id,
        server_group: plan::placement("server_group", body.server_group.as_deref())?,
        location: plan::placement("location", body.location.as_deref())?,
        is_active: body.is_active.unwrap_or(true),
        sort_order: body.sort_order.unwrap_or(0),
        created_at: now,
        updated_at: now,
    };
    set_prices(&mut row, &body.prices)?;
    set_quotas(&mut row, body.quotas);
    validate(&row)?;
    let others = other_rows(&row.currency, &body.other_prices)?;
    let mut tx = db.begin().await?;
    if name_exists(&mut tx, &row.name, None).await? {
        return Err(name_taken());
    }
    let saved = store::plans::insert(&mut tx, &row).await?;
    store::plan_prices::replace(&mut tx, saved.id, &others).await?;
    let view = full_view(&mut tx, &saved).await?;
    audit::record(
        &mut tx,
        actor,
        Change::<(), _> {
            action: "plan.created",
            entity_type: "plan",
            entity_id: Some(saved.id),
            before: None,
            after: Some(&view),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(view)
}

async fn name_exists(
    conn: &mut impl AsConn,
    name: &str,
    except: Option<i64>,
) -> Result<bool, ServiceError> {
    let plans = store::plans::list(conn, true).await?;
    Ok(plans
        .iter()
        .any(|p| p.name.eq_ignore_ascii_case(name) && Some(p.id) != except))
}

/// Changes a plan (admin only). Licenses already issued keep their quotas.
pub async fn update(
    db: &Db,
    actor: &Actor,
    id: i64,
    patch: PlanPatch,
) -> Result<Plan, ServiceError> {
    actor.require_admin()?;
    let mut tx = db.begin().await?;
    let before = store::plans::find(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("plan"))?;
    let mut row = before.clone();
    if let Some(name) = patch.name {
        row.name = plan::name(&name)?;
        if name_exists(&mut tx, &row.name, Some(id)).await? {
            return Err(name_taken());
        }
    }
    if let Some(d) = patch.description {
        row.description = d;
    }
    if let Some(c) = patch.currency {
        row.currency = Currency::parse(&c)?.code().to_owned();
    }
    if let Some(prices) = &patch.prices {
        set_prices(&mut row, prices)?;
    }
    if let Some(fee) = patch.setup_fee {
        row.setup_fee = fee;
    }
    if let Some(q) = patch.quotas {
        set_quotas(&mut row, q);
    }
    if let Some(t) = patch.account_type {
        row.account_type = t.as_str().to_owned();
    }
    if let Some(p) = patch.package_id {
        row.package_id = p;
    }
    if let Some(g) = patch.server_group {
        row.server_group = g;
    }
    if let Some(l) = patch.location {
        row.location = l;
    }
    if let Some(a) = patch.is_active {
        row.is_active = a;
    }
    if let Some(o) = patch.sort_order {
        row.sort_order = o;
    }
    row.description = plan::description(&row.description)?;
    row.server_group = plan::placement("server_group", row.server_group.as_deref())?;
    row.location = plan::placement("location", row.location.as_deref())?;
    validate(&row)?;
    let others = match &patch.other_prices {
        Some(raw) => Some(other_rows(&row.currency, raw)?),
        None => None,
    };
    let before_view = full_view(&mut tx, &before).await?;
    row.updated_at = store::now();
    let saved = store::plans::update(&mut tx, &row).await?;
    if let Some(others) = &others {
        store::plan_prices::replace(&mut tx, id, others).await?;
    }
    let after_view = full_view(&mut tx, &saved).await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "plan.updated",
            entity_type: "plan",
            entity_id: Some(id),
            before: Some(&before_view),
            after: Some(&after_view),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after_view)
}

/// Lists plans: active ones for everybody, all of them for admin and staff who ask.
pub async fn list(
    db: &Db,
    actor: Option<&Actor>,
    include_inactive: bool,
) -> Result<Vec<Plan>, ServiceError> {
    let may_see_inactive = actor.is_some_and(|a| a.role.can_read_admin_data());
    if include_inactive && !may_see_inactive {
        return Err(Invalid::new(
            "include_inactive",
            "only admin and staff may list inactive plans",
        )
        .into());
    }
    let mut conn = db.conn().await?;
    let rows = store::plans::list(&mut conn, include_inactive).await?;
    let others = store::plan_prices::all(&mut conn).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let mut view = Plan::from(r);
            view.other_prices = others
                .iter()
                .filter(|o| o.plan_id == r.id)
                .map(|o| (o.currency.clone(), CurrencyPrices::from(o)))
                .collect();
            view
        })
        .collect())
}

/// One plan; inactive plans only for admin and staff.
pub async fn get(db: &Db, actor: Option<&Actor>, id: i64) -> Result<Plan, ServiceError> {
    let mut conn = db.conn().await?;
    let row = store::plans::find(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound("plan"))?;
    if !row.is_active && !actor.is_some_and(|a| a.role.can_read_admin_data()) {
        return Err(ServiceError::NotFound("plan"));
    }
    full_view(&mut conn, &row).await
}
