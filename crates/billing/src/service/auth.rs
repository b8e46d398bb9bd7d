//! Logging in and out, refreshing, registering, and turning a bearer token into an [`Actor`].

use chrono::Duration;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::users::{insert_user, User, UserDraft};
use super::{passwords, tokens, two_factor, Actor, ActorKind, ServiceError};
use crate::domain::customer::{self, Billing, Email, NewPassword};
use crate::domain::role::Role;
use crate::domain::second_factor::Code;
use crate::store::sessions::NewSession;
use crate::store::users::UserRow;
use crate::store::{self, Db, Tx};
use crate::vault::Vault;

/// Token lifetimes and login throttling.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    /// Lifetime of an access token.
    pub access_ttl: Duration,
    /// Lifetime of a refresh token.
    pub refresh_ttl: Duration,
    /// Lifetime of a console sign-in (its session cookie; not refreshed).
    pub console_ttl: Duration,
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
            console_ttl: Duration::hours(12),
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

/// Where a sign-in keeps its session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionMode {
    /// Bearer tokens in the answer (scripts, the CLI).
    #[default]
    Tokens,
    /// An HttpOnly session cookie plus a CSRF token for writes (the web console).
    Cookie,
}

impl SessionMode {
    fn as_str(self) -> &'static str {
        match self {
            SessionMode::Tokens => "token",
            SessionMode::Cookie => "cookie",
        }
    }

    fn parse(text: &str) -> Option<SessionMode> {
        match text {
            "token" => Some(SessionMode::Tokens),
            "cookie" => Some(SessionMode::Cookie),
            _ => None,
        }
    }
}

/// Body of `POST /api/v1/auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Login email.
    pub email: String,
    /// Password.
    pub password: String,
    /// `tokens` (default) or `cookie`.
    #[serde(default)]
    pub session: SessionMode,
}

/// Body of `POST /api/v1/auth/login/second-factor`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorLogin {
    /// The challenge from the login answer.
    pub challenge: String,
    /// The 6-digit code from the authenticator app, or a recovery code.
    pub code: String,
}

/// The answer to a console sign-in: the session itself is in an HttpOnly cookie.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CookieSession {
    /// Always `cookie`.
    pub token_type: String,
    /// Send as `X-CSRF-Token` with every write (also readable from the `npb_csrf` cookie).
    pub csrf_token: String,
    /// Seconds until the session ends.
    pub expires_in: i64,
}

/// The password was right; the account also needs its second factor.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SecondFactorChallenge {
    /// Always `true`.
    pub second_factor_required: bool,
    /// Send with the code to `POST /api/v1/auth/login/second-factor`.
    pub challenge: String,
    /// Seconds the challenge stays valid.
    pub expires_in: i64,
}

/// What a sign-in answers: tokens, a cookie session, or a request for the second factor.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    /// Bearer tokens.
    Tokens(TokenPair),
    /// A cookie session.
    Cookie(CookieSession),
    /// The second factor is needed.
    SecondFactor(SecondFactorChallenge),
}

/// The session cookie to set, when a sign-in opened a cookie session.
#[derive(Debug)]
pub struct SessionCookie {
    /// The session token: the cookie's value.
    pub token: String,
    /// Its CSRF token.
    pub csrf_token: String,
    /// Seconds the cookie lives.
    pub max_age_secs: i64,
}

/// The outcome of a sign-in step.
#[derive(Debug)]
pub struct SignIn {
    /// The JSON answer.
    pub answer: LoginAnswer,
    /// The cookie to set, for cookie sessions.
    pub cookie: Option<SessionCookie>,
}

/// Where a request comes from, kept with the sessions it opens.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    /// Its address.
    pub ip: &'a str,
    /// Its `User-Agent`.
    pub user_agent: Option<&'a str>,
}

