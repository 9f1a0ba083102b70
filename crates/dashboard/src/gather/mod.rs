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
use wedsync_probe::store::{Incident, IncidentState, OutboxState, ProbeStore, DAY_MS};
use wedsync_probe::Monitor;
use wedsync_webhooks::store::{DeliveryQuery, DeliveryStatus, WebhookStore};

use crate::model::{
    DashboardView, IncidentView, MaintenanceView, PublicService, PublicView, ServiceView,
    WebhooksView,
};
use build::{history, incident_view, row, History, Latest};

pub use build::{maintenance, state_of, unix_ms, webhooks_view, wedding};
pub use wedsync_probe::now_ms;

mod build;

/// How long rollups, recent results and incidents are reused (incidents: a fifth of it).
pub const ROLLUPS_TTL: Duration = Duration::from_secs(15);
/// How long the webhook figures are reused.
pub const WEBHOOKS_TTL: Duration = Duration::from_secs(5);
/// Resolved incidents stay listed this long.
const RESOLVED_KEPT_MS: i64 = DAY_MS;
/// Failed or retrying deliveries of the last 24 h read at most for the attention list.
const ATTENTION_READ: usize = 5_000;
/// At most this many raw results of the last day are read per service.
const RECENT_READ: usize = 5_000;

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

impl From<&wedsync_probe::config::ServiceSpec> for ServiceSpec {
    /// A configured service as the dashboard shows it: its name, whether it is public, and its
    /// probe intervals on ordinary and wedding days.
    fn from(spec: &wedsync_probe::config::ServiceSpec) -> Self {
        let (interval, wedding_interval) = spec.cadence().intervals();
        ServiceSpec {
            name: spec.name().to_string(),
            public: spec.common().public,
            interval,
            wedding_interval,
        }
    }
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
        let since = |ago: time::Duration| DeliveryQuery {
            received_from: Some(now - ago),
            received_to: Some(now + time::Duration::seconds(1)),
            ..Default::default()
        };
        // counted, not read: only the deliveries that may need a person are listed
        let (day, hour) = (
            since(time::Duration::days(1)),
            since(time::Duration::hours(1)),
        );
        let failing = DeliveryQuery {
            statuses: vec![DeliveryStatus::Failed, DeliveryStatus::Retrying],
            limit: Some(ATTENTION_READ),
            ..day.clone()
        };
        let day = store.count_deliveries(&day).await.unwrap_or_default();
        let hour = store.count_deliveries(&hour).await.unwrap_or_default();
        let attention = store.list_deliveries(&failing).await.unwrap_or_default();
        let queued = store.queue_depth().await.unwrap_or(0);
        let providers = &self.spec.providers;
        let view = webhooks_view(providers, &day, &hour, &attention, queued);
        let view = Arc::new(view);
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
    use crate::State;
    use wedsync_probe::{ProbeResult, ProbeStatus};

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
