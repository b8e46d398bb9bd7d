//! License validation and usage reports, called by NextPanel servers.
//!
//! The caller names itself with `X-API-Key` (a registered server's key) and signs
//! the request with that server's API secret; there is no bearer token. Keys are
//! stored sealed, so the caller's server is found by opening each key and
//! comparing in constant time: fine for fleets of hundreds of servers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ServiceError;
use crate::domain::license::{LicenseKey, LicenseStatus};
use crate::domain::license_check::{self as check, LicenseFacts, Resource, Verdict};
use crate::domain::Invalid;
use crate::store::licenses::LicenseRow;
use crate::store::servers::ServerRow;
use crate::store::{self, license_usage, Db};
use crate::vault::Vault;

/// Largest change one usage report may make; real reports are ±1.
const MAX_DELTA: i64 = 10_000;

/// A request to validate a license before a quota-consuming action.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ValidateRequest {
    /// `NP-XXXX-XXXX-XXXX-XXXX`.
    pub license_key: String,
    /// `create_account`, `create_domain`, `create_database`, `create_email`, or any other feature.
    pub feature: String,
    /// Unix seconds; must be within 300 s of our clock.
    pub timestamp: i64,
    /// `hex(HMAC-SHA256(api_secret, license_key|feature|timestamp))`.
    pub signature: String,
}

/// The verdict on a validation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidateAnswer {
    /// Whether the action may go ahead.
    pub valid: bool,
    /// What is left of the quota before the action; -1 for unlimited or unquoted features.
    pub remaining_quota: i64,
    /// Why not, when not valid (e.g. `Database quota exceeded`).
    pub error: Option<String>,
}

/// A report of resources created (delta > 0) or removed (delta < 0) under a license.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UsageRequest {
    /// `NP-XXXX-XXXX-XXXX-XXXX`.
    pub license_key: String,
    /// `domains`, `databases` or `emails`.
    pub resource: String,
    /// How many were created (positive) or removed (negative).
    pub delta: i64,
    /// Unix seconds; must be within 300 s of our clock.
    pub timestamp: i64,
    /// `hex(HMAC-SHA256(api_secret, license_key|resource|delta|timestamp))`.
    pub signature: String,
}

/// The count after a usage report.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageAnswer {
    /// How many now exist under the license.
    pub current: i64,
    /// The license's quota for the resource; -1 for unlimited.
    pub max: i64,
}

/// Decides whether the license may be used for `req.feature` on the calling server.
pub async fn validate(
    db: &Db,
    vault: &Vault,
    api_key: Option<&str>,
    req: ValidateRequest,
) -> Result<ValidateAnswer, ServiceError> {
    let message = check::validate_message(&req.license_key, &req.feature, req.timestamp);
    let server = authenticate(db, vault, api_key, &message, &req.signature, req.timestamp).await?;
    let mut conn = db.conn().await?;
    let Some(license) = find_license(&mut conn, &req.license_key).await? else {
        return Ok(answer(Verdict::refused("Unknown license key")));
    };
    let status = LicenseStatus::parse(&license.status).ok_or_else(|| {
        ServiceError::Internal(format!("license {} has no known status", license.id))
    })?;
    let on_server = license_usage::license_on_server(&mut conn, license.id, server.id).await?;
    let quota = match Resource::for_feature(&req.feature) {
        Some(resource) => {
            let used = used(&mut conn, &license, resource).await?;
            Some((resource, max_of(&license, resource), used))
        }
        None => None,
    };
    let facts = LicenseFacts {
        status,
        expires_at: license.expires_at,
        on_server,
    };
    let verdict = check::decide(facts, quota, store::now());
    tracing::debug!(server_id = server.id, license_id = license.id, feature = %req.feature,
        valid = verdict.valid, "license validated");
    Ok(answer(verdict))
}

