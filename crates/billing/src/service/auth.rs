//! Logging in and out, refreshing, registering, and turning a bearer token into an [`Actor`].

use chrono::Duration;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::users::{insert_user, User, UserDraft};
use super::{passwords, tokens, Actor, ActorKind, ServiceError};
use crate::domain::customer::{self, Email, NewPassword};
use crate::domain::role::Role;
use crate::store::sessions::NewSession;
use crate::store::users::UserRow;
use crate::store::{self, Db, Tx};

/// Token lifetimes and login throttling.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    /// Lifetime of an access token.
    pub access_ttl: Duration,
    /// Lifetime of a refresh token.
    pub refresh_ttl: Duration,
    /// Whether customers may sign up themselves.
    pub allow_registration: bool,
    /// Failed logins allowed per email within the window.
    pub max_failures_per_account: i64,
    /// Failed logins allowed per client address within the window.
    pub max_failures_per_client: i64,
    /// The throttling window.
    pub failure_window: Duration,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        AuthPolicy {
            access_ttl: Duration::hours(1),
            refresh_ttl: Duration::days(30),
            allow_registration: true,
            max_failures_per_account: 5,
            max_failures_per_client: 20,
            failure_window: Duration::minutes(15),
        }
    }
}

/// Tokens returned by login, refresh and register.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Exchange at `/api/v1/auth/refresh` for a new pair; single use.
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// Body of `POST /api/v1/auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Login email.
    pub email: String,
    /// Password.
    pub password: String,
}

/// Body of `POST /api/v1/auth/refresh`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token from login or the last refresh.
    pub refresh_token: String,
}

/// Body of `POST /api/v1/auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Login email.
    pub email: String,
    /// Password (10 to 128 characters).
    pub password: String,
    /// Full name.
    pub full_name: String,
    /// Company.
    pub company_name: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

/// Answer to a registration: the new customer and a logged-in session.
#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    /// The new customer.
    pub user: User,
    /// Tokens of the new session.
    #[serde(flatten)]
    pub tokens: TokenPair,
}

const BAD_LOGIN: &str = "invalid email or password";

/// Checks email and password and opens a session. Failures are counted per email
/// and per client address; past the limits the answer is [`ServiceError::RateLimited`].
pub async fn login(
    db: &Db,
    policy: &AuthPolicy,
    body: LoginRequest,
    client_ip: &str,
) -> Result<TokenPair, ServiceError> {
    let email = body.email.trim().to_lowercase();
    let now = store::now();
    let since = now - policy.failure_window;
    let mut conn = db.conn().await?;
    let (by_email, by_ip) =
        store::login_attempts::recent_failures(&mut conn, &email, client_ip, since).await?;
    for (count, limit) in [
        (&by_email, policy.max_failures_per_account),
        (&by_ip, policy.max_failures_per_client),
    ] {
        if count.count >= limit {
            let frees_at = count.oldest.unwrap_or(now) + policy.failure_window;
            let retry_after_secs =
                u64::try_from((frees_at - now).num_seconds().max(1)).unwrap_or(1);
            return Err(ServiceError::RateLimited {
                what: "failed login attempts",
                retry_after_secs,
            });
        }
    }
    let user = store::users::find_by_email(&mut conn, &email).await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = passwords::verify(body.password, stored).await?;
    let Some(user) = user.filter(|_| ok) else {
        store::login_attempts::record_failure(&mut conn, &email, client_ip, now, since).await?;
        return Err(ServiceError::Unauthenticated(BAD_LOGIN));
    };
    if !user.is_active {
        return Err(ServiceError::Forbidden(
            "this account is deactivated; contact support",
        ));
    }
    store::login_attempts::clear(&mut conn, &email, since).await?;
    drop(conn);
    let mut tx = db.begin().await?;
    let pair = open_session(&mut tx, policy, user.id).await?;
    tx.commit().await?;
    Ok(pair)
}

/// Issues a new token pair for `user_id` in the caller's transaction.
async fn open_session(
    tx: &mut Tx,
    policy: &AuthPolicy,
    user_id: i64,
) -> Result<TokenPair, ServiceError> {
    let access = tokens::generate(tokens::ACCESS_PREFIX)?;
    let refresh = tokens::generate(tokens::REFRESH_PREFIX)?;
    let now = store::now();
    store::sessions::insert(
        tx,
        &NewSession {
            user_id,
            access_hash: &tokens::digest(&access),
            refresh_hash: &tokens::digest(&refresh),
            access_expires_at: now + policy.access_ttl,
            refresh_expires_at: now + policy.refresh_ttl,
            now,
        },
    )
    .await?;
    Ok(TokenPair {
        access_token: access,
        refresh_token: refresh,
        token_type: "bearer".to_owned(),
        expires_in: policy.access_ttl.num_seconds(),
    })
}

