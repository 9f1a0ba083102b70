//! Per-API-key rate limits (governor): a general budget and a stricter one for manual probe runs and
//! replays.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimitConfig;

/// Which budget a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Every authenticated admin request.
    General,
    /// Manual probe runs and replays (drawn in addition to the general budget).
    Strict,
}

/// The limiters, keyed by API key id.
#[derive(Debug)]
pub struct RateLimits {
    general: DefaultKeyedRateLimiter<String>,
    strict: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

fn quota(per_minute: u32) -> Quota {
    let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(n).allow_burst(n)
}

impl RateLimits {
    /// Builds the limiters from configuration (bursts equal the per-minute budget).
    pub fn new(cfg: &RateLimitConfig) -> Self {
        Self {
            general: RateLimiter::keyed(quota(cfg.general_per_minute)),
            strict: RateLimiter::keyed(quota(cfg.strict_per_minute)),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one cell from `budget` for `key_id`; `Err(wait)` when exhausted.
    pub fn check(&self, budget: Budget, key_id: &str) -> Result<(), Duration> {
        let limiter = match budget {
            Budget::General => &self.general,
            Budget::Strict => &self.strict,
        };
        limiter
            .check_key(&key_id.to_string())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Drops state of keys whose budget is full again (call now and then).
    pub fn retain_recent(&self) {
        self.general.retain_recent();
        self.strict.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_budget_runs_out_per_key() {
        let rl = RateLimits::new(&RateLimitConfig {
            general_per_minute: 100,
            strict_per_minute: 2,
        });
        assert!(rl.check(Budget::Strict, "a").is_ok());
        assert!(rl.check(Budget::Strict, "a").is_ok());
        let wait = rl.check(Budget::Strict, "a").unwrap_err();
        assert!(
            wait > Duration::from_secs(1) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        // another key has its own budget
        assert!(rl.check(Budget::Strict, "b").is_ok());
        assert!(rl.check(Budget::General, "a").is_ok());
    }
}