/// Applies a usage report from the calling server and returns the new count.
pub async fn report_usage(
    db: &Db,
    vault: &Vault,
    api_key: Option<&str>,
    req: UsageRequest,
) -> Result<UsageAnswer, ServiceError> {
    let message = check::usage_message(&req.license_key, &req.resource, req.delta, req.timestamp);
    let server = authenticate(db, vault, api_key, &message, &req.signature, req.timestamp).await?;
    let resource = Resource::reportable(&req.resource)
        .ok_or_else(|| Invalid::new("resource", "must be domains, databases or emails"))?;
    if req.delta.abs() > MAX_DELTA {
        return Err(Invalid::new(
            "delta",
            format!("must be between -{MAX_DELTA} and {MAX_DELTA}"),
        )
        .into());
    }
    let mut tx = db.begin().await?;
    let license = find_license(&mut tx, &req.license_key)
        .await?
        .ok_or(ServiceError::NotFound("license"))?;
    // A server may only count resources of licenses it hosts, so one server
    // cannot use up another's quota.
    if !license_usage::license_on_server(&mut tx, license.id, server.id).await? {
        return Err(ServiceError::Forbidden(
            "the license has no account on this server",
        ));
    }
    let current = license_usage::apply_delta(
        &mut tx,
        license.id,
        resource.as_str(),
        req.delta,
        store::now(),
    )
    .await?;
    tx.commit().await?;
    Ok(UsageAnswer {
        current,
        max: max_of(&license, resource),
    })
}

/// Finds the server whose API key is `api_key` and checks the request's signature
/// (made with that server's secret) and timestamp. Every failure is the same 401,
/// so a caller learns nothing about which part was wrong.
async fn authenticate(
    db: &Db,
    vault: &Vault,
    api_key: Option<&str>,
    message: &str,
    signature: &str,
    timestamp: i64,
) -> Result<ServerRow, ServiceError> {
    const REFUSED: &str = "unknown API key, bad signature or stale timestamp";
    let api_key = api_key
        .filter(|k| !k.is_empty())
        .ok_or(ServiceError::Unauthenticated(
            "send the server's API key in X-API-Key and sign the request",
        ))?;
    let mut conn = db.conn().await?;
    let servers = store::servers::list(&mut conn).await?;
    drop(conn);
    let mut found = None;
    for server in servers {
        match vault.open(&server.api_key_sealed) {
            Ok(key) if check::constant_time_eq(key.as_bytes(), api_key.as_bytes()) => {
                found = Some(server);
                break;
            }
            Ok(_) => {}
            // A key the vault cannot open belongs to no caller; say so once, without the key.
            Err(e) => {
                tracing::warn!(server_id = server.id, error = %e, "cannot open a server's API key")
            }
        }
    }
    let server = found.ok_or(ServiceError::Unauthenticated(REFUSED))?;
    let secret = vault
        .open(&server.api_secret_sealed)
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    if !check::signature_matches(&secret, message, signature) {
        tracing::info!(
            server_id = server.id,
            "license callback with a bad signature"
        );
        return Err(ServiceError::Unauthenticated(REFUSED));
    }
    if !check::fresh(timestamp, store::now()) {
        tracing::info!(
            server_id = server.id,
            timestamp,
            "license callback with a stale timestamp"
        );
        return Err(ServiceError::Unauthenticated(REFUSED));
    }
    Ok(server)
}

/// The license of a key as sent; `None` for a malformed or unknown key.
async fn find_license(
    conn: &mut impl store::AsConn,
    raw_key: &str,
) -> Result<Option<LicenseRow>, ServiceError> {
    let Ok(key) = LicenseKey::parse(raw_key) else {
        return Ok(None);
    };
    Ok(store::licenses::find_by_key(conn, key.as_str()).await?)
}

/// How many of `resource` exist: accounts from our records, the rest as reported.
async fn used(
    conn: &mut impl store::AsConn,
    license: &LicenseRow,
    resource: Resource,
) -> Result<i64, ServiceError> {
    Ok(match resource {
        Resource::Accounts => store::hosting_accounts::live_under_license(conn, license.id).await?,
        other => license_usage::used(conn, license.id, other.as_str()).await?,
    })
}

fn max_of(license: &LicenseRow, resource: Resource) -> i64 {
    match resource {
        Resource::Accounts => license.max_accounts,
        Resource::Domains => license.max_domains,
        Resource::Databases => license.max_databases,
        Resource::Emails => license.max_emails,
    }
}

fn answer(v: Verdict) -> ValidateAnswer {
    ValidateAnswer {
        valid: v.valid,
        remaining_quota: v.remaining_quota,
        error: v.error,
    }
}
