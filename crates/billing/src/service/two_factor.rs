//! Two-factor sign-in: users turn TOTP on for themselves (a secret shown as a QR code
//! and a manual key, confirmed with a first code, then ten recovery codes shown once),
//! admins can require it of all staff and reset it for a user who lost their phone.
//! API keys are not affected: they are for scripts, which have no phone.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::{passwords, random_bytes, tokens, Actor, ActorKind, ServiceError};
use crate::domain::role::Role;
use crate::domain::second_factor::{self, Code, RecoverySeed};
use crate::domain::Invalid;
use crate::store::{self, Db, Tx};
use crate::vault::Vault;

/// The settings key of the staff requirement.
const REQUIRE_FOR_STAFF: &str = "security.require_two_factor_for_staff";

/// A user's two-factor state.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TwoFactorStatus {
    /// Whether sign-in asks for a code.
    pub enabled: bool,
    /// Since when.
    pub enabled_at: Option<DateTime<Utc>>,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
    /// Whether the admins require it of this user (staff and admins, when set).
    pub required: bool,
}

/// Body of `POST /api/v1/auth/two-factor/setup` and of the recovery-code renewal.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordConfirmation {
    /// The current password: a stolen session alone cannot change the second factor.
    pub password: String,
}

/// A new secret to put into an authenticator app.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TwoFactorSetup {
    /// The secret in base32, for typing into the app.
    pub manual_key: String,
    /// The `otpauth://` URL the QR code holds.
    pub otpauth_url: String,
    /// The QR code as an SVG image.
    pub qr_svg: String,
}

/// Body of `POST /api/v1/auth/two-factor/enable`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeConfirmation {
    /// The 6-digit code the app shows now.
    pub code: String,
}

/// Body of `POST /api/v1/auth/two-factor/disable`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableTwoFactor {
    /// The current password.
    pub password: String,
    /// A code from the app, or a recovery code.
    pub code: String,
}

/// Recovery codes, shown this once: each signs in once in place of a code.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten codes like `k7m2q-x9pdr`.
    pub recovery_codes: Vec<String>,
}

/// Shop-wide security settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// Admins and staff must sign in with a second factor; until they set one up,
    /// the admin API answers them 403 `second_factor_setup_required`.
    pub require_two_factor_for_staff: bool,
}

/// The signed-in user behind `actor`: two-factor settings belong to a person, not a key.
fn person(actor: &Actor) -> Result<i64, ServiceError> {
    match (actor.kind, actor.user_id) {
        (ActorKind::Session(_), Some(id)) => Ok(id),
        _ => Err(ServiceError::Forbidden(
            "two-factor sign-in is managed by a signed-in user, not with an API key",
        )),
    }
}

async fn check_password(db: &Db, user_id: i64, password: String) -> Result<(), ServiceError> {
    let mut conn = db.conn().await?;
    let stored = store::users::find(&mut conn, user_id)
        .await?
        .and_then(|u| u.password_hash);
    drop(conn);
    if passwords::verify(password, stored).await? {
        Ok(())
    } else {
        Err(Invalid::new("password", "is not your current password").into())
    }
}

/// Whether admins and staff must use a second factor.
pub async fn settings(db: &Db, actor: &Actor) -> Result<SecuritySettings, ServiceError> {
    actor.require_admin()?;
    let mut conn = db.conn().await?;
    Ok(SecuritySettings {
        require_two_factor_for_staff: required_for_staff(&mut conn).await?,
    })
}

async fn required_for_staff(conn: &mut impl store::AsConn) -> Result<bool, ServiceError> {
    super::settings::flag(conn, REQUIRE_FOR_STAFF).await
}

/// Changes the security settings (audited).
pub async fn update_settings(
    db: &Db,
    actor: &Actor,
    body: SecuritySettings,
) -> Result<SecuritySettings, ServiceError> {
    actor.require_admin()?;
    super::settings::set_flag(
        db,
        actor,
        REQUIRE_FOR_STAFF,
        body.require_two_factor_for_staff,
        "settings.security_updated",
    )
    .await?;
    Ok(body)
}

/// Refuses admin and staff sessions without a second factor while admins require one.
/// API keys pass: they are the scripts' way in.
pub async fn enforce_staff_policy(db: &Db, actor: &Actor) -> Result<(), ServiceError> {
    let (ActorKind::Session(_), Some(user_id)) = (actor.kind, actor.user_id) else {
        return Ok(());
    };
    if !actor.role.can_read_admin_data() {
        return Ok(());
    }
    let mut conn = db.conn().await?;
    if required_for_staff(&mut conn).await?
        && !store::two_factor::is_enabled(&mut conn, user_id).await?
    {
        return Err(ServiceError::SecondFactorSetupRequired);
    }
    Ok(())
}

