//! License validation and usage reports, called by NextPanel servers.
//!
//! The caller names itself with `X-API-Key` (a registered server's key) and signs
//! the request with that server's API secret; there is no bearer token. The caller
//! is found by the vault's keyed hash of the presented key (one indexed read, no
//! decryption for a wrong key), so the cost does not grow with the fleet.
//!
//! Version 2 callbacks carry a signed `request_id`. The answer to each is
//! remembered per server (in the same transaction as what it changed), so a
//! repeated id gets the first answer again and applies nothing: a captured report
//! cannot be replayed to move a quota. Version 1 (no id) is refused unless the
//! operator turns `license_callbacks_v1` on for panels not yet updated.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ServiceError;
use crate::domain::license::{LicenseKey, LicenseStatus};
use crate::domain::license_check::{self as check, LicenseFacts, RequestId, Resource, Verdict};
use crate::domain::Invalid;
use crate::store::license_usage::{ValidationLookup, ValidationRow};
use crate::store::licenses::LicenseRow;
use crate::store::{self, license_callbacks, license_usage, Db};
use crate::vault::Vault;

use super::batch::Batcher;
use super::rate_limit::RateLimiter;

/// Largest change one usage report may make; real reports are ±1.
const MAX_DELTA: i64 = 10_000;

/// Who may call back and how: the database, the vault that opens server
/// credentials, and whether version-1 callbacks are still accepted.
#[derive(Clone, Copy)]
pub struct Callbacks<'a> {
    /// The database.
    pub db: &'a Db,
    /// Opens server credentials and hashes presented keys.
    pub vault: &'a Vault,
    /// Accept callbacks without `request_id` (replayable); off by default.
    pub accept_v1: bool,
    /// Counts each server's callbacks.
    pub limits: &'a RateLimiter,
    /// Callbacks one server may make per minute; past it, 429.
    pub per_minute: u32,
    /// Remembers validation answers in batches.
    pub answers: &'a super::answer_book::AnswerBook,
    /// Reads what validations need in batches.
    pub reads: &'a ValidationReads,
}

/// Reads what validations need, in batches ([`super::batch`]): under load one statement
/// serves many validations instead of one each.
pub type ValidationReads = Batcher<ValidationLookup, Vec<ValidationRow>>;

/// Batches read at once: about one per core, so a batch is read while the next gathers.
const READ_LANES: usize = 2;

/// Starts the lanes that read validations from `db`; they stop with the last handle.
pub fn start_reads(db: Db) -> ValidationReads {
    Batcher::start(
        READ_LANES,
        license_usage::MAX_VALIDATION_LOOKUPS,
        move |lookups: Vec<ValidationLookup>| {
            let db = db.clone();
            async move {
                let mut conn = db.conn().await.map_err(|e| e.to_string())?;
                let found = license_usage::for_validations(&mut conn, &lookups)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut rows = vec![Vec::new(); lookups.len()];
                for (i, row) in found {
                    if let Some(of_request) = rows.get_mut(i) {
                        of_request.push(row);
                    }
                }
                for of_request in &mut rows {
                    of_request.sort_by_key(|r: &ValidationRow| r.server_id);
                }
                Ok(rows)
            }
        },
    )
}

/// A request to validate a license before a quota-consuming action.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ValidateRequest {
    /// `NP-XXXX-XXXX-XXXX-XXXX`.
    pub license_key: String,
    /// `create_account`, `create_domain`, `create_database`, `create_email`, or any other feature.
    pub feature: String,
    /// Unix seconds; must be within 300 s of our clock.
    pub timestamp: i64,
    /// Version 2: 16 to 64 characters of `[A-Za-z0-9_-]`, unique per request (a UUID).
    /// Required unless the operator accepts version-1 callbacks.
    #[serde(default)]
    pub request_id: Option<String>,
    /// `hex(HMAC-SHA256(api_secret, license_key|feature|timestamp|request_id))`
    /// (version 1: without `|request_id`).
    pub signature: String,
}

/// The verdict on a validation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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
    /// Version 2: 16 to 64 characters of `[A-Za-z0-9_-]`, unique per request (a UUID).
    /// Required unless the operator accepts version-1 callbacks.
    #[serde(default)]
    pub request_id: Option<String>,
    /// `hex(HMAC-SHA256(api_secret, license_key|resource|delta|timestamp|request_id))`
    /// (version 1: without `|request_id`).
    pub signature: String,
}

