//! Breaker configuration: windows, thresholds, open durations, half-open probing and the
//! wedding-day overrides. Every key is described in `docs/breaker.md`.

use std::time::Duration;

/// Largest count window (and largest `permitted_calls_in_half_open`): outcomes are counted in
/// 16-bit fields so that a whole window's counters fit in one atomic word.
pub const MAX_COUNT_WINDOW: u32 = 65_535;
/// Largest time window, in seconds (one bucket per second).
pub const MAX_TIME_WINDOW_SECS: u32 = 3_600;

/// Which outcomes the failure and slow-call rates are computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlidingWindow {
    /// The last `n` recorded calls.
    Count(u32),
    /// The calls recorded in the last `n` whole seconds: one bucket per second of the breaker's
    /// clock; a bucket leaves the window when its second is `n` or more seconds old.
    Time(u32),
}

/// Where a half-open breaker goes when `max_wait_in_half_open` elapses before its probes decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HalfOpenTimeout {
    /// Back to open (the default, and what resilience4j does); counts as a consecutive opening.
    #[default]
    Open,
    /// To closed, with a fresh window.
    Closed,
}

/// How long the breaker stays open, as a function of the number of consecutive openings.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum OpenDuration {
    /// The same duration every time.
    Fixed(Duration),
    /// `initial × multiplier^(n-1)` for the n-th consecutive opening, capped at `max`, then spread
    /// by ± `jitter × duration` (jitter in `[0, 1)`). Consecutive openings reset when the breaker
    /// closes.
    Exponential {
        /// Duration of the first opening.
        initial: Duration,
        /// Growth factor per consecutive opening (≥ 1).
        multiplier: f64,
        /// Upper bound before jitter.
        max: Duration,
        /// Random spread as a fraction of the duration, in `[0, 1)`.
        jitter: f64,
    },
}

impl OpenDuration {
    /// The duration of the `n`-th consecutive opening (`n ≥ 1`), given a uniform random number
    /// `u` in `[0, 1)` for jitter.
    pub fn for_opening(&self, n: u32, u: f64) -> Duration {
        match *self {
            OpenDuration::Fixed(d) => d,
            OpenDuration::Exponential {
                initial,
                multiplier,
                max,
                jitter,
            } => {
                let exp = i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX);
                let base = (initial.as_secs_f64() * multiplier.powi(exp)).min(max.as_secs_f64());
                let spread = if jitter > 0.0 {
                    base * jitter * (2.0 * u - 1.0)
                } else {
                    0.0
                };
                Duration::try_from_secs_f64((base + spread).max(0.0)).unwrap_or(max)
            }
        }
    }
}

/// Values that replace the normal ones while wedding-day mode is on. Unset fields keep the
/// normal value. The window kind and size never change, so switching is instant and keeps the
/// recorded outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WeddingDay {
    /// Failure-rate threshold in percent.
    pub failure_rate_threshold: Option<f32>,
    /// Slow-call-rate threshold in percent.
    pub slow_call_rate_threshold: Option<f32>,
    /// Duration above which a call is slow.
    pub slow_call_duration_threshold: Option<Duration>,
    /// Minimum number of calls before a rate exists.
    pub minimum_calls: Option<u32>,
    /// Open duration.
    pub wait_duration_in_open: Option<OpenDuration>,
    /// Probes admitted in half-open.
    pub permitted_calls_in_half_open: Option<u32>,
    /// Maximum wait in half-open.
    pub max_wait_in_half_open: Option<Duration>,
}

impl WeddingDay {
    /// The overrides used when none are configured: half the failure-rate threshold and half the
    /// open duration, so failures are detected and recovered from faster.
    pub fn derived_from(normal: &BreakerConfig) -> Self {
        let open = match normal.wait_duration_in_open {
            OpenDuration::Fixed(d) => OpenDuration::Fixed(d / 2),
            OpenDuration::Exponential {
                initial,
                multiplier,
                max,
                jitter,
            } => OpenDuration::Exponential {
                initial: initial / 2,
                multiplier,
                max: max / 2,
                jitter,
            },
        };
        Self {
            failure_rate_threshold: Some((normal.failure_rate_threshold / 2.0).max(1.0)),
            wait_duration_in_open: Some(open),
            ..Self::default()
        }
    }
}

