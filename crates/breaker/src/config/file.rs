//! The flat, documented key set of `docs/breaker.md` (TOML, JSON, …).

use super::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WindowType {
    Count,
    Time,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Target {
    Open,
    Closed,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWedding {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure_rate_threshold: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slow_call_rate_threshold: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slow_call_duration_threshold_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    minimum_calls: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wait_duration_in_open_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    permitted_calls_in_half_open: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_wait_in_half_open_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default = "d_type")]
    sliding_window_type: WindowType,
    #[serde(default = "d_size")]
    sliding_window_size: u32,
    #[serde(default = "d_size")]
    minimum_calls: u32,
    #[serde(default = "d_failure")]
    failure_rate_threshold: f32,
    #[serde(default = "d_slow_rate")]
    slow_call_rate_threshold: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slow_call_duration_threshold_ms: Option<u64>,
    #[serde(default = "d_wait")]
    wait_duration_in_open_ms: u64,
    #[serde(default = "d_multiplier")]
    open_duration_multiplier: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    open_duration_max_ms: Option<u64>,
    #[serde(default)]
    open_duration_jitter: f64,
    #[serde(default = "d_permitted")]
    permitted_calls_in_half_open: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_wait_in_half_open_ms: Option<u64>,
    #[serde(default = "d_target")]
    half_open_timeout: Target,
    #[serde(default)]
    automatic_transition_to_half_open: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wedding_day: Option<RawWedding>,
}

fn d_type() -> WindowType {
    WindowType::Count
}
fn d_size() -> u32 {
    100
}
fn d_failure() -> f32 {
    50.0
}
fn d_slow_rate() -> f32 {
    100.0
}
fn d_wait() -> u64 {
    60_000
}
fn d_multiplier() -> f64 {
    1.0
}
fn d_permitted() -> u32 {
    10
}
fn d_target() -> Target {
    Target::Open
}

fn open_duration(wait_ms: u64, multiplier: f64, max_ms: Option<u64>, jitter: f64) -> OpenDuration {
    let initial = Duration::from_millis(wait_ms);
    if multiplier == 1.0 && jitter == 0.0 && max_ms.is_none() {
        OpenDuration::Fixed(initial)
    } else {
        OpenDuration::Exponential {
            initial,
            multiplier,
            max: max_ms.map_or(initial, Duration::from_millis).max(initial),
            jitter,
        }
    }
}

impl TryFrom<RawConfig> for BreakerConfig {
    type Error = ConfigError;

