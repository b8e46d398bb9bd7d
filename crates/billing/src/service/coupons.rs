//! Coupons: admins make them (a percentage or an amount off, for the order alone or for
//! a number of invoices, for one plan or all, with an expiry and a limit); customers
//! enter them when ordering, and the discount is an invoice line of its own.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::invoices::amount_text;
use super::{nullable, Actor, ServiceError};
use crate::domain::coupon::{self, Discount, Terms};
use crate::domain::invoice::Line;
use crate::domain::money::Currency;
use crate::domain::Invalid;
use crate::store::coupons::CouponRow;
use crate::store::plans::PlanRow;
use crate::store::{self, Db, Tx};

/// A coupon as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Coupon {
    /// Coupon id.
    pub id: i64,
    /// The code customers enter (upper case).
    pub code: String,
    /// `percent` or `fixed`.
    pub kind: String,
    /// Percent coupons: basis points off (2000 is 20 %).
    pub percent_off_bp: Option<i64>,
    /// Fixed coupons: minor units off.
    pub amount_off: Option<i64>,
    /// Fixed coupons: their currency.
    pub currency: Option<String>,
    /// `20% off`, `5.00 USD off`.
    pub discount_display: String,
    /// Invoices discounted: 1 is the order alone, 3 the order and two renewals.
    pub cycles: i64,
    /// The one plan it is for (`null`: every plan).
    pub plan_id: Option<i64>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// How often it may be used (`null`: no limit).
    pub max_redemptions: Option<i64>,
    /// How often it was used.
    pub redemptions: i64,
    /// Switched on?
    pub is_active: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

fn discount(row: &CouponRow) -> Discount {
    match (row.kind.as_str(), row.amount_minor, &row.currency) {
        ("fixed", Some(amount), Some(currency)) => Discount::Fixed {
            amount,
            currency: currency.clone(),
        },
        _ => Discount::Percent(row.percent_bp.unwrap_or(0)),
    }
}

impl From<&CouponRow> for Coupon {
    fn from(r: &CouponRow) -> Self {
        Coupon {
            id: r.id,
            code: r.code.clone(),
            kind: r.kind.clone(),
            percent_off_bp: r.percent_bp,
            amount_off: r.amount_minor,
            currency: r.currency.clone(),
            discount_display: discount(r).words(amount_text),
            cycles: r.cycles,
            plan_id: r.plan_id,
            expires_at: r.expires_at,
            max_redemptions: r.max_redemptions,
            redemptions: r.redemptions,
            is_active: r.is_active,
            created_at: r.created_at,
        }
    }
}

/// Body of `POST /api/v1/coupons`: exactly one of `percent_off_bp` and `amount_off`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCoupon {
    /// 3 to 32 letters, digits, `-` or `_` (kept in upper case).
    pub code: String,
    /// Basis points off, 1 to 10000.
    pub percent_off_bp: Option<i64>,
    /// Minor units off (with `currency`).
    pub amount_off: Option<i64>,
    /// The currency of `amount_off`.
    pub currency: Option<String>,
    /// Invoices discounted (default 1: the order alone).
    pub cycles: Option<i64>,
    /// Only for this plan.
    pub plan_id: Option<i64>,
    /// Stops working then.
    pub expires_at: Option<DateTime<Utc>>,
    /// Usable this many times.
    pub max_redemptions: Option<i64>,
}

/// Body of `PATCH /api/v1/coupons/{id}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponPatch {
    /// Switch on or off.
    pub is_active: Option<bool>,
    /// New expiry (`null`: none).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// New limit (`null`: none).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub max_redemptions: Option<Option<i64>>,
}

fn positive_limit(value: Option<i64>) -> Result<Option<i64>, Invalid> {
    match value {
        Some(n) if n < 1 => Err(Invalid::new(
            "max_redemptions",
            "must be 1 or more, or left out",
        )),
        other => Ok(other),
    }
}

/// Every coupon (admin, staff).
pub async fn list(db: &Db, actor: &Actor) -> Result<Vec<Coupon>, ServiceError> {
    actor.require_staff()?;
    let mut conn = db.conn().await?;
    Ok(store::coupons::all(&mut conn)
        .await?
        .iter()
        .map(Coupon::from)
        .collect())
}

