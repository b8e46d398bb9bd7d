//! The simulator's shared state: accounts, idempotency records, revocations,
//! fault settings and request counters, plus the optional JSON state file.
//!
//! One `std::sync::Mutex` guards the accounts and is never held across an
//! `.await`, so every change is atomic; the state file is rewritten (to a
//! temporary file, then renamed) while that lock is held, so the file always
//! matches some moment of the in-memory state.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::SimConfig;
use crate::error::{ApiError, ApiResult};
use crate::faults::{Faults, FaultsPatch};
use crate::model::Account;

/// How long an idempotency key is remembered.
const IDEMPOTENCY_TTL_HOURS: i64 = 24;

/// A create answer saved under an idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The API key that sent it: keys are scoped per credential.
    pub api_key: String,
    /// The `Idempotency-Key` header value.
    pub key: String,
    /// The HTTP status first answered.
    pub status: u16,
    /// The body first answered.
    pub body: Value,
    /// When it was first answered.
    pub created_at: DateTime<Utc>,
}

/// Everything that survives a restart when a state file is configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Data {
    /// The id the next account gets.
    pub next_id: u64,
    /// Accounts in id order.
    pub accounts: Vec<Account>,
    /// Saved create answers.
    #[serde(default)]
    pub idempotency: Vec<IdempotencyRecord>,
    /// API keys revoked at run time.
    #[serde(default)]
    pub revoked_keys: BTreeSet<String>,
}

impl Default for Data {
    fn default() -> Self {
        Self {
            next_id: 1,
            accounts: Vec::new(),
            idempotency: Vec::new(),
            revoked_keys: BTreeSet::new(),
        }
    }
}

impl Data {
    /// The account with this id.
    pub fn account(&self, id: u64) -> ApiResult<&Account> {
        self.accounts
            .iter()
            .find(|a| a.id == id)
            .ok_or_else(ApiError::account_not_found)
    }

    /// The account with this id, for changing.
    pub fn account_mut(&mut self, id: u64) -> ApiResult<&mut Account> {
        self.accounts
            .iter_mut()
            .find(|a| a.id == id)
            .ok_or_else(ApiError::account_not_found)
    }

    /// The saved answer for this credential and key, forgetting expired ones.
    pub fn idempotent_answer(
        &mut self,
        api_key: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Option<(u16, Value)> {
        let oldest = now - Duration::hours(IDEMPOTENCY_TTL_HOURS);
        self.idempotency.retain(|r| r.created_at > oldest);
        self.idempotency
            .iter()
            .find(|r| r.api_key == api_key && r.key == key)
            .map(|r| (r.status, r.body.clone()))
    }
}

/// Counters for assertions: what clients asked and what was really done.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counters {
    /// Requests per `METHOD /path/template`, faulted ones included.
    pub requests: BTreeMap<String, u64>,
    /// Accounts actually created.
    pub creates_performed: u64,
    /// Create requests answered from the idempotency store.
    pub idempotent_replays: u64,
    /// License validation calls made to the billing URL.
    pub license_validations: u64,
    /// Creations refused because the license was not valid.
    pub license_refusals: u64,
    /// Usage reports that the billing URL accepted.
    pub usage_reports: u64,
    /// Usage reports that failed (logged, not retried).
    pub usage_report_failures: u64,
    /// Responses dropped on purpose by `lost_response` or `offline_mode: refuse`.
    pub dropped_connections: u64,
    /// 5xx answers injected by `error_rate`.
    pub injected_errors: u64,
}

/// The state shared by all handlers.
#[derive(Debug)]
pub struct SimState {
    /// The configuration the simulator started with.
    pub config: SimConfig,
    data: Mutex<Data>,
    faults: Mutex<Faults>,
    counters: Mutex<Counters>,
    billing_url: Mutex<Option<String>>,
    /// HTTP client for license callbacks.
    pub http: reqwest::Client,
}

// A panic while holding a lock cannot leave our data half-changed in a way
// that matters for a simulator, so a poisoned lock is simply taken over.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SimState {
    /// Builds the state, loading the state file when it exists.
    pub fn load(config: SimConfig) -> io::Result<Self> {
        let data = match &config.state_file {
            Some(path) if path.exists() => {
                let text = std::fs::read(path)?;
                serde_json::from_slice(&text).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("state file {}: {e}", path.display()),
                    )
                })?
            }
            _ => Data::default(),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(io::Error::other)?;
        Ok(Self {
            faults: Mutex::new(config.faults.clone()),
            billing_url: Mutex::new(config.billing_url.clone()),
            data: Mutex::new(data),
            counters: Mutex::new(Counters::default()),
            config,
            http,
        })
    }

    /// Reads the data under the lock.
    pub fn read<R>(&self, f: impl FnOnce(&Data) -> R) -> R {
        f(&lock(&self.data))
    }

    /// Changes the data under the lock and saves it when `f` succeeds.
    ///
    /// `f` must check before it changes anything, so an error leaves no trace.
    pub fn change<R>(&self, f: impl FnOnce(&mut Data) -> ApiResult<R>) -> ApiResult<R> {
        let mut data = lock(&self.data);
        let result = f(&mut data)?;
        if let Some(path) = &self.config.state_file {
            if let Err(error) = save(path, &data) {
                tracing::error!(path = %path.display(), %error, "could not save the state file");
                return Err(ApiError::internal());
            }
        }
        Ok(result)
    }

    /// The fault settings in force.
    pub fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    /// Applies a patch to the fault settings and returns the result.
    pub fn patch_faults(&self, patch: &FaultsPatch) -> Faults {
        let mut faults = lock(&self.faults);
        patch.apply(&mut faults);
        faults.clone()
    }

    /// The billing URL for license callbacks, if any.
    pub fn billing_url(&self) -> Option<String> {
        lock(&self.billing_url).clone()
    }

    /// Sets or clears the billing URL for license callbacks.
    pub fn set_billing_url(&self, url: Option<String>) {
        *lock(&self.billing_url) = url;
    }

    /// Changes the counters.
    pub fn count(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut lock(&self.counters));
    }

    /// The counters as JSON.
    pub fn stats_json(&self) -> Value {
        json!(*lock(&self.counters))
    }

    /// Whether the panel would let `username` log in with `password`.
    pub fn login(&self, username: &str, password: &str) -> bool {
        self.read(|data| {
            data.accounts.iter().any(|a| {
                a.username == username
                    && a.password_hash
                        .as_deref()
                        .is_some_and(|h| crate::input::password_matches(h, password))
            })
        })
    }

    /// `{"accounts": [...]}` with resources, as `GET /_sim/state`.
    pub fn state_json(&self) -> Value {
        self.read(|data| {
            json!({
                "accounts": data.accounts.iter().map(Account::to_state_json).collect::<Vec<_>>(),
                "next_id": data.next_id,
                "revoked_keys": data.revoked_keys,
            })
        })
    }

    /// Back to the start: no accounts, start-up faults, zero counters.
    pub fn reset(&self) -> ApiResult<()> {
        self.change(|data| {
            *data = Data::default();
            Ok(())
        })?;
        *lock(&self.faults) = self.config.faults.clone();
        *lock(&self.counters) = Counters::default();
        self.set_billing_url(self.config.billing_url.clone());
        Ok(())
    }
}

/// Writes the state file atomically: a temporary file beside it, then rename.
fn save(path: &Path, data: &Data) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(data).map_err(io::Error::other)?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}
