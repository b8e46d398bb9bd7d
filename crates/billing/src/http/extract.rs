//! Request extractors: JSON bodies and query strings that name the bad field,
//! authentication (bearer token, or the console's cookie with its CSRF token) with the
//! role a route needs, and the client address.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use super::cookies;
use super::error::ApiError;
use crate::app::AppState;
use crate::service::{self, Actor};

/// A JSON body whose errors name the field: 400 for malformed JSON, 422 for wrong types or missing fields.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(Body)
    }
}

/// An optional JSON body: an empty body is `None`, anything else must parse.
impl<T: DeserializeOwned, S: Send + Sync> OptionalFromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        parse_json(&bytes).map(|v| Some(Body(v)))
    }
}

/// Reads the raw body, refusing non-JSON content types and oversized bodies.
async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let json = ct
            .to_str()
            .ok()
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                m.trim().eq_ignore_ascii_case("application/json") || m.trim().ends_with("+json")
            });
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON (Content-Type: application/json)",
            ));
        }
    }
    let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, "payload_too_large", "the request body is too large")
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                rejection.body_text(),
            )
        }
    })?;
    Ok(bytes)
}

/// Parses JSON, naming the field at fault in the error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request body is empty; send a JSON object",
        ));
    }
    // Every body is an object. serde reads a struct from an array too, field by field in
    // order (`[10, null, "reason"]` would be an amount, no key and a reason): refused.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if matches!(
        first,
        Some(b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n')
    ) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "the body must be a JSON object ({\"field\": value, ...})",
        )
        .with_field("body"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => Ok(value),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("malformed JSON: {inner}"),
                ));
            }
            let field = if path == "." {
                missing_field(&inner.to_string())
            } else {
                Some(path)
            };
            let message = match &field {
                Some(f) => format!("{f}: {inner}"),
                None => inner.to_string(),
            };
            let err = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                message,
            );
            Err(match field {
                Some(f) => err.with_field(f),
                None => err,
            })
        }
    }
}

/// serde reports missing and unknown fields at the parent path; pull the name out of its message.
fn missing_field(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("unknown field `"))?;
    rest.split('`').next().map(str::to_owned)
}

/// Query-string parameters whose errors name the parameter (400).
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize::<_, T>(de)
            .map(Params)
            .map_err(|err| {
                let path = err.path().to_string();
                let inner = err.into_inner().to_string();
                let field = if path == "." {
                    missing_field(&inner)
                } else {
                    Some(path)
                };
                let err = ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("invalid query string: {inner}"),
                );
                match field {
                    Some(f) => err.with_field(f),
                    None => err,
                }
            })
    }
}

/// The optional `Idempotency-Key` header: the same key makes a repeated request harmless.
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .headers
            .get("idempotency-key")
            .map(|v| v.to_str().map(str::to_owned))
            .transpose()
            .map(IdempotencyKey)
            .map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "the Idempotency-Key header is not valid text",
                )
                .with_field("Idempotency-Key")
            })
    }
}

/// The address of the client: the TCP peer, or behind a proxy the address it forwarded.
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Behind a reverse proxy every connection comes from the proxy; the client is the
        // address the proxy appended last to X-Forwarded-For (earlier entries are the
        // client's own claims and cannot be trusted).
        if state.settings.behind_proxy {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .rfind(|v| v.parse::<std::net::IpAddr>().is_ok());
            if let Some(ip) = forwarded {
                return Ok(ClientIp(ip.to_owned()));
            }
        }
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string())
            .unwrap_or_else(|| "unknown".to_owned());
        Ok(ClientIp(ip))
    }
}

/// Where a request comes from: its address and `User-Agent`, kept with the sessions it opens.
pub struct Caller {
    /// The client address (as [`ClientIp`]).
    pub ip: String,
    /// Its `User-Agent`, when sent as text.
    pub user_agent: Option<String>,
}

impl Caller {
    /// The service's view of it.
    pub fn client(&self) -> service::auth::Client<'_> {
        service::auth::Client {
            ip: &self.ip,
            user_agent: self.user_agent.as_deref(),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Caller { ip, user_agent })
    }
}

/// The caller by bearer token, else by the console's session cookie.
async fn request_actor(parts: &Parts, state: &AppState) -> Result<Option<Actor>, ApiError> {
    if let Some(actor) = bearer_actor(parts, state).await? {
        return Ok(Some(actor));
    }
    cookie_actor(parts, state).await
}

/// Reads and checks the session cookie; a write must carry its CSRF token too.
async fn cookie_actor(parts: &Parts, state: &AppState) -> Result<Option<Actor>, ApiError> {
    let Some(token) = cookies::get(&parts.headers, cookies::SESSION) else {
        return Ok(None);
    };
    let (actor, _user) = service::auth::authenticate_cookie(&state.db, token).await?;
    if !parts.method.is_safe() {
        let given = parts
            .headers
            .get(cookies::CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !service::auth::csrf_matches(&state.vault, token, given) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "this write came with the session cookie but without its CSRF token; send X-CSRF-Token",
            )
            .with_field("X-CSRF-Token"));
        }
    }
    Ok(Some(actor))
}

/// Reads and checks `Authorization: Bearer ...`.
async fn bearer_actor(parts: &Parts, state: &AppState) -> Result<Option<Actor>, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the Authorization header is not valid text",
        )
    })?;
    let token = text
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "use Authorization: Bearer <token>",
            )
        })?;
    let (actor, _user) = service::auth::authenticate(&state.db, token).await?;
    Ok(Some(actor))
}

fn missing_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "authentication required: send Authorization: Bearer <token> (or sign in to the console)",
    )
}

/// Any authenticated caller.
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        request_actor(parts, state)
            .await?
            .map(Auth)
            .ok_or_else(missing_credentials)
    }
}

/// A caller who may read admin data (admin or staff).
pub struct StaffAuth(pub Actor);

impl FromRequestParts<AppState> for StaffAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Auth(actor) = Auth::from_request_parts(parts, state).await?;
        actor.require_staff()?;
        service::two_factor::enforce_staff_policy(&state.db, &actor).await?;
        Ok(StaffAuth(actor))
    }
}

/// A caller who may change admin data (admin).
pub struct AdminAuth(pub Actor);

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Auth(actor) = Auth::from_request_parts(parts, state).await?;
        actor.require_admin()?;
        service::two_factor::enforce_staff_policy(&state.db, &actor).await?;
        Ok(AdminAuth(actor))
    }
}

/// An optional caller, for public routes that show more to staff; a bad token is still
/// 401, but an ended console cookie only makes the caller anonymous (the page still works).
pub struct MaybeAuth(pub Option<Actor>);

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(actor) = bearer_actor(parts, state).await? {
            return Ok(MaybeAuth(Some(actor)));
        }
        Ok(MaybeAuth(cookie_actor(parts, state).await.ok().flatten()))
    }
}
