//! [`Scenario`]: how a fake answers its next requests.

use std::fmt;
use std::str::FromStr;
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

/// Why a scenario spec did not parse (see [`Scenario`]'s `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseScenarioError {
    /// The spec that did not parse.
    pub spec: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for ParseScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid scenario `{}`: {}", self.spec, self.reason)
    }
}

impl std::error::Error for ParseScenarioError {}

const NAMES: &[(&str, Scenario)] = &[
    ("healthy", Scenario::Healthy),
    ("hanging", Scenario::Hanging),
    ("unauthorized", Scenario::Unauthorized),
    ("server_error", Scenario::ServerError),
    ("server_error_html", Scenario::ServerErrorHtml),
    ("connection_reset", Scenario::ConnectionReset),
    ("livemode_mismatch", Scenario::LivemodeMismatch),
    ("charges_disabled", Scenario::ChargesDisabled),
    ("domain_not_verified", Scenario::DomainNotVerified),
    (
        "domain_partially_verified",
        Scenario::DomainPartiallyVerified,
    ),
    ("domain_failed", Scenario::DomainFailed),
    ("low_balance", Scenario::LowBalance),
    ("account_suspended", Scenario::AccountSuspended),
    ("account_closed", Scenario::AccountClosed),
    ("partial_outage", Scenario::PartialOutage),
    ("major_outage", Scenario::MajorOutage),
    ("maintenance", Scenario::Maintenance),
];

fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

fn parse_duration(text: &str) -> Option<Duration> {
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    text.strip_suffix('s')
        .unwrap_or(text)
        .parse()
        .ok()
        .map(Duration::from_secs)
}

