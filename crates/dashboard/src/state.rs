//! Colouring rules: a bucket's state, the worst of several, uptime, and the words shown for
//! each state and probe status (colour is never the only signal).

use crate::model::{Bucket, State};

/// The state a bucket is coloured with: the worst thing that happened in it.
///
/// Any failing check → [`State::Down`]; else any degraded check → [`State::Degraded`]; else a
/// maintenance window → [`State::Maintenance`]; else any check → [`State::Up`]; else
/// [`State::NoData`].
///
/// ```
/// use wedsync_dashboard::{bucket_state, Bucket, State};
///
/// let b = Bucket { start_ms: 0, end_ms: 3_600_000, checks: 120, healthy: 117, degraded: 1,
///                  down: 2, maintenance: true, outage: None };
/// assert_eq!(bucket_state(&b), State::Down);
/// assert_eq!(bucket_state(&Bucket { checks: 0, healthy: 0, degraded: 0, down: 0, ..b }),
///            State::Maintenance);
/// ```
pub fn bucket_state(b: &Bucket) -> State {
    if b.down > 0 {
        State::Down
    } else if b.degraded > 0 {
        State::Degraded
    } else if b.maintenance {
        State::Maintenance
    } else if b.checks > 0 {
        State::Up
    } else {
        State::NoData
    }
}

/// The worst of `states` by [`State::rank`] (down > degraded > maintenance > up > no data);
/// [`State::NoData`] when there are none.
///
/// ```
/// use wedsync_dashboard::{worst, State};
/// assert_eq!(worst([State::Up, State::Degraded, State::Maintenance]), State::Degraded);
/// assert_eq!(worst([]), State::NoData);
/// ```
pub fn worst<I: IntoIterator<Item = State>>(states: I) -> State {
    states
        .into_iter()
        .max_by_key(|s| s.rank())
        .unwrap_or(State::NoData)
}

/// Uptime over `buckets` in percent: `(checks − failing) / checks × 100` summed over all
/// buckets (degraded checks count as up); `None` when there were no checks at all.
///
/// ```
/// use wedsync_dashboard::{uptime_percent, Bucket};
/// let b = Bucket { start_ms: 0, end_ms: 1, checks: 200, healthy: 199, degraded: 0, down: 1,
///                  maintenance: false, outage: None };
/// assert_eq!(uptime_percent(&[b]), Some(99.5));
/// assert_eq!(uptime_percent(&[]), None);
/// ```
pub fn uptime_percent(buckets: &[Bucket]) -> Option<f64> {
    let (mut checks, mut down) = (0u128, 0u128);
    for b in buckets {
        checks += u128::from(b.checks);
        // A bucket never has more failures than checks; if the data says so, cap it.
        down += u128::from(b.down.min(b.checks));
    }
    if checks == 0 {
        return None;
    }
    Some((checks - down) as f64 * 100.0 / checks as f64)
}

impl State {
    /// The state in one or two words for the dashboard (`Up`, `Degraded`, `Down`,
    /// `Maintenance`, `No data`).
    pub const fn label(self) -> &'static str {
        match self {
            State::NoData => "No data",
            State::Up => "Up",
            State::Maintenance => "Maintenance",
            State::Degraded => "Degraded",
            State::Down => "Down",
        }
    }

    /// The state as the public status page words it (`Operational`, `Degraded performance`,
    /// `Outage`, `Under maintenance`, `No data`).
    pub const fn public_label(self) -> &'static str {
        match self {
            State::NoData => "No data",
            State::Up => "Operational",
            State::Maintenance => "Under maintenance",
            State::Degraded => "Degraded performance",
            State::Down => "Outage",
        }
    }

    /// A text icon that goes with the words (never instead of them).
    pub const fn icon(self) -> &'static str {
        match self {
            State::NoData => "?",
            State::Up => "✓",
            State::Maintenance => "🔧",
            State::Degraded => "⚠",
            State::Down => "✗",
        }
    }
}

/// Icon and words for a probe status as the monitor names it; `None` for a status this crate
/// does not know (it is then shown escaped after a `?`).
pub(crate) fn status_words(status: &str) -> Option<(&'static str, &'static str)> {
    Some(match status {
        "healthy" => ("✓", "Healthy"),
        "degraded" => ("⚠", "Degraded"),
        "unhealthy" => ("✗", "Unhealthy"),
        "auth_failed" => ("🔒", "Auth failed"),
        "rate_limited" => ("⏳", "Rate limited"),
        "unknown" => ("?", "Unknown"),
        _ => return None,
    })
}

/// Words and a CSS class suffix for a breaker state.
pub(crate) fn breaker_words(breaker: &str) -> Option<(&'static str, &'static str)> {
    Some(match breaker {
        "closed" => ("Closed", "closed"),
        "open" => ("Open", "open"),
        "half_open" => ("Half-open", "half-open"),
        "forced_open" => ("Forced open", "open"),
        "forced_closed" => ("Forced closed", "forced"),
        "disabled" => ("Disabled", "forced"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(checks: u64, healthy: u64, degraded: u64, down: u64, maintenance: bool) -> Bucket {
        Bucket {
            start_ms: 0,
            end_ms: 3_600_000,
            checks,
            healthy,
            degraded,
            down,
            maintenance,
            outage: None,
        }
    }

    #[test]
    fn every_combination() {
        // (any checks, any degraded, any down, maintenance) → expected
        for checks in [false, true] {
            for degraded in [false, true] {
                for down in [false, true] {
                    for maint in [false, true] {
                        let bucket = b(
                            u64::from(checks) * 10 + u64::from(degraded) + u64::from(down),
                            u64::from(checks) * 10,
                            u64::from(degraded),
                            u64::from(down),
                            maint,
                        );
                        let want = if down {
                            State::Down
                        } else if degraded {
                            State::Degraded
                        } else if maint {
                            State::Maintenance
                        } else if checks {
                            State::Up
                        } else {
                            State::NoData
                        };
                        assert_eq!(bucket_state(&bucket), want, "{bucket:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn worst_follows_rank() {
        use State::*;
        let all = [NoData, Up, Maintenance, Degraded, Down];
        for a in all {
            for c in all {
                let w = worst([a, c]);
                assert_eq!(w.rank(), a.rank().max(c.rank()));
            }
        }
        assert_eq!(worst(all), Down);
        assert_eq!(worst(Vec::new()), NoData);
    }

    #[test]
    fn uptime() {
        assert_eq!(uptime_percent(&[]), None);
        assert_eq!(uptime_percent(&[b(0, 0, 0, 0, true)]), None);
        assert_eq!(
            uptime_percent(&[b(100, 90, 10, 0, false), b(100, 50, 0, 50, false)]),
            Some(75.0)
        );
        // Inconsistent data never goes below zero.
        assert_eq!(uptime_percent(&[b(1, 0, 0, 9, false)]), Some(0.0));
        assert_eq!(
            uptime_percent(&[b(u64::MAX, u64::MAX, 0, 0, false); 3]),
            Some(100.0)
        );
    }
}
