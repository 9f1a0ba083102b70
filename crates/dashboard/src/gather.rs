//! Gathering what the dashboard shows (feature `gather`): the monitor's snapshot (live), the
//! probe store's rollups and recent results (refreshed every [`ROLLUPS_TTL`]), incidents and
//! the webhook figures (refreshed every [`WEBHOOKS_TTL`]), turned into a [`DashboardView`] or a
//! [`PublicView`]. The slow parts are cached in the [`Gatherer`] and shared by every open page,
//! so a page or an update costs one render, not a round of queries.
//!
//! The data comes from a [`wedsync_probe::Monitor`] (when the process runs one), a
//! [`ProbeStore`] and a [`WebhookStore`] — traits, so any backend serves — and the incident
//! acknowledgements from whatever log the embedder keeps ([`Gatherer::view`] takes them as a
//! future, awaited only when there are incidents to show).
//!
//! ```
//! use std::time::Duration;
//! use wedsync_dashboard::gather::{Gatherer, ServiceSpec, Sources, Spec};
//! use wedsync_probe::store::MemoryStore;
//! use wedsync_webhooks::store::InMemoryStore;
//!
//! let gatherer = Gatherer::new(Spec {
//!     zone: "Europe/London".into(),
//!     services: vec![ServiceSpec {
//!         name: "stripe".into(),
//!         public: true,
//!         interval: Duration::from_secs(30),
//!         wedding_interval: Duration::from_secs(15),
//!     }],
//!     providers: vec!["stripe".into()],
//! });
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! let (probes, webhooks) = (MemoryStore::new(), InMemoryStore::default());
//! let src = Sources { monitor: None, probes: &probes, webhooks: &webhooks };
//! let view = gatherer.view(src, async { Vec::new() }, false, "csrf".into()).await;
//! assert_eq!(view.services[0].status, "unknown"); // no result yet
//! assert_eq!(view.services[0].hours.len(), 24);
//! assert!(view.wedding.policy[0].contains("stripe probed every 15 s instead of 30 s"));
//! # });
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use wedsync_probe::store::{
    HourlyHealth, Incident, IncidentState, OutboxState, ProbeStore, DAY_MS, HOUR_MS,
};
use wedsync_probe::{Monitor, ProbeResult, ProbeStatus};
use wedsync_webhooks::store::{Delivery, DeliveryQuery, DeliveryStatus, Priority, WebhookStore};

use crate::model::{
    AttentionView, Bucket, DashboardView, IncidentView, LatencyPoint, MaintenanceView,
    ProviderWebhooks, PublicService, PublicView, ServiceView, State, WebhookCounts, WebhooksView,
    WeddingView,
};

pub use wedsync_probe::now_ms;

/// How long rollups, recent results and incidents are reused (incidents: a fifth of it).
pub const ROLLUPS_TTL: Duration = Duration::from_secs(15);
/// How long the webhook figures are reused.
pub const WEBHOOKS_TTL: Duration = Duration::from_secs(5);
/// Resolved incidents stay listed this long.
const RESOLVED_KEPT_MS: i64 = DAY_MS;
/// At most this many deliveries are read for the 24 h figures.
const DELIVERIES_READ: usize = 50_000;
/// At most this many raw results of the last day are read per service.
const RECENT_READ: usize = 5_000;
/// At most this many deliveries are listed as needing attention.
const ATTENTION_SHOWN: usize = 50;

/// One configured service as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Its name (`stripe`, …).
    pub name: String,
    /// Whether the public status page and the badges show it.
    pub public: bool,
    /// How often it is probed.
    pub interval: Duration,
    /// How often it is probed on wedding days.
    pub wedding_interval: Duration,
}

/// What a dashboard shows, fixed at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spec {
    /// IANA zone every time is shown in (the wedding-day zone).
    pub zone: String,
    /// The services, in configuration order.
    pub services: Vec<ServiceSpec>,
    /// The configured webhook providers (listed even without deliveries).
    pub providers: Vec<String>,
}

