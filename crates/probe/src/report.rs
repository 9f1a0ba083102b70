//! The health report: what the monitor knows about each service (its latest result, breaker,
//! open incident and recent history) shaped for an API response and serialised straight from
//! borrowed data — building a `serde_json::Value` tree per request costs more than everything
//! else a health route does.
//!
//! [`Reporter`] assembles the whole document for a list of services, from a running monitor or
//! the stored results, with its caches (open incidents read at most every [`INCIDENTS_TTL`], the
//! rendered `services` array reused while nothing in it changed); it also runs probes on demand,
//! resets breakers and lists the probe gauges for a metrics page. `wedsync-monitor` serves it at
//! `GET /api/admin/integrations/health` and maps its errors to HTTP; a service embedding the
//! monitor can serve the same document without the server.
//!
//! ```
//! use std::collections::BTreeMap;
//! use wedsync_probe::report::{service_views, BreakerView, ServiceInput};
//!
//! let inputs = [ServiceInput { name: "stripe", kind: "stripe", breaker: BreakerView::closed(), history: None }];
//! let (latest, incidents) = (BTreeMap::new(), BTreeMap::new());
//! let (views, overall) = service_views(inputs, None, &latest, &incidents);
//! assert_eq!(overall, wedsync_probe::ProbeStatus::Unknown);
//! assert_eq!(serde_json::to_value(&views).unwrap()[0]["status"], "unknown");
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::store::{HourlyHealth, Incident};
use crate::{aggregate, ProbeResult, ProbeStatus, Snapshot};

mod reporter;

pub use reporter::{
    Gauge, RenderedReport, ReportError, ReportQuery, Reporter, INCIDENTS_TTL,
    PROBE_DURATION_SECONDS,
};

/// A time in Unix milliseconds that serialises as RFC 3339 (or `null` when out of range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ts(pub i64);

impl Ts {
    /// RFC 3339, or `None` when out of range.
    pub fn format(self) -> Option<String> {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
    }
}

impl Serialize for Ts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.format() {
            Some(t) => s.serialize_str(&t),
            None => s.serialize_none(),
        }
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `d` in seconds, rounded up to the millisecond (an open breaker never claims to admit a call
/// earlier than it will).
fn seconds_ceil_ms(d: Duration) -> f64 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    ms as f64 / 1000.0
}

/// One probe result.
#[derive(Debug, Serialize)]
pub struct ResultView<'a> {
    /// `healthy`, `degraded`, …
    pub status: &'static str,
    /// Latency in milliseconds.
    pub response_time_ms: f64,
    /// When it was taken.
    pub checked_at: Ts,
    /// The provider's HTTP status, if any.
    pub http_status: Option<u16>,
    /// Sanitised detail.
    pub detail: &'a str,
    /// The provider's request id, if any.
    pub request_id: Option<&'a str>,
}

impl<'a> From<&'a ProbeResult> for ResultView<'a> {
    fn from(r: &'a ProbeResult) -> Self {
        Self {
            status: r.status.as_str(),
            response_time_ms: millis(r.latency),
            checked_at: Ts(r.checked_at_ms),
            http_status: r.http_status,
            detail: &r.detail,
            request_id: r.request_id.as_deref(),
        }
    }
}

/// A service's breaker.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct BreakerView {
    /// `closed`, `open`, `half_open`, …
    pub state: &'static str,
    /// Failure rate over the window, once judged.
    pub failure_rate: Option<f32>,
    /// Slow-call rate over the window, once judged.
    pub slow_call_rate: Option<f32>,
    /// Whether the wedding-day configuration applies (`None`: no breaker yet).
    pub wedding_day: Option<bool>,
    /// Seconds until an open breaker admits a trial call.
    pub retry_after: Option<f64>,
}

impl BreakerView {
    /// A service whose breaker was never used.
    pub fn closed() -> Self {
        Self {
            state: "closed",
            failure_rate: None,
            slow_call_rate: None,
            wedding_day: None,
            retry_after: None,
        }
    }

    /// `service`'s breaker in `registry` ([`closed`](Self::closed) when it has none yet).
    pub fn of(registry: &wedsync_breaker::Registry, service: &str) -> Self {
        match registry.get_existing(service) {
            Some(b) => {
                let m = b.metrics();
                Self {
                    state: m.state.as_str(),
                    failure_rate: m.failure_rate,
                    slow_call_rate: m.slow_call_rate,
                    wedding_day: Some(m.wedding_day),
                    retry_after: m.retry_after.map(seconds_ceil_ms),
                }
            }
            None => Self::closed(),
        }
    }
}

/// A service's open incident.
#[derive(Debug, Serialize)]
pub struct IncidentView<'a> {
    /// The incident's key.
    pub dedup_key: &'a str,
    /// The status that opened it.
    pub status: &'static str,
    /// When it opened.
    pub opened_at: Ts,
    /// One line for humans.
    pub summary: &'a str,
    /// Whether it opened on a wedding day.
    pub wedding_day: bool,
}

impl<'a> From<&'a Incident> for IncidentView<'a> {
    fn from(i: &'a Incident) -> Self {
        Self {
            dedup_key: &i.dedup_key,
            status: i.status.as_str(),
            opened_at: Ts(i.opened_at_ms),
            summary: &i.summary,
            wedding_day: i.wedding_day,
        }
    }
}

/// One hour of a service's history (from the hourly rollups).
#[derive(Debug, Serialize)]
pub struct HistoryView {
    /// Start of the hour.
    pub hour: Ts,
    /// Results in the hour.
    pub checks: u64,
    /// Healthy results.
    pub healthy: u64,
    /// Degraded results.
    pub degraded: u64,
    /// Failing results.
    pub unhealthy: u64,
    /// Healthy or degraded results over all results of the hour, `0.0..=1.0`.
    pub uptime: Option<f64>,
    /// Mean latency.
    pub avg_response_time_ms: Option<f64>,
    /// Largest latency.
    pub max_response_time_ms: Option<u64>,
}

