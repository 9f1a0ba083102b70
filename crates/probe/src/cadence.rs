//! [`Cadence`]: how often a service is probed, and the one "tighter on wedding days" rule.

use std::time::Duration;

/// How often a service is probed and how long one probe may take. On wedding days the service is
/// probed twice as often (the "50 % faster detection" of the wedding-day policy) as long as the
/// timeout still fits in the shorter interval; otherwise at the ordinary interval.
///
/// The one place the wedding-day interval is derived: [`crate::ServiceConfig::cadence`] applies
/// it to a monitored service, and a status page showing "probed every …" reads the same values.
///
/// ```
/// use std::time::Duration;
/// use wedsync_probe::Cadence;
///
/// let c = Cadence::new(Duration::from_secs(30), Duration::from_secs(5));
/// assert_eq!(c.wedding_day_interval(), Duration::from_secs(15));
/// // a 10 s timeout does not fit in 10 s: wedding days keep the ordinary interval
/// let tight = Cadence::new(Duration::from_secs(20), Duration::from_secs(10));
/// assert_eq!(tight.wedding_day_interval(), Duration::from_secs(20));
/// assert_eq!(Cadence::default(), Cadence::new(Duration::from_secs(30), Duration::from_secs(5)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// Interval between the end of one probe and the start of the next on ordinary days.
    pub interval: Duration,
    /// How long one probe may take; below the interval.
    pub timeout: Duration,
}

impl Cadence {
    /// The default interval of a configured service: 30 s.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
    /// The default probe timeout of a configured service: 5 s.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// A cadence of `interval` with probes timing out after `timeout`.
    pub const fn new(interval: Duration, timeout: Duration) -> Self {
        Cadence { interval, timeout }
    }

    /// The interval on wedding days: half the interval when the timeout is still below it,
    /// else the interval itself.
    pub fn wedding_day_interval(&self) -> Duration {
        let half = self.interval / 2;
        if half > self.timeout {
            half
        } else {
            self.interval
        }
    }

    /// The interval that applies: [`Cadence::wedding_day_interval`] on a wedding day, else the
    /// ordinary one.
    pub fn interval_on(&self, wedding_day: bool) -> Duration {
        if wedding_day {
            self.wedding_day_interval()
        } else {
            self.interval
        }
    }

    /// `(ordinary, wedding-day)` intervals.
    pub fn intervals(&self) -> (Duration, Duration) {
        (self.interval, self.wedding_day_interval())
    }
}

impl Default for Cadence {
    /// 30 s, 5 s timeout (the defaults of a `[[services]]` entry).
    fn default() -> Self {
        Cadence::new(Self::DEFAULT_INTERVAL, Self::DEFAULT_TIMEOUT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(i: u64, t: u64) -> Cadence {
        Cadence::new(Duration::from_secs(i), Duration::from_secs(t))
    }

    #[test]
    fn wedding_days_halve_the_interval_when_the_timeout_fits() {
        assert_eq!(c(30, 5).intervals(), (secs(30), secs(15)));
        assert_eq!(c(11, 5).wedding_day_interval(), Duration::from_millis(5500));
        // half equal to the timeout does not fit
        assert_eq!(c(10, 5).wedding_day_interval(), secs(10));
        assert_eq!(c(10, 9).wedding_day_interval(), secs(10));
        assert_eq!(c(30, 5).interval_on(false), secs(30));
        assert_eq!(c(30, 5).interval_on(true), secs(15));
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }
}