/// Where the data comes from.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    /// The monitor, when this process runs one (else the stored latest results are shown).
    pub monitor: Option<&'a Monitor>,
    /// The probe store (rollups, results, incidents, notifications).
    pub probes: &'a dyn ProbeStore,
    /// The webhook store (deliveries, queue depth).
    pub webhooks: &'a dyn WebhookStore,
}

impl std::fmt::Debug for Sources<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("monitor", &self.monitor.is_some())
            .finish_non_exhaustive()
    }
}

/// One service's slow-changing data.
#[derive(Debug, Clone, Default)]
struct History {
    hours: Vec<Bucket>,
    days: Vec<Bucket>,
    latency_24h: Vec<LatencyPoint>,
    latency_7d: Vec<LatencyPoint>,
    p95_ms: Option<u64>,
}

#[derive(Debug, Default)]
struct Cache {
    history: Option<(Instant, Arc<BTreeMap<String, History>>)>,
    incidents: Option<(Instant, Arc<Vec<IncidentView>>)>,
    webhooks: Option<(Instant, Arc<WebhooksView>)>,
    /// Incidents seen open, kept to show them resolved.
    seen: BTreeMap<String, Incident>,
}

/// Gathers views for one dashboard, caching the slow parts (share one per process).
#[derive(Debug)]
pub struct Gatherer {
    spec: Spec,
    cache: Mutex<Cache>,
}

