//! The wedding-day policy: a pure function of (instant, configuration).
//!
//! A day is a wedding day when, in the configured IANA time zone (default `Europe/London`), it is
//! one of the configured weekdays (default Saturday) or one of the configured extra dates. The
//! zone database is bundled (jiff's `tzdb-bundle-always`), so the server's local time and its
//! `/usr/share/zoneinfo` play no part.

use std::time::Duration;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// An error in the wedding-day configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The time zone is not a known IANA name.
    #[error("unknown IANA time zone {0:?}")]
    TimeZone(String),
    /// A weekday name could not be parsed.
    #[error("unknown weekday {0:?} (use monday … sunday)")]
    Weekday(String),
    /// A date could not be parsed.
    #[error("invalid date {0:?} (use YYYY-MM-DD)")]
    Date(String),
}

/// When wedding days are, and what changes on them.
#[derive(Debug, Clone)]
pub struct WeddingDayPolicy {
    tz: TimeZone,
    tz_name: String,
    weekdays: Vec<Weekday>,
    extra_dates: Vec<Date>,
}

impl Default for WeddingDayPolicy {
    /// Saturdays in `Europe/London`.
    fn default() -> Self {
        WeddingDayPolicy {
            tz: TimeZone::get("Europe/London").unwrap_or(TimeZone::UTC),
            tz_name: "Europe/London".to_owned(),
            weekdays: vec![Weekday::Saturday],
            extra_dates: Vec::new(),
        }
    }
}

fn parse_weekday(s: &str) -> Result<Weekday, PolicyError> {
    Ok(match s.trim().to_ascii_lowercase().as_str() {
        "monday" | "mon" => Weekday::Monday,
        "tuesday" | "tue" => Weekday::Tuesday,
        "wednesday" | "wed" => Weekday::Wednesday,
        "thursday" | "thu" => Weekday::Thursday,
        "friday" | "fri" => Weekday::Friday,
        "saturday" | "sat" => Weekday::Saturday,
        "sunday" | "sun" => Weekday::Sunday,
        _ => return Err(PolicyError::Weekday(s.to_owned())),
    })
}

