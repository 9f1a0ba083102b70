//! What the monitor publishes ([`ServiceHealth`], [`Snapshot`], [`LagStats`]) and what it keeps
//! per service between snapshots.

use super::*;

/// The cached health of one service.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ServiceHealth {
    /// The service.
    pub service: String,
    /// The latest status (`unknown` before the first result).
    pub status: ProbeStatus,
    /// The latest result.
    pub last: Option<ProbeResult>,
    /// Consecutive failing results.
    pub consecutive_failures: u32,
    /// The open incident's dedup key.
    pub incident: Option<String>,
    /// Whether a maintenance window covers it now.
    pub in_maintenance: bool,
    /// Whether it is flapping.
    pub flapping: bool,
    /// Its breaker's state (`closed`, `open`, …).
    pub breaker: String,
}

/// Everything the monitor knows, at one instant.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Snapshot {
    /// When it was taken (unix ms).
    pub at_ms: i64,
    /// Whether it is a wedding day.
    pub wedding_day: bool,
    /// The worst status over all services ([`aggregate`]).
    pub overall: ProbeStatus,
    /// Per service, by name.
    pub services: BTreeMap<String, ServiceHealth>,
}

/// Scheduling-lag statistics: how late runs started against their plan (including the wait for
/// a concurrency permit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LagStats {
    /// Scheduled runs measured.
    pub count: u64,
    /// Median lag.
    pub p50: Duration,
    /// 99th percentile lag.
    pub p99: Duration,
    /// Largest lag.
    pub max: Duration,
}

pub(super) const LAG_BUCKETS: usize = 10_001; // 1 ms buckets up to 10 s, then overflow

pub(super) struct LagHist {
    pub(super) buckets: Vec<u64>,
    pub(super) count: u64,
    pub(super) max: Duration,
}

impl LagHist {
    pub(super) fn record(&mut self, d: Duration) {
        let i = (d.as_millis() as usize).min(LAG_BUCKETS - 1);
        self.buckets[i] += 1;
        self.count += 1;
        self.max = self.max.max(d);
    }
    pub(super) fn quantile(&self, q: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let target = ((self.count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= target {
                return Duration::from_millis(i as u64);
            }
        }
        self.max
    }
}

/// What the monitor keeps per service between snapshots: the mutable part of [`ServiceHealth`],
/// without the copies of the name (the service's index is its key) and with the breaker state
/// as a `State`, not a string. [`ServiceHealth`] values are built from it on demand.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Live {
    pub(super) status: ProbeStatus,
    pub(super) last: Option<ProbeResult>,
    pub(super) consecutive_failures: u32,
    pub(super) incident: Option<String>,
    pub(super) in_maintenance: bool,
    pub(super) flapping: bool,
    pub(super) breaker: State,
}

impl Live {
    /// A service before its first result.
    pub(super) fn new(breaker: State) -> Self {
        Self {
            status: ProbeStatus::Unknown,
            last: None,
            consecutive_failures: 0,
            incident: None,
            in_maintenance: false,
            flapping: false,
            breaker,
        }
    }

    /// What a subscriber acts on (everything but the latest result itself).
    pub(super) fn published(&self) -> (ProbeStatus, Option<&str>, bool, bool, State) {
        (
            self.status,
            self.incident.as_deref(),
            self.in_maintenance,
            self.flapping,
            self.breaker,
        )
    }

    /// Makes `h` equal to `self.health(h.service, breaker)`, reusing `h`'s strings.
    pub(super) fn refresh(&self, h: &mut ServiceHealth, breaker: State) {
        h.status = self.status;
        match (&mut h.last, &self.last) {
            (Some(to), Some(from)) => {
                // exhaustive: a new field of `ProbeResult` fails to compile here
                let ProbeResult {
                    service,
                    status,
                    checked_at_ms,
                    latency,
                    http_status,
                    detail,
                    request_id,
                    timings,
                    retry_after,
                } = from;
                to.service.clone_from(service);
                to.status = *status;
                to.checked_at_ms = *checked_at_ms;
                to.latency = *latency;
                to.http_status = *http_status;
                to.detail.clone_from(detail);
                to.request_id.clone_from(request_id);
                to.timings = *timings;
                to.retry_after = *retry_after;
            }
            (to, from) => to.clone_from(from),
        }
        h.consecutive_failures = self.consecutive_failures;
        h.incident.clone_from(&self.incident);
        h.in_maintenance = self.in_maintenance;
        h.flapping = self.flapping;
        if h.breaker != breaker.as_str() {
            h.breaker.clear();
            h.breaker.push_str(breaker.as_str());
        }
    }

    pub(super) fn health(&self, service: &str, breaker: State) -> ServiceHealth {
        ServiceHealth {
            service: service.to_owned(),
            status: self.status,
            last: self.last.clone(),
            consecutive_failures: self.consecutive_failures,
            incident: self.incident.clone(),
            in_maintenance: self.in_maintenance,
            flapping: self.flapping,
            breaker: breaker.as_str().to_owned(),
        }
    }
}
