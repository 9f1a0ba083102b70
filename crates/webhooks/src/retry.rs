//! The retry policy: Svix's schedule with jitter, `Retry-After`, timeouts, 429 and 410.

use std::time::Duration;

use time::OffsetDateTime;

use crate::store::Priority;

/// What one forwarding attempt produced, as far as retrying cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The handler answered with `status`; `retry_after` from its `Retry-After` header.
    Status {
        /// HTTP status.
        status: u16,
        /// Parsed `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// No answer within the timeout.
    Timeout,
    /// Connect / TLS / I/O failure before an answer.
    NetworkError,
    /// The handler's circuit breaker rejected the attempt; it admits calls again after the
    /// duration (when known).
    CircuitOpen(Option<Duration>),
}

impl AttemptOutcome {
    /// Success is any 2xx.
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            AttemptOutcome::Status {
                status: 200..=299,
                ..
            }
        )
    }
}

/// Why no further attempt will be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// Every scheduled retry was used.
    Exhausted,
    /// The handler answered 410 Gone.
    Gone,
    /// The run was a single attempt (manual replay).
    SingleAttempt,
}

impl GiveUp {
    /// `exhausted`, `gone` or `single_attempt`.
    pub const fn as_str(self) -> &'static str {
        match self {
            GiveUp::Exhausted => "exhausted",
            GiveUp::Gone => "gone",
            GiveUp::SingleAttempt => "single_attempt",
        }
    }
}

/// The policy's verdict after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Delivered.
    Delivered,
    /// Try again after this delay.
    RetryIn(Duration),
    /// Stop: the delivery has failed.
    GiveUp(GiveUp),
}

/// Retry schedules for normal and critical deliveries (configurable per provider).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Delays after attempt 1, 2, … for normal deliveries; its length + 1 = attempts per run.
    pub schedule: Vec<Duration>,
    /// Delays for critical deliveries (denser early on).
    pub critical_schedule: Vec<Duration>,
    /// Uniform jitter fraction applied to each delay (0.2 = ±20 %).
    pub jitter: f64,
    /// The least delay after a timeout or a 429.
    pub min_after_timeout_or_429: Duration,
}

const fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

impl Default for RetryPolicy {
    /// Normal: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts, ~27.6 h). Critical: 5 s, 30 s,
    /// 2 min, 5 min, 15 min, 30 min, 2 h, 5 h, 10 h, 10 h (11 attempts, ~28 h). ±20 % jitter; ≥ 60 s
    /// after a timeout or 429.
    fn default() -> Self {
        RetryPolicy {
            schedule: vec![
                s(5),
                s(300),
                s(1800),
                s(7200),
                s(18_000),
                s(36_000),
                s(36_000),
            ],
            critical_schedule: vec![
                s(5),
                s(30),
                s(120),
                s(300),
                s(900),
                s(1800),
                s(7200),
                s(18_000),
                s(36_000),
                s(36_000),
            ],
            jitter: 0.2,
            min_after_timeout_or_429: s(60),
        }
    }
}

impl RetryPolicy {
    /// The schedule for `priority`.
    pub fn schedule_for(&self, priority: Priority) -> &[Duration] {
        match priority {
            Priority::Normal => &self.schedule,
            Priority::Critical => &self.critical_schedule,
        }
    }

    /// Decide after attempt number `run_attempt` (1-based, within the current run) with
    /// `outcome`. `unit` is a uniform random number in `[0, 1)` (inject a fixed value in tests;
    /// [`RetryPolicy::decide_random`] draws one).
    pub fn decide(
        &self,
        priority: Priority,
        run_attempt: u32,
        single_attempt: bool,
        outcome: &AttemptOutcome,
        unit: f64,
    ) -> Decision {
        if outcome.is_success() {
            return Decision::Delivered;
        }
        if matches!(outcome, AttemptOutcome::Status { status: 410, .. }) {
            return Decision::GiveUp(GiveUp::Gone);
        }
        if single_attempt {
            return Decision::GiveUp(GiveUp::SingleAttempt);
        }
        let schedule = self.schedule_for(priority);
        let Some(&base) = schedule.get(run_attempt.saturating_sub(1) as usize) else {
            return Decision::GiveUp(GiveUp::Exhausted);
        };
        let j = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 + j * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        let delay = base.mul_f64(factor);
        let delay = match *outcome {
            AttemptOutcome::Status {
                status,
                retry_after,
            } => {
                let d = match retry_after {
                    Some(ra) => ra.clamp(delay, delay * 2),
                    None => delay,
                };
                if status == 429 {
                    d.max(self.min_after_timeout_or_429)
                } else {
                    d
                }
            }
            AttemptOutcome::Timeout => delay.max(self.min_after_timeout_or_429),
            AttemptOutcome::NetworkError => delay,
            AttemptOutcome::CircuitOpen(open_for) => open_for.map_or(delay, |o| delay.max(o)),
        };
        Decision::RetryIn(delay)
    }