/// Errors found by [`BreakerConfigBuilder::build`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A window of size zero, or larger than [`MAX_COUNT_WINDOW`] / [`MAX_TIME_WINDOW_SECS`].
    #[error("sliding window size {0} is out of range")]
    WindowSize(u32),
    /// A rate threshold outside `(0, 100]`.
    #[error("{key} must be in (0, 100], got {value}")]
    Threshold {
        /// The config key.
        key: &'static str,
        /// The rejected value.
        value: f32,
    },
    /// `minimum_calls` or `permitted_calls_in_half_open` out of range.
    #[error("{key} must be in 1..={max}, got {value}")]
    Count {
        /// The config key.
        key: &'static str,
        /// The rejected value.
        value: u32,
        /// The largest accepted value.
        max: u32,
    },
    /// An exponential open duration with `multiplier < 1`, jitter outside `[0, 1)` or
    /// `max < initial`.
    #[error("invalid exponential open duration: {0}")]
    OpenDuration(&'static str),
}

/// A validated breaker configuration. Build one with [`BreakerConfig::builder`]; the defaults
/// are resilience4j's except that slow-call detection is off until a threshold is set.
///
/// ```
/// use std::time::Duration;
/// use wedsync_breaker::{BreakerConfig, SlidingWindow};
///
/// let cfg = BreakerConfig::builder()
///     .sliding_window(SlidingWindow::Time(30))
///     .minimum_calls(20)
///     .failure_rate_threshold(40.0)
///     .slow_call_duration_threshold(Duration::from_secs(2))
///     .build()
///     .unwrap();
/// assert_eq!(cfg.minimum_calls, 20);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BreakerConfig {
    /// The sliding window (default: count of 100).
    pub sliding_window: SlidingWindow,
    /// Calls that must be recorded before any rate exists (default 100).
    pub minimum_calls: u32,
    /// Failure rate in percent at or above which the breaker opens (default 50).
    pub failure_rate_threshold: f32,
    /// Slow-call rate in percent at or above which the breaker opens (default 100).
    pub slow_call_rate_threshold: f32,
    /// A call lasting strictly longer than this is slow. `None` (default) turns slow-call
    /// detection off, and with it every clock read on the closed success path of a count window.
    pub slow_call_duration_threshold: Option<Duration>,
    /// How long the breaker stays open (default fixed 60 s).
    pub wait_duration_in_open: OpenDuration,
    /// Probes admitted in half-open (default 10).
    pub permitted_calls_in_half_open: u32,
    /// Longest stay in half-open before `half_open_timeout` applies (default: unbounded).
    pub max_wait_in_half_open: Option<Duration>,
    /// Where a half-open breaker goes when `max_wait_in_half_open` elapses (default open).
    pub half_open_timeout: HalfOpenTimeout,
    /// With feature `tokio`, a timer moves open → half-open when the wait ends, instead of the
    /// first call after it (default false).
    pub automatic_transition_to_half_open: bool,
    /// Overrides applied in wedding-day mode (default: [`WeddingDay::derived_from`] this config).
    pub wedding_day: Option<WeddingDay>,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            sliding_window: SlidingWindow::Count(100),
            minimum_calls: 100,
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration_threshold: None,
            wait_duration_in_open: OpenDuration::Fixed(Duration::from_secs(60)),
            permitted_calls_in_half_open: 10,
            max_wait_in_half_open: None,
            half_open_timeout: HalfOpenTimeout::Open,
            automatic_transition_to_half_open: false,
            wedding_day: None,
        }
    }
}

