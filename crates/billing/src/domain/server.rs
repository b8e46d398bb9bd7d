//! NextPanel servers: their address, capacity and health rules.

use super::{text, Invalid};

/// A validated server base URL: http or https, a host, no credentials, no query;
/// stored without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// Parses and normalises a base URL.
    pub fn parse(raw: &str) -> Result<BaseUrl, Invalid> {
        let value = raw.trim();
        let bad = |m: &str| Err(Invalid::new("base_url", m));
        if value.len() > 2048 {
            return bad("must be at most 2048 characters");
        }
        let Some((scheme, rest)) = value.split_once("://") else {
            return bad("must be an http:// or https:// URL, e.g. https://panel1.example.com");
        };
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return bad("must use http or https");
        }
        let authority = rest.split('/').next().unwrap_or("");
        if authority.contains('@') {
            return bad("must not contain credentials; give the API key and secret separately");
        }
        if rest.contains('?') || rest.contains('#') {
            return bad("must not contain a query or fragment");
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("must not contain spaces");
        }
        let host = if let Some(v6) = authority.strip_prefix('[') {
            v6.split(']').next().unwrap_or("")
        } else {
            authority.rsplit_once(':').map_or(authority, |(h, _)| h)
        };
        if host.is_empty() {
            return bad("must name a host");
        }
        if let Some(port) = authority.strip_prefix('[').map_or_else(
            || authority.rsplit_once(':').map(|(_, p)| p),
            |v6| v6.split_once("]:").map(|(_, p)| p),
        ) {
            if port.parse::<u16>().map_or(true, |p| p == 0) {
                return bad("has an invalid port");
            }
        }
        Ok(BaseUrl(format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            rest.trim_end_matches('/')
        )))
    }

    /// The URL text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a server name (1 to 100 characters).
pub fn name(raw: &str) -> Result<String, Invalid> {
    text::bounded("name", raw, 1, 100)
}

/// Checks a capacity: how many accounts the server may hold, at least 1.
pub fn capacity(raw: i64) -> Result<i64, Invalid> {
    if !(1..=1_000_000).contains(&raw) {
        return Err(Invalid::new("capacity", "must be between 1 and 1000000"));
    }
    Ok(raw)
}

/// Checks tags: at most 20, each 1 to 40 characters.
pub fn tags(raw: &[String]) -> Result<Vec<String>, Invalid> {
    if raw.len() > 20 {
        return Err(Invalid::new("tags", "at most 20 tags"));
    }
    raw.iter()
        .map(|t| text::bounded("tags", t, 1, 40))
        .collect()
}

/// Checks an API key or secret: printable, no spaces, 8 to 512 characters.
pub fn credential(field: &'static str, raw: &str) -> Result<String, Invalid> {
    let value = raw.trim();
    if value.len() < 8 || value.len() > 512 || !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Invalid::new(
            field,
            "must be 8 to 512 printable characters without spaces",
        ));
    }
    Ok(value.to_owned())
}

/// Shows only the start and end of an API key, e.g. `npk_AbCd…wXyZ`.
pub fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "****".to_owned();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// Percentage of capacity in use, rounded down.
pub fn utilization_percent(current: i64, capacity: i64) -> i64 {
    if capacity <= 0 {
        return 100;
    }
    (current.max(0).saturating_mul(100)) / capacity
}

/// Online/offline hysteresis: how many consecutive results flip the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthPolicy {
    /// Consecutive failures that take an online server offline.
    pub failures_to_offline: i64,
    /// Consecutive successes that bring an offline server back.
    pub successes_to_online: i64,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            failures_to_offline: 3,
            successes_to_online: 2,
        }
    }
}

/// A server's health counters as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthState {
    /// Whether the server takes new accounts as far as health goes.
    pub online: bool,
    /// Consecutive failed checks.
    pub failures: i64,
    /// Consecutive successful checks.
    pub successes: i64,
}

impl HealthPolicy {
    /// The state after one more check result.
    pub fn next(self, state: HealthState, ok: bool) -> HealthState {
        let (failures, successes) = if ok {
            (0, state.successes + 1)
        } else {
            (state.failures + 1, 0)
        };
        let online = if state.online {
            failures < self.failures_to_offline
        } else {
            successes >= self.successes_to_online
        };
        HealthState {
            online,
            failures,
            successes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let ok = |s: &str| BaseUrl::parse(s).map(|u| u.as_str().to_owned());
        assert_eq!(
            ok("https://panel1.example.com/"),
            Ok("https://panel1.example.com".into())
        );
        assert_eq!(
            ok("HTTP://10.0.0.5:3000"),
            Ok("http://10.0.0.5:3000".into())
        );
        assert_eq!(
            ok("http://[::1]:8080/np"),
            Ok("http://[::1]:8080/np".into())
        );
        for bad in [
            "ftp://x",
            "panel.example.com",
            "https://user:pw@panel",
            "https://",
            "https://h:0",
            "https://h:99999",
            "https://h/?a=1",
            "https://h x",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn masks_and_limits() {
        assert_eq!(mask_key("npk_abcdefghijklmnopqrstuvwxyz"), "npk_abcd…wxyz");
        assert_eq!(mask_key("short"), "****");
        assert!(capacity(0).is_err());
        assert_eq!(utilization_percent(50, 200), 25);
        assert_eq!(utilization_percent(3, 3), 100);
        assert!(credential("api_key", "has space in it").is_err());
    }

    #[test]
    fn hysteresis() {
        let p = HealthPolicy::default();
        let mut s = HealthState {
            online: true,
            failures: 0,
            successes: 0,
        };
        s = p.next(s, false);
        s = p.next(s, false);
        assert!(s.online, "two failures are not enough");
        s = p.next(s, false);
        assert!(!s.online);
        s = p.next(s, true);
        assert!(!s.online, "one success is not enough");
        s = p.next(s, true);
        assert!(s.online);
        s = p.next(s, false);
        s = p.next(s, true);
        assert_eq!(s.failures, 0, "a success resets the failure count");
    }
}
