//! Gathering what the dashboard shows: the monitor's snapshot (live), the probe store's rollups
//! and recent results (refreshed every [`ROLLUPS_TTL`]), incidents and the webhook figures
//! (refreshed every [`WEBHOOKS_TTL`]). The slow parts are cached per process and shared by every
//! open page, so a page or an update costs one render, not a round of queries.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use wedsync_dashboard::{
    AttentionView, Bucket, IncidentView, LatencyPoint, MaintenanceView, ProviderWebhooks,
    PublicService, ServiceView, State, WebhookCounts, WebhooksView, WeddingView,
};
use wedsync_probe::store::{HourlyHealth, Incident, IncidentState, OutboxState, DAY_MS, HOUR_MS};
use wedsync_probe::{ProbeResult, ProbeStatus};
use wedsync_webhooks::store::{DeliveryQuery, DeliveryStatus, Priority};

use crate::admin::AdminStore;
use crate::config::Config;
use crate::integrations::Integrations;
use crate::webhooks::WebhookIngress;

/// How long rollups, recent results and incidents are reused.
pub const ROLLUPS_TTL: Duration = Duration::from_secs(15);
/// How long the webhook figures are reused.
pub const WEBHOOKS_TTL: Duration = Duration::from_secs(5);
/// Resolved incidents stay listed this long.
const RESOLVED_KEPT_MS: i64 = DAY_MS;
/// Audit entries read for incident acknowledgements.
const AUDIT_READ: usize = 1_000;
/// At most this many deliveries are read for the 24 h figures.
const DELIVERIES_READ: usize = 50_000;

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

/// The shared caches.
#[derive(Debug, Default)]
pub struct Gatherer {
    cache: Mutex<Cache>,
}

