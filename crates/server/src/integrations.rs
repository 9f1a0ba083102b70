//! The integrations-health routes on `wedsync-probe`'s monitor: the health report (shaped by
//! `wedsync_probe::report`, cached here), manual probe runs and breaker resets, and the probe
//! gauges of `/metrics`. Building the probes and the monitor is in [`crate::build`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::{Response, StatusCode};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use wedsync_breaker::Registry;
use wedsync_probe::report::{
    self, BreakerView, HealthReport, HistoryView, ResultView, ServiceInput, ServiceView, Ts,
};
use wedsync_probe::store::{Incident, ProbeStore, HOUR_MS};
use wedsync_probe::{Monitor, ProbeResult, ProbeStatus, Snapshot};

use crate::config::Config;
use crate::error::{json_response, ApiError, Body};
use crate::metrics::Metrics;
use wedsync_probe::config::ServiceSpec as ServiceEntry;

/// Serves the integrations-health routes.
pub struct Integrations {
    cfg: Arc<Config>,
    monitor: Option<Arc<Monitor>>,
    store: Arc<dyn ProbeStore>,
    breakers: Registry,
    incidents: std::sync::Mutex<Option<CachedIncidents>>,
    rendered: std::sync::Mutex<Option<RenderedServices>>,
}

type CachedIncidents = (std::time::Instant, Arc<BTreeMap<String, Incident>>);

/// How long the health route reuses the open incidents it read (incidents open and resolve at the
/// probes' pace, seconds apart).
pub const INCIDENTS_TTL: Duration = Duration::from_millis(500);

impl std::fmt::Debug for Integrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integrations")
            .field("monitor", &self.monitor.is_some())
            .finish_non_exhaustive()
    }
}

/// A probe-store failure: logged in full, answered 503 (the caller may retry) without its detail.
fn store_failed(e: wedsync_probe::store::StoreError) -> ApiError {
    tracing::error!(error = %e, "probe store failed");
    ApiError::unavailable("the store is unavailable", 5)
}

/// The unfiltered report's `services` array as last rendered, with everything it was rendered
/// from that can change: it is reused while the monitor's generation, the open incidents and
/// every breaker's view are the same (an open breaker's `retry_after` changes by the
/// millisecond, so a report with an open breaker is rendered anew each time).
struct RenderedServices {
    generation: u64,
    incidents: Arc<BTreeMap<String, Incident>>,
    breakers: Vec<BreakerView>,
    overall: &'static str,
    json: Arc<RawValue>,
}

fn into_response<S: Serialize>(report: HealthReport<S>) -> Response<Body> {
    json_response(StatusCode::OK, &report)
}

fn result_json(r: &ProbeResult) -> Value {
    serde_json::to_value(ResultView::from(r)).unwrap_or(Value::Null)
}

impl Integrations {
    /// Integrations backed by `monitor` (or, in an API-only process, by the stored results).
    pub fn new(
        cfg: Arc<Config>,
        monitor: Option<Arc<Monitor>>,
        store: Arc<dyn ProbeStore>,
        breakers: Registry,
    ) -> Self {
        Self {
            cfg,
            monitor,
            store,
            breakers,
            incidents: std::sync::Mutex::new(None),
            rendered: std::sync::Mutex::new(None),
        }
    }

    /// The monitor, in a process that runs one.
    pub fn monitor(&self) -> Option<&Arc<Monitor>> {
        self.monitor.as_ref()
    }

    /// The probe store.
    pub fn probe_store(&self) -> &Arc<dyn ProbeStore> {
        &self.store
    }

    fn known(&self, service: &str) -> Result<(), ApiError> {
        if self.cfg.services.iter().any(|s| s.name() == service) {
            Ok(())
        } else {
            Err(ApiError::not_found(format!(
                "unknown service `{}`",
                service.chars().take(64).collect::<String>()
            )))
        }
    }

    fn breaker_view(&self, service: &str) -> BreakerView {
        BreakerView::of(&self.breakers, service)
    }

    fn breaker_json(&self, service: &str) -> Value {
        serde_json::to_value(self.breaker_view(service)).unwrap_or(Value::Null)
    }

    /// The open incidents by service, read from the store at most every [`INCIDENTS_TTL`].
    async fn open_incidents(&self) -> Result<Arc<BTreeMap<String, Incident>>, ApiError> {
        if let Some((at, v)) = &*self.incidents_cache() {
            if at.elapsed() < INCIDENTS_TTL {
                return Ok(v.clone());
            }
        }
        let fresh: BTreeMap<String, Incident> = self
            .store
            .list_open_incidents()
            .await
            .map_err(store_failed)?
            .into_iter()
            .map(|i| (i.service.clone(), i))
            .collect();
        let fresh = Arc::new(fresh);
        *self.incidents_cache() = Some((std::time::Instant::now(), fresh.clone()));
        Ok(fresh)
    }