impl From<&HourlyHealth> for HistoryView {
    fn from(h: &HourlyHealth) -> Self {
        let ratio = |n: u64| (h.checks > 0).then(|| n as f64 / h.checks as f64);
        Self {
            hour: Ts(h.hour_start_ms),
            checks: h.checks,
            healthy: h.healthy,
            degraded: h.degraded,
            unhealthy: h.unhealthy,
            uptime: ratio(h.healthy + h.degraded),
            avg_response_time_ms: ratio(h.latency_sum_ms),
            max_response_time_ms: h.latency_max_ms,
        }
    }
}

/// One service in the report.
#[derive(Debug, Serialize)]
pub struct ServiceView<'a> {
    /// The service's name.
    pub name: &'a str,
    /// Its probe kind.
    pub kind: &'a str,
    /// Its current status.
    pub status: &'static str,
    /// The latest latency.
    pub response_time_ms: Option<f64>,
    /// When it was last checked.
    pub last_checked: Option<Ts>,
    /// The latest result.
    pub last_result: Option<ResultView<'a>>,
    /// The breaker's failure rate.
    pub error_rate: Option<f32>,
    /// Consecutive failing results.
    pub consecutive_failures: u32,
    /// Whether it is flapping.
    pub flapping: bool,
    /// Whether a maintenance window covers it.
    pub in_maintenance: bool,
    /// Its breaker.
    pub breaker: BreakerView,
    /// Its open incident.
    pub incident: Option<IncidentView<'a>>,
    /// The last 24 hours, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryView>>,
}

/// The whole report; `S` is the services array (views, or their cached rendering).
#[derive(Debug, Serialize)]
pub struct HealthReport<S> {
    /// The worst status over the services ([`aggregate`]).
    pub status: &'static str,
    /// Whether today is a wedding day.
    pub wedding_day: bool,
    /// When the report was taken.
    pub checked_at: Ts,
    /// Whether a monitor runs in this process (else the report comes from stored results).
    pub monitor_running: bool,
    /// The services.
    pub services: S,
}

/// What the report needs to know about one service besides the monitor's state.
#[derive(Debug)]
pub struct ServiceInput<'a> {
    /// The service's name.
    pub name: &'a str,
    /// Its probe kind.
    pub kind: &'a str,
    /// Its breaker.
    pub breaker: BreakerView,
    /// Its history, when asked for.
    pub history: Option<Vec<HistoryView>>,
}

/// The views of `services`, in order, from the monitor's `snapshot` (or, without a monitor, the
/// `latest` stored results) and the open `incidents`; and their aggregate status.
pub fn service_views<'a>(
    services: impl IntoIterator<Item = ServiceInput<'a>>,
    snapshot: Option<&'a Snapshot>,
    latest: &'a BTreeMap<String, ProbeResult>,
    incidents: &'a BTreeMap<String, Incident>,
) -> (Vec<ServiceView<'a>>, ProbeStatus) {
    let mut statuses = Vec::new();
    let views = services
        .into_iter()
        .map(|s| {
            let health = snapshot.and_then(|sn| sn.services.get(s.name));
            let last = health
                .and_then(|h| h.last.as_ref())
                .or_else(|| latest.get(s.name));
            let status = health
                .map(|h| h.status)
                .or_else(|| last.map(|l| l.status))
                .unwrap_or(ProbeStatus::Unknown);
            statuses.push(status);
            ServiceView {
                name: s.name,
                kind: s.kind,
                status: status.as_str(),
                response_time_ms: last.map(|l| millis(l.latency)),
                last_checked: last.map(|l| Ts(l.checked_at_ms)),
                last_result: last.map(ResultView::from),
                error_rate: s.breaker.failure_rate,
                consecutive_failures: health.map_or(0, |h| h.consecutive_failures),
                flapping: health.is_some_and(|h| h.flapping),
                in_maintenance: health.is_some_and(|h| h.in_maintenance),
                breaker: s.breaker,
                incident: incidents.get(s.name).map(IncidentView::from),
                history: s.history,
            }
        })
        .collect();
    (views, aggregate(statuses))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_and_out_of_range_is_null() {
        assert_eq!(
            serde_json::to_value(Ts(0)).unwrap(),
            serde_json::json!("1970-01-01T00:00:00Z")
        );
        assert!(serde_json::to_value(Ts(i64::MAX)).unwrap().is_null());
    }

    #[test]
    fn retry_after_never_rounds_down() {
        assert_eq!(seconds_ceil_ms(Duration::from_micros(1)), 0.001);
        assert_eq!(seconds_ceil_ms(Duration::from_millis(1500)), 1.5);
    }

    #[test]
    fn a_stored_result_stands_in_for_a_missing_monitor() {
        let r = ProbeResult::new("stripe", ProbeStatus::Degraded, "slow")
            .with_latency(Duration::from_millis(12));
        let latest = BTreeMap::from([("stripe".to_string(), r)]);
        let inputs = [ServiceInput {
            name: "stripe",
            kind: "stripe",
            breaker: BreakerView::closed(),
            history: None,
        }];
        let no_incidents = BTreeMap::new();
        let (views, overall) = service_views(inputs, None, &latest, &no_incidents);
        assert_eq!(overall, ProbeStatus::Degraded);
        let v = serde_json::to_value(&views).unwrap();
        assert_eq!(v[0]["status"], "degraded");
        assert_eq!(v[0]["response_time_ms"], 12.0);
        assert!(v[0].get("history").is_none());
    }
}
