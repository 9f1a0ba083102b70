//! The pure part of gathering: the probe store's rollups and results, the alert engine's
//! windows, incidents and webhook deliveries turned into the renderer's model. No I/O.

use std::collections::BTreeMap;
use std::time::Duration;

use time::OffsetDateTime;
use wedsync_probe::store::{HourlyHealth, Incident, DAY_MS, HOUR_MS};
use wedsync_probe::{Monitor, ProbeResult, ProbeStatus};
use wedsync_webhooks::store::{Delivery, DeliveryCount, DeliveryStatus, Priority};

use super::ServiceSpec;
use crate::model::{
    AttentionView, Bucket, IncidentView, LatencyPoint, MaintenanceView, ProviderWebhooks,
    ServiceView, State, WebhookCounts, WebhooksView, WeddingView,
};

/// At most this many deliveries are listed as needing attention.
const ATTENTION_SHOWN: usize = 50;

/// One service's slow-changing data.
#[derive(Debug, Clone, Default)]
pub(super) struct History {
    hours: Vec<Bucket>,
    days: Vec<Bucket>,
    latency_24h: Vec<LatencyPoint>,
    latency_7d: Vec<LatencyPoint>,
    p95_ms: Option<u64>,
}

/// An instant as Unix milliseconds.
pub fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// A probe status as the dashboard's state.
pub fn state_of(status: ProbeStatus, in_maintenance: bool) -> State {
    if in_maintenance {
        return State::Maintenance;
    }
    match status {
        ProbeStatus::Healthy => State::Up,
        ProbeStatus::Degraded | ProbeStatus::RateLimited => State::Degraded,
        ProbeStatus::Unknown => State::NoData,
        _ => State::Down,
    }
}

fn bucket(h: &HourlyHealth, width: i64) -> Bucket {
    Bucket {
        checks: h.checks,
        healthy: h.healthy,
        degraded: h.degraded,
        down: h.unhealthy,
        ..Bucket::empty(h.hour_start_ms, h.hour_start_ms + width)
    }
}

/// `count` buckets of `width` ending with the one that contains `now_ms`, filled from `rows`
/// (empty where there is no row).
fn series(rows: &[HourlyHealth], now_ms: i64, width: i64, count: i64) -> Vec<Bucket> {
    let last = now_ms - now_ms.rem_euclid(width);
    let by_start: BTreeMap<i64, &HourlyHealth> =
        rows.iter().map(|r| (r.hour_start_ms, r)).collect();
    (0..count)
        .map(|i| {
            let start = last - (count - 1 - i) * width;
            by_start
                .get(&start)
                .map_or(Bucket::empty(start, start + width), |r| bucket(r, width))
        })
        .collect()
}