fn fresh<T: Clone>(slot: &Option<(Instant, T)>, ttl: Duration) -> Option<T> {
    slot.as_ref()
        .filter(|(at, _)| at.elapsed() < ttl)
        .map(|(_, v)| v.clone())
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
fn history(
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
struct Latest {
    status: ProbeStatus,
    last: Option<ProbeResult>,
    in_maintenance: bool,
    flapping: bool,
    breaker: String,
}

impl Latest {
    /// A stored result (a process without a monitor: no maintenance, flapping or breaker).
    fn stored(r: ProbeResult) -> Self {
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
fn row(name: &str, latest: Option<Latest>, h: History) -> ServiceView {
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

/// The webhooks panel from the deliveries received in the last 24 h (`day`), the queue depth
/// and the configured providers (listed even without deliveries), as of `now`.
pub fn webhooks_view(
    providers: &[String],
    day: &[Delivery],
    queue_depth: u64,
    now: OffsetDateTime,
) -> WebhooksView {
    let line = |p: &str| ProviderWebhooks {
        provider: p.to_owned(),
        hour: WebhookCounts::default(),
        day: WebhookCounts::default(),
    };
    let hour_ago = now - time::Duration::hours(1);
    let mut lines: BTreeMap<String, ProviderWebhooks> =
        providers.iter().map(|p| (p.clone(), line(p))).collect();
    for d in day {
        if matches!(
            d.status,
            DeliveryStatus::Duplicate | DeliveryStatus::Rejected
        ) {
            continue;
        }
        let name = d.provider.as_str();
        let p = lines.entry(name.to_owned()).or_insert_with(|| line(name));
        let delivered = u64::from(d.status == DeliveryStatus::Delivered);
        let failing = u64::from(matches!(
            d.status,
            DeliveryStatus::Failed | DeliveryStatus::Retrying
        ));
        for (c, yes) in [(&mut p.day, true), (&mut p.hour, d.received_at >= hour_ago)] {
            if yes {
                c.received += 1;
                c.delivered += delivered;
                c.failing += failing;
            }
        }
    }
    WebhooksView {
        providers: lines.into_values().collect(),
        queue_depth,
        attention: wedsync_webhooks::analysis::needs_attention(day)
            .into_iter()
            .take(ATTENTION_SHOWN)
            .map(attention)
            .collect(),
    }
}

fn attention(d: &Delivery) -> AttentionView {
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
fn incident_view(i: &Incident, alerted: Option<i64>, acknowledged: Option<i64>) -> IncidentView {
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

impl Gatherer {
    /// A gatherer for the dashboard `spec` describes.
    pub fn new(spec: Spec) -> Self {
        Gatherer {
            spec,
            cache: Mutex::default(),
        }
    }

    /// What it gathers for.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every configured service's rollups, recent latency and outage times.
    async fn history(
        &self,
        store: &dyn ProbeStore,
        maintenance: &[MaintenanceView],
        now_ms: i64,
    ) -> Arc<BTreeMap<String, History>> {
        if let Some(h) = fresh(&self.lock().history, ROLLUPS_TTL) {
            return h;
        }
        let mut out = BTreeMap::new();
        for s in &self.spec.services {
            let name = s.name.as_str();
            let hours = store.hourly_history(name, now_ms - 7 * DAY_MS).await;
            let days = store.daily_history(name, now_ms - 89 * DAY_MS).await;
            let recent = store.history(name, now_ms - DAY_MS, RECENT_READ).await;
            let h = history(
                name,
                &hours.unwrap_or_default(),
                &days.unwrap_or_default(),
                &recent.unwrap_or_default(),
                maintenance,
                now_ms,
            );
            out.insert(s.name.clone(), h);
        }
        let out = Arc::new(out);
        self.lock().history = Some((Instant::now(), out.clone()));
        out
    }

    /// Open incidents, and those resolved in the last day, newest first; `acks` lists the
    /// acknowledgements (incident key, Unix ms), read only when there is an incident to show.
    async fn incidents<A>(
        &self,
        store: &dyn ProbeStore,
        acks: A,
        now_ms: i64,
    ) -> Arc<Vec<IncidentView>>
    where
        A: Future<Output = Vec<(String, i64)>>,
    {
        if let Some(i) = fresh(&self.lock().incidents, ROLLUPS_TTL / 5) {
            return i;
        }
        let open = store.list_open_incidents().await.unwrap_or_default();
        let mut seen = std::mem::take(&mut self.lock().seen);
        for i in &open {
            seen.insert(i.dedup_key.clone(), i.clone());
        }
        // incidents seen open and no longer listed: read them back (resolved)
        let gone: Vec<String> = seen
            .iter()
            .filter(|(k, i)| {
                i.state == IncidentState::Open && !open.iter().any(|o| &o.dedup_key == *k)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            if let Ok(Some(i)) = store.get_incident(&key).await {
                seen.insert(key, i);
            }
        }
        seen.retain(|_, i| {
            i.resolved_at_ms
                .is_none_or(|r| r > now_ms - RESOLVED_KEPT_MS)
        });
        let mut acknowledged: BTreeMap<String, i64> = BTreeMap::new();
        if !seen.is_empty() {
            for (key, at) in acks.await {
                let first = acknowledged.entry(key).or_insert(at);
                *first = (*first).min(at);
            }
        }
        let mut views = Vec::with_capacity(seen.len());
        for i in seen.values() {
            let alerted = store
                .notifications_for(&i.dedup_key)
                .await
                .unwrap_or_default()
                .iter()
                .filter(|n| n.state == OutboxState::Sent)
                .map(|n| n.created_at_ms)
                .min();
            views.push(incident_view(
                i,
                alerted,
                acknowledged.get(&i.dedup_key).copied(),
            ));
        }
        views.sort_by_key(|v| std::cmp::Reverse(v.opened_at_ms));
        let views = Arc::new(views);
        let mut g = self.lock();
        g.seen = seen;
        g.incidents = Some((Instant::now(), views.clone()));
        views
    }

    /// Per-provider counts for 1 h and 24 h, the queue depth and the attention list.
    async fn webhooks(&self, store: &dyn WebhookStore) -> Arc<WebhooksView> {
        if let Some(w) = fresh(&self.lock().webhooks, WEBHOOKS_TTL) {
            return w;
        }
        let now = OffsetDateTime::now_utc();
        let day = store
            .list_deliveries(&DeliveryQuery {
                received_from: Some(now - time::Duration::days(1)),
                received_to: Some(now + time::Duration::seconds(1)),
                limit: Some(DELIVERIES_READ),
                ..Default::default()
            })
            .await
            .unwrap_or_default();
        let queued = store.queue_depth().await.unwrap_or(0);
        let view = Arc::new(webhooks_view(&self.spec.providers, &day, queued, now));
        self.lock().webhooks = Some((Instant::now(), view.clone()));
        view
    }

    /// The live rows: the monitor's snapshot (or the stored latest results in a process without
    /// a monitor) joined with the cached history.
    async fn rows(&self, src: Sources<'_>, now_ms: i64) -> Vec<ServiceView> {
        let maintenance = maintenance(src.monitor, now_ms);
        let history = self.history(src.probes, &maintenance, now_ms).await;
        let mut latest: BTreeMap<String, Latest> = match src.monitor {
            Some(m) => m
                .snapshot()
                .services
                .iter()
                .map(|(k, h)| {
                    let latest = Latest {
                        status: h.status,
                        last: h.last.clone(),
                        in_maintenance: h.in_maintenance,
                        flapping: h.flapping,
                        breaker: h.breaker.clone(),
                    };
                    (k.clone(), latest)
                })
                .collect(),
            None => src
                .probes
                .latest_results()
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|r| (r.service.clone(), Latest::stored(r)))
                .collect(),
        };
        self.spec
            .services
            .iter()
            .map(|s| {
                let h = history.get(&s.name).cloned().unwrap_or_default();
                row(&s.name, latest.remove(&s.name), h)
            })
            .collect()
    }

    /// The live dashboard for one viewer: `can_act` when it may replay and acknowledge, `csrf`
    /// its session's CSRF token; `acks` are the incident acknowledgements (incident key, Unix
    /// ms), awaited only when there is an incident to show.
    pub async fn view<A>(
        &self,
        src: Sources<'_>,
        acks: A,
        can_act: bool,
        csrf: String,
    ) -> DashboardView
    where
        A: Future<Output = Vec<(String, i64)>>,
    {
        let now_ms = now_ms();
        let services = self.rows(src, now_ms).await;
        DashboardView {
            now_ms,
            zone: self.spec.zone.clone(),
            wedding: wedding(&self.spec.services, src.monitor),
            services,
            incidents: (*self.incidents(src.probes, acks, now_ms).await).clone(),
            maintenance: maintenance(src.monitor, now_ms),
            webhooks: (*self.webhooks(src.webhooks).await).clone(),
            can_act,
            csrf,
            flash: None,
        }
    }

    /// The public status page: only the services with `public`, no details.
    pub async fn public(&self, src: Sources<'_>) -> PublicView {
        let now_ms = now_ms();
        let services = self
            .rows(src, now_ms)
            .await
            .into_iter()
            .zip(&self.spec.services)
            .filter(|(_, s)| s.public)
            .map(|(r, _)| PublicService {
                name: r.name,
                state: r.state,
                days: r.days,
            })
            .collect();
        PublicView {
            now_ms,
            zone: self.spec.zone.clone(),
            services,
        }
    }

    /// Forgets the cached incidents (after an acknowledgement, so the page shows it at once).
    pub fn invalidate_incidents(&self) {
        self.lock().incidents = None;
    }

    /// Forgets the cached webhook figures (after a replay, so the page shows it at once).
    pub fn invalidate_webhooks(&self) {
        self.lock().webhooks = None;
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
        let now = OffsetDateTime::now_utc();
        let v = webhooks_view(&["resend".into(), "stripe".into()], &[], 3, now);
        let names: Vec<&str> = v.providers.iter().map(|p| p.provider.as_str()).collect();
        assert_eq!(names, ["resend", "stripe"]);
        assert_eq!(v.queue_depth, 3);
        assert!(v.attention.is_empty());
        assert_eq!(unix_ms(OffsetDateTime::UNIX_EPOCH), 0);
    }

    fn gatherer() -> Gatherer {
        Gatherer::new(Spec {
            zone: "UTC".into(),
            services: ["stripe", "twilio"]
                .map(|name| ServiceSpec {
                    name: name.into(),
                    public: name == "stripe",
                    interval: Duration::from_secs(30),
                    wedding_interval: Duration::from_secs(30),
                })
                .into(),
            providers: vec!["stripe".into()],
        })
    }

    #[test]
    fn views_from_the_stores_with_incidents_acknowledgements_and_caches() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use wedsync_probe::store::{IncidentStore as _, MemoryStore, ResultStore as _};
        use wedsync_webhooks::store::InMemoryStore;

        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let (probes, webhooks) = (MemoryStore::new(), InMemoryStore::default());
            let src = Sources {
                monitor: None,
                probes: &probes,
                webhooks: &webhooks,
            };
            let g = gatherer();
            let asked = AtomicBool::new(false);
            let acks = |list: Vec<(String, i64)>| {
                let asked = &asked;
                async move {
                    asked.store(true, Ordering::SeqCst);
                    list
                }
            };

            // nothing stored: no data, and the audit log is not read
            let v = g.view(src, acks(vec![]), true, "t".into()).await;
            assert!(!asked.load(Ordering::SeqCst), "no incident, no audit read");
            assert_eq!((v.can_act, v.csrf.as_str()), (true, "t"));
            assert_eq!(v.services.len(), 2);
            assert_eq!(v.webhooks.providers[0].provider, "stripe");

            // a stored result (no monitor) and an open incident, acknowledged twice
            let now = now_ms();
            let mut r = ProbeResult::new("stripe", ProbeStatus::Unhealthy, "timeout");
            r.checked_at_ms = now;
            probes.insert_result(&r).await.unwrap();
            let key = Incident::dedup_key_for("stripe", now);
            let incident = Incident {
                dedup_key: key.clone(),
                service: "stripe".into(),
                state: IncidentState::Open,
                status: ProbeStatus::Unhealthy,
                opened_at_ms: now,
                updated_at_ms: now,
                resolved_at_ms: None,
                last_notified_at_ms: None,
                wedding_day: false,
                summary: "timeout".into(),
            };
            probes.open_incident(incident).await.unwrap();
            let twice = vec![(key.clone(), now + 9), (key.clone(), now + 5)];
            let v = g.view(src, acks(twice.clone()), false, "t".into()).await;
            assert!(v.incidents.is_empty(), "incidents are cached a few seconds");
            assert_eq!(
                (v.services[0].status.as_str(), v.services[0].state),
                ("unhealthy", State::Down)
            );
            assert_eq!(v.services[0].detail.as_deref(), Some("timeout"));
            g.invalidate_incidents();
            let v = g.view(src, acks(twice.clone()), false, "t".into()).await;
            assert_eq!(v.incidents.len(), 1);
            assert_eq!(
                v.incidents[0].acknowledged_at_ms,
                Some(now + 5),
                "the first"
            );
            assert!(asked.load(Ordering::SeqCst));

            // the history is cached for ROLLUPS_TTL; the incidents until invalidated
            probes.resolve_incident(&key, now + 20).await.unwrap();
            g.invalidate_incidents();
            let v = g.view(src, acks(twice), false, "t".into()).await;
            assert_eq!(
                v.incidents[0].resolved_at_ms,
                Some(now + 20),
                "kept, resolved"
            );

            // the public page: opted-in services only
            let p = g.public(src).await;
            let names: Vec<&str> = p.services.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(names, ["stripe"]);
            assert_eq!(p.services[0].state, State::Down);
        });
    }
}
