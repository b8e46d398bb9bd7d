//! Request-rate limits kept in this process: a fixed window per key (a server's
//! license callbacks, a client address's password-reset requests). They protect this
//! instance from floods; with several instances each applies its own share.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::ServiceError;

/// Past this many keys, windows that ended are dropped on the next check.
const PRUNE_AT: usize = 10_000;

/// Counters of requests per key in the current window.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// Counts one request for `key`: at most `limit` per `window`, else
    /// [`ServiceError::RateLimited`] with the seconds until the window ends.
    pub fn check(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        what: &'static str,
    ) -> Result<(), ServiceError> {
        self.check_at(key, limit, window, what, Instant::now())
    }

    fn check_at(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        what: &'static str,
        now: Instant,
    ) -> Result<(), ServiceError> {
        // A poisoned lock only means another request panicked mid-count; the counts stay usable.
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > PRUNE_AT {
            windows.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            let left = window.saturating_sub(now.duration_since(entry.0));
            return Err(ServiceError::RateLimited {
                what,
                retry_after_secs: left.as_secs().max(1),
            });
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_its_limit_then_refuses_until_it_ends() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        let minute = Duration::from_secs(60);
        for _ in 0..3 {
            assert!(limiter.check_at("a", 3, minute, "x", t0).is_ok());
        }
        match limiter.check_at("a", 3, minute, "x", t0 + Duration::from_secs(20)) {
            Err(ServiceError::RateLimited {
                retry_after_secs, ..
            }) => assert_eq!(retry_after_secs, 40),
            other => panic!("{other:?}"),
        }
        assert!(
            limiter.check_at("b", 3, minute, "x", t0).is_ok(),
            "keys are separate"
        );
        assert!(
            limiter.check_at("a", 3, minute, "x", t0 + minute).is_ok(),
            "a new window"
        );
    }
}