/// The caller's two-factor state.
pub async fn status(db: &Db, actor: &Actor) -> Result<TwoFactorStatus, ServiceError> {
    let user_id = person(actor)?;
    let mut conn = db.conn().await?;
    let row = store::two_factor::find(&mut conn, user_id).await?;
    let enabled_at = row.and_then(|r| r.enabled_at);
    Ok(TwoFactorStatus {
        enabled: enabled_at.is_some(),
        enabled_at,
        recovery_codes_left: store::two_factor::recovery_codes_left(&mut conn, user_id).await?,
        required: actor.role != Role::Customer && required_for_staff(&mut conn).await?,
    })
}

/// Makes a new secret for the caller to add to their app; it takes effect once a code
/// from the app confirms it ([`enable`]). Refused while two-factor sign-in is on.
pub async fn begin_setup(
    db: &Db,
    vault: &Vault,
    issuer: &str,
    actor: &Actor,
    body: PasswordConfirmation,
) -> Result<TwoFactorSetup, ServiceError> {
    let user_id = person(actor)?;
    check_password(db, user_id, body.password).await?;
    let secret: [u8; second_factor::SECRET_LEN] = random_bytes()?;
    let sealed = vault
        .seal(&hex::encode(secret))
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let mut tx = db.begin().await?;
    if store::two_factor::is_enabled(&mut tx, user_id).await? {
        return Err(already_on());
    }
    let user = store::users::find(&mut tx, user_id)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    store::two_factor::begin_setup(&mut tx, user_id, &sealed, store::now()).await?;
    tx.commit().await?;
    let otpauth_url = second_factor::otpauth_url(&secret, issuer, &user.email)?;
    Ok(TwoFactorSetup {
        manual_key: second_factor::manual_key(&secret),
        qr_svg: qr_svg(&otpauth_url)?,
        otpauth_url,
    })
}

fn already_on() -> ServiceError {
    ServiceError::Conflict {
        field: None,
        message: "two-factor sign-in is already on; turn it off first to move it to another device"
            .to_owned(),
    }
}

