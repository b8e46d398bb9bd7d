//! The HTTP client of the nextpanel-bill API: base URL and bearer token from the flags, the
//! environment or the stored login; one refresh of an expired token; the API's errors as
//! [`ApiError`].

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::credentials::Credentials;

/// Where the server is and who we are, shared by every command that talks to the API.
#[derive(Args, Clone, Default)]
pub struct ApiArgs {
    /// URL of the nextpanel-bill server [default: the one saved by `login`].
    #[arg(long, global = true, env = "NEXTPANEL_BILL_URL")]
    pub url: Option<String>,
    /// Bearer token or API key [default: the one saved by `login`].
    #[arg(
        long,
        global = true,
        env = "NEXTPANEL_BILL_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

/// An error answer of the API: `{"error": {"code", "message", "field"}}`.
#[derive(Debug)]
pub struct ApiError {
    /// What went wrong, for people.
    pub message: String,
    /// The input field concerned.
    pub field: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(field) = &self.field {
            write!(f, " (field: {field})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn from_body(status: StatusCode, body: &Value) -> ApiError {
        let err = &body["error"];
        let message = err["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("the server answered {status}"));
        ApiError {
            message,
            field: err["field"].as_str().map(str::to_owned),
        }
    }
}

/// How calls are authenticated.
enum Auth {
    /// Anonymous (login, health).
    None,
    /// A token from `--token` or the environment: nothing to refresh.
    Fixed(String),
    /// The stored login, refreshed and saved back when it has expired.
    Saved(Credentials),
}

/// A status and a JSON body (`null` when the answer had none).
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Body.
    pub body: Value,
}

/// A client of one nextpanel-bill server.
pub struct Client {
    http: reqwest::Client,
    base: String,
    auth: Auth,
}

fn http() -> anyhow::Result<reqwest::Client> {
    // The provision call waits server-side for the panel, so the overall timeout is generous.
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(180))
        .user_agent(concat!("nextpanel-bill-cli/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

fn normalise(url: &str) -> anyhow::Result<String> {
    let url = url.trim().trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        anyhow::bail!("the URL must start with http:// or https:// (got {url:?})");
    }
    Ok(url.to_owned())
}

impl Client {
    /// A client without credentials.
    pub fn anonymous(url: &str) -> anyhow::Result<Client> {
        Ok(Client {
            http: http()?,
            base: normalise(url)?,
            auth: Auth::None,
        })
    }

    /// A client from the flags/environment, else the stored login.
    pub fn from_args(args: &ApiArgs) -> anyhow::Result<Client> {
        let saved = Credentials::load()?;
        let url = match (&args.url, &saved) {
            (Some(url), _) => url.clone(),
            (None, Some(c)) => c.url.clone(),
            (None, None) => anyhow::bail!(
                "not logged in: run `nextpanel-bill login --url URL`, or set NEXTPANEL_BILL_URL and NEXTPANEL_BILL_TOKEN"
            ),
        };
        let base = normalise(&url)?;
        let auth = match (&args.token, saved) {
            (Some(token), _) => Auth::Fixed(token.clone()),
            // The stored token belongs to the server it was issued by, never to another one.
            (None, Some(c)) if normalise(&c.url).ok().as_deref() == Some(base.as_str()) => {
                Auth::Saved(c)
            }
            _ => Auth::None,
        };
        Ok(Client {
            http: http()?,
            base,
            auth,
        })
    }

    /// Base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Absolute URL of an API path, or the URL itself when it is already absolute.
    pub fn url_of(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    fn token(&self) -> Option<&str> {
        match &self.auth {
            Auth::None => None,
            Auth::Fixed(t) => Some(t),
            Auth::Saved(c) => Some(&c.access_token),
        }
    }

    async fn once(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let mut req = self.http.request(method.clone(), self.url_of(path));
        if let Some(token) = self.token() {
            req = req.bearer_auth(token);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach nextpanel-bill at {}", self.base))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .with_context(|| format!("the answer of {} broke off", self.base))?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                // Not JSON (a proxy's error page, say): keep a little of it for the message.
                let text = String::from_utf8_lossy(&bytes);
                serde_json::json!({"error": {"code": "unexpected_answer",
                    "message": format!("the server answered {status}: {}", text.chars().take(200).collect::<String>())}})
            })
        };
        Ok(Answer { status, body })
    }

    /// Exchanges the stored refresh token for a new pair and saves it.
    async fn refresh(&mut self) -> anyhow::Result<bool> {
        let Auth::Saved(creds) = &self.auth else {
            return Ok(false);
        };
        let body = serde_json::json!({"refresh_token": creds.refresh_token});
        let answer = self
            .http
            .post(self.url_of("/api/v1/auth/refresh"))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("cannot reach nextpanel-bill at {}", self.base))?;
        if !answer.status().is_success() {
            return Ok(false);
        }
        let pair: Value = answer.json().await?;
        let (Some(access), Some(refresh)) = (
            pair["access_token"].as_str(),
            pair["refresh_token"].as_str(),
        ) else {
            return Ok(false);
        };
        let creds = Credentials {
            url: creds.url.clone(),
            access_token: access.to_owned(),
            refresh_token: refresh.to_owned(),
        };
        creds.save()?;
        self.auth = Auth::Saved(creds);
        Ok(true)
    }

    /// Sends a request; any status (success or not) comes back as an [`Answer`], after one
    /// refresh of an expired stored login.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let answer = self.once(&method, path, body, headers).await?;
        if answer.status == StatusCode::UNAUTHORIZED && self.refresh().await? {
            return self.once(&method, path, body, headers).await;
        }
        Ok(answer)
    }

    /// Sends a request and turns an error status into an [`ApiError`].
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let answer = self.call(method, path, body, headers).await?;
        if answer.status.is_success() {
            return Ok(answer);
        }
        let mut err = ApiError::from_body(answer.status, &answer.body);
        if answer.status == StatusCode::UNAUTHORIZED && !matches!(self.auth, Auth::None) {
            err.message
                .push_str("; log in again with `nextpanel-bill login`");
        } else if answer.status == StatusCode::UNAUTHORIZED && path != "/api/v1/auth/login" {
            err.message
                .push_str("; log in first with `nextpanel-bill login --url URL`");
        }
        Err(err.into())
    }

    /// `GET` returning the body.
    pub async fn get(&mut self, path: &str) -> anyhow::Result<Value> {
        Ok(self.send(Method::GET, path, None, &[]).await?.body)
    }

    /// `POST` with a JSON body, returning the body.
    pub async fn post(&mut self, path: &str, body: &Value) -> anyhow::Result<Value> {
        Ok(self.send(Method::POST, path, Some(body), &[]).await?.body)
    }

    /// `DELETE`, returning the body.
    pub async fn delete(&mut self, path: &str) -> anyhow::Result<Value> {
        Ok(self.send(Method::DELETE, path, None, &[]).await?.body)
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds `?a=1&b=2` from the pairs whose value is present.
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_name_the_field() {
        let body = serde_json::json!({"error": {"code": "validation_failed", "message": "bad email", "field": "email"}});
        let err = ApiError::from_body(StatusCode::UNPROCESSABLE_ENTITY, &body);
        assert_eq!(err.to_string(), "bad email (field: email)");
    }

    #[test]
    fn queries_are_encoded_and_skip_absent_values() {
        assert_eq!(
            query(&[("search", Some("a b@x.com".into())), ("state", None)]),
            "?search=a%20b%40x.com"
        );
        assert_eq!(query(&[("state", None)]), "");
    }
}