/// Exchanges a refresh token for a new pair; the old session ends (rotation).
pub async fn refresh(
    db: &Db,
    policy: &AuthPolicy,
    body: RefreshRequest,
) -> Result<TokenPair, ServiceError> {
    let mut tx = db.begin().await?;
    let user_id = store::sessions::take_by_refresh_hash(
        &mut tx,
        &tokens::digest(body.refresh_token.trim()),
        store::now(),
    )
    .await?
    .ok_or(ServiceError::Unauthenticated(
        "the refresh token is invalid, expired or already used",
    ))?;
    let active = store::users::find(&mut tx, user_id)
        .await?
        .is_some_and(|u| u.is_active);
    if !active {
        return Err(ServiceError::Unauthenticated(
            "the refresh token is invalid, expired or already used",
        ));
    }
    let pair = open_session(&mut tx, policy, user_id).await?;
    tx.commit().await?;
    Ok(pair)
}

/// Ends the caller's session; API keys are revoked through the API-key endpoints instead.
pub async fn logout(db: &Db, actor: &Actor) -> Result<(), ServiceError> {
    let ActorKind::Session(session_id) = actor.kind else {
        return Err(ServiceError::Conflict {
            field: None,
            message: "API keys cannot log out; revoke the key with DELETE /api/v1/api-keys/{id}"
                .to_owned(),
        });
    };
    let mut tx = db.begin().await?;
    store::sessions::revoke(&mut tx, session_id, store::now()).await?;
    tx.commit().await?;
    Ok(())
}

/// Resolves a bearer token (session token or API key) to the acting user.
pub async fn authenticate(db: &Db, bearer: &str) -> Result<(Actor, UserRow), ServiceError> {
    const BAD_TOKEN: &str = "the bearer token is invalid, expired or revoked";
    let mut conn = db.conn().await?;
    let digest = tokens::digest(bearer);
    if bearer.starts_with(tokens::API_KEY_PREFIX) {
        let (key, user) = store::api_keys::find_live_by_hash(&mut conn, &digest)
            .await?
            .ok_or(ServiceError::Unauthenticated(BAD_TOKEN))?;
        let role = Role::parse(&key.role).ok_or(ServiceError::Unauthenticated(BAD_TOKEN))?;
        store::api_keys::touch(&mut conn, key.id, store::now()).await?;
        let actor = Actor {
            kind: ActorKind::ApiKey(key.id),
            user_id: Some(user.id),
            label: format!("api-key:{} ({})", key.name, key.key_prefix),
            role,
        };
        return Ok((actor, user));
    }
    let (session_id, user) = store::sessions::user_by_access_hash(&mut conn, &digest, store::now())
        .await?
        .ok_or(ServiceError::Unauthenticated(BAD_TOKEN))?;
    let role = Role::parse(&user.role).ok_or(ServiceError::Unauthenticated(BAD_TOKEN))?;
    let actor = Actor {
        kind: ActorKind::Session(session_id),
        user_id: Some(user.id),
        label: user.email.clone(),
        role,
    };
    Ok((actor, user))
}

/// Signs a new customer up and logs them in, when registration is enabled.
pub async fn register(
    db: &Db,
    policy: &AuthPolicy,
    body: RegisterRequest,
) -> Result<Registered, ServiceError> {
    if !policy.allow_registration {
        return Err(ServiceError::Forbidden(
            "self-registration is disabled; ask the provider to create your account",
        ));
    }
    let draft = UserDraft {
        email: Email::parse(&body.email)?,
        role: Role::Customer,
        full_name: customer::full_name(&body.full_name)?,
        company_name: customer::company_name(body.company_name.as_deref())?,
        phone: customer::phone(body.phone.as_deref())?,
        password: Some(NewPassword::parse("password", &body.password)?),
    };
    let row = insert_user(db, &Actor::system(), draft, "customer.registered").await?;
    let mut tx = db.begin().await?;
    let tokens = open_session(&mut tx, policy, row.id).await?;
    tx.commit().await?;
    Ok(Registered {
        user: User::from(&row),
        tokens,
    })
}