/// The count after a usage report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UsageAnswer {
    /// How many now exist under the license.
    pub current: i64,
    /// The license's quota for the resource; -1 for unlimited.
    pub max: i64,
}

/// What a usage report came to, as remembered for its request id.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum UsageOutcome {
    Counted(UsageAnswer),
    UnknownLicense,
    NotOnServer,
}

impl UsageOutcome {
    fn into_result(self) -> Result<UsageAnswer, ServiceError> {
        match self {
            UsageOutcome::Counted(answer) => Ok(answer),
            UsageOutcome::UnknownLicense => Err(ServiceError::NotFound("license")),
            // A server may only count resources of licenses it hosts, so one server
            // cannot use up another's quota.
            UsageOutcome::NotOnServer => Err(ServiceError::Forbidden(
                "the license has no account on this server",
            )),
        }
    }
}

/// The two callbacks, as remembered per request id.
#[derive(Clone, Copy)]
enum Kind {
    Validate,
    Usage,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Validate => "validate",
            Kind::Usage => "usage",
        }
    }
}

impl Callbacks<'_> {
    /// Decides whether the license may be used for `req.feature` on the calling server.
    pub async fn validate(
        &self,
        api_key: Option<&str>,
        req: ValidateRequest,
    ) -> Result<ValidateAnswer, ServiceError> {
        let request_id = self.request_id(req.request_id.as_deref())?;
        let message = check::validate_message(
            &req.license_key,
            &req.feature,
            req.timestamp,
            request_id.as_ref(),
        );
        let api_key = presented(api_key)?;
        let resource = Resource::for_feature(&req.feature);
        // The caller and everything the verdict needs, in one read shared with the
        // validations arriving at the same moment; nothing read is used or shown before
        // the signature is checked.
        let rows = self
            .reads
            .call(ValidationLookup {
                api_key_lookup: self.vault.lookup_hash(api_key),
                license_key: lookup_key(&req.license_key),
                resource: resource.map(Resource::as_str),
            })
            .await?;
        let callers = rows.iter().map(|r| {
            (
                r.server_id,
                r.api_key_sealed.as_str(),
                r.api_secret_sealed.as_str(),
            )
        });
        let server_id =
            self.signed_by(api_key, callers, &message, &req.signature, req.timestamp)?;
        let row = rows
            .iter()
            .find(|r| r.server_id == server_id)
            .ok_or_else(|| ServiceError::Internal("the caller's row went missing".into()))?;
        let answer = decide(row, resource)?;
        tracing::debug!(server_id, feature = %req.feature, valid = answer.valid, "license validated");
        let Some(id) = request_id else {
            return Ok(answer);
        };
        let outcome = to_json(&answer)?;
        if self
            .answers
            .remember(server_id, id.as_str(), Kind::Validate.as_str(), outcome)
            .await?
        {
            return Ok(answer);
        }
        let mut conn = self.db.conn().await?;
        // Seen before: the first answer stands, whatever has changed since.
        let first = remembered(&mut conn, server_id, &id, Kind::Validate).await?;
        from_json(&first)
    }

    /// Applies a usage report from the calling server and returns the new count.
    pub async fn report_usage(
        &self,
        api_key: Option<&str>,
        req: UsageRequest,
    ) -> Result<UsageAnswer, ServiceError> {
        let request_id = self.request_id(req.request_id.as_deref())?;
        let message = check::usage_message(
            &req.license_key,
            &req.resource,
            req.delta,
            req.timestamp,
            request_id.as_ref(),
        );
        let server_id = self
            .authenticate(api_key, &message, &req.signature, req.timestamp)
            .await?;
        let resource = Resource::reportable(&req.resource)
            .ok_or_else(|| Invalid::new("resource", "must be domains, databases or emails"))?;
        if req.delta.abs() > MAX_DELTA {
            return Err(Invalid::new(
                "delta",
                format!("must be between -{MAX_DELTA} and {MAX_DELTA}"),
            )
            .into());
        }
        let mut tx = self.db.begin().await?;
        let outcome = apply(&mut tx, server_id, &req.license_key, resource, req.delta).await?;
        if let Some(id) = &request_id {
            let json = to_json(&outcome)?;
            if !license_callbacks::remember(
                &mut tx,
                server_id,
                id.as_str(),
                Kind::Usage.as_str(),
                &json,
                store::now(),
            )
            .await?
            {
                // A repeat (or a concurrent twin that committed first): undo this
                // one's change and answer what the first one was answered.
                tx.rollback().await?;
                let mut conn = self.db.conn().await?;
                let first = remembered(&mut conn, server_id, id, Kind::Usage).await?;
                return from_json::<UsageOutcome>(&first)?.into_result();
            }
        }
        tx.commit().await?;
        outcome.into_result()
    }

    /// The request id as sent, or `None` for a version-1 callback the operator accepts.
    fn request_id(&self, raw: Option<&str>) -> Result<Option<RequestId>, ServiceError> {
        match raw {
            Some(raw) => RequestId::parse(raw)
                .map(Some)
                .map_err(|message| Invalid::new("request_id", message).into()),
            None if self.accept_v1 => Ok(None),
            None => Err(Invalid::new(
                "request_id",
                "is required: version-1 callbacks (without request_id) are turned off here; \
                 update the panel to callbacks version 2",
            )
            .into()),
        }
    }

    /// Finds the server whose API key is `api_key` and checks the request's signature
    /// (made with that server's secret) and timestamp; returns the server's id.
    async fn authenticate(
        &self,
        api_key: Option<&str>,
        message: &str,
        signature: &str,
        timestamp: i64,
    ) -> Result<i64, ServiceError> {
        let api_key = presented(api_key)?;
        let callers = {
            let mut conn = self.db.conn().await?;
            store::servers::find_callers(&mut conn, &self.vault.lookup_hash(api_key)).await?
        };
        let callers = callers.iter().map(|c| {
            (
                c.id,
                c.api_key_sealed.as_str(),
                c.api_secret_sealed.as_str(),
            )
        });
        self.signed_by(api_key, callers, message, signature, timestamp)
    }

    /// Which of `callers` (`(server id, sealed key, sealed secret)`, found by the key's
    /// look-up hash) sent `api_key` and signed `message`, with a fresh timestamp. Every
    /// failure is the same 401, so a caller learns nothing about which part was wrong.
    fn signed_by<'r>(
        &self,
        api_key: &str,
        callers: impl Iterator<Item = (i64, &'r str, &'r str)>,
        message: &str,
        signature: &str,
        timestamp: i64,
    ) -> Result<i64, ServiceError> {
        const REFUSED: &str = "unknown API key, bad signature or stale timestamp";
        // Normally one caller; the key itself is compared too, so a hash collision
        // could never let one server stand in for another.
        let mut signed_by = None;
        for (id, key_sealed, secret_sealed) in callers {
            let (key, secret) = match (self.vault.open(key_sealed), self.vault.open(secret_sealed))
            {
                (Ok(key), Ok(secret)) => (key, secret),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(server_id = id, error = %e, "cannot open a server's credentials");
                    continue;
                }
            };
            if check::constant_time_eq(key.as_bytes(), api_key.as_bytes())
                && check::signature_matches(&secret, message, signature)
            {
                signed_by = Some(id);
                break;
            }
        }
        let Some(server_id) = signed_by else {
            tracing::info!("license callback with an unknown API key or a bad signature");
            return Err(ServiceError::Unauthenticated(REFUSED));
        };
        if !check::fresh(timestamp, store::now()) {
            tracing::info!(
                server_id,
                timestamp,
                "license callback with a stale timestamp"
            );
            return Err(ServiceError::Unauthenticated(REFUSED));
        }
        // Counted only once the caller is known, so a flood of forged requests cannot
        // use up a real server's allowance.
        self.limits.check(
            &format!("license-callbacks:{server_id}"),
            self.per_minute,
            std::time::Duration::from_secs(60),
            "license callbacks from this server",
        )?;
        Ok(server_id)
    }
}