/// Makes a coupon (admin; audited).
pub async fn create(db: &Db, actor: &Actor, body: NewCoupon) -> Result<Coupon, ServiceError> {
    actor.require_admin()?;
    let code = coupon::code("code", &body.code)?;
    let (kind, percent_bp, amount_minor, currency) = match (body.percent_off_bp, body.amount_off) {
        (Some(bp), None) if (1..=10_000).contains(&bp) => ("percent", Some(bp), None, None),
        (Some(_), None) => {
            return Err(
                Invalid::new("percent_off_bp", "must be 1 to 10000 (0.01 % to 100 %)").into(),
            )
        }
        (None, Some(amount)) if amount > 0 => {
            let currency = body
                .currency
                .as_deref()
                .ok_or_else(|| Invalid::new("currency", "is needed with amount_off"))?;
            (
                "fixed",
                None,
                Some(amount),
                Some(Currency::parse(currency)?.code().to_owned()),
            )
        }
        (None, Some(_)) => return Err(Invalid::new("amount_off", "must be more than 0").into()),
        _ => {
            return Err(Invalid::new(
                "percent_off_bp",
                "give either percent_off_bp or amount_off (with currency)",
            )
            .into())
        }
    };
    let cycles = body.cycles.unwrap_or(1);
    if !(1..=120).contains(&cycles) {
        return Err(Invalid::new("cycles", "must be 1 (the order alone) to 120").into());
    }
    let max_redemptions = positive_limit(body.max_redemptions)?;
    let now = store::now();
    if body.expires_at.is_some_and(|at| at <= now) {
        return Err(Invalid::new("expires_at", "must be in the future").into());
    }
    let mut tx = db.begin().await?;
    if let Some(plan_id) = body.plan_id {
        store::plans::find(&mut tx, plan_id)
            .await?
            .ok_or_else(|| Invalid::new("plan_id", format!("no plan with id {plan_id}")))?;
    }
    if store::coupons::by_code(&mut tx, &code).await?.is_some() {
        return Err(ServiceError::Conflict {
            field: Some("code".into()),
            message: format!("a coupon {code} exists already"),
        });
    }
    let row = store::coupons::insert(
        &mut tx,
        &CouponRow {
            id: 0,
            code,
            kind: kind.to_owned(),
            percent_bp,
            amount_minor,
            currency,
            cycles,
            plan_id: body.plan_id,
            expires_at: body.expires_at,
            max_redemptions,
            redemptions: 0,
            is_active: true,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    let shown = Coupon::from(&row);
    audit::record(
        &mut tx,
        actor,
        Change::<(), _> {
            action: "coupon.created",
            entity_type: "coupon",
            entity_id: Some(row.id),
            before: None,
            after: Some(&shown),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(shown)
}

/// Switches a coupon off or on, or changes its expiry or limit (admin; audited).
pub async fn update(
    db: &Db,
    actor: &Actor,
    id: i64,
    patch: CouponPatch,
) -> Result<Coupon, ServiceError> {
    actor.require_admin()?;
    let mut tx = db.begin().await?;
    let before = store::coupons::find(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("coupon"))?;
    let mut after = before.clone();
    if let Some(v) = patch.is_active {
        after.is_active = v;
    }
    if let Some(v) = patch.expires_at {
        after.expires_at = v;
    }
    if let Some(v) = patch.max_redemptions {
        after.max_redemptions = positive_limit(v)?;
    }
    after.updated_at = store::now();
    let saved = store::coupons::update(&mut tx, &after).await?;
    let shown = Coupon::from(&saved);
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "coupon.updated",
            entity_type: "coupon",
            entity_id: Some(id),
            before: Some(&Coupon::from(&before)),
            after: Some(&shown),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(shown)
}

/// The coupon a customer entered, if it may be used on `plan` now (422 naming `coupon`).
pub(crate) async fn for_order(
    tx: &mut Tx,
    raw: &str,
    plan: &PlanRow,
    currency: &str,
) -> Result<CouponRow, ServiceError> {
    let code = coupon::code("coupon", raw)?;
    let row = store::coupons::by_code(tx, &code)
        .await?
        .ok_or_else(|| Invalid::new("coupon", format!("{code} is not a coupon we know")))?;
    let plan_name = match row.plan_id {
        Some(id) => store::plans::find(tx, id).await?.map(|p| p.name),
        None => None,
    };
    coupon::usable(
        &Terms {
            code: row.code.clone(),
            is_active: row.is_active,
            expires_at: row.expires_at,
            max_redemptions: row.max_redemptions,
            redemptions: row.redemptions,
            plan_id: row.plan_id,
            plan_name,
            currency: row.currency.clone(),
        },
        plan.id,
        currency,
        store::now(),
    )?;
    Ok(row)
}

/// The line taking the coupon's discount off `lines` (none when it takes nothing off).
pub(crate) fn discount_line(row: &CouponRow, lines: &[Line]) -> Result<Option<Line>, ServiceError> {
    let base = crate::domain::invoice::total(lines)?;
    let d = discount(row);
    let off = d.off(base);
    Ok((off > 0).then(|| Line {
        description: format!("Coupon {} ({})", row.code, d.words(amount_text)),
        quantity: 1,
        unit_amount: -off,
    }))
}

/// Counts the use on the order `invoice_id`; 422 when the last use went to someone else.
pub(crate) async fn redeem(
    tx: &mut Tx,
    row: &CouponRow,
    customer_id: i64,
    invoice_id: i64,
) -> Result<(), ServiceError> {
    if !store::coupons::redeem(tx, row.id).await? {
        return Err(Invalid::new("coupon", format!("{} has been used up", row.code)).into());
    }
    store::coupons::insert_redemption(
        tx,
        row.id,
        customer_id,
        invoice_id,
        row.cycles - 1,
        store::now(),
    )
    .await?;
    Ok(())
}

/// The discount line of a renewal of `license_id` while its coupon has cycles left (one
/// is used up).
pub(crate) async fn renewal_line(
    tx: &mut Tx,
    license_id: i64,
    lines: &[Line],
) -> Result<Option<Line>, ServiceError> {
    let Some((redemption, row)) = store::coupons::for_renewal(tx, license_id).await? else {
        return Ok(None);
    };
    if !store::coupons::use_cycle(tx, redemption).await? {
        return Ok(None);
    }
    discount_line(&row, lines)
}