    /// [`decide`](Self::decide) with a random jitter draw.
    pub fn decide_random(
        &self,
        priority: Priority,
        run_attempt: u32,
        single_attempt: bool,
        outcome: &AttemptOutcome,
    ) -> Decision {
        self.decide(
            priority,
            run_attempt,
            single_attempt,
            outcome,
            fastrand::f64(),
        )
    }
}

/// Parse a `Retry-After` value: delay-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822).ok()?;
    let d = at - now;
    Some(if d.is_positive() {
        Duration::try_from(d).ok()?
    } else {
        Duration::ZERO
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `p`'s decision for a normal-priority, retryable delivery after attempt `n` ended with
    /// `outcome` (jitter at its midpoint).
    fn normal(p: &RetryPolicy, n: u32, outcome: &AttemptOutcome) -> Decision {
        p.decide(Priority::Normal, n, false, outcome, 0.5)
    }

    fn st(status: u16) -> AttemptOutcome {
        AttemptOutcome::Status {
            status,
            retry_after: None,
        }
    }

    #[test]
    fn schedule_and_jitter_bounds() {
        let p = RetryPolicy::default();
        let want = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
        for (i, w) in want.iter().enumerate() {
            let n = i as u32 + 1;
            let lo = p.decide(Priority::Normal, n, false, &st(500), 0.0);
            let mid = normal(&p, n, &st(500));
            let hi = p.decide(Priority::Normal, n, false, &st(500), 1.0);
            assert_eq!(mid, Decision::RetryIn(s(*w)));
            assert_eq!(lo, Decision::RetryIn(s(*w).mul_f64(0.8)));
            assert_eq!(hi, Decision::RetryIn(s(*w).mul_f64(1.2)));
        }
        assert_eq!(normal(&p, 8, &st(500)), Decision::GiveUp(GiveUp::Exhausted));
        assert_eq!(normal(&p, 1, &st(204)), Decision::Delivered);
        assert_eq!(normal(&p, 1, &st(302)), Decision::RetryIn(s(5)));
    }

    #[test]
    fn special_statuses() {
        let p = RetryPolicy::default();
        assert_eq!(normal(&p, 1, &st(410)), Decision::GiveUp(GiveUp::Gone));
        assert_eq!(
            p.decide(Priority::Normal, 1, true, &st(500), 0.5),
            Decision::GiveUp(GiveUp::SingleAttempt)
        );
        assert_eq!(normal(&p, 1, &st(429)), Decision::RetryIn(s(60)));
        assert_eq!(
            normal(&p, 1, &AttemptOutcome::Timeout),
            Decision::RetryIn(s(60))
        );
        assert_eq!(
            normal(&p, 2, &AttemptOutcome::Timeout),
            Decision::RetryIn(s(300))
        );
        let ra = |secs| AttemptOutcome::Status {
            status: 503,
            retry_after: Some(s(secs)),
        };
        assert_eq!(normal(&p, 2, &ra(1)), Decision::RetryIn(s(300)));
        assert_eq!(normal(&p, 2, &ra(450)), Decision::RetryIn(s(450)));
        assert_eq!(normal(&p, 2, &ra(9999)), Decision::RetryIn(s(600)));
    }

    #[test]
    fn critical_is_denser_early() {
        let p = RetryPolicy::default();
        let total = |pr| -> Duration { p.schedule_for(pr).iter().take(4).sum() };
        assert!(total(Priority::Critical) < total(Priority::Normal));
        assert!(p.critical_schedule.len() >= p.schedule.len());
    }

    #[test]
    fn retry_after_formats() {
        let now = time::macros::datetime!(2026-11-28 10:00 UTC);
        assert_eq!(parse_retry_after("120", now), Some(s(120)));
        assert_eq!(
            parse_retry_after("Sat, 28 Nov 2026 10:02:00 GMT", now),
            Some(s(120))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