impl BreakerConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> BreakerConfigBuilder {
        BreakerConfigBuilder {
            cfg: Self::default(),
        }
    }

    /// Checks every value; [`BreakerConfigBuilder::build`] calls this.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.sliding_window {
            SlidingWindow::Count(n) if n == 0 || n > MAX_COUNT_WINDOW => {
                return Err(ConfigError::WindowSize(n))
            }
            SlidingWindow::Time(n) if n == 0 || n > MAX_TIME_WINDOW_SECS => {
                return Err(ConfigError::WindowSize(n))
            }
            _ => {}
        }
        self.rules(false).validate()?;
        self.rules(true).validate()
    }

    /// A copy with every out-of-range value clamped into range (the fields are public, so a
    /// configuration may be edited after [`validate`](Self::validate)); breakers are built from
    /// this, so they never see an invalid value.
    pub(crate) fn clamped(&self) -> BreakerConfig {
        fn count(n: u32) -> u32 {
            n.clamp(1, MAX_COUNT_WINDOW)
        }
        fn pct(p: f32) -> f32 {
            if p.is_nan() {
                100.0
            } else {
                p.clamp(f32::MIN_POSITIVE, 100.0)
            }
        }
        let mut c = self.clone();
        c.sliding_window = match c.sliding_window {
            SlidingWindow::Count(n) => SlidingWindow::Count(count(n)),
            SlidingWindow::Time(n) => SlidingWindow::Time(n.clamp(1, MAX_TIME_WINDOW_SECS)),
        };
        c.minimum_calls = count(c.minimum_calls);
        c.permitted_calls_in_half_open = count(c.permitted_calls_in_half_open);
        c.failure_rate_threshold = pct(c.failure_rate_threshold);
        c.slow_call_rate_threshold = pct(c.slow_call_rate_threshold);
        if let Some(w) = c.wedding_day.as_mut() {
            w.minimum_calls = w.minimum_calls.map(count);
            w.permitted_calls_in_half_open = w.permitted_calls_in_half_open.map(count);
            w.failure_rate_threshold = w.failure_rate_threshold.map(pct);
            w.slow_call_rate_threshold = w.slow_call_rate_threshold.map(pct);
        }
        c
    }

    /// The effective values in normal (`wedding = false`) or wedding-day mode.
    pub(crate) fn rules(&self, wedding: bool) -> Rules {
        let mut r = Rules {
            failure_rate_threshold: self.failure_rate_threshold,
            slow_call_rate_threshold: self.slow_call_rate_threshold,
            slow_call_nanos: self
                .slow_call_duration_threshold
                .map(crate::clock::duration_nanos),
            minimum_calls: self.minimum_calls,
            open: self.wait_duration_in_open,
            permitted: self.permitted_calls_in_half_open,
            max_wait_in_half_open: self.max_wait_in_half_open,
            half_open_timeout: self.half_open_timeout,
        };
        if wedding {
            let w = self
                .wedding_day
                .unwrap_or_else(|| WeddingDay::derived_from(self));
            if let Some(v) = w.failure_rate_threshold {
                r.failure_rate_threshold = v;
            }
            if let Some(v) = w.slow_call_rate_threshold {
                r.slow_call_rate_threshold = v;
            }
            if let Some(v) = w.slow_call_duration_threshold {
                r.slow_call_nanos = Some(crate::clock::duration_nanos(v));
            }
            if let Some(v) = w.minimum_calls {
                r.minimum_calls = v;
            }
            if let Some(v) = w.wait_duration_in_open {
                r.open = v;
            }
            if let Some(v) = w.permitted_calls_in_half_open {
                r.permitted = v;
            }
            if let Some(v) = w.max_wait_in_half_open {
                r.max_wait_in_half_open = Some(v);
            }
        }
        r
    }
}

/// The values the state machine reads, resolved for one mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rules {
    pub failure_rate_threshold: f32,
    pub slow_call_rate_threshold: f32,
    pub slow_call_nanos: Option<u64>,
    pub minimum_calls: u32,
    pub open: OpenDuration,
    pub permitted: u32,
    pub max_wait_in_half_open: Option<Duration>,
    pub half_open_timeout: HalfOpenTimeout,
}

