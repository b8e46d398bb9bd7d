//! The simulator's start-up configuration: credentials with permission levels
//! and IP allow-lists, the control token, initial faults, the state file and
//! the billing URL for license callbacks.
//!
//! Secrets never appear in `Debug` output, so a config can be logged safely.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::faults::Faults;
use crate::random;

/// What a credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionLevel {
    /// Full access, as nextpanel-bill needs.
    Billing,
    /// May only read (`GET`); writes answer 403.
    ReadOnly,
}

impl PermissionLevel {
    /// Parses `billing` or `read_only` (also `read-only`).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "billing" => Ok(Self::Billing),
            "read_only" | "read-only" => Ok(Self::ReadOnly),
            other => Err(format!(
                "unknown permission level '{other}' (expected billing or read_only)"
            )),
        }
    }
}

/// One entry of an IP allow-list: an address or a CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRule {
    network: IpAddr,
    prefix: u8,
}

impl IpRule {
    /// Parses `10.0.0.5`, `10.0.0.0/8` or `::1`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("invalid IP address '{addr}' in allow-list"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("invalid prefix length '{p}' in allow-list"))?,
        };
        Ok(Self { network, prefix })
    }

    /// True when `ip` lies inside this rule.
    pub fn matches(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (canonical(self.network), ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(
                u128::from(u32::from(net)),
                u128::from(u32::from(ip)),
                32,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(u128::from(net), u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

impl fmt::Display for IpRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

// IPv4 clients of a dual-stack listener show up as ::ffff:a.b.c.d.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_eq(a: u128, b: u128, bits: u8, prefix: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = u32::from(bits - prefix);
    (a >> shift) == (b >> shift)
}

/// An API key pair the simulator accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The `X-API-Key` value, `npk_...`.
    pub api_key: String,
    /// The `X-API-Secret` value, `nps_...`; also the license-callback signing key.
    pub api_secret: String,
    /// What the key may do.
    pub level: PermissionLevel,
    /// Client addresses allowed to use the key; empty means any.
    pub allowed_ips: Vec<IpRule>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("api_key", &self.api_key)
            .field("api_secret", &"<redacted>")
            .field("level", &self.level)
            .field("allowed_ips", &self.allowed_ips)
            .finish()
    }
}

impl Credential {
    /// A full-access credential.
    pub fn billing(api_key: impl Into<String>, api_secret: impl Into<String>) -> Self {
        Self::new(api_key, api_secret, PermissionLevel::Billing)
    }

    /// A read-only credential.
    pub fn read_only(api_key: impl Into<String>, api_secret: impl Into<String>) -> Self {
        Self::new(api_key, api_secret, PermissionLevel::ReadOnly)
    }

    /// A credential with the given level and no IP restriction.
    pub fn new(
        api_key: impl Into<String>,
        api_secret: impl Into<String>,
        level: PermissionLevel,
    ) -> Self {
        Self {
            api_key: api_key.into(),
            api_secret: api_secret.into(),
            level,
            allowed_ips: Vec::new(),
        }
    }

    /// A fresh random pair in the NextPanel format: `npk_` + 43, `nps_` + 64 base64url chars.
    pub fn generate(level: PermissionLevel) -> io::Result<Self> {
        Ok(Self::new(
            format!("npk_{}", random::base64url_chars(43)?),
            format!("nps_{}", random::base64url_chars(64)?),
            level,
        ))
    }

    /// Restricts the key to the given addresses or CIDR blocks.
    pub fn with_allowed_ips<I, S>(mut self, ips: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.allowed_ips = ips
            .into_iter()
            .map(|ip| IpRule::parse(ip.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// Parses the CLI form `KEY:SECRET:LEVEL[:IP,IP,...]`.
    pub fn parse_spec(spec: &str) -> Result<Self, String> {
        let mut parts = spec.splitn(4, ':');
        let (Some(key), Some(secret), Some(level)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err("expected KEY:SECRET:LEVEL[:ALLOWED_IPS]".to_owned());
        };
        if key.is_empty() || secret.is_empty() {
            return Err("API key and secret must not be empty".to_owned());
        }
        let credential = Self::new(key, secret, PermissionLevel::parse(level)?);
        match parts.next() {
            Some(ips) if !ips.is_empty() => credential.with_allowed_ips(ips.split(',')),
            _ => Ok(credential),
        }
    }

    /// True when the key and secret have the documented NextPanel shape.
    pub fn has_standard_format(&self) -> bool {
        fn shaped(text: &str, prefix: &str, len: usize) -> bool {
            text.strip_prefix(prefix).is_some_and(|rest| {
                rest.len() == len
                    && rest
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            })
        }
        shaped(&self.api_key, "npk_", 43) && shaped(&self.api_secret, "nps_", 64)
    }
}

/// Everything the simulator needs to start.
#[derive(Clone)]
pub struct SimConfig {
    /// Accepted credentials; the first one also signs license callbacks.
    pub credentials: Vec<Credential>,
    /// Bearer token guarding `/_sim/...`.
    pub control_token: String,
    /// Fault settings at start, and what `POST /_sim/reset` returns to.
    pub faults: Faults,
    /// JSON file to load state from and save it to after each change.
    pub state_file: Option<PathBuf>,
    /// Base URL of nextpanel-bill for license validation and usage reports.
    pub billing_url: Option<String>,
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("credentials", &self.credentials)
            .field("control_token", &"<redacted>")
            .field("faults", &self.faults)
            .field("state_file", &self.state_file)
            .field("billing_url", &self.billing_url)
            .finish()
    }
}

impl SimConfig {
    /// A config accepting one full-access pair, with a random control token.
    pub fn new(api_key: impl Into<String>, api_secret: impl Into<String>) -> io::Result<Self> {
        Ok(Self {
            credentials: vec![Credential::billing(api_key, api_secret)],
            control_token: random_token()?,
            faults: Faults::default(),
            state_file: None,
            billing_url: None,
        })
    }

    /// A config with a random full-access pair and a random control token.
    pub fn random() -> io::Result<Self> {
        let credential = Credential::generate(PermissionLevel::Billing)?;
        Self::new(credential.api_key, credential.api_secret)
    }

    /// Adds another accepted credential.
    pub fn with_credential(mut self, credential: Credential) -> Self {
        self.credentials.push(credential);
        self
    }

    /// Sets the control token.
    pub fn with_control_token(mut self, token: impl Into<String>) -> Self {
        self.control_token = token.into();
        self
    }

    /// Sets the fault settings at start.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Starts in baseline mode (no extensions), like a deployed server.
    pub fn with_baseline(mut self, baseline: bool) -> Self {
        self.faults.baseline = baseline;
        self
    }

    /// Persists state to this JSON file.
    pub fn with_state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// Validates licenses against this nextpanel-bill base URL.
    pub fn with_billing_url(mut self, url: impl Into<String>) -> Self {
        self.billing_url = Some(url.into());
        self
    }

    /// The credential used to sign license callbacks: the first one.
    pub fn primary_credential(&self) -> Option<&Credential> {
        self.credentials.first()
    }
}

/// A random control token: 43 base64url characters (256 bits).
pub fn random_token() -> io::Result<String> {
    random::base64url_chars(43)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generated_credentials_have_the_standard_format() {
        let credential = Credential::generate(PermissionLevel::Billing).unwrap();
        assert!(credential.has_standard_format());
        assert_eq!(credential.api_key.len(), 4 + 43);
        assert_eq!(credential.api_secret.len(), 4 + 64);
    }

    #[test]
    fn spec_parses_level_and_ips() {
        let c = Credential::parse_spec("npk_a:nps_b:read_only:10.0.0.0/8,::1").unwrap();
        assert_eq!(c.level, PermissionLevel::ReadOnly);
        assert!(c.allowed_ips[0].matches("10.1.2.3".parse().unwrap()));
        assert!(!c.allowed_ips[0].matches("11.1.2.3".parse().unwrap()));
        assert!(c.allowed_ips[1].matches("::1".parse().unwrap()));
        assert!(Credential::parse_spec("npk_a:nps_b").is_err());
        assert!(Credential::parse_spec("npk_a:nps_b:root").is_err());
        assert!(Credential::parse_spec("npk_a:nps_b:billing:300.1.1.1").is_err());
    }

    #[test]
    fn mapped_ipv4_matches_ipv4_rule() {
        let rule = IpRule::parse("127.0.0.1").unwrap();
        assert!(rule.matches("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!rule.matches("127.0.0.2".parse().unwrap()));
        assert!(IpRule::parse("0.0.0.0/0")
            .unwrap()
            .matches("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn debug_hides_secrets() {
        let config = SimConfig::new("npk_visible", "nps_hidden").unwrap();
        let text = format!("{config:?}");
        assert!(text.contains("npk_visible"));
        assert!(!text.contains("nps_hidden"));
        assert!(!text.contains(&config.control_token));
    }
}