    fn incidents_cache(&self) -> std::sync::MutexGuard<'_, Option<CachedIncidents>> {
        self.incidents.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `GET /api/admin/integrations/health`.
    pub async fn report(&self, q: &[(String, String)]) -> Result<Response<Body>, ApiError> {
        let filter = q
            .iter()
            .find(|(k, _)| k == "service")
            .map(|(_, v)| v.as_str());
        if let Some(f) = filter {
            self.known(f)?;
        }
        let with_history = q
            .iter()
            .any(|(k, v)| k == "include_history" && (v == "true" || v == "1"));
        let incidents = self.open_incidents().await?;
        if let (Some(m), None, false) = (&self.monitor, filter, with_history) {
            return self.full_report(m, incidents);
        }
        let snapshot = self.monitor.as_ref().map(|m| m.snapshot());
        let latest: BTreeMap<String, ProbeResult> = if snapshot.is_none() {
            self.store
                .latest_results()
                .await
                .map_err(store_failed)?
                .into_iter()
                .map(|r| (r.service.clone(), r))
                .collect()
        } else {
            BTreeMap::new()
        };
        let selected: Vec<&ServiceEntry> = self
            .cfg
            .services
            .iter()
            .filter(|s| filter.is_none_or(|f| f == s.name()))
            .collect();
        let mut histories = Vec::with_capacity(selected.len());
        for s in &selected {
            histories.push(if with_history {
                Some(self.history(s.name()).await?)
            } else {
                None
            });
        }
        let breakers = selected
            .iter()
            .map(|s| self.breaker_view(s.name()))
            .collect();
        let (services, overall) = self.service_views(
            &selected,
            snapshot.as_deref(),
            &latest,
            &incidents,
            breakers,
            histories,
        );
        let (wedding_day, checked_at) = match &snapshot {
            Some(snap) => (snap.wedding_day, snap.at_ms),
            None => (false, wedsync_probe::now_ms()),
        };
        Ok(into_response(HealthReport {
            status: overall,
            wedding_day,
            checked_at: Ts(checked_at),
            monitor_running: self.monitor.is_some(),
            services,
        }))
    }

    /// The unfiltered report without history, the one dashboards poll: its `services` array is
    /// rendered again only when something in it changed (see [`RenderedServices`]).
    fn full_report(
        &self,
        m: &Monitor,
        incidents: Arc<BTreeMap<String, Incident>>,
    ) -> Result<Response<Body>, ApiError> {
        // read before the snapshot: a result recorded in between moves it again, so a rendering
        // is never kept under a generation older than its content
        let generation = m.generation();
        let checked_at = m.now_ms();
        let wedding_day = m.is_wedding_day();
        let breakers: Vec<BreakerView> = self
            .cfg
            .services
            .iter()
            .map(|s| self.breaker_view(s.name()))
            .collect();
        let hit = self.rendered_cache().as_ref().and_then(|r| {
            (r.generation == generation
                && Arc::ptr_eq(&r.incidents, &incidents)
                && r.breakers == breakers)
                .then(|| (r.overall, r.json.clone()))
        });
        let (overall, json) = match hit {
            Some(hit) => hit,
            None => {
                let snapshot = m.snapshot();
                let all: Vec<&ServiceEntry> = self.cfg.services.iter().collect();
                let histories = all.iter().map(|_| None).collect();
                let no_stored = BTreeMap::new();
                let (services, overall) = self.service_views(
                    &all,
                    Some(&snapshot),
                    &no_stored,
                    &incidents,
                    breakers.clone(),
                    histories,
                );
                let json: Arc<RawValue> = serde_json::value::to_raw_value(&services)
                    .map_err(ApiError::internal)?
                    .into();
                *self.rendered_cache() = Some(RenderedServices {
                    generation,
                    incidents,
                    breakers,
                    overall,
                    json: json.clone(),
                });
                (overall, json)
            }
        };
        Ok(into_response(HealthReport {
            status: overall,
            wedding_day,
            checked_at: Ts(checked_at),
            monitor_running: true,
            services: &*json,
        }))
    }

    fn rendered_cache(&self) -> std::sync::MutexGuard<'_, Option<RenderedServices>> {
        self.rendered.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last 24 hours of `service`'s results from the hourly rollups, oldest first: the 24
    /// completed hours and the current one.
    async fn history(&self, service: &str) -> Result<Vec<HistoryView>, ApiError> {
        let since = wedsync_probe::now_ms() - 24 * HOUR_MS;
        let hours = self
            .store
            .hourly_history(service, since)
            .await
            .map_err(store_failed)?;
        Ok(hours.iter().map(HistoryView::from).collect())
    }