/// The verdict on a validation from what we know of the license now.
fn decide(
    row: &license_usage::ValidationRow,
    resource: Option<Resource>,
) -> Result<ValidateAnswer, ServiceError> {
    let Some(license_id) = row.license_id else {
        return Ok(answer(Verdict::refused("Unknown license key")));
    };
    let status = row
        .status
        .as_deref()
        .and_then(LicenseStatus::parse)
        .ok_or_else(|| {
            ServiceError::Internal(format!("license {license_id} has no known status"))
        })?;
    let expires_at = row
        .expires_at
        .ok_or_else(|| ServiceError::Internal(format!("license {license_id} has no expiry")))?;
    let quota = resource.map(|resource| {
        let max = by_resource(
            resource,
            row.max_accounts,
            row.max_domains,
            row.max_databases,
            row.max_emails,
        );
        (resource, max.unwrap_or(0), row.used)
    });
    let facts = LicenseFacts {
        status,
        expires_at,
        on_server: row.on_server,
    };
    Ok(answer(check::decide(facts, quota, store::now())))
}

/// Counts a report in `tx`, or says why it does not count.
async fn apply(
    tx: &mut store::Tx,
    server_id: i64,
    license_key: &str,
    resource: Resource,
    delta: i64,
) -> Result<UsageOutcome, ServiceError> {
    let Some(license) = find_license(tx, license_key).await? else {
        return Ok(UsageOutcome::UnknownLicense);
    };
    if !license_usage::license_on_server(tx, license.id, server_id).await? {
        return Ok(UsageOutcome::NotOnServer);
    }
    let current =
        license_usage::apply_delta(tx, license.id, resource.as_str(), delta, store::now()).await?;
    Ok(UsageOutcome::Counted(UsageAnswer {
        current,
        max: max_of(&license, resource),
    }))
}