    fn try_from(r: RawConfig) -> Result<Self, ConfigError> {
        let ms = Duration::from_millis;
        let cfg = BreakerConfig {
            sliding_window: match r.sliding_window_type {
                WindowType::Count => SlidingWindow::Count(r.sliding_window_size),
                WindowType::Time => SlidingWindow::Time(r.sliding_window_size),
            },
            minimum_calls: r.minimum_calls,
            failure_rate_threshold: r.failure_rate_threshold,
            slow_call_rate_threshold: r.slow_call_rate_threshold,
            slow_call_duration_threshold: r.slow_call_duration_threshold_ms.map(ms),
            wait_duration_in_open: open_duration(
                r.wait_duration_in_open_ms,
                r.open_duration_multiplier,
                r.open_duration_max_ms,
                r.open_duration_jitter,
            ),
            permitted_calls_in_half_open: r.permitted_calls_in_half_open,
            max_wait_in_half_open: r.max_wait_in_half_open_ms.map(ms),
            half_open_timeout: match r.half_open_timeout {
                Target::Open => HalfOpenTimeout::Open,
                Target::Closed => HalfOpenTimeout::Closed,
            },
            automatic_transition_to_half_open: r.automatic_transition_to_half_open,
            wedding_day: r.wedding_day.map(|w| WeddingDay {
                failure_rate_threshold: w.failure_rate_threshold,
                slow_call_rate_threshold: w.slow_call_rate_threshold,
                slow_call_duration_threshold: w.slow_call_duration_threshold_ms.map(ms),
                minimum_calls: w.minimum_calls,
                // The wedding-day open duration keeps the normal growth settings.
                wait_duration_in_open: w.wait_duration_in_open_ms.map(|wait| {
                    open_duration(
                        wait,
                        r.open_duration_multiplier,
                        r.open_duration_max_ms,
                        r.open_duration_jitter,
                    )
                }),
                permitted_calls_in_half_open: w.permitted_calls_in_half_open,
                max_wait_in_half_open: w.max_wait_in_half_open_ms.map(ms),
            }),
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl From<BreakerConfig> for RawConfig {
    fn from(c: BreakerConfig) -> Self {
        let (kind, size) = match c.sliding_window {
            SlidingWindow::Count(n) => (WindowType::Count, n),
            SlidingWindow::Time(n) => (WindowType::Time, n),
        };
        let (wait, multiplier, max, jitter) = match c.wait_duration_in_open {
            OpenDuration::Fixed(d) => (millis(d), 1.0, None, 0.0),
            OpenDuration::Exponential {
                initial,
                multiplier,
                max,
                jitter,
            } => (millis(initial), multiplier, Some(millis(max)), jitter),
        };
        let wait_of = |d: OpenDuration| match d {
            OpenDuration::Fixed(d) => millis(d),
            OpenDuration::Exponential { initial, .. } => millis(initial),
        };
        RawConfig {
            sliding_window_type: kind,
            sliding_window_size: size,
            minimum_calls: c.minimum_calls,
            failure_rate_threshold: c.failure_rate_threshold,
            slow_call_rate_threshold: c.slow_call_rate_threshold,
            slow_call_duration_threshold_ms: c.slow_call_duration_threshold.map(millis),
            wait_duration_in_open_ms: wait,
            open_duration_multiplier: multiplier,
            open_duration_max_ms: max,
            open_duration_jitter: jitter,
            permitted_calls_in_half_open: c.permitted_calls_in_half_open,
            max_wait_in_half_open_ms: c.max_wait_in_half_open.map(millis),
            half_open_timeout: match c.half_open_timeout {
                HalfOpenTimeout::Closed => Target::Closed,
                _ => Target::Open,
            },
            automatic_transition_to_half_open: c.automatic_transition_to_half_open,
            wedding_day: c.wedding_day.map(|w| RawWedding {
                failure_rate_threshold: w.failure_rate_threshold,
                slow_call_rate_threshold: w.slow_call_rate_threshold,
                slow_call_duration_threshold_ms: w.slow_call_duration_threshold.map(millis),
                minimum_calls: w.minimum_calls,
                wait_duration_in_open_ms: w.wait_duration_in_open.map(wait_of),
                permitted_calls_in_half_open: w.permitted_calls_in_half_open,
                max_wait_in_half_open_ms: w.max_wait_in_half_open.map(millis),
            }),
        }
    }
}

impl Serialize for BreakerConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RawConfig::from(self.clone()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for BreakerConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawConfig::deserialize(d)?;
        BreakerConfig::try_from(raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_keys_parse_and_round_trip() {
        let cfg: BreakerConfig = serde_json::from_str(
            r#"{
                "sliding_window_type": "time",
                "sliding_window_size": 30,
                "minimum_calls": 20,
                "failure_rate_threshold": 40,
                "slow_call_duration_threshold_ms": 2000,
                "slow_call_rate_threshold": 80,
                "wait_duration_in_open_ms": 10000,
                "open_duration_multiplier": 2.0,
                "open_duration_max_ms": 300000,
                "permitted_calls_in_half_open": 5,
                "max_wait_in_half_open_ms": 60000,
                "half_open_timeout": "closed",
                "wedding_day": { "failure_rate_threshold": 20, "wait_duration_in_open_ms": 5000 }
            }"#,
        )
        .unwrap();
        assert_eq!(cfg.sliding_window, SlidingWindow::Time(30));
        assert_eq!(cfg.half_open_timeout, HalfOpenTimeout::Closed);
        assert!(matches!(
            cfg.wait_duration_in_open,
            OpenDuration::Exponential { multiplier, .. } if multiplier == 2.0
        ));
        assert_eq!(cfg.rules(true).failure_rate_threshold, 20.0);
        let back: BreakerConfig =
            serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(back, cfg);
        // Empty = defaults; unknown keys and invalid values are errors.
        let d: BreakerConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(d, BreakerConfig::default());
        assert!(serde_json::from_str::<BreakerConfig>(r#"{"treshold": 1}"#).is_err());
        assert!(serde_json::from_str::<BreakerConfig>(r#"{"failure_rate_threshold": 0}"#).is_err());
    }
}