/// Specs, as used on command lines and in the demo: `healthy`, `slow:500ms`, `hanging`,
/// `unauthorized`, `rate_limited:30s`, `server_error`, `status:503`, `server_error_html`,
/// `connection_reset`, `flapping:3` or `flapping:3:status:502`, `fail_times:2:server_error`, and
/// the business cases in snake case (`livemode_mismatch`, `low_balance`, `domain_failed`, …).
/// Durations take `ms` or `s` (bare numbers are seconds). `Display` writes the same syntax.
///
/// ```
/// use wedsync_testkit::Scenario;
/// let s: Scenario = "flapping:3:status:502".parse().unwrap();
/// assert_eq!(s, Scenario::Flapping { every: 3, failure: Box::new(Scenario::Status(502)) });
/// assert_eq!(s.to_string(), "flapping:3:status:502");
/// assert!("exploding".parse::<Scenario>().is_err());
/// ```
impl FromStr for Scenario {
    type Err = ParseScenarioError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseScenarioError {
            spec: spec.to_owned(),
            reason,
        };
        let spec_trimmed = spec.trim();
        let (name, arg) = match spec_trimmed.split_once(':') {
            Some((name, arg)) => (name, Some(arg)),
            None => (spec_trimmed, None),
        };
        let name = name.to_ascii_lowercase().replace('-', "_");
        let needs_arg = |reason| arg.ok_or_else(|| err(reason));
        match name.as_str() {
            "slow" => parse_duration(needs_arg("slow needs a duration, e.g. slow:500ms")?)
                .map(Scenario::Slow)
                .ok_or_else(|| err("bad duration (use e.g. 500ms or 2s)")),
            "rate_limited" => match arg {
                None => Ok(Scenario::rate_limited(1)),
                Some(arg) => parse_duration(arg)
                    .map(|retry_after| Scenario::RateLimited { retry_after })
                    .ok_or_else(|| err("bad duration (use e.g. 30s)")),
            },
            "status" => needs_arg("status needs a code, e.g. status:503")?
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=999).contains(c))
                .map(Scenario::Status)
                .ok_or_else(|| err("bad status code")),
            "flapping" | "fail_times" => {
                let arg = needs_arg("needs a count, e.g. flapping:3 or fail_times:2:server_error")?;
                let (count, failure) = match arg.split_once(':') {
                    Some((count, failure)) => (count, Some(failure)),
                    None => (arg, None),
                };
                let count: u32 = count.parse().map_err(|_| err("bad count"))?;
                let failure = match failure {
                    Some(f) => Box::new(f.parse::<Scenario>().map_err(|e| ParseScenarioError {
                        spec: spec.to_owned(),
                        reason: e.reason,
                    })?),
                    None => Box::new(Scenario::ServerError),
                };
                Ok(if name == "flapping" {
                    Scenario::Flapping {
                        every: count,
                        failure,
                    }
                } else {
                    Scenario::FailTimes {
                        times: count,
                        failure,
                    }
                })
            }
            other => {
                if arg.is_some() {
                    return Err(err("this scenario takes no argument"));
                }
                NAMES
                    .iter()
                    .find(|(n, _)| *n == other)
                    .map(|(_, s)| s.clone())
                    .ok_or_else(|| err("unknown scenario"))
            }
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scenario::Slow(d) => write!(f, "slow:{}", fmt_duration(*d)),
            Scenario::RateLimited { retry_after } => {
                write!(f, "rate_limited:{}", fmt_duration(*retry_after))
            }
            Scenario::Status(code) => write!(f, "status:{code}"),
            Scenario::Flapping { every, failure } => write!(f, "flapping:{every}:{failure}"),
            Scenario::FailTimes { times, failure } => write!(f, "fail_times:{times}:{failure}"),
            other => {
                let name = NAMES
                    .iter()
                    .find(|(_, s)| s == other)
                    .map_or("healthy", |(n, _)| *n);
                f.write_str(name)
            }
        }
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

    fn leaf() -> impl proptest::strategy::Strategy<Value = Scenario> {
        use proptest::prelude::*;
        prop_oneof![
            proptest::sample::select(NAMES.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>()),
            (0_u64..100_000).prop_map(|ms| Scenario::Slow(Duration::from_millis(ms))),
            (0_u64..100_000).prop_map(|ms| Scenario::RateLimited {
                retry_after: Duration::from_millis(ms)
            }),
            (100_u16..600).prop_map(Scenario::Status),
        ]
    }

    fn any_scenario() -> impl proptest::strategy::Strategy<Value = Scenario> {
        use proptest::prelude::*;
        leaf().prop_recursive(2, 4, 1, |inner| {
            prop_oneof![
                (0_u32..50, inner.clone()).prop_map(|(every, f)| Scenario::Flapping {
                    every,
                    failure: Box::new(f)
                }),
                (0_u32..50, inner).prop_map(|(times, f)| Scenario::FailTimes {
                    times,
                    failure: Box::new(f)
                }),
            ]
        })
    }

    proptest::proptest! {
        /// Every scenario (millisecond durations) survives Display then FromStr.
        #[test]
        fn display_parse_round_trip(s in any_scenario()) {
            let text = s.to_string();
            proptest::prop_assert_eq!(text.parse::<Scenario>(), Ok(s), "{}", text);
        }
    }

    #[test]
    fn parse_accepts_friendly_forms_and_rejects_junk() {
        assert_eq!("Rate-Limited:30".parse(), Ok(Scenario::rate_limited(30)));
        assert_eq!("rate_limited".parse(), Ok(Scenario::rate_limited(1)));
        assert_eq!(
            "slow:2s".parse(),
            Ok(Scenario::Slow(Duration::from_secs(2)))
        );
        assert_eq!("flapping:2".parse(), Ok(Scenario::flapping(2)));
        for bad in [
            "",
            "slow",
            "slow:fast",
            "status:abc",
            "status:42",
            "healthy:1",
            "flapping:x",
            "fail_times:1:nope",
        ] {
            assert!(bad.parse::<Scenario>().is_err(), "{bad}");
        }
        let e = "nope".parse::<Scenario>().unwrap_err();
        assert_eq!(e.to_string(), "invalid scenario `nope`: unknown scenario");
    }
}
