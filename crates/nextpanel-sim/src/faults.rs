//! Fault-injection settings: what the simulator does wrong, on purpose.
//!
//! The settings are plain data, changed as a whole or by a JSON patch
//! (`POST /_sim/faults`). The request pipeline in `server.rs` applies them to
//! everything under `/api`; the control API under `/_sim` is never faulted so
//! a test can always turn a fault off again.

use serde::{Deserialize, Serialize};

/// How an offline simulator answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OfflineMode {
    /// Answer every `/api` request with 503 `{"detail": "Service unavailable"}`.
    #[default]
    Unavailable,
    /// Close the connection without any answer, as a dead upstream would.
    Refuse,
}

/// The fault settings in force; `Default` is a healthy, extended server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Fixed delay added before every `/api` answer, in milliseconds.
    pub latency_ms: u64,
    /// Extra random delay of up to this many milliseconds.
    pub jitter_ms: u64,
    /// Probability (0.0 to 1.0) that an `/api` call fails with 500 or 503 without doing anything.
    pub error_rate: f64,
    /// Hold every `/api` request for `hang_ms`, then answer 504 without doing anything.
    pub timeout: bool,
    /// How long `timeout` holds a request, in milliseconds.
    pub hang_ms: u64,
    /// Refuse service on all of `/api`, health included.
    pub offline: bool,
    /// How `offline` refuses.
    pub offline_mode: OfflineMode,
    /// Perform every write, then close the connection without answering.
    pub lost_response: bool,
    /// Behave like a deployed server: no extensions advertised or honoured.
    pub baseline: bool,
}

/// Default hold time for the `timeout` fault: longer than any client timeout.
pub const DEFAULT_HANG_MS: u64 = 120_000;

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            jitter_ms: 0,
            error_rate: 0.0,
            timeout: false,
            hang_ms: DEFAULT_HANG_MS,
            offline: false,
            offline_mode: OfflineMode::Unavailable,
            lost_response: false,
            baseline: false,
        }
    }
}

/// A partial update of [`Faults`]: only the keys present change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsPatch {
    /// New `latency_ms`.
    pub latency_ms: Option<u64>,
    /// New `jitter_ms`.
    pub jitter_ms: Option<u64>,
    /// New `error_rate`, 0.0 to 1.0.
    pub error_rate: Option<f64>,
    /// New `timeout`.
    pub timeout: Option<bool>,
    /// New `hang_ms`.
    pub hang_ms: Option<u64>,
    /// New `offline`.
    pub offline: Option<bool>,
    /// New `offline_mode`.
    pub offline_mode: Option<OfflineMode>,
    /// New `lost_response`.
    pub lost_response: Option<bool>,
    /// New `baseline`.
    pub baseline: Option<bool>,
}

impl FaultsPatch {
    /// Parses a JSON patch, naming the offending key or value on error.
    pub fn from_json(value: serde_json::Value) -> Result<Self, String> {
        let patch: Self =
            serde_json::from_value(value).map_err(|e| format!("Invalid fault settings: {e}"))?;
        if let Some(rate) = patch.error_rate {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!(
                    "error_rate must be between 0.0 and 1.0, got {rate}"
                ));
            }
        }
        Ok(patch)
    }

    /// Applies the keys present to `faults`.
    pub fn apply(&self, faults: &mut Faults) {
        if let Some(v) = self.latency_ms {
            faults.latency_ms = v;
        }
        if let Some(v) = self.jitter_ms {
            faults.jitter_ms = v;
        }
        if let Some(v) = self.error_rate {
            faults.error_rate = v;
        }
        if let Some(v) = self.timeout {
            faults.timeout = v;
        }
        if let Some(v) = self.hang_ms {
            faults.hang_ms = v;
        }
        if let Some(v) = self.offline {
            faults.offline = v;
        }
        if let Some(v) = self.offline_mode {
            faults.offline_mode = v;
        }
        if let Some(v) = self.lost_response {
            faults.lost_response = v;
        }
        if let Some(v) = self.baseline {
            faults.baseline = v;
        }
    }
}

/// The extensions a non-baseline simulator advertises in its health answer.
pub const EXTENSIONS: [&str; 4] = ["idempotency", "lookup", "package", "password"];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_changes_only_present_keys() {
        let mut faults = Faults {
            latency_ms: 7,
            ..Faults::default()
        };
        FaultsPatch::from_json(json!({"offline": true, "offline_mode": "refuse"}))
            .unwrap()
            .apply(&mut faults);
        assert!(faults.offline);
        assert_eq!(faults.offline_mode, OfflineMode::Refuse);
        assert_eq!(faults.latency_ms, 7);
    }

    #[test]
    fn patch_rejects_unknown_keys_and_bad_rates() {
        assert!(FaultsPatch::from_json(json!({"ofline": true})).is_err());
        assert!(FaultsPatch::from_json(json!({"error_rate": 1.5})).is_err());
        assert!(FaultsPatch::from_json(json!({"error_rate": -0.1})).is_err());
    }
}