/// How long a second-factor challenge stays valid.
const CHALLENGE_SECS: i64 = 300;
/// Vault purposes of the tags this module makes.
const CHALLENGE_TAG: &str = "login-challenge";
const CSRF_TAG: &str = "csrf";
/// A session's `last_seen_at` is written at most this often (reads stay reads).
const TOUCH_EVERY_SECS: i64 = 60;

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
    /// Billing address and tax id.
    #[serde(default)]
    pub billing: Option<Billing>,
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

/// Checks email and password and opens a session, or answers a challenge for the
/// second factor when the account has one. Failures are counted per email and per
/// client address; past the limits the answer is [`ServiceError::RateLimited`].
pub async fn login(
    db: &Db,
    vault: &Vault,
    policy: &AuthPolicy,
    body: LoginRequest,
    client: Client<'_>,
) -> Result<SignIn, ServiceError> {
    let email = body.email.trim().to_lowercase();
    let now = store::now();
    let since = now - policy.failure_window;
    let mut conn = db.conn().await?;
    throttle(&mut conn, policy, &email, client.ip).await?;
    let user = store::users::find_by_email(&mut conn, &email).await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let legacy = stored.as_deref().is_some_and(passwords::is_legacy);
    let ok = passwords::verify(body.password.clone(), stored).await?;
    let Some(user) = user.filter(|_| ok) else {
        store::login_attempts::record_failure(&mut conn, &email, client.ip, now, since).await?;
        return Err(ServiceError::Unauthenticated(BAD_LOGIN));
    };
    if !user.is_active {
        return Err(ServiceError::Forbidden(
            "this account is deactivated; contact support",
        ));
    }
    if legacy {
        // The older system's bcrypt hash, right once: from now on Argon2id.
        let upgraded = passwords::hash(body.password.clone()).await?;
        let old = user.password_hash.as_deref().unwrap_or_default();
        if store::users::upgrade_password_hash(&mut conn, user.id, old, &upgraded).await? {
            tracing::info!(
                user = user.id,
                "imported bcrypt password hash replaced by Argon2id"
            );
        }
    }
    if two_factor::is_enabled(&mut conn, user.id).await? {
        // The password is right, but failures are only cleared once the code is too.
        let expires = now.timestamp() + CHALLENGE_SECS;
        let challenge = challenge(vault, &user, expires, body.session);
        return Ok(SignIn {
            answer: LoginAnswer::SecondFactor(SecondFactorChallenge {
                second_factor_required: true,
                challenge,
                expires_in: CHALLENGE_SECS,
            }),
            cookie: None,
        });
    }
    store::login_attempts::clear(&mut conn, &email, since).await?;
    drop(conn);
    let mut tx = db.begin().await?;
    let signed_in = open_session(&mut tx, vault, policy, user.id, body.session, client).await?;
    tx.commit().await?;
    Ok(signed_in)
}

/// Completes a sign-in with the second factor: a code from the authenticator app (each
/// works once) or a recovery code. Wrong codes count as failed logins.
pub async fn login_second_factor(
    db: &Db,
    vault: &Vault,
    policy: &AuthPolicy,
    body: SecondFactorLogin,
    client: Client<'_>,
) -> Result<SignIn, ServiceError> {
    const BAD_CHALLENGE: &str =
        "the sign-in challenge is invalid or expired; sign in with your password again";
    let code = Code::parse("code", &body.code)?;
    let (user_id, expires, mode) =
        parse_challenge(&body.challenge).ok_or(ServiceError::Unauthenticated(BAD_CHALLENGE))?;
    let now = store::now();
    let since = now - policy.failure_window;
    let mut conn = db.conn().await?;
    let user = store::users::find(&mut conn, user_id)
        .await?
        .filter(|u| u.is_active)
        .filter(|_| now.timestamp() < expires)
        .filter(|u| {
            vault.tag_matches(
                CHALLENGE_TAG,
                &challenge_message(u, expires, mode),
                challenge_tag(&body.challenge),
            )
        })
        .ok_or(ServiceError::Unauthenticated(BAD_CHALLENGE))?;
    throttle(&mut conn, policy, &user.email, client.ip).await?;
    let mut tx = db.begin().await?;
    if !two_factor::verify(&mut tx, vault, user.id, &code).await? {
        drop(tx);
        store::login_attempts::record_failure(&mut conn, &user.email, client.ip, now, since)
            .await?;
        return Err(ServiceError::Unauthenticated(
            "the code is wrong or was used already",
        ));
    }
    let signed_in = open_session(&mut tx, vault, policy, user.id, mode, client).await?;
    tx.commit().await?;
    store::login_attempts::clear(&mut conn, &user.email, since).await?;
    Ok(signed_in)
}