impl WeddingDayPolicy {
    /// A policy from configuration strings: an IANA zone (`"Europe/London"`), weekday names
    /// (`"saturday"`, `"sun"`), and extra dates (`"2026-12-24"`).
    pub fn new<W: AsRef<str>, D: AsRef<str>>(
        time_zone: &str,
        weekdays: &[W],
        extra_dates: &[D],
    ) -> Result<Self, PolicyError> {
        let tz = TimeZone::get(time_zone).map_err(|_| PolicyError::TimeZone(time_zone.into()))?;
        let weekdays = weekdays
            .iter()
            .map(|w| parse_weekday(w.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let extra_dates = extra_dates
            .iter()
            .map(|d| {
                d.as_ref()
                    .trim()
                    .parse::<Date>()
                    .map_err(|_| PolicyError::Date(d.as_ref().to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(WeddingDayPolicy {
            tz,
            tz_name: time_zone.to_owned(),
            weekdays,
            extra_dates,
        })
    }

    /// A policy that never declares a wedding day.
    pub fn never() -> Self {
        WeddingDayPolicy {
            weekdays: Vec::new(),
            ..Self::default()
        }
    }

    /// A policy under which every day is a wedding day (demos and tests).
    pub fn always() -> Self {
        WeddingDayPolicy {
            weekdays: vec![
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
                Weekday::Saturday,
                Weekday::Sunday,
            ],
            ..Self::default()
        }
    }

    /// The configured IANA zone name.
    pub fn time_zone(&self) -> &str {
        &self.tz_name
    }

    fn date_at(&self, unix_ms: i64) -> Option<Date> {
        let ts = Timestamp::from_millisecond(unix_ms).ok()?;
        Some(ts.to_zoned_datetime(self.tz.clone()).date())
    }

    /// Whether the civil date in the policy's zone at `unix_ms` is a wedding day.
    pub fn is_wedding_day(&self, unix_ms: i64) -> bool {
        match self.date_at(unix_ms) {
            Some(d) => self.weekdays.contains(&d.weekday()) || self.extra_dates.contains(&d),
            None => false,
        }
    }

    /// The next instant (unix ms) after `unix_ms` at which the local day changes — the only
    /// instants at which [`is_wedding_day`](Self::is_wedding_day) can change. Handles days of 23
    /// and 25 hours and zones whose midnight falls in a DST gap.
    pub fn next_day_start(&self, unix_ms: i64) -> i64 {
        let fallback = unix_ms + 3_600_000;
        let Some(d) = self.date_at(unix_ms) else {
            return fallback;
        };
        let Ok(tomorrow) = d.tomorrow() else {
            return fallback;
        };
        match tomorrow.to_zoned_datetime(self.tz.clone()) {
            Ok(z) => z.timestamp().as_millisecond(),
            Err(_) => fallback,
        }
    }

    /// How long from `unix_ms` until the local day changes.
    pub fn until_next_day(&self, unix_ms: i64) -> Duration {
        Duration::from_millis((self.next_day_start(unix_ms) - unix_ms).max(1) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn saturday_in_london_across_bst_start() {
        // BST starts Sunday 2026-03-29 01:00 UTC. Saturday 28 March is GMT (= UTC).
        let p = WeddingDayPolicy::default();
        assert!(!p.is_wedding_day(ms("2026-03-27T23:59:59.999Z")));
        assert!(p.is_wedding_day(ms("2026-03-28T00:00:00Z")));
        assert!(p.is_wedding_day(ms("2026-03-28T23:59:59.999Z")));
        assert!(!p.is_wedding_day(ms("2026-03-29T00:00:00Z")));
        assert_eq!(
            p.next_day_start(ms("2026-03-28T12:00:00Z")),
            ms("2026-03-29T00:00:00Z")
        );
        // Sunday 29 March is only 23 hours long in London.
        assert_eq!(
            p.next_day_start(ms("2026-03-29T12:00:00Z")),
            ms("2026-03-29T23:00:00Z")
        );
    }

    #[test]
    fn saturday_in_london_across_bst_end() {
        // BST ends Sunday 2026-10-25 01:00 UTC. Saturday 24 October is BST (UTC+1):
        // it runs from Friday 23:00 UTC to Saturday 23:00 UTC.
        let p = WeddingDayPolicy::default();
        assert!(!p.is_wedding_day(ms("2026-10-23T22:59:59Z")));
        assert!(
            p.is_wedding_day(ms("2026-10-23T23:00:00Z")),
            "00:00 BST Saturday"
        );
        assert!(p.is_wedding_day(ms("2026-10-24T22:59:59Z")));
        assert!(
            !p.is_wedding_day(ms("2026-10-24T23:00:00Z")),
            "00:00 BST Sunday"
        );
        // Sunday 25 October is 25 hours long.
        assert_eq!(
            p.next_day_start(ms("2026-10-24T23:30:00Z")),
            ms("2026-10-26T00:00:00Z")
        );
    }

    #[test]
    fn other_zone_weekdays_and_extra_dates() {
        let p =
            WeddingDayPolicy::new("America/New_York", &["friday", "Sat"], &["2026-12-24"]).unwrap();
        // Friday 2026-11-27 00:30 in New York is 05:30 UTC.
        assert!(p.is_wedding_day(ms("2026-11-27T05:30:00Z")));
        assert!(
            !p.is_wedding_day(ms("2026-11-27T04:59:00Z")),
            "still Thursday in NY"
        );
        // Sunday 00:30 UTC is still Saturday evening in New York.
        assert!(p.is_wedding_day(ms("2026-11-29T00:30:00Z")));
        assert!(!p.is_wedding_day(ms("2026-11-29T05:00:00Z")));
        // Thursday 2026-12-24 is an extra date.
        assert!(p.is_wedding_day(ms("2026-12-24T15:00:00Z")));
        assert!(!p.is_wedding_day(ms("2026-12-23T15:00:00Z")));
    }

    #[test]
    fn midnight_in_a_dst_gap() {
        // America/Santiago springs forward at local midnight: 2026-09-06 00:00 does not exist and
        // the day starts at 01:00 local (04:00 UTC). Sunday 6 September is the wedding day here.
        let p = WeddingDayPolicy::new("America/Santiago", &["sunday"], &[] as &[&str]).unwrap();
        let start = p.next_day_start(ms("2026-09-05T12:00:00Z"));
        assert!(!p.is_wedding_day(start - 1));
        assert!(p.is_wedding_day(start));
        assert_eq!(start, ms("2026-09-06T04:00:00Z"));
    }

    #[test]
    fn bad_configuration_is_rejected() {
        assert!(matches!(
            WeddingDayPolicy::new("Mars/Olympus", &["saturday"], &[] as &[&str]),
            Err(PolicyError::TimeZone(_))
        ));
        assert!(matches!(
            WeddingDayPolicy::new("UTC", &["caturday"], &[] as &[&str]),
            Err(PolicyError::Weekday(_))
        ));
        assert!(matches!(
            WeddingDayPolicy::new("UTC", &["saturday"], &["2026-13-01"]),
            Err(PolicyError::Date(_))
        ));
        assert!(!WeddingDayPolicy::never().is_wedding_day(ms("2026-03-28T12:00:00Z")));
        assert!(WeddingDayPolicy::always().is_wedding_day(ms("2026-03-25T12:00:00Z")));
    }

    proptest::proptest! {
        #[test]
        fn constant_within_a_day_and_changes_only_at_day_starts(t in 1_500_000_000_000i64..2_200_000_000_000i64) {
            let p = WeddingDayPolicy::default();
            let next = p.next_day_start(t);
            proptest::prop_assert!(next > t);
            proptest::prop_assert!(next - t <= 25 * 3_600_000);
            proptest::prop_assert_eq!(p.is_wedding_day(t), p.is_wedding_day(next - 1));
        }
    }
}
