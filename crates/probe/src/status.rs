//! The classification of one probe result and the worst-first aggregation of many.

use std::fmt;
use std::str::FromStr;

/// How a service looked to one probe (definitions: `shared/providers.md` §1).
///
/// Aggregation order, worst first (see [`ProbeStatus::severity`] and [`aggregate`]):
/// `unhealthy` > `auth_failed` > `unknown` > `rate_limited` > `degraded` > `healthy`.
///
/// `auth_failed` ranks just below `unhealthy`: our own configuration is broken, so the dependency is
/// unusable for us even though the provider is fine. `unknown` (the monitor cannot see) ranks above
/// `rate_limited` and `degraded` because it hides whatever is really happening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeStatus {
    /// The provider answered as expected, in time.
    Healthy,
    /// The provider works but is slow, or a business signal is off (low balance, domain pending).
    Degraded,
    /// Timeout, connect/DNS/TLS error, 5xx (also a CDN edge's HTML 5xx), or an unusable answer.
    Unhealthy,
    /// 401/403: our credentials or configuration are wrong. Not a provider outage.
    AuthFailed,
    /// 429: the provider asked us to slow down. Not a provider outage.
    RateLimited,
    /// The monitor itself cannot reach the network, so nothing can be said.
    Unknown,
}

impl ProbeStatus {
    /// Every status, from best to worst.
    pub const ALL: [ProbeStatus; 6] = [
        ProbeStatus::Healthy,
        ProbeStatus::Degraded,
        ProbeStatus::RateLimited,
        ProbeStatus::Unknown,
        ProbeStatus::AuthFailed,
        ProbeStatus::Unhealthy,
    ];

    /// The stable lowercase name (`"auth_failed"`, …), as stored and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeStatus::Healthy => "healthy",
            ProbeStatus::Degraded => "degraded",
            ProbeStatus::Unhealthy => "unhealthy",
            ProbeStatus::AuthFailed => "auth_failed",
            ProbeStatus::RateLimited => "rate_limited",
            ProbeStatus::Unknown => "unknown",
        }
    }

    /// Rank in the aggregation order: higher is worse (`healthy` = 0 … `unhealthy` = 5).
    pub fn severity(self) -> u8 {
        match self {
            ProbeStatus::Healthy => 0,
            ProbeStatus::Degraded => 1,
            ProbeStatus::RateLimited => 2,
            ProbeStatus::Unknown => 3,
            ProbeStatus::AuthFailed => 4,
            ProbeStatus::Unhealthy => 5,
        }
    }

    /// Whether this result counts as a failure of the *provider* (feeds its breaker as a failure
    /// and counts toward an outage incident): only `unhealthy`.
    pub fn is_provider_failure(self) -> bool {
        matches!(self, ProbeStatus::Unhealthy)
    }

    /// Whether this result counts toward opening an incident: `unhealthy` and `auth_failed`
    /// (the latter pages ops about configuration, never opens the provider's breaker).
    pub fn is_alerting(self) -> bool {
        matches!(self, ProbeStatus::Unhealthy | ProbeStatus::AuthFailed)
    }

    /// Whether this result counts as healthy for resolving an incident (`healthy` or `degraded`).
    pub fn is_ok(self) -> bool {
        matches!(self, ProbeStatus::Healthy | ProbeStatus::Degraded)
    }
}

impl fmt::Display for ProbeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when a string names no [`ProbeStatus`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown probe status")]
pub struct ParseStatusError;

impl FromStr for ProbeStatus {
    type Err = ParseStatusError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "healthy" => ProbeStatus::Healthy,
            "degraded" => ProbeStatus::Degraded,
            "unhealthy" => ProbeStatus::Unhealthy,
            "auth_failed" => ProbeStatus::AuthFailed,
            "rate_limited" => ProbeStatus::RateLimited,
            "unknown" => ProbeStatus::Unknown,
            _ => return Err(ParseStatusError),
        })
    }
}

/// The overall status of many results: the worst one by [`ProbeStatus::severity`];
/// `healthy` when there are none.
///
/// ```
/// use wedsync_probe::{aggregate, ProbeStatus::*};
/// assert_eq!(aggregate([Healthy, Degraded, RateLimited]), RateLimited);
/// assert_eq!(aggregate([Degraded, AuthFailed, Unknown]), AuthFailed);
/// assert_eq!(aggregate([]), Healthy);
/// ```
pub fn aggregate<I: IntoIterator<Item = ProbeStatus>>(statuses: I) -> ProbeStatus {
    statuses
        .into_iter()
        .max_by_key(|s| s.severity())
        .unwrap_or(ProbeStatus::Healthy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_orders() {
        for (i, s) in ProbeStatus::ALL.iter().enumerate() {
            assert_eq!(s.as_str().parse::<ProbeStatus>(), Ok(*s));
            assert_eq!(s.severity() as usize, i);
            assert_eq!(s.to_string(), s.as_str());
        }
        assert_eq!("Healthy".parse::<ProbeStatus>(), Err(ParseStatusError));
        assert_eq!(
            serde_json::to_string(&ProbeStatus::AuthFailed).unwrap(),
            "\"auth_failed\""
        );
    }

    #[test]
    fn aggregation_is_worst_first_and_order_independent() {
        use ProbeStatus::*;
        assert_eq!(aggregate([Healthy, Unhealthy, Degraded]), Unhealthy);
        assert_eq!(aggregate([Unhealthy, Healthy]), Unhealthy);
        assert_eq!(aggregate([Unknown, RateLimited]), Unknown);
        assert_eq!(aggregate([Healthy]), Healthy);
        assert!(!AuthFailed.is_provider_failure());
        assert!(!RateLimited.is_provider_failure());
        assert!(Unhealthy.is_provider_failure());
    }

    proptest::proptest! {
        #[test]
        fn aggregate_is_the_maximum_and_ignores_order(idx in proptest::collection::vec(0usize..6, 0..12)) {
            let v: Vec<ProbeStatus> = idx.iter().map(|i| ProbeStatus::ALL[*i]).collect();
            let agg = aggregate(v.iter().copied());
            let mut rev = v.clone();
            rev.reverse();
            proptest::prop_assert_eq!(agg, aggregate(rev));
            proptest::prop_assert!(v.iter().all(|s| s.severity() <= agg.severity()));
            proptest::prop_assert!(v.is_empty() || v.contains(&agg));
        }
    }
}
