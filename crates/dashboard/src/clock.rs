//! Showing instants in the dashboard's IANA zone, with the zone's abbreviation (`GMT`, `BST`).
//! The zone database is bundled with jiff, so the server's local time plays no part.

use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::html::{push_2d, push_i64};

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A zone abbreviation copied out of jiff's borrowed offset info (ASCII, at most 15 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Abbr {
    buf: [u8; 15],
    len: u8,
}

impl Abbr {
    fn new(s: &str) -> Abbr {
        let mut buf = [0u8; 15];
        let mut len = 0;
        for b in s.bytes() {
            // tzdb abbreviations are ASCII letters, digits, `+` and `-`; drop anything else.
            if len < buf.len() && (b.is_ascii_alphanumeric() || b == b'+' || b == b'-') {
                buf[len] = b;
                len += 1;
            }
        }
        Abbr {
            buf,
            len: len as u8,
        }
    }

    pub(crate) fn push_to(&self, out: &mut String) {
        for &b in &self.buf[..self.len as usize] {
            out.push(b as char);
        }
    }
}

/// One instant broken down in the zone.
#[derive(Clone, Copy)]
pub(crate) struct Local {
    year: i16,
    month: i8,
    day: i8,
    hour: i8,
    minute: i8,
    second: i8,
    weekday: i8,
    abbr: Abbr,
}

impl Local {
    fn same_date(&self, other: &Local) -> bool {
        self.year == other.year && self.month == other.month && self.day == other.day
    }
}

/// Formats instants (Unix ms) in one zone; knows "today" so that times of today skip the date.
pub(crate) struct Clock {
    tz: TimeZone,
    today: Local,
}

