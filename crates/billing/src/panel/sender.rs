//! The one place that sends HTTP requests to a NextPanel server: it builds the
//! URL, adds the credentials, applies the timeout, reads the answer, turns
//! failures into [`PanelError`]s and logs one line per call.
//!
//! The log line has method, path, status, latency and outcome — never
//! headers or bodies. Every error message is scrubbed of the API key, the
//! API secret and the call's own secrets (passwords) before it leaves here.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, LOCATION};
use reqwest::{Method, Url};

use super::classify;
use super::error::{PanelConfigError, PanelError, PanelErrorKind};

/// Largest answer read, so a misbehaving server cannot exhaust our memory.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// One request to send: drivers describe it, the sender carries it out.
pub(crate) struct Call<'a> {
    /// HTTP method.
    pub method: Method,
    /// Path segments appended to the base URL (each percent-encoded).
    pub path: &'a [&'a str],
    /// Query parameters.
    pub query: &'a [(&'a str, &'a str)],
    /// JSON body, already serialised.
    pub body: Option<Vec<u8>>,
    /// Whole-call timeout.
    pub timeout: Duration,
    /// Whether to send the API key pair (not for health).
    pub authenticated: bool,
    /// `Idempotency-Key` header value.
    pub idempotency_key: Option<&'a str>,
    /// Secrets in this call's body that must never appear in an error.
    pub secrets: &'a [&'a str],
}

impl<'a> Call<'a> {
    /// An authenticated call without body, query or extra secrets.
    pub fn new(method: Method, path: &'a [&'a str], timeout: Duration) -> Self {
        Self {
            method,
            path,
            query: &[],
            body: None,
            timeout,
            authenticated: true,
            idempotency_key: None,
            secrets: &[],
        }
    }

    /// The same call with a JSON body.
    pub fn json(mut self, body: &serde_json::Value) -> Self {
        self.body = Some(body.to_string().into_bytes());
        self
    }
}

/// The HTTP client for one server, holding its address and credentials.
pub(crate) struct Sender {
    http: reqwest::Client,
    base: Url,
    /// The base URL as shown in messages (no trailing slash).
    shown_base: String,
    api_key: HeaderValue,
    api_secret: HeaderValue,
}