/// The QR code of an `otpauth://` URL as an SVG document.
fn qr_svg(url: &str) -> Result<String, ServiceError> {
    let code = qrcode::QrCode::new(url.as_bytes())
        .map_err(|e| ServiceError::Internal(format!("QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

/// Confirms the setup with a first code and turns two-factor sign-in on; answers the
/// recovery codes, which are not shown again.
pub async fn enable(
    db: &Db,
    vault: &Vault,
    actor: &Actor,
    body: CodeConfirmation,
) -> Result<RecoveryCodes, ServiceError> {
    let user_id = person(actor)?;
    let code = match Code::parse("code", &body.code)? {
        Code::Totp(c) => c,
        Code::Recovery(_) => {
            return Err(Invalid::new("code", "must be the 6-digit code your app shows now").into())
        }
    };
    let mut tx = db.begin().await?;
    let row = store::two_factor::find(&mut tx, user_id)
        .await?
        .ok_or_else(|| ServiceError::Conflict {
            field: None,
            message: "start with POST /api/v1/auth/two-factor/setup".to_owned(),
        })?;
    if row.enabled_at.is_some() {
        return Err(already_on());
    }
    let secret = open_secret(vault, &row.secret_sealed)?;
    let step = second_factor::matching_step(&secret, &code, unix_now()).ok_or_else(wrong_code)?;
    store::two_factor::use_step(&mut tx, user_id, step_i64(step)).await?;
    store::two_factor::enable(&mut tx, user_id, store::now()).await?;
    let codes = new_recovery_codes(&mut tx, user_id).await?;
    audit_user(&mut tx, actor, user_id, "user.two_factor_enabled").await?;
    tx.commit().await?;
    Ok(codes)
}

fn wrong_code() -> ServiceError {
    Invalid::new(
        "code",
        "does not match; check the time on your phone and enter the code shown now",
    )
    .into()
}

/// Turns two-factor sign-in off for the caller (password and a code needed). Refused
/// for admins and staff while admins require it.
pub async fn disable(
    db: &Db,
    vault: &Vault,
    actor: &Actor,
    body: DisableTwoFactor,
) -> Result<(), ServiceError> {
    let user_id = person(actor)?;
    let code = Code::parse("code", &body.code)?;
    check_password(db, user_id, body.password).await?;
    let mut tx = db.begin().await?;
    if actor.role != Role::Customer && required_for_staff(&mut tx).await? {
        return Err(ServiceError::Conflict {
            field: None,
            message: "the admins require two-factor sign-in for staff; it cannot be turned off"
                .to_owned(),
        });
    }
    if !verify(&mut tx, vault, user_id, &code).await? {
        return Err(wrong_code());
    }
    store::two_factor::remove(&mut tx, user_id).await?;
    audit_user(&mut tx, actor, user_id, "user.two_factor_disabled").await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces the caller's recovery codes (the old ones stop working).
pub async fn renew_recovery_codes(
    db: &Db,
    actor: &Actor,
    body: PasswordConfirmation,
) -> Result<RecoveryCodes, ServiceError> {
    let user_id = person(actor)?;
    check_password(db, user_id, body.password).await?;
    let mut tx = db.begin().await?;
    if !store::two_factor::is_enabled(&mut tx, user_id).await? {
        return Err(ServiceError::Conflict {
            field: None,
            message: "two-factor sign-in is off; there are no recovery codes to renew".to_owned(),
        });
    }
    let codes = new_recovery_codes(&mut tx, user_id).await?;
    audit_user(&mut tx, actor, user_id, "user.recovery_codes_renewed").await?;
    tx.commit().await?;
    Ok(codes)
}

/// An admin turns a user's second factor off (a lost phone) and ends their sessions.
pub async fn reset(db: &Db, actor: &Actor, user_id: i64) -> Result<(), ServiceError> {
    actor.require_admin()?;
    let mut tx = db.begin().await?;
    store::users::find(&mut tx, user_id)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    if !store::two_factor::remove(&mut tx, user_id).await? {
        return Err(ServiceError::Conflict {
            field: None,
            message: "this user has no second factor to reset".to_owned(),
        });
    }
    store::sessions::revoke_all_for_user(&mut tx, user_id, store::now()).await?;
    audit_user(&mut tx, actor, user_id, "user.two_factor_reset").await?;
    tx.commit().await?;
    Ok(())
}

/// Whether the user has two-factor sign-in on.
pub async fn is_enabled(conn: &mut impl store::AsConn, user_id: i64) -> Result<bool, ServiceError> {
    Ok(store::two_factor::is_enabled(conn, user_id).await?)
}

/// Checks a code of `user_id` and uses it up in `tx`: a TOTP code's time step (so the
/// same code cannot be used twice) or a recovery code. `false` when it does not match.
pub async fn verify(
    tx: &mut Tx,
    vault: &Vault,
    user_id: i64,
    code: &Code,
) -> Result<bool, ServiceError> {
    let Some(row) = store::two_factor::find(tx, user_id).await? else {
        return Ok(false);
    };
    if row.enabled_at.is_none() {
        return Ok(false);
    }
    match code {
        Code::Totp(digits) => {
            let secret = open_secret(vault, &row.secret_sealed)?;
            match second_factor::matching_step(&secret, digits, unix_now()) {
                Some(step) => Ok(store::two_factor::use_step(tx, user_id, step_i64(step)).await?),
                None => Ok(false),
            }
        }
        Code::Recovery(text) => Ok(store::two_factor::use_recovery_code(
            tx,
            user_id,
            &recovery_digest(user_id, text),
            store::now(),
        )
        .await?),
    }
}

async fn new_recovery_codes(tx: &mut Tx, user_id: i64) -> Result<RecoveryCodes, ServiceError> {
    let mut codes = Vec::with_capacity(second_factor::RECOVERY_CODES);
    let mut digests = Vec::with_capacity(second_factor::RECOVERY_CODES);
    for _ in 0..second_factor::RECOVERY_CODES {
        let seed: RecoverySeed = random_bytes()?;
        let code = second_factor::recovery_code(&seed);
        let Code::Recovery(normal) = Code::parse("code", &code)? else {
            return Err(ServiceError::Internal(
                "a recovery code did not parse".into(),
            ));
        };
        digests.push(recovery_digest(user_id, &normal));
        codes.push(code);
    }
    store::two_factor::replace_recovery_codes(tx, user_id, &digests, store::now()).await?;
    Ok(RecoveryCodes {
        recovery_codes: codes,
    })
}

/// Recovery codes carry about 50 random bits and guessing is throttled like passwords,
/// so a fast hash is enough; the user id keeps equal codes of two users apart.
fn recovery_digest(user_id: i64, normalised: &str) -> String {
    tokens::digest(&format!("{user_id}:{normalised}"))
}

fn open_secret(vault: &Vault, sealed: &str) -> Result<Vec<u8>, ServiceError> {
    let hex_secret = vault
        .open(sealed)
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    hex::decode(hex_secret).map_err(|e| ServiceError::Internal(format!("stored TOTP secret: {e}")))
}

fn unix_now() -> u64 {
    u64::try_from(store::now().timestamp()).unwrap_or(0)
}

fn step_i64(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}

/// Audits a change of a user's second factor (no secrets in the entry).
async fn audit_user(
    tx: &mut Tx,
    actor: &Actor,
    user_id: i64,
    action: &str,
) -> Result<(), ServiceError> {
    audit::record::<(), ()>(
        tx,
        actor,
        Change {
            action,
            entity_type: "user",
            entity_id: Some(user_id),
            before: None,
            after: None,
        },
    )
    .await
}