    /// The views of `selected` services (each with its breaker and history, in the same order)
    /// and their aggregate status.
    fn service_views<'a>(
        &'a self,
        selected: &[&'a ServiceEntry],
        snapshot: Option<&'a Snapshot>,
        latest: &'a BTreeMap<String, ProbeResult>,
        incidents: &'a BTreeMap<String, Incident>,
        breakers: Vec<BreakerView>,
        histories: Vec<Option<Vec<HistoryView>>>,
    ) -> (Vec<ServiceView<'a>>, &'static str) {
        let inputs = selected
            .iter()
            .zip(breakers)
            .zip(histories)
            .map(|((s, breaker), history)| ServiceInput {
                name: s.name(),
                kind: s.kind(),
                breaker,
                history,
            });
        let (views, overall) = report::service_views(inputs, snapshot, latest, incidents);
        (views, overall.as_str())
    }

    /// `POST /api/admin/integrations/health`.
    pub async fn run_now(&self, service: &str) -> Result<Response<Body>, ApiError> {
        self.known(service)?;
        let Some(m) = &self.monitor else {
            return Err(ApiError::unavailable(
                "the monitor is switched off in this process ([monitor] enabled = false)",
                30,
            ));
        };
        let r = m.run_now(service).await.map_err(ApiError::internal)?;
        let mut v = result_json(&r);
        v["service"] = json!(service);
        v["breaker"] = self.breaker_json(service);
        Ok(json_response(StatusCode::OK, &v))
    }

    /// `DELETE /api/admin/integrations/health`: resets the breaker; the registry publishes the
    /// reset to the other instances through its state sharing.
    pub async fn reset_breaker(&self, service: &str) -> Result<Response<Body>, ApiError> {
        self.known(service)?;
        let b = self.breakers.get(service);
        b.reset();
        Ok(json_response(
            StatusCode::OK,
            &json!({"service": service, "reset": true, "breaker": self.breaker_json(service)}),
        ))
    }

    /// Updates the probe and breaker gauges before `/metrics` renders.
    pub fn refresh_metrics(&self, metrics: &Metrics) {
        let mut status_series = Vec::new();
        let mut latency_series = Vec::new();
        let mut breaker_series = Vec::new();
        let snapshot = self.monitor.as_ref().map(|m| m.snapshot());
        for s in &self.cfg.services {
            let health = snapshot.as_ref().and_then(|sn| sn.services.get(s.name()));
            let status = health.map_or(ProbeStatus::Unknown, |h| h.status);
            for st in [
                ProbeStatus::Healthy,
                ProbeStatus::Degraded,
                ProbeStatus::Unhealthy,
                ProbeStatus::AuthFailed,
                ProbeStatus::RateLimited,
                ProbeStatus::Unknown,
            ] {
                status_series.push((
                    vec![
                        ("service", s.name().to_string()),
                        ("status", st.as_str().to_string()),
                    ],
                    f64::from(u8::from(st == status)),
                ));
            }
            if let Some(l) = health.and_then(|h| h.last.as_ref()) {
                latency_series.push((
                    vec![("service", s.name().to_string())],
                    l.latency.as_secs_f64(),
                ));
            }
            let state = self
                .breakers
                .get_existing(s.name())
                .map_or_else(|| "closed".to_string(), |b| b.state().to_string());
            for st in [
                "closed",
                "open",
                "half_open",
                "forced_open",
                "disabled",
                "metrics_only",
            ] {
                breaker_series.push((
                    vec![("service", s.name().to_string()), ("state", st.to_string())],
                    f64::from(u8::from(st == state)),
                ));
            }
        }
        metrics.replace_gauge(
            "wedsync_service_status",
            "1 for each service's current probe status",
            status_series,
        );
        metrics.replace_gauge(
            "wedsync_probe_last_latency_seconds",
            "Latency of each service's latest probe",
            latency_series,
        );
        metrics.replace_gauge(
            "wedsync_breaker_state",
            "1 for each service breaker's current state",
            breaker_series,
        );
    }

    /// Records a probe result into the latency histogram (called for every new result).
    pub fn observe(metrics: &Metrics, r: &ProbeResult) {
        metrics.observe(
            "wedsync_probe_duration_seconds",
            "Probe latency by service",
            &[("service", r.service.as_str())],
            r.latency.as_secs_f64(),
        );
    }
}
