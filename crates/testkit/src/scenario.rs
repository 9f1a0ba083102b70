//! [`Scenario`]: how a fake answers its next requests.

use std::time::Duration;

/// How a fake server answers, set at run time with `set_scenario` on any fake or [`FakeHandle`].
///
/// One enum is shared by every fake. Each fake renders a scenario in its own provider's shape
/// (Stripe's `{"error":{…}}`, Twilio's `{"code":20003,…}`, Resend's `{"statusCode":…}`, …).
/// Provider-specific business cases (for example [`Scenario::LowBalance`]) only change the answer
/// of the fake they belong to; every other fake answers them like [`Scenario::Healthy`].
///
/// [`FakeHandle`]: crate::FakeHandle
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Scenario {
    /// The normal, successful answer.
    #[default]
    Healthy,
    /// The normal answer, sent after the given delay.
    Slow(Duration),
    /// Read the request and never answer; the connection is closed without a response when the
    /// scenario changes or the fake is dropped.
    Hanging,
    /// The provider's 401 answer, whatever credentials were sent (as if the key was revoked).
    Unauthorized,
    /// The provider's 429 answer with a `Retry-After` header (and Resend's `ratelimit-*` headers).
    RateLimited {
        /// The value of `Retry-After` (whole seconds, rounded up).
        retry_after: Duration,
    },
    /// The provider's typical 5xx JSON error (Stripe 500 `api_error`, Twilio 500 code 20500,
    /// Resend 500 `internal_server_error`, Supabase REST 503 `PGRST002`, …).
    ServerError,
    /// Answer with this status code, in the provider's error shape (for example Slack's
    /// `channel_is_archived` for 410).
    Status(u16),
    /// A 502 HTML page from a CDN edge (`server: cloudflare`, `text/html`), not the provider's JSON.
    ServerErrorHtml,
    /// Close the connection after reading the request, without sending any response.
    ConnectionReset,
    /// Alternate: `every` calls answered healthy, then `every` calls answered with `failure`, and
    /// so on, counting from the moment the scenario was set. `every == 0` counts as 1.
    Flapping {
        /// Length of each healthy and each failing run, in calls.
        every: u32,
        /// How the failing calls are answered.
        failure: Box<Scenario>,
    },
    /// Answer the first `times` calls (after the scenario was set) with `failure`, then healthy.
    FailTimes {
        /// How many calls fail.
        times: u32,
        /// How the failing calls are answered.
        failure: Box<Scenario>,
    },
    /// Stripe: `/v1/balance` reports the other `livemode` than the key's mode (a test key in
    /// production, or the reverse).
    LivemodeMismatch,
    /// Stripe: `/v1/account` reports `charges_enabled: false`.
    ChargesDisabled,
    /// Resend: the sending domain's status is `pending` (not verified yet).
    DomainNotVerified,
    /// Resend: the sending domain's status is `partially_verified`.
    DomainPartiallyVerified,
    /// Resend: the sending domain's status is `failed`.
    DomainFailed,
    /// Twilio: `Balance.json` reports a balance below any sensible floor (`"0.42"`).
    LowBalance,
    /// Twilio: the account's status is `suspended`.
    AccountSuspended,
    /// Twilio: the account's status is `closed`.
    AccountClosed,
    /// Statuspage: indicator `minor`, the affected component `partial_outage`; Stripe's
    /// `/current` says `degraded`.
    PartialOutage,
    /// Statuspage: indicator `major`, the affected component `major_outage`, an open incident;
    /// Stripe's `/current` says `down`.
    MajorOutage,
    /// Statuspage: indicator `maintenance`, the affected component `under_maintenance`, a
    /// scheduled maintenance in progress; Stripe's `/current` says `up`.
    Maintenance,
}

impl Scenario {
    /// [`Scenario::Flapping`] whose failing calls answer [`Scenario::ServerError`].
    #[must_use]
    pub fn flapping(every: u32) -> Self {
        Self::Flapping {
            every,
            failure: Box::new(Self::ServerError),
        }
    }