fn fresh<T: Clone>(slot: &Option<(Instant, T)>, ttl: Duration) -> Option<T> {
    slot.as_ref()
        .filter(|(at, _)| at.elapsed() < ttl)
        .map(|(_, v)| v.clone())
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

fn latency(rows: &[HourlyHealth]) -> Vec<LatencyPoint> {
    rows.iter()
        .filter(|r| r.checks > 0)
        .map(|r| LatencyPoint {
            at_ms: r.hour_start_ms,
            avg_ms: r.latency_sum_ms / r.checks,
            max_ms: r.latency_max_ms.unwrap_or(0),
        })
        .collect()
}

/// The 95th percentile of the results' latencies.
fn p95(results: &[ProbeResult]) -> Option<u64> {
    let mut ms: Vec<u64> = results
        .iter()
        .map(|r| u64::try_from(r.latency.as_millis()).unwrap_or(u64::MAX))
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

impl Gatherer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every configured service's rollups, recent latency and outage times.
    async fn history(
        &self,
        cfg: &Config,
        integrations: &Integrations,
        maintenance: &[MaintenanceView],
        now_ms: i64,
    ) -> Arc<BTreeMap<String, History>> {
        if let Some(h) = fresh(&self.lock().history, ROLLUPS_TTL) {
            return h;
        }
        let store = integrations.probe_store();
        let mut out = BTreeMap::new();
        for s in &cfg.services {
            let name = s.name.as_str();
            let hours = store
                .hourly_history(name, now_ms - 7 * DAY_MS)
                .await
                .unwrap_or_default();
            let days = store
                .daily_history(name, now_ms - 89 * DAY_MS)
                .await
                .unwrap_or_default();
            let recent = store
                .history(name, now_ms - DAY_MS, 5_000)
                .await
                .unwrap_or_default();
            let last_hour: Vec<ProbeResult> = recent
                .iter()
                .filter(|r| r.checked_at_ms >= now_ms - HOUR_MS)
                .cloned()
                .collect();
            let mut h = History {
                hours: series(&hours, now_ms, HOUR_MS, 24),
                days: series(&days, now_ms, DAY_MS, 90),
                latency_24h: latency(
                    &hours
                        .iter()
                        .filter(|r| r.hour_start_ms > now_ms - DAY_MS)
                        .copied()
                        .collect::<Vec<_>>(),
                ),
                latency_7d: latency(&hours),
                p95_ms: p95(&last_hour),
            };
            outages(&recent, &mut h.hours);
            mark_maintenance(&mut h.hours, name, maintenance);
            mark_maintenance(&mut h.days, name, maintenance);
            out.insert(s.name.clone(), h);
        }
        let out = Arc::new(out);
        self.lock().history = Some((Instant::now(), out.clone()));
        out
    }

    /// Open incidents, and those resolved in the last day, newest first; acknowledgements come
    /// from the audit log (`incident.acknowledge`, shared by every process).
    async fn incidents(
        &self,
        integrations: &Integrations,
        admin: &AdminStore,
        now_ms: i64,
    ) -> Arc<Vec<IncidentView>> {
        if let Some(i) = fresh(&self.lock().incidents, ROLLUPS_TTL / 5) {
            return i;
        }
        let store = integrations.probe_store();
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
            for e in admin.recent_audit(AUDIT_READ).await.unwrap_or_default() {
                if e.action == super::ACK_ACTION && e.result == "ok" {
                    let at = i64::try_from(e.at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
                    let first = acknowledged.entry(e.target).or_insert(at);
                    *first = (*first).min(at);
                }
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
            views.push(IncidentView {
                key: i.dedup_key.clone(),
                service: i.service.clone(),
                status: i.status.as_str().to_owned(),
                summary: i.summary.clone(),
                opened_at_ms: i.opened_at_ms,
                alerted_at_ms: alerted,
                acknowledged_at_ms: acknowledged.get(&i.dedup_key).copied(),
                resolved_at_ms: i.resolved_at_ms,
                wedding_day: i.wedding_day,
            });
        }
        views.sort_by_key(|v| std::cmp::Reverse(v.opened_at_ms));
        let views = Arc::new(views);
        let mut g = self.lock();
        g.seen = seen;
        g.incidents = Some((Instant::now(), views.clone()));
        views
    }

    /// Per-provider counts for 1 h and 24 h, the queue depth and the attention list.
    async fn webhooks(&self, cfg: &Config, ingress: &WebhookIngress) -> Arc<WebhooksView> {
        if let Some(w) = fresh(&self.lock().webhooks, WEBHOOKS_TTL) {
            return w;
        }
        let store = ingress.store();
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
        let hour_ago = now - time::Duration::hours(1);
        let mut providers: BTreeMap<String, ProviderWebhooks> = cfg
            .webhooks
            .keys()
            .map(|p| {
                (
                    p.clone(),
                    ProviderWebhooks {
                        provider: p.clone(),
                        hour: WebhookCounts::default(),
                        day: WebhookCounts::default(),
                    },
                )
            })
            .collect();
        for d in &day {
            if matches!(
                d.status,
                DeliveryStatus::Duplicate | DeliveryStatus::Rejected
            ) {
                continue;
            }
            let p = providers
                .entry(d.provider.as_str().to_owned())
                .or_insert_with(|| ProviderWebhooks {
                    provider: d.provider.as_str().to_owned(),
                    hour: WebhookCounts::default(),
                    day: WebhookCounts::default(),
                });
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
        let attention = wedsync_webhooks::analysis::needs_attention(&day)
            .into_iter()
            .take(50)
            .map(|d| AttentionView {
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
                received_at_ms: i64::try_from(d.received_at.unix_timestamp_nanos() / 1_000_000)
                    .unwrap_or(0),
                critical: d.priority == Priority::Critical,
            })
            .collect();
        let view = Arc::new(WebhooksView {
            providers: providers.into_values().collect(),
            queue_depth: queued,
            attention,
        });
        self.lock().webhooks = Some((Instant::now(), view.clone()));
        view
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

/// The maintenance windows the alert engine knows, current and upcoming.
pub fn maintenance(integrations: &Integrations, now_ms: i64) -> Vec<MaintenanceView> {
    integrations
        .monitor()
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
pub fn wedding(cfg: &Config, integrations: &Integrations) -> WeddingView {
    let today = integrations.monitor().is_some_and(|m| m.is_wedding_day());
    let mut policy = Vec::new();
    for s in &cfg.services {
        let (interval, wedding) = crate::integrations::probe_intervals(s);
        if wedding < interval {
            policy.push(format!(
                "{} probed every {} instead of {}",
                s.name,
                human(wedding),
                human(interval)
            ));
        }
    }
    if let Some(m) = integrations.monitor() {
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

/// The live rows: the monitor's snapshot (or the stored latest results in a process without a
/// monitor) joined with the cached history.
async fn rows(
    cfg: &Config,
    integrations: &Integrations,
    history: &BTreeMap<String, History>,
) -> Vec<ServiceView> {
    let latest: BTreeMap<String, (ProbeStatus, Option<ProbeResult>, bool, bool, String)> =
        match integrations.monitor() {
            Some(m) => m
                .snapshot()
                .services
                .iter()
                .map(|(k, h)| {
                    (
                        k.clone(),
                        (
                            h.status,
                            h.last.clone(),
                            h.in_maintenance,
                            h.flapping,
                            h.breaker.clone(),
                        ),
                    )
                })
                .collect(),
            None => integrations
                .probe_store()
                .latest_results()
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|r| {
                    (
                        r.service.clone(),
                        (r.status, Some(r), false, false, "unknown".to_owned()),
                    )
                })
                .collect(),
        };
    cfg.services
        .iter()
        .map(|s| {
            let (status, last, maint, flapping, breaker) = latest
                .get(&s.name)
                .cloned()
                .unwrap_or((ProbeStatus::Unknown, None, false, false, "closed".into()));
            let h = history.get(&s.name).cloned().unwrap_or_default();
            ServiceView {
                name: s.name.clone(),
                status: status.as_str().to_owned(),
                state: state_of(status, maint),
                detail: last
                    .as_ref()
                    .map(|r| r.detail.clone())
                    .filter(|d| !d.is_empty()),
                breaker,
                latency_ms: last
                    .as_ref()
                    .map(|r| u64::try_from(r.latency.as_millis()).unwrap_or(u64::MAX)),
                p95_ms: h.p95_ms,
                checked_at_ms: last.as_ref().map(|r| r.checked_at_ms),
                in_maintenance: maint,
                flapping,
                hours: h.hours,
                days: h.days,
                latency_24h: h.latency_24h,
                latency_7d: h.latency_7d,
            }
        })
        .collect()
}

/// Everything but the per-viewer parts.
pub struct Gathered {
    /// When.
    pub now_ms: i64,
    /// Service rows.
    pub services: Vec<ServiceView>,
    /// Incidents.
    pub incidents: Arc<Vec<IncidentView>>,
    /// Maintenance windows.
    pub maintenance: Vec<MaintenanceView>,
    /// The banner.
    pub wedding: WeddingView,
    /// The webhooks panel.
    pub webhooks: Arc<WebhooksView>,
}

impl Gatherer {
    /// Gathers the dashboard's data (slow parts from the caches).
    pub async fn gather(
        &self,
        cfg: &Config,
        integrations: &Integrations,
        ingress: &WebhookIngress,
        admin: &AdminStore,
    ) -> Gathered {
        let now_ms = now_ms();
        let maintenance = maintenance(integrations, now_ms);
        let history = self.history(cfg, integrations, &maintenance, now_ms).await;
        let services = rows(cfg, integrations, &history).await;
        Gathered {
            now_ms,
            services,
            incidents: self.incidents(integrations, admin, now_ms).await,
            maintenance,
            wedding: wedding(cfg, integrations),
            webhooks: self.webhooks(cfg, ingress).await,
        }
    }

    /// The public status page's services: only those with `public = true`, no details.
    pub async fn public(&self, cfg: &Config, integrations: &Integrations) -> Vec<PublicService> {
        let now_ms = now_ms();
        let maintenance = maintenance(integrations, now_ms);
        let history = self.history(cfg, integrations, &maintenance, now_ms).await;
        rows(cfg, integrations, &history)
            .await
            .into_iter()
            .filter(|r| cfg.services.iter().any(|s| s.name == r.name && s.public))
            .map(|r| PublicService {
                name: r.name,
                state: r.state,
                days: r.days,
            })
            .collect()
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
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
    }
}