impl Sender {
    /// A sender for `base_url` with the given connect timeout.
    pub fn new(
        base_url: &str,
        api_key: &str,
        api_secret: &str,
        connect_timeout: Duration,
    ) -> Result<Self, PanelConfigError> {
        let base = parse_base(base_url)?;
        let header = |value: &str, what: &'static str| {
            let mut header = HeaderValue::from_str(value.trim())
                .map_err(|_| PanelConfigError::InvalidCredentials(what))?;
            if header.is_empty() {
                return Err(PanelConfigError::InvalidCredentials(what));
            }
            // Keeps the value out of any Debug output of the headers.
            header.set_sensitive(true);
            Ok(header)
        };
        let api_key = header(api_key, "the API key is empty or not printable ASCII")?;
        let api_secret = header(api_secret, "the API secret is empty or not printable ASCII")?;
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(connect_timeout)
            // A redirect would forward X-API-Secret to wherever it points, and
            // turn a POST into a GET: report it instead of following it.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("nextpanel-bill/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PanelConfigError::HttpClient(e.to_string()))?;
        let shown_base = base.as_str().trim_end_matches('/').to_owned();
        Ok(Self {
            http,
            base,
            shown_base,
            api_key,
            api_secret,
        })
    }

    /// The base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.shown_base
    }

    /// The API key, for Debug output (shortened: the key alone is no secret,
    /// but it is half a credential).
    pub fn key_hint(&self) -> String {
        let key = self.api_key.to_str().unwrap_or("");
        classify::truncate(key, 8)
    }

    /// Sends `call`; a 2xx answer's body goes through `parse`.
    ///
    /// `parse` describes a bad body in words (without echoing secrets); the
    /// sender turns that into an `UnexpectedResponse` error.
    pub async fn send<T>(
        &self,
        call: Call<'_>,
        parse: impl FnOnce(&[u8]) -> Result<T, String>,
    ) -> Result<T, PanelError> {
        let started = Instant::now();
        let url = self.url(&call);
        let path = url.path().to_owned();
        let method = call.method.clone();
        let result = self.exchange(&call, url).await;
        let result = match result {
            Ok((status, body)) => parse(&body).map_err(|problem| {
                PanelError::new(
                    PanelErrorKind::UnexpectedResponse,
                    format!("the server answered {status} with an unexpected body: {problem}"),
                )
                .with_status(status)
            }),
            Err(error) => Err(error),
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &result {
            Ok(_) => tracing::debug!(%method, %path, latency_ms, "panel call ok"),
            Err(e) => tracing::warn!(
                %method,
                %path,
                status = e.status,
                latency_ms,
                kind = e.kind.as_str(),
                "panel call failed"
            ),
        }
        result.map_err(|e| self.scrub(e, call.secrets))
    }

    /// The request and response, as (status, body) of a 2xx answer.
    async fn exchange(&self, call: &Call<'_>, url: Url) -> Result<(u16, Vec<u8>), PanelError> {
        let mut headers = HeaderMap::new();
        if call.authenticated {
            headers.insert("x-api-key", self.api_key.clone());
            headers.insert("x-api-secret", self.api_secret.clone());
        }
        if let Some(key) = call.idempotency_key {
            // Dropping a bad key silently would lose the protection it promises.
            let value = HeaderValue::from_str(key).map_err(|_| {
                PanelError::new(
                    PanelErrorKind::Rejected,
                    "the idempotency key is not printable ASCII, so it cannot be sent",
                )
            })?;
            headers.insert("idempotency-key", value);
        }
        let mut request = self
            .http
            .request(call.method.clone(), url)
            .timeout(call.timeout);
        if let Some(body) = &call.body {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            request = request.body(body.clone());
        }
        let transport =
            |e: reqwest::Error| classify::from_transport(&e, &self.shown_base, call.timeout);
        let mut response = request.headers(headers).send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(PanelError::new(
                    PanelErrorKind::UnexpectedResponse,
                    format!("the server's answer is larger than {MAX_BODY_BYTES} bytes"),
                )
                .with_status(status));
            }
            body.extend_from_slice(&chunk);
        }
        if (200..300).contains(&status) {
            Ok((status, body))
        } else {
            Err(classify::from_status(status, &body, location.as_deref()))
        }
    }

    /// The full URL: base path, then the call's segments, then the query.
    fn url(&self, call: &Call<'_>) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(call.path);
        }
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(call.query);
        }
        url
    }

    /// The error with every credential and call secret removed from its message.
    fn scrub(&self, error: PanelError, call_secrets: &[&str]) -> PanelError {
        let mut secrets: Vec<&str> = call_secrets.to_vec();
        secrets.extend(self.api_secret.to_str().ok());
        secrets.extend(self.api_key.to_str().ok());
        error.redacted(&secrets)
    }
}

/// Checks the base URL: http or https, a host, no credentials, query or fragment.
fn parse_base(text: &str) -> Result<Url, PanelConfigError> {
    let invalid = |why: &str| PanelConfigError::InvalidBaseUrl(why.to_owned());
    let url = Url::parse(text.trim()).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("a host is required"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials do not belong in the URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a query or fragment is not allowed"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sender(base: &str) -> Sender {
        Sender::new(base, "npk_key", "nps_secret", Duration::from_secs(1)).unwrap()
    }

    #[test]
    fn urls_keep_the_base_path_and_encode_segments() {
        let s = sender("https://panel.example.com/np/");
        assert_eq!(s.base(), "https://panel.example.com/np");
        let call = Call {
            query: &[("username", "a b")],
            ..Call::new(Method::GET, &["api", "v1", "x/y"], Duration::from_secs(1))
        };
        assert_eq!(
            s.url(&call).as_str(),
            "https://panel.example.com/np/api/v1/x%2Fy?username=a+b"
        );
        let plain = sender("http://10.0.0.5:3000");
        let call = Call::new(Method::GET, &["api", "health"], Duration::from_secs(1));
        assert_eq!(plain.url(&call).as_str(), "http://10.0.0.5:3000/api/health");
    }

    #[test]
    fn bad_base_urls_and_credentials_are_refused() {
        let timeout = Duration::from_secs(1);
        for bad in ["ftp://x", "not a url", "https://u:p@x", "https://x/?a=1"] {
            assert!(Sender::new(bad, "k", "s", timeout).is_err(), "{bad}");
        }
        assert!(Sender::new("https://x", "", "s", timeout).is_err());
        assert!(Sender::new("https://x", "k", "line\nbreak", timeout).is_err());
    }
}
