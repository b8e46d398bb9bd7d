//! Licenses: issuing one for a customer's plan ("Add Product"), changing and cancelling it.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::{customers, random_bytes, Actor, Paginated, ServiceError};
use crate::domain::license::{self, LicenseKey, LicenseStatus};
use crate::domain::plan::{BillingCycle, Quotas};
use crate::domain::Invalid;
use crate::store::licenses::LicenseRow;
use crate::store::{self, AsConn, Db, Page};

/// A license as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct License {
    /// License id.
    pub id: i64,
    /// `NP-XXXX-XXXX-XXXX-XXXX`.
    pub license_key: String,
    /// Owner.
    pub customer_id: i64,
    /// Plan it was issued for.
    pub plan_id: i64,
    /// Billing cycle.
    pub billing_cycle: BillingCycle,
    /// Status.
    pub status: LicenseStatus,
    /// Quotas, copied from the plan at issue time.
    pub quotas: Quotas,
    /// When it became active.
    pub activated_at: DateTime<Utc>,
    /// Paid until.
    pub expires_at: DateTime<Utc>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Whether renewal invoices are issued before it expires (`false`: it simply ends).
    pub auto_renew: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&LicenseRow> for License {
    fn from(r: &LicenseRow) -> Self {
        License {
            id: r.id,
            license_key: r.license_key.clone(),
            customer_id: r.customer_id,
            plan_id: r.plan_id,
            billing_cycle: BillingCycle::parse(&r.billing_cycle).unwrap_or(BillingCycle::Monthly),
            status: LicenseStatus::parse(&r.status).unwrap_or(LicenseStatus::Suspended),
            quotas: Quotas {
                max_accounts: r.max_accounts,
                max_domains: r.max_domains,
                max_databases: r.max_databases,
                max_emails: r.max_emails,
                storage_mb: r.storage_mb,
                bandwidth_mb: r.bandwidth_mb,
            },
            activated_at: r.activated_at,
            expires_at: r.expires_at,
            cancelled_at: r.cancelled_at,
            auto_renew: r.auto_renew,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Body of `POST /api/v1/customers/{id}/licenses`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLicense {
    /// The plan to license (a quoted id such as `"1"` is accepted too).
    #[serde(deserialize_with = "super::wire::id")]
    #[schema(value_type = i64)]
    pub plan_id: i64,
    /// One of the cycles the plan offers.
    pub billing_cycle: BillingCycle,
    /// Whether the license renews (renewal invoices before it expires); default `true`.
    /// `create_subscription` (the older billing system's name) means the same.
    #[serde(alias = "create_subscription")]
    pub auto_renew: Option<bool>,
}

/// Body of `PATCH /api/v1/licenses/{id}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LicensePatch {
    /// New status (`active`, `suspended`, `expired`, `cancelled`); moves must be allowed.
    pub status: Option<LicenseStatus>,
    /// Adds this many billing periods to the expiry date (1 to 120).
    pub extend_cycles: Option<u32>,
    /// Sets the expiry date directly.
    pub expires_at: Option<DateTime<Utc>>,
    /// Replaces the quotas.
    pub quotas: Option<Quotas>,
    /// Turns renewal invoices on or off.
    pub auto_renew: Option<bool>,
}

/// Body of `POST /api/v1/licenses/{id}/cancel`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelLicense {
    /// Why, for the audit log.
    pub reason: Option<String>,
}

/// Issues a license of `plan_id` to customer `customer_id` (admin only).
pub async fn issue(
    db: &Db,
    actor: &Actor,
    customer_id: i64,
    body: NewLicense,
) -> Result<License, ServiceError> {
    actor.require_admin()?;
    let mut tx = db.begin().await?;
    let customer = customers::load(&mut tx, customer_id).await?;
    if !customer.is_active {
        return Err(ServiceError::Conflict {
            field: Some("customer_id".to_owned()),
            message: "the customer is deactivated; reactivate them before adding a product"
                .to_owned(),
        });
    }
    let plan = store::plans::find(&mut tx, body.plan_id)
        .await?
        .ok_or_else(|| Invalid::new("plan_id", format!("no plan with id {}", body.plan_id)))?;
    if !plan.is_active {
        return Err(Invalid::new("plan_id", "the plan is not active").into());
    }
    if super::plans::prices_of(&plan)?
        .price(body.billing_cycle)
        .is_none()
    {
        return Err(Invalid::new(
            "billing_cycle",
            format!(
                "the plan does not offer {} billing",
                body.billing_cycle.as_str()
            ),
        )
        .into());
    }
    let mut saved = issue_in(&mut tx, actor, customer_id, &plan, body.billing_cycle).await?;
    if body.auto_renew == Some(false) {
        saved.auto_renew = false;
        saved = store::licenses::update(&mut tx, &saved).await?;
    }
    tx.commit().await?;
    Ok(License::from(&saved))
}

/// Issues a license of `plan` in the caller's transaction, with its audit entry.
pub async fn issue_in(
    tx: &mut store::Tx,
    actor: &Actor,
    customer_id: i64,
    plan: &crate::store::plans::PlanRow,
    cycle: BillingCycle,
) -> Result<LicenseRow, ServiceError> {
    let key = unused_key(tx).await?;
    let now = store::now();
    let quotas = super::plans::quotas_of(plan);
    let row = LicenseRow {
        id: 0,
        license_key: key.as_str().to_owned(),
        customer_id,
        plan_id: plan.id,
        billing_cycle: cycle.as_str().to_owned(),
        status: LicenseStatus::Active.as_str().to_owned(),
        max_accounts: quotas.max_accounts,
        max_domains: quotas.max_domains,
        max_databases: quotas.max_databases,
        max_emails: quotas.max_emails,
        storage_mb: quotas.storage_mb,
        bandwidth_mb: quotas.bandwidth_mb,
        activated_at: now,
        expires_at: license::period_end(now, cycle, 1)?,
        cancelled_at: None,
        auto_renew: true,
        created_at: now,
        updated_at: now,
    };
    let saved = store::licenses::insert(tx, &row).await?;
    let view = License::from(&saved);
    if let Some(customer) = store::users::find(tx, customer_id).await? {
        let data = serde_json::json!({
            "name": customer.full_name,
            "plan": plan.name,
            "license_key": saved.license_key,
            "expires_at": saved.expires_at.format("%Y-%m-%d").to_string(),
        });
        super::notifications::queue_sealed(
            tx,
            &format!("license_issued:{}", saved.id),
            &customer.email,
            "license_issued",
            data,
            "",
            None,
        )
        .await?;
    }
    audit::record(
        tx,
        actor,
        Change::<(), _> {
            action: "license.issued",
            entity_type: "license",
            entity_id: Some(saved.id),
            before: None,
            after: Some(&view),
        },
    )
    .await?;
    Ok(saved)
}

/// A fresh random key not yet in the table.
async fn unused_key(tx: &mut store::Tx) -> Result<LicenseKey, ServiceError> {
    for _ in 0..5 {
        let key = LicenseKey::from_entropy(random_bytes()?);
        if !store::licenses::key_exists(tx, key.as_str()).await? {
            return Ok(key);
        }
    }
    Err(ServiceError::Internal(
        "could not draw an unused license key".to_owned(),
    ))
}

/// Lists licenses (admin and staff), optionally of one customer or status.
pub async fn list(
    db: &Db,
    actor: &Actor,
    customer_id: Option<i64>,
    status: Option<LicenseStatus>,
    page: Page,
) -> Result<Paginated<License>, ServiceError> {
    actor.require_staff()?;
    let mut conn = db.read().await?;
    if let Some(id) = customer_id {
        customers::load(&mut conn, id).await?;
    }
    let listed = store::licenses::list(
        &mut conn,
        customer_id,
        status.map(LicenseStatus::as_str),
        page,
    )
    .await?;
    Ok(Paginated::of(page, listed, |r| License::from(&r)))
}

/// One license (admin and staff).
pub async fn get(db: &Db, actor: &Actor, id: i64) -> Result<LicenseDetail, ServiceError> {
    actor.require_staff()?;
    let mut conn = db.conn().await?;
    let row = store::licenses::find(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound("license"))?;
    LicenseDetail::of(&mut conn, License::from(&row)).await
}

/// One license with what its servers report in use under it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LicenseDetail {
    /// The license.
    #[serde(flatten)]
    pub license: License,
    /// Resources in use by name (`domains`, `databases`, `emails`), as last reported by
    /// the servers or the usage poll; a resource nobody reported is absent (none used).
    pub usage: BTreeMap<String, i64>,
}