impl Rules {
    fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("failure_rate_threshold", self.failure_rate_threshold),
            ("slow_call_rate_threshold", self.slow_call_rate_threshold),
        ] {
            if !(value > 0.0 && value <= 100.0) {
                return Err(ConfigError::Threshold { key, value });
            }
        }
        for (key, value) in [
            ("minimum_calls", self.minimum_calls),
            ("permitted_calls_in_half_open", self.permitted),
        ] {
            if value == 0 || value > MAX_COUNT_WINDOW {
                return Err(ConfigError::Count {
                    key,
                    value,
                    max: MAX_COUNT_WINDOW,
                });
            }
        }
        if let OpenDuration::Exponential {
            initial,
            multiplier,
            max,
            jitter,
        } = self.open
        {
            if !(multiplier >= 1.0 && multiplier.is_finite()) {
                return Err(ConfigError::OpenDuration("multiplier must be >= 1"));
            }
            if !(0.0..1.0).contains(&jitter) {
                return Err(ConfigError::OpenDuration("jitter must be in [0, 1)"));
            }
            if max < initial {
                return Err(ConfigError::OpenDuration("max must be >= initial"));
            }
        }
        Ok(())
    }
}

/// Builder for [`BreakerConfig`]; every setter is named after its config key.
#[derive(Debug, Clone)]
#[must_use]
pub struct BreakerConfigBuilder {
    cfg: BreakerConfig,
}

/// Builder setters that store their argument in the [`BreakerConfig`] field of the same name
/// (wrapped in `Some` for the optional ones).
macro_rules! setters {
    () => {};
    ($(#[$doc:meta])* $name:ident: Some($ty:ty); $($rest:tt)*) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.cfg.$name = Some(value);
            self
        }
        setters!($($rest)*);
    };
    ($(#[$doc:meta])* $name:ident: $ty:ty; $($rest:tt)*) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.cfg.$name = value;
            self
        }
        setters!($($rest)*);
    };
}

impl BreakerConfigBuilder {
    setters! {
        /// Sets `sliding_window_type` / `sliding_window_size`.
        sliding_window: SlidingWindow;
        /// Sets `minimum_calls`.
        minimum_calls: u32;
        /// Sets `failure_rate_threshold` (percent).
        failure_rate_threshold: f32;
        /// Sets `slow_call_rate_threshold` (percent).
        slow_call_rate_threshold: f32;
        /// Sets `slow_call_duration_threshold` and so turns slow-call detection on.
        slow_call_duration_threshold: Some(Duration);
    }
    /// Sets a fixed `wait_duration_in_open`.
    pub fn wait_duration_in_open(mut self, d: Duration) -> Self {
        self.cfg.wait_duration_in_open = OpenDuration::Fixed(d);
        self
    }
    /// Sets the open duration function (fixed or exponential).
    pub fn open_duration(mut self, d: OpenDuration) -> Self {
        self.cfg.wait_duration_in_open = d;
        self
    }
    setters! {
        /// Sets `permitted_calls_in_half_open`.
        permitted_calls_in_half_open: u32;
        /// Sets `max_wait_in_half_open`.
        max_wait_in_half_open: Some(Duration);
        /// Sets `half_open_timeout`.
        half_open_timeout: HalfOpenTimeout;
        /// Sets `automatic_transition_to_half_open` (acts with feature `tokio`).
        automatic_transition_to_half_open: bool;
        /// Sets the wedding-day overrides.
        wedding_day: Some(WeddingDay);
    }
    /// Validates and returns the configuration.
    pub fn build(self) -> Result<BreakerConfig, ConfigError> {
        self.cfg.validate()?;
        Ok(self.cfg)
    }
}

#[cfg(test)]
mod tests;

#[cfg(feature = "serde")]
mod file;