    /// [`Scenario::FailTimes`]: the next `times` calls answer `failure`, later ones are healthy.
    #[must_use]
    pub fn fail_times(times: u32, failure: Scenario) -> Self {
        Self::FailTimes {
            times,
            failure: Box::new(failure),
        }
    }

    /// [`Scenario::RateLimited`] with a `Retry-After` of `secs` seconds.
    #[must_use]
    pub fn rate_limited(secs: u64) -> Self {
        Self::RateLimited {
            retry_after: Duration::from_secs(secs),
        }
    }

    /// The scenario that applies to the call with index `call` (0-based, counted since the
    /// scenario was set): resolves [`Scenario::Flapping`] and [`Scenario::FailTimes`] (nested ones
    /// too, counted on the same index).
    #[must_use]
    pub fn resolve(&self, call: u64) -> Scenario {
        let mut current = self;
        // bounded, so a pathological nesting cannot loop for long
        for _ in 0..16 {
            match current {
                Self::Flapping { every, failure } => {
                    let every = u64::from((*every).max(1));
                    if (call / every) % 2 == 1 {
                        current = failure;
                    } else {
                        return Self::Healthy;
                    }
                }
                Self::FailTimes { times, failure } => {
                    if call < u64::from(*times) {
                        current = failure;
                    } else {
                        return Self::Healthy;
                    }
                }
                other => return other.clone(),
            }
        }
        Self::Healthy
    }

    /// Whole seconds for a `Retry-After` header: rounded up, at least 1.
    pub(crate) fn retry_after_secs(retry_after: Duration) -> u64 {
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        secs.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flapping_alternates_in_runs_of_every() {
        let s = Scenario::flapping(2);
        let got: Vec<bool> = (0..8).map(|i| s.resolve(i) == Scenario::Healthy).collect();
        assert_eq!(got, [true, true, false, false, true, true, false, false]);
        assert_eq!(s.resolve(2), Scenario::ServerError);
    }

    #[test]
    fn flapping_zero_counts_as_one() {
        let s = Scenario::flapping(0);
        assert_eq!(s.resolve(0), Scenario::Healthy);
        assert_eq!(s.resolve(1), Scenario::ServerError);
        assert_eq!(s.resolve(2), Scenario::Healthy);
    }

    #[test]
    fn fail_times_then_healthy() {
        let s = Scenario::fail_times(2, Scenario::Status(410));
        assert_eq!(s.resolve(0), Scenario::Status(410));
        assert_eq!(s.resolve(1), Scenario::Status(410));
        assert_eq!(s.resolve(2), Scenario::Healthy);
        assert_eq!(s.resolve(100), Scenario::Healthy);
    }

    #[test]
    fn plain_scenarios_resolve_to_themselves() {
        for s in [
            Scenario::Healthy,
            Scenario::Hanging,
            Scenario::ConnectionReset,
            Scenario::rate_limited(3),
            Scenario::LowBalance,
        ] {
            assert_eq!(s.resolve(7), s);
        }
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(Scenario::retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(Scenario::retry_after_secs(Duration::ZERO), 1);
        assert_eq!(Scenario::retry_after_secs(Duration::from_secs(30)), 30);
    }

    proptest::proptest! {
        /// Flapping agrees with a naive model that walks the calls one by one.
        #[test]
        fn flapping_matches_a_naive_model(every in 0_u32..7, calls in 0_u64..64) {
            let s = Scenario::flapping(every);
            let run = u64::from(every.max(1));
            let (mut healthy, mut left) = (true, run);
            for call in 0..calls {
                let expected = if healthy { Scenario::Healthy } else { Scenario::ServerError };
                proptest::prop_assert_eq!(s.resolve(call), expected);
                left -= 1;
                if left == 0 {
                    healthy = !healthy;
                    left = run;
                }
            }
        }

        /// FailTimes fails exactly the first `times` calls.
        #[test]
        fn fail_times_fails_exactly_n(times in 0_u32..20, call in 0_u64..40) {
            let s = Scenario::fail_times(times, Scenario::Status(503));
            let failed = s.resolve(call) == Scenario::Status(503);
            proptest::prop_assert_eq!(failed, call < u64::from(times));
        }
    }
}