fn latency<'a>(rows: impl IntoIterator<Item = &'a HourlyHealth>) -> Vec<LatencyPoint> {
    rows.into_iter()
        .filter(|r| r.checks > 0)
        .map(|r| LatencyPoint {
            at_ms: r.hour_start_ms,
            avg_ms: r.latency_sum_ms / r.checks,
            max_ms: r.latency_max_ms.unwrap_or(0),
        })
        .collect()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The 95th percentile of the latencies of the results taken since `since_ms`.
fn p95(results: &[ProbeResult], since_ms: i64) -> Option<u64> {
    let mut ms: Vec<u64> = results
        .iter()
        .filter(|r| r.checked_at_ms >= since_ms)
        .map(|r| millis(r.latency))
        .collect();
    ms.sort_unstable();
    wedsync_webhooks::analysis::percentile(&ms, 95.0)
}

/// Where each hour's failing results start and end (from the raw results of the last day).
fn outages(results: &[ProbeResult], hours: &mut [Bucket]) {
    for r in results
        .iter()
        .filter(|r| state_of(r.status, false) == State::Down)
    {
        if let Some(b) = hours
            .iter_mut()
            .find(|b| r.checked_at_ms >= b.start_ms && r.checked_at_ms < b.end_ms)
        {
            let (from, to) = b.outage.unwrap_or((r.checked_at_ms, r.checked_at_ms));
            b.outage = Some((from.min(r.checked_at_ms), to.max(r.checked_at_ms)));
        }
    }
}

fn mark_maintenance(buckets: &mut [Bucket], service: &str, windows: &[MaintenanceView]) {
    for b in buckets {
        b.maintenance = windows.iter().any(|w| {
            w.service.as_deref().is_none_or(|s| s == service)
                && w.start_ms < b.end_ms
                && w.end_ms > b.start_ms
        });
    }
}

/// One service's history from its hourly and daily rollups and its raw results of the last day.
pub(super) fn history(
    name: &str,
    hours: &[HourlyHealth],
    days: &[HourlyHealth],
    recent: &[ProbeResult],
    maintenance: &[MaintenanceView],
    now_ms: i64,
) -> History {
    let mut h = History {
        hours: series(hours, now_ms, HOUR_MS, 24),
        days: series(days, now_ms, DAY_MS, 90),
        latency_24h: latency(hours.iter().filter(|r| r.hour_start_ms > now_ms - DAY_MS)),
        latency_7d: latency(hours),
        p95_ms: p95(recent, now_ms - HOUR_MS),
    };
    outages(recent, &mut h.hours);
    mark_maintenance(&mut h.hours, name, maintenance);
    mark_maintenance(&mut h.days, name, maintenance);
    h
}

/// The maintenance windows the monitor's alert engine knows, current and upcoming.
pub fn maintenance(monitor: Option<&Monitor>, now_ms: i64) -> Vec<MaintenanceView> {
    monitor
        .map(|m| {
            m.alerts()
                .config()
                .maintenance
                .iter()
                .filter(|w| w.end_ms > now_ms)
                .map(|w| MaintenanceView {
                    service: w.service.clone(),
                    start_ms: w.start_ms,
                    end_ms: w.end_ms,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The wedding-day banner: today's state and what the tighter policy does.
pub fn wedding(services: &[ServiceSpec], monitor: Option<&Monitor>) -> WeddingView {
    let today = monitor.is_some_and(|m| m.is_wedding_day());
    let mut policy: Vec<String> = services
        .iter()
        .filter(|s| s.wedding_interval < s.interval)
        .map(|s| {
            format!(
                "{} probed every {} instead of {}",
                s.name,
                human(s.wedding_interval),
                human(s.interval)
            )
        })
        .collect();
    if let Some(m) = monitor {
        let a = m.alerts().config();
        policy.push(format!(
            "incidents open after {} failed checks instead of {}",
            a.wedding_failures_to_open, a.failures_to_open
        ));
    }
    policy.push(
        "wedding-critical webhooks retried on the denser schedule (5 s, 30 s, 2 min…)".into(),
    );
    WeddingView { today, policy }
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else if s > 0 {
        format!("{s} s")
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// A service's latest state.
#[derive(Debug)]
pub(super) struct Latest {
    pub(super) status: ProbeStatus,
    pub(super) last: Option<ProbeResult>,
    pub(super) in_maintenance: bool,
    pub(super) flapping: bool,
    pub(super) breaker: String,
}

impl Latest {
    /// A stored result (a process without a monitor: no maintenance, flapping or breaker).
    pub(super) fn stored(r: ProbeResult) -> Self {
        Latest {
            status: r.status,
            last: Some(r),
            in_maintenance: false,
            flapping: false,
            breaker: "unknown".into(),
        }
    }
}

/// One service row from its latest state and its history.
pub(super) fn row(name: &str, latest: Option<Latest>, h: History) -> ServiceView {
    let Latest {
        status,
        last,
        in_maintenance: maint,
        flapping,
        breaker,
    } = latest.unwrap_or(Latest {
        status: ProbeStatus::Unknown,
        last: None,
        in_maintenance: false,
        flapping: false,
        breaker: "closed".into(),
    });
    ServiceView {
        name: name.to_owned(),
        status: status.as_str().to_owned(),
        state: state_of(status, maint),
        detail: last
            .as_ref()
            .map(|r| r.detail.clone())
            .filter(|d| !d.is_empty()),
        breaker,
        latency_ms: last.as_ref().map(|r| millis(r.latency)),
        p95_ms: h.p95_ms,
        checked_at_ms: last.as_ref().map(|r| r.checked_at_ms),
        in_maintenance: maint,
        flapping,
        hours: h.hours,
        days: h.days,
        latency_24h: h.latency_24h,
        latency_7d: h.latency_7d,
    }
}

/// The webhooks panel from the delivery counts of the last 24 h (`day`) and hour (`hour`), the
/// deliveries that may need a person (`attention`: failed or retrying), the queue depth and the
/// configured providers (listed even without deliveries).
pub fn webhooks_view(
    providers: &[String],
    day: &[DeliveryCount],
    hour: &[DeliveryCount],
    attention: &[Delivery],
    queue_depth: u64,
) -> WebhooksView {
    let line = |p: &str| ProviderWebhooks {
        provider: p.to_owned(),
        hour: WebhookCounts::default(),
        day: WebhookCounts::default(),
    };
    let mut lines: BTreeMap<String, ProviderWebhooks> =
        providers.iter().map(|p| (p.clone(), line(p))).collect();
    for (counts, in_hour) in [(day, false), (hour, true)] {
        for c in counts {
            if matches!(
                c.status,
                DeliveryStatus::Duplicate | DeliveryStatus::Rejected
            ) {
                continue;
            }
            let name = c.provider.as_str();
            let p = lines.entry(name.to_owned()).or_insert_with(|| line(name));
            let counts = if in_hour { &mut p.hour } else { &mut p.day };
            counts.received += c.count;
            if c.status == DeliveryStatus::Delivered {
                counts.delivered += c.count;
            }
            if matches!(c.status, DeliveryStatus::Failed | DeliveryStatus::Retrying) {
                counts.failing += c.count;
            }
        }
    }
    WebhooksView {
        providers: lines.into_values().collect(),
        queue_depth,
        attention: wedsync_webhooks::analysis::needs_attention(attention)
            .into_iter()
            .take(ATTENTION_SHOWN)
            .map(attention_view)
            .collect(),
    }
}

fn attention_view(d: &Delivery) -> AttentionView {
    AttentionView {
        delivery_id: d.id.to_string(),
        provider: d.provider.as_str().to_owned(),
        event_type: d.event_type.clone(),
        status: d.status.as_str().to_owned(),
        attempts: d.attempt_count,
        last_error: match (d.last_error, d.last_status) {
            (Some(e), Some(s)) => Some(format!("{e} ({s})")),
            (Some(e), None) => Some(e.to_string()),
            (None, Some(s)) => Some(s.to_string()),
            (None, None) => None,
        },
        received_at_ms: unix_ms(d.received_at),
        critical: d.priority == Priority::Critical,
    }
}

/// An incident's timeline entry.
pub(super) fn incident_view(
    i: &Incident,
    alerted: Option<i64>,
    acknowledged: Option<i64>,
) -> IncidentView {
    IncidentView {
        key: i.dedup_key.clone(),
        service: i.service.clone(),
        status: i.status.as_str().to_owned(),
        summary: i.summary.clone(),
        opened_at_ms: i.opened_at_ms,
        alerted_at_ms: alerted,
        acknowledged_at_ms: acknowledged,
        resolved_at_ms: i.resolved_at_ms,
        wedding_day: i.wedding_day,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hh(start: i64, checks: u64, down: u64) -> HourlyHealth {
        HourlyHealth {
            hour_start_ms: start,
            checks,
            healthy: checks - down,
            unhealthy: down,
            ..HourlyHealth::default()
        }
    }

    #[test]
    fn series_fill_the_gaps_and_end_with_the_current_period() {
        let now = 100 * HOUR_MS + 5;
        let rows = [hh(98 * HOUR_MS, 4, 1), hh(100 * HOUR_MS, 2, 0)];
        let s = series(&rows, now, HOUR_MS, 24);
        assert_eq!(s.len(), 24);
        assert_eq!(s[23].start_ms, 100 * HOUR_MS);
        assert_eq!((s[23].checks, s[21].down, s[22].checks), (2, 1, 0));
        assert!(s.windows(2).all(|w| w[0].end_ms == w[1].start_ms));
    }

    #[test]
    fn outages_span_the_failing_results_of_their_hour() {
        let mut hours = series(&[], 2 * HOUR_MS + 5, HOUR_MS, 3);
        let r = |at, st| ProbeResult {
            checked_at_ms: at,
            ..ProbeResult::new("s", st, "")
        };
        let results = [
            r(HOUR_MS + 10, ProbeStatus::Unhealthy),
            r(HOUR_MS + 500, ProbeStatus::Healthy),
            r(HOUR_MS + 900, ProbeStatus::Unhealthy),
            r(2 * HOUR_MS + 1, ProbeStatus::AuthFailed),
        ];
        outages(&results, &mut hours);
        assert_eq!(hours[0].outage, None);
        assert_eq!(hours[1].outage, Some((HOUR_MS + 10, HOUR_MS + 900)));
        assert_eq!(hours[2].outage, Some((2 * HOUR_MS + 1, 2 * HOUR_MS + 1)));
    }

    #[test]
    fn states_from_statuses() {
        assert_eq!(state_of(ProbeStatus::Healthy, false), State::Up);
        assert_eq!(state_of(ProbeStatus::Unhealthy, true), State::Maintenance);
        assert_eq!(state_of(ProbeStatus::AuthFailed, false), State::Down);
        assert_eq!(state_of(ProbeStatus::RateLimited, false), State::Degraded);
        assert_eq!(state_of(ProbeStatus::Unknown, false), State::NoData);
        assert_eq!(human(Duration::from_secs(15)), "15 s");
        assert_eq!(human(Duration::from_secs(120)), "2 min");
        assert_eq!(human(Duration::from_millis(500)), "500 ms");
    }

    #[test]
    fn history_marks_maintenance_and_takes_p95_over_the_last_hour() {
        let now = 100 * HOUR_MS + 5;
        let r = |at, ms| ProbeResult {
            checked_at_ms: at,
            latency: Duration::from_millis(ms),
            ..ProbeResult::new("s", ProbeStatus::Healthy, "")
        };
        // an old slow result is outside the p95's hour
        let recent = [
            r(now - 2 * HOUR_MS, 9_000),
            r(now - 10, 100),
            r(now - 5, 200),
        ];
        let windows = [MaintenanceView {
            service: Some("s".into()),
            start_ms: 99 * HOUR_MS,
            end_ms: 99 * HOUR_MS + 1,
        }];
        let h = history("s", &[hh(99 * HOUR_MS, 2, 0)], &[], &recent, &windows, now);
        assert_eq!(h.p95_ms, Some(200));
        assert!(h.hours[22].maintenance && !h.hours[23].maintenance);
        assert!(h.days[89].maintenance, "today overlaps the window");
        assert_eq!(h.latency_24h.len(), 1);
        let other = history("t", &[], &[], &[], &windows, now);
        assert!(!other.hours[22].maintenance, "another service's window");
    }

    #[test]
    fn rows_without_data_show_unknown() {
        let v = row("stripe", None, History::default());
        assert_eq!((v.status.as_str(), v.state), ("unknown", State::NoData));
        assert_eq!(v.breaker, "closed");
    }

    #[test]
    fn the_banner_names_each_tighter_interval() {
        let s = |name: &str, i, w| ServiceSpec {
            name: name.into(),
            public: false,
            interval: Duration::from_secs(i),
            wedding_interval: Duration::from_secs(w),
        };
        let w = wedding(&[s("stripe", 120, 60), s("twilio", 30, 30)], None);
        assert!(!w.today);
        assert_eq!(w.policy[0], "stripe probed every 1 min instead of 2 min");
        assert_eq!(w.policy.len(), 2, "{:?}", w.policy);
    }

    #[test]
    fn configured_providers_are_listed_without_deliveries() {
        let v = webhooks_view(&["resend".into(), "stripe".into()], &[], &[], &[], 3);
        let names: Vec<&str> = v.providers.iter().map(|p| p.provider.as_str()).collect();
        assert_eq!(names, ["resend", "stripe"]);
        assert_eq!(v.queue_depth, 3);
        assert!(v.attention.is_empty());
        assert_eq!(unix_ms(OffsetDateTime::UNIX_EPOCH), 0);
    }

    #[test]
    fn counts_make_the_panel_without_duplicates_or_rejected_requests() {
        use wedsync_webhooks::Provider;
        let c = |provider, status, count| DeliveryCount {
            provider,
            status,
            count,
        };
        let day = [
            c(Provider::Stripe, DeliveryStatus::Delivered, 7),
            c(Provider::Stripe, DeliveryStatus::Retrying, 2),
            c(Provider::Stripe, DeliveryStatus::Failed, 1),
            c(Provider::Stripe, DeliveryStatus::Duplicate, 4),
            c(Provider::Twilio, DeliveryStatus::Rejected, 9),
            c(Provider::Twilio, DeliveryStatus::Pending, 1),
        ];
        let hour = [c(Provider::Stripe, DeliveryStatus::Retrying, 2)];
        let v = webhooks_view(&["stripe".into()], &day, &hour, &[], 0);
        let stripe = &v.providers[0];
        assert_eq!(stripe.provider, "stripe");
        assert_eq!(
            (
                stripe.day.received,
                stripe.day.delivered,
                stripe.day.failing
            ),
            (10, 7, 3)
        );
        assert_eq!(
            (
                stripe.hour.received,
                stripe.hour.delivered,
                stripe.hour.failing
            ),
            (2, 0, 2)
        );
        let twilio = &v.providers[1];
        assert_eq!(
            (twilio.provider.as_str(), twilio.day.received),
            ("twilio", 1)
        );
    }
}