/// Refuses another try while the email or the client address has failed too often.
async fn throttle(
    conn: &mut impl store::AsConn,
    policy: &AuthPolicy,
    email: &str,
    client_ip: &str,
) -> Result<(), ServiceError> {
    let now = store::now();
    let since = now - policy.failure_window;
    let (by_email, by_ip) =
        store::login_attempts::recent_failures(conn, email, client_ip, since).await?;
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
    Ok(())
}

/// A challenge is `npb_2fa_{user}.{expiry}.{mode}.{tag}`: stateless, it cannot be made
/// without the master key, ends after five minutes, and stops working when the password
/// changes (the password hash is part of what the tag covers).
fn challenge(vault: &Vault, user: &UserRow, expires: i64, mode: SessionMode) -> String {
    let tag = vault.tag(CHALLENGE_TAG, &challenge_message(user, expires, mode));
    format!("npb_2fa_{}.{expires}.{}.{tag}", user.id, mode.as_str())
}

fn challenge_message(user: &UserRow, expires: i64, mode: SessionMode) -> String {
    format!(
        "{}.{expires}.{}.{}",
        user.id,
        mode.as_str(),
        user.password_hash.as_deref().unwrap_or("")
    )
}

fn parse_challenge(text: &str) -> Option<(i64, i64, SessionMode)> {
    let mut parts = text.trim().strip_prefix("npb_2fa_")?.split('.');
    let user_id = parts.next()?.parse().ok()?;
    let expires = parts.next()?.parse().ok()?;
    let mode = SessionMode::parse(parts.next()?)?;
    Some((user_id, expires, mode))
}

fn challenge_tag(text: &str) -> &str {
    text.trim().rsplit('.').next().unwrap_or("")
}

/// The CSRF token of a cookie session: a tag on its token, so nothing is stored.
pub fn csrf_token(vault: &Vault, session_token: &str) -> String {
    vault.tag(CSRF_TAG, session_token)
}

/// Whether `given` is the CSRF token of the cookie session `session_token`.
pub fn csrf_matches(vault: &Vault, session_token: &str, given: &str) -> bool {
    vault.tag_matches(CSRF_TAG, session_token, given)
}

/// Opens a session for `user_id` in the caller's transaction.
async fn open_session(
    tx: &mut Tx,
    vault: &Vault,
    policy: &AuthPolicy,
    user_id: i64,
    mode: SessionMode,
    client: Client<'_>,
) -> Result<SignIn, ServiceError> {
    let access = tokens::generate(tokens::ACCESS_PREFIX)?;
    // A cookie session gets a refresh token too (the column is required) but never sees it.
    let refresh = tokens::generate(tokens::REFRESH_PREFIX)?;
    let now = store::now();
    let (access_ttl, refresh_ttl) = match mode {
        SessionMode::Tokens => (policy.access_ttl, policy.refresh_ttl),
        SessionMode::Cookie => (policy.console_ttl, policy.console_ttl),
    };
    let user_agent = client.user_agent.map(|ua| {
        let mut cut = ua.len().min(300);
        while !ua.is_char_boundary(cut) {
            cut -= 1;
        }
        &ua[..cut]
    });
    store::sessions::insert(
        tx,
        &NewSession {
            user_id,
            access_hash: &tokens::digest(&access),
            refresh_hash: &tokens::digest(&refresh),
            access_expires_at: now + access_ttl,
            refresh_expires_at: now + refresh_ttl,
            now,
            kind: mode.as_str(),
            client_ip: client.ip,
            user_agent,
        },
    )
    .await?;
    Ok(match mode {
        SessionMode::Tokens => SignIn {
            answer: LoginAnswer::Tokens(TokenPair {
                access_token: access,
                refresh_token: refresh,
                token_type: "bearer".to_owned(),
                expires_in: access_ttl.num_seconds(),
            }),
            cookie: None,
        },
        SessionMode::Cookie => {
            let csrf = csrf_token(vault, &access);
            SignIn {
                answer: LoginAnswer::Cookie(CookieSession {
                    token_type: "cookie".to_owned(),
                    csrf_token: csrf.clone(),
                    expires_in: access_ttl.num_seconds(),
                }),
                cookie: Some(SessionCookie {
                    token: access,
                    csrf_token: csrf,
                    max_age_secs: access_ttl.num_seconds(),
                }),
            }
        }
    })
}