impl LicenseDetail {
    async fn of(conn: &mut impl AsConn, license: License) -> Result<LicenseDetail, ServiceError> {
        let usage = store::license_usage::all(conn, license.id)
            .await?
            .into_iter()
            .collect();
        Ok(LicenseDetail { license, usage })
    }
}

/// The caller's own licenses.
pub async fn list_mine(
    db: &Db,
    actor: &Actor,
    page: Page,
) -> Result<Paginated<License>, ServiceError> {
    let id = actor.user_id.ok_or(ServiceError::NotFound("user"))?;
    let mut conn = db.conn().await?;
    let listed = store::licenses::list(&mut conn, Some(id), None, page).await?;
    Ok(Paginated::of(page, listed, |r| License::from(&r)))
}

/// One of the caller's own licenses; someone else's is "not found".
pub async fn get_mine(db: &Db, actor: &Actor, id: i64) -> Result<LicenseDetail, ServiceError> {
    let owner = actor.user_id.ok_or(ServiceError::NotFound("license"))?;
    let mut conn = db.conn().await?;
    let row = store::licenses::find_owned(&mut conn, id, owner)
        .await?
        .ok_or(ServiceError::NotFound("license"))?;
    LicenseDetail::of(&mut conn, License::from(&row)).await
}

/// Changes status, expiry or quotas of a license (admin only).
pub async fn update(
    db: &Db,
    actor: &Actor,
    id: i64,
    patch: LicensePatch,
) -> Result<License, ServiceError> {
    actor.require_admin()?;
    if patch.extend_cycles.is_some() && patch.expires_at.is_some() {
        return Err(Invalid::new(
            "extend_cycles",
            "give either extend_cycles or expires_at, not both",
        )
        .into());
    }
    if let Some(n) = patch.extend_cycles {
        if !(1..=120).contains(&n) {
            return Err(Invalid::new("extend_cycles", "must be between 1 and 120").into());
        }
    }
    let quotas = patch.quotas.map(Quotas::validate).transpose()?;
    let mut tx = db.begin().await?;
    let before = store::licenses::find(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("license"))?;
    let current = License::from(&before);
    let mut row = before.clone();
    let now = store::now();
    if let Some(next) = patch.status {
        let next = current.status.transition(next)?;
        row.status = next.as_str().to_owned();
        if next == LicenseStatus::Cancelled && before.cancelled_at.is_none() {
            row.cancelled_at = Some(now);
        }
    } else if current.status == LicenseStatus::Cancelled {
        return Err(ServiceError::Conflict {
            field: Some("status".to_owned()),
            message: "the license is cancelled and can no longer change".to_owned(),
        });
    }
    if let Some(n) = patch.extend_cycles {
        // Extending an expired license counts from today, not from the old expiry.
        let from = before.expires_at.max(now);
        row.expires_at = license::period_end(from, current.billing_cycle, n)?;
    }
    if let Some(at) = patch.expires_at {
        if at.year() > 9999 {
            return Err(Invalid::new("expires_at", "must be in the year 9999 or before").into());
        }
        if at <= before.activated_at {
            return Err(Invalid::new("expires_at", "must be after the activation date").into());
        }
        row.expires_at = at;
    }
    if let Some(q) = quotas {
        set_quotas(&mut row, q);
    }
    if let Some(renew) = patch.auto_renew {
        row.auto_renew = renew;
    }
    row.updated_at = now;
    let saved = store::licenses::update(&mut tx, &row).await?;
    let after = License::from(&saved);
    let action = if before.status != saved.status {
        format!("license.{}", saved.status)
    } else {
        "license.updated".to_owned()
    };
    audit::record(
        &mut tx,
        actor,
        Change {
            action: &action,
            entity_type: "license",
            entity_id: Some(id),
            before: Some(&current),
            after: Some(&after),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Cancels a license for good (admin only); cancelling twice is a no-op.
pub async fn cancel(
    db: &Db,
    actor: &Actor,
    id: i64,
    body: CancelLicense,
) -> Result<License, ServiceError> {
    actor.require_admin()?;
    if let Some(reason) = &body.reason {
        crate::domain::text::bounded("reason", reason, 0, 500)?;
    }
    let mut tx = db.begin().await?;
    let before = store::licenses::find(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("license"))?;
    let current = License::from(&before);
    if current.status == LicenseStatus::Cancelled {
        return Ok(current);
    }
    let now = store::now();
    let mut row = before.clone();
    row.status = LicenseStatus::Cancelled.as_str().to_owned();
    row.cancelled_at = Some(now);
    row.updated_at = now;
    let saved = store::licenses::update(&mut tx, &row).await?;
    let after = License::from(&saved);
    #[derive(Serialize)]
    struct Cancelled<'a> {
        #[serde(flatten)]
        license: &'a License,
        reason: Option<&'a str>,
    }
    let after_with_reason = Cancelled {
        license: &after,
        reason: body.reason.as_deref(),
    };
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "license.cancelled",
            entity_type: "license",
            entity_id: Some(id),
            before: Some(&current),
            after: Some(&after_with_reason),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Replaces the quotas stored on a license row.
pub fn set_quotas(row: &mut LicenseRow, q: Quotas) {
    row.max_accounts = q.max_accounts;
    row.max_domains = q.max_domains;
    row.max_databases = q.max_databases;
    row.max_emails = q.max_emails;
    row.storage_mb = q.storage_mb;
    row.bandwidth_mb = q.bandwidth_mb;
}
