//! `#[serde(with = "wedsync_config::duration")]`: a [`Duration`] written as [`parse_duration`]
//! reads it (`"30s"`), for any configuration section; and the grammar itself.
//!
//! ```
//! use std::time::Duration;
//! #[derive(serde::Deserialize)]
//! struct Worker {
//!     #[serde(with = "wedsync_config::duration")]
//!     poll_interval: Duration,
//! }
//! let w: Worker = serde_json::from_str(r#"{"poll_interval": "250ms"}"#).unwrap();
//! assert_eq!(w.poll_interval, Duration::from_millis(250));
//! assert!(serde_json::from_str::<Worker>(r#"{"poll_interval": "0s"}"#).is_err());
//! ```

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// A duration that is not one of `250ms`, `30s`, `5m`, `2h`, `1d` (or is zero). The text is not
/// kept: it may be a secret pasted into the wrong key, and errors reach logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a duration (use e.g. 250ms, 30s, 5m, 2h)")]
pub struct DurationError(());

/// Parses a duration such as `250ms`, `30s`, `5m`, `2h` or `1d` (surrounding whitespace ignored):
/// digits, then one unit. Zero and overflowing values are rejected.
///
/// ```
/// use std::time::Duration;
/// use wedsync_config::parse_duration;
/// assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
/// assert!(parse_duration("0s").is_err());
/// assert!(parse_duration("10").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let err = || DurationError(());
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| err())?;
    let secs = |mul: u64| n.checked_mul(mul).map(Duration::from_secs);
    let d = match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => secs(1),
        "m" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        _ => None,
    };
    d.filter(|d| !d.is_zero()).ok_or_else(err)
}

/// A duration in the grammar [`parse_duration`] reads, in the largest unit that divides it
/// (`90s`, `5m`, `250ms`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if s != 0 && s.is_multiple_of(n) {
            return format!("{}{unit}", s / n);
        }
    }
    format!("{s}s")
}

/// Reads a duration string.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

/// Writes the duration back in the same grammar (the largest unit that divides it).
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_and_bad_ones_never_echo() {
        for (text, d) in [
            ("250ms", Duration::from_millis(250)),
            ("30s", Duration::from_secs(30)),
            (" 5m ", Duration::from_secs(300)),
            ("2h", Duration::from_secs(7200)),
            ("1d", Duration::from_secs(86_400)),
        ] {
            assert_eq!(parse_duration(text), Ok(d), "{text}");
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{text}");
        }
        for bad in [
            "",
            "s",
            "10",
            "10y",
            "0s",
            "0ms",
            "-1s",
            "1.5s",
            "99999999999999999999d",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(
                err.to_string().contains("is not a duration"),
                "{bad}: {err}"
            );
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
    }
}