/// The remembered outcome of a request id that is known to be taken; a different
/// callback under the same id is a conflict, not a repeat.
async fn remembered(
    conn: &mut impl store::AsConn,
    server_id: i64,
    id: &RequestId,
    kind: Kind,
) -> Result<String, ServiceError> {
    let first = license_callbacks::find(conn, server_id, id.as_str())
        .await?
        .ok_or_else(|| {
            ServiceError::Internal("a taken request id has no remembered answer".into())
        })?;
    if first.kind != kind.as_str() {
        return Err(ServiceError::Conflict {
            field: Some("request_id".into()),
            message: format!(
                "request_id was already used for a {} callback; use a new id for each request",
                first.kind
            ),
        });
    }
    Ok(first.outcome)
}

fn to_json<T: Serialize>(value: &T) -> Result<String, ServiceError> {
    serde_json::to_string(value).map_err(|e| ServiceError::Internal(e.to_string()))
}

fn from_json<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, ServiceError> {
    serde_json::from_str(text).map_err(|e| ServiceError::Internal(e.to_string()))
}

/// The license of a key as sent; `None` for a malformed or unknown key.
async fn find_license(
    conn: &mut impl store::AsConn,
    raw_key: &str,
) -> Result<Option<LicenseRow>, ServiceError> {
    match lookup_key(raw_key) {
        Some(key) => Ok(store::licenses::find_by_key(conn, &key).await?),
        None => Ok(None),
    }
}

/// The key to look a license up by: ours normalised; keys imported from the older system
/// (which may use letters ours leave out: 0, O, 1, I) exactly as they were issued;
/// `None` for anything else.
fn lookup_key(raw_key: &str) -> Option<String> {
    match LicenseKey::parse(raw_key) {
        Ok(key) => Some(key.as_str().to_owned()),
        Err(_) if raw_key.len() <= 100 && raw_key.starts_with("NP-") => Some(raw_key.to_owned()),
        Err(_) => None,
    }
}

/// The API key the caller presented, or the 401 that asks for one.
fn presented(api_key: Option<&str>) -> Result<&str, ServiceError> {
    api_key
        .filter(|k| !k.is_empty())
        .ok_or(ServiceError::Unauthenticated(
            "send the server's API key in X-API-Key and sign the request",
        ))
}

fn max_of(license: &LicenseRow, resource: Resource) -> i64 {
    by_resource(
        resource,
        license.max_accounts,
        license.max_domains,
        license.max_databases,
        license.max_emails,
    )
}

/// The one of four per-resource values (a license's quotas, as stored or as read for a
/// validation) that belongs to `resource`.
fn by_resource<T>(resource: Resource, accounts: T, domains: T, databases: T, emails: T) -> T {
    match resource {
        Resource::Accounts => accounts,
        Resource::Domains => domains,
        Resource::Databases => databases,
        Resource::Emails => emails,
    }
}

fn answer(v: Verdict) -> ValidateAnswer {
    ValidateAnswer {
        valid: v.valid,
        remaining_quota: v.remaining_quota,
        error: v.error,
    }
}