/// Exchanges a refresh token for a new pair; the old session ends (rotation).
pub async fn refresh(
    db: &Db,
    vault: &Vault,
    policy: &AuthPolicy,
    body: RefreshRequest,
    client: Client<'_>,
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
    let signed_in =
        open_session(&mut tx, vault, policy, user_id, SessionMode::Tokens, client).await?;
    tx.commit().await?;
    token_pair(signed_in)
}

fn token_pair(signed_in: SignIn) -> Result<TokenPair, ServiceError> {
    match signed_in.answer {
        LoginAnswer::Tokens(pair) => Ok(pair),
        _ => Err(ServiceError::Internal(
            "a token session opened without tokens".into(),
        )),
    }
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
    if bearer.starts_with(tokens::API_KEY_PREFIX) {
        let mut conn = db.conn().await?;
        let (key, user) = store::api_keys::find_live_by_hash(&mut conn, &tokens::digest(bearer))
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
    session_actor(db, bearer, SessionMode::Tokens, BAD_TOKEN).await
}

/// Resolves the console's session cookie to the acting user.
pub async fn authenticate_cookie(db: &Db, token: &str) -> Result<(Actor, UserRow), ServiceError> {
    session_actor(
        db,
        token,
        SessionMode::Cookie,
        "your session has ended; sign in again",
    )
    .await
}

/// A live session of the given kind: a console cookie is no bearer token and the other
/// way round, so each is only accepted where its protections (CSRF) apply.
async fn session_actor(
    db: &Db,
    token: &str,
    mode: SessionMode,
    bad: &'static str,
) -> Result<(Actor, UserRow), ServiceError> {
    let mut conn = db.conn().await?;
    let now = store::now();
    let found = store::sessions::user_by_access_hash(&mut conn, &tokens::digest(token), now)
        .await?
        .filter(|s| s.kind == mode.as_str())
        .ok_or(ServiceError::Unauthenticated(bad))?;
    let role = Role::parse(&found.user.role).ok_or(ServiceError::Unauthenticated(bad))?;
    let stale = found
        .last_seen_at
        .is_none_or(|seen| (now - seen).num_seconds() >= TOUCH_EVERY_SECS);
    if stale {
        store::sessions::touch(&mut conn, found.session_id, now).await?;
    }
    let actor = Actor {
        kind: ActorKind::Session(found.session_id),
        user_id: Some(found.user.id),
        label: found.user.email.clone(),
        role,
    };
    Ok((actor, found.user))
}

/// Signs a new customer up and logs them in, when registration is enabled.
pub async fn register(
    db: &Db,
    vault: &Vault,
    policy: &AuthPolicy,
    body: RegisterRequest,
    client: Client<'_>,
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
        billing: body.billing.unwrap_or_default().checked()?,
        is_active: true,
    };
    let row = insert_user(db, &Actor::system(), draft, "customer.registered").await?;
    let mut tx = db.begin().await?;
    let signed_in =
        open_session(&mut tx, vault, policy, row.id, SessionMode::Tokens, client).await?;
    tx.commit().await?;
    let tokens = token_pair(signed_in)?;
    Ok(Registered {
        user: User::from(&row),
        tokens,
    })
}