fn timestamp(ms: i64) -> Timestamp {
    let min = Timestamp::MIN.as_millisecond();
    let max = Timestamp::MAX.as_millisecond();
    Timestamp::from_millisecond(ms.clamp(min, max)).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl Clock {
    /// A clock for the IANA zone `zone` (UTC when the name is unknown), "today" being `now_ms`.
    pub(crate) fn new(zone: &str, now_ms: i64) -> Clock {
        let tz = TimeZone::get(zone).unwrap_or(TimeZone::UTC);
        Clock::with_tz(tz, now_ms)
    }

    /// A UTC clock.
    pub(crate) fn utc(now_ms: i64) -> Clock {
        Clock::with_tz(TimeZone::UTC, now_ms)
    }

    fn with_tz(tz: TimeZone, now_ms: i64) -> Clock {
        let today = local_in(&tz, now_ms);
        Clock { tz, today }
    }

    pub(crate) fn local(&self, ms: i64) -> Local {
        local_in(&self.tz, ms)
    }

    /// `14:05:03 GMT`
    pub(crate) fn hms_zone(&self, out: &mut String, ms: i64) {
        let l = self.local(ms);
        hms(out, &l);
        out.push(' ');
        l.abbr.push_to(out);
    }

    /// `14:05:03 GMT` today, `Mon 3 Nov 14:05:03 GMT` on another day (with the year when it is
    /// not this year).
    pub(crate) fn stamp(&self, out: &mut String, ms: i64) {
        let l = self.local(ms);
        if !l.same_date(&self.today) {
            self.date(out, &l);
            out.push(' ');
        }
        hms(out, &l);
        out.push(' ');
        l.abbr.push_to(out);
    }

    /// `Mon 3 Nov` (`Mon 3 Nov 2024` when not this year).
    fn date(&self, out: &mut String, l: &Local) {
        weekday_day_month(out, l);
        if l.year != self.today.year {
            out.push(' ');
            push_i64(out, l.year.into());
        }
    }

    /// `Tue 4 Nov 2025`: always with the year.
    pub(crate) fn date_long(&self, out: &mut String, ms: i64) {
        let l = self.local(ms);
        weekday_day_month(out, &l);
        out.push(' ');
        push_i64(out, l.year.into());
    }

    /// `<time datetime="2025-11-04T14:05:03Z">…stamp…</time>`
    pub(crate) fn time_el(&self, out: &mut String, ms: i64) {
        out.push_str("<time datetime=\"");
        iso_utc(out, ms);
        out.push_str("\">");
        self.stamp(out, ms);
        out.push_str("</time>");
    }

    /// A period whose end is exclusive (an hourly bucket), always dated:
    /// `Tue 4 Nov 14:00–15:00 GMT`, `Tue 4 Nov 23:00–24:00 GMT`; both dates when it spans days.
    pub(crate) fn period(&self, out: &mut String, start_ms: i64, end_ms: i64) {
        self.bounds_with(out, start_ms, end_ms, None);
    }

    /// A range of instants (both inclusive): `14:05–14:40 GMT` within one day, else
    /// `Mon 3 Nov 23:50 – Tue 4 Nov 00:20 GMT`. Today's ranges skip the date.
    pub(crate) fn range(&self, out: &mut String, start_ms: i64, end_ms: i64) {
        self.range_on(out, start_ms, end_ms, &self.today);
    }

    /// [`Clock::range`], skipping the date when it is `known`'s date (the reader has it).
    pub(crate) fn range_on(&self, out: &mut String, start_ms: i64, end_ms: i64, known: &Local) {
        let (start_ms, end_ms) = (start_ms.min(end_ms), start_ms.max(end_ms));
        let a = self.local(start_ms);
        let b = self.local(end_ms);
        if a.same_date(&b) {
            if !a.same_date(known) {
                self.date(out, &a);
                out.push(' ');
            }
            self.hm_range_same_day(out, &a, &b);
        } else {
            self.hm_range_dated(out, &a, &b, true);
        }
    }

    /// A bucket's bounds (end exclusive): `14:00–15:00 GMT`, `23:00–24:00 GMT`, a whole day as
    /// `00:00–24:00 GMT`; dated unless on `known`'s date, both dates when it spans days.
    pub(crate) fn bounds_on(&self, out: &mut String, start_ms: i64, end_ms: i64, known: &Local) {
        self.bounds_with(out, start_ms, end_ms, Some(known));
    }

    /// `known: None` always writes the date.
    fn bounds_with(&self, out: &mut String, start_ms: i64, end_ms: i64, known: Option<&Local>) {
        let end_ms = end_ms.max(start_ms);
        let a = self.local(start_ms);
        let b = self.local(end_ms);
        let last = self.local(end_ms.saturating_sub(1).max(start_ms));
        if !a.same_date(&last) {
            self.hm_range_dated(out, &a, &b, true);
            return;
        }
        if known.is_none_or(|k| !a.same_date(k)) {
            self.date(out, &a);
            out.push(' ');
        }
        hm(out, &a);
        if a.abbr != b.abbr {
            out.push(' ');
            a.abbr.push_to(out);
        }
        out.push('–');
        if a.same_date(&b) || end_ms == start_ms {
            hm(out, &b);
        } else {
            out.push_str("24:00");
        }
        out.push(' ');
        b.abbr.push_to(out);
    }

    fn hm_range_same_day(&self, out: &mut String, a: &Local, b: &Local) {
        hm(out, a);
        if a.abbr != b.abbr {
            out.push(' ');
            a.abbr.push_to(out);
        }
        out.push('–');
        hm(out, b);
        out.push(' ');
        b.abbr.push_to(out);
    }

    fn hm_range_dated(&self, out: &mut String, a: &Local, b: &Local, first_date: bool) {
        if first_date {
            self.date(out, a);
            out.push(' ');
        }
        hm(out, a);
        if a.abbr != b.abbr {
            out.push(' ');
            a.abbr.push_to(out);
        }
        out.push_str(" – ");
        self.date(out, b);
        out.push(' ');
        hm(out, b);
        out.push(' ');
        b.abbr.push_to(out);
    }

    /// `14:00` (for chart axes).
    pub(crate) fn hm(&self, out: &mut String, ms: i64) {
        hm(out, &self.local(ms));
    }

    /// `4 Nov` (for chart axes).
    pub(crate) fn day_month(&self, out: &mut String, ms: i64) {
        let l = self.local(ms);
        push_i64(out, l.day.into());
        out.push(' ');
        out.push_str(MONTHS[(l.month.clamp(1, 12) - 1) as usize]);
    }

    /// The abbreviation in force at `ms`.
    pub(crate) fn abbr(&self, out: &mut String, ms: i64) {
        self.local(ms).abbr.push_to(out);
    }
}

fn local_in(tz: &TimeZone, ms: i64) -> Local {
    let ts = timestamp(ms);
    let info = tz.to_offset_info(ts);
    let dt = info.offset().to_datetime(ts);
    Local {
        year: dt.year(),
        month: dt.month(),
        day: dt.day(),
        hour: dt.hour(),
        minute: dt.minute(),
        second: dt.second(),
        weekday: dt.weekday().to_monday_zero_offset(),
        abbr: Abbr::new(info.abbreviation()),
    }
}

fn weekday_day_month(out: &mut String, l: &Local) {
    out.push_str(WEEKDAYS[l.weekday.clamp(0, 6) as usize]);
    out.push(' ');
    push_i64(out, l.day.into());
    out.push(' ');
    out.push_str(MONTHS[(l.month.clamp(1, 12) - 1) as usize]);
}

fn hm(out: &mut String, l: &Local) {
    push_2d(out, l.hour);
    out.push(':');
    push_2d(out, l.minute);
}

fn hms(out: &mut String, l: &Local) {
    hm(out, l);
    out.push(':');
    push_2d(out, l.second);
}

/// `2025-11-04T14:05:03Z` (a `datetime` attribute).
pub(crate) fn iso_utc(out: &mut String, ms: i64) {
    let ts = timestamp(ms);
    let dt = jiff::tz::Offset::UTC.to_datetime(ts);
    let y = dt.year();
    if (0..=9999).contains(&y) {
        let y = y as u16;
        push_2d(out, (y / 100) as i8);
        push_2d(out, (y % 100) as i8);
    } else {
        push_i64(out, y.into());
    }
    out.push('-');
    push_2d(out, dt.month());
    out.push('-');
    push_2d(out, dt.day());
    out.push('T');
    push_2d(out, dt.hour());
    out.push(':');
    push_2d(out, dt.minute());
    out.push(':');
    push_2d(out, dt.second());
    out.push('Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2025-11-04 14:05:03 UTC (a Tuesday, GMT in London).
    const NOV: i64 = 1_762_265_103_000;
    // 2025-07-04 14:05:03 UTC (BST in London).
    const JUL: i64 = 1_751_637_903_000;

    fn with(f: impl FnOnce(&mut String)) -> String {
        let mut s = String::new();
        f(&mut s);
        s
    }

    #[test]
    fn london_abbreviations() {
        let c = Clock::new("Europe/London", NOV);
        assert_eq!(with(|s| c.hms_zone(s, NOV)), "14:05:03 GMT");
        assert_eq!(with(|s| c.hms_zone(s, JUL)), "15:05:03 BST");
        assert_eq!(with(|s| c.stamp(s, NOV)), "14:05:03 GMT");
        assert_eq!(
            with(|s| c.stamp(s, NOV - 86_400_000)),
            "Mon 3 Nov 14:05:03 GMT"
        );
        assert_eq!(with(|s| c.date_long(s, NOV)), "Tue 4 Nov 2025");
        assert_eq!(with(|s| iso_utc(s, NOV)), "2025-11-04T14:05:03Z");
    }

    #[test]
    fn ranges_and_periods() {
        let c = Clock::new("Europe/London", NOV);
        let h14 = 1_762_264_800_000; // 14:00 GMT
        assert_eq!(
            with(|s| c.range(s, h14 + 300_000, h14 + 2_400_000)),
            "14:05–14:40 GMT"
        );
        assert_eq!(
            with(|s| c.period(s, h14, h14 + 3_600_000)),
            "Tue 4 Nov 14:00–15:00 GMT"
        );
        let h23 = h14 + 9 * 3_600_000;
        assert_eq!(
            with(|s| c.period(s, h23, h23 + 3_600_000)),
            "Tue 4 Nov 23:00–24:00 GMT"
        );
        let midnight = h14 - 14 * 3_600_000;
        assert_eq!(
            with(|s| c.range(s, midnight, midnight + 86_400_000)),
            "Tue 4 Nov 00:00 – Wed 5 Nov 00:00 GMT"
        );
        let today = c.local(NOV);
        let b = |s: &mut String, from, to| c.bounds_on(s, from, to, &today);
        assert_eq!(with(|s| b(s, h14, h14 + 3_600_000)), "14:00–15:00 GMT");
        assert_eq!(with(|s| b(s, h23, h23 + 3_600_000)), "23:00–24:00 GMT");
        assert_eq!(
            with(|s| b(s, midnight, midnight + 86_400_000)),
            "00:00–24:00 GMT"
        );
        assert_eq!(
            with(|s| b(s, midnight - 86_400_000, midnight)),
            "Mon 3 Nov 00:00–24:00 GMT"
        );
        let monday = c.local(midnight - 1);
        assert_eq!(
            with(|s| c.range_on(s, midnight - 3_600_000, midnight - 60_000, &monday)),
            "23:00–23:59 GMT"
        );
    }

    #[test]
    fn unknown_zone_is_utc_and_extremes_do_not_panic() {
        let c = Clock::new("Not/AZone", NOV);
        assert_eq!(with(|s| c.hms_zone(s, NOV)), "14:05:03 UTC");
        let _ = with(|s| c.stamp(s, i64::MIN));
        let _ = with(|s| c.stamp(s, i64::MAX));
        let _ = with(|s| iso_utc(s, i64::MIN));
    }
}
