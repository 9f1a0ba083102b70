//! The breaker's states.

use std::fmt;
use std::str::FromStr;

/// The state of a circuit breaker.
///
/// | state | admits calls | records outcomes | transitions by itself |
/// |---|---|---|---|
/// | `Closed` | yes | yes | to `Open` when a rate reaches its threshold |
/// | `Open` | no | no | to `HalfOpen` on the first call after the open duration |
/// | `HalfOpen` | `permitted_calls_in_half_open` probes | yes (probe window) | to `Closed` or `Open` |
/// | `Disabled` | yes | no | never |
/// | `ForcedOpen` | no | no | never |
/// | `MetricsOnly` | yes | yes, and publishes threshold events | never |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum State {
    /// Normal operation: calls pass and are counted.
    Closed = 0,
    /// Tripped: calls are rejected until the open duration ends.
    Open = 1,
    /// Probing: a limited number of calls decide whether to close or open again.
    HalfOpen = 2,
    /// Everything passes, nothing is recorded.
    Disabled = 3,
    /// Everything is rejected until an operator changes the state.
    ForcedOpen = 4,
    /// Everything passes and is counted; threshold events are published; no transitions.
    MetricsOnly = 5,
}

impl State {
    /// Every state, in declaration order.
    pub const ALL: [State; 6] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::Disabled,
        State::ForcedOpen,
        State::MetricsOnly,
    ];

    /// The snake_case name used in logs, JSON and the admin API (`"half_open"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::Disabled => "disabled",
            State::ForcedOpen => "forced_open",
            State::MetricsOnly => "metrics_only",
        }
    }

    /// Whether calls are admitted in this state (half-open admits a limited number).
    pub const fn admits_calls(self) -> bool {
        !matches!(self, State::Open | State::ForcedOpen)
    }

    pub(crate) const fn from_bits(b: u64) -> State {
        match b & 7 {
            0 => State::Closed,
            1 => State::Open,
            2 => State::HalfOpen,
            3 => State::Disabled,
            4 => State::ForcedOpen,
            _ => State::MetricsOnly,
        }
    }

    /// Whether an operator may move the breaker from `self` to `to`. Only `HalfOpen` is
    /// restricted: it can be entered from `Open` or `ForcedOpen` only.
    pub const fn can_transition_to(self, to: State) -> bool {
        match to {
            State::HalfOpen => matches!(self, State::Open | State::ForcedOpen | State::HalfOpen),
            _ => true,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of parsing a [`State`] from its snake_case name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown breaker state `{0}`")]
pub struct ParseStateError(pub String);

impl FromStr for State {
    type Err = ParseStateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| ParseStateError(s.to_owned()))
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for State {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for State {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>().unwrap(), s);
            assert_eq!(State::from_bits(s as u64), s);
        }
        assert!("ajar".parse::<State>().is_err());
        assert!(!State::Closed.can_transition_to(State::HalfOpen));
        assert!(State::Open.can_transition_to(State::HalfOpen));
    }
}

#[cfg(all(test, feature = "serde"))]
mod serde_tests {
    use crate::{BreakerConfig, CircuitBreaker, State};

    #[test]
    fn state_and_metrics_serialize_for_admin_apis() {
        let b = CircuitBreaker::new("s", BreakerConfig::default());
        b.force_open();
        let v = serde_json::to_value(b.metrics()).unwrap();
        assert_eq!(v["state"], "forced_open");
        assert_eq!(v["failure_rate"], serde_json::Value::Null);
        assert_eq!(v["buffered_calls"], 0);
        let s: State = serde_json::from_str("\"half_open\"").unwrap();
        assert_eq!(s, State::HalfOpen);
        assert!(serde_json::from_str::<State>("\"ajar\"").is_err());
    }
}
