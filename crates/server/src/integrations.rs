//! The integrations-health routes: HTTP glue over [`wedsync_probe::report::Reporter`], which
//! builds and caches the health report, runs probes on demand, resets breakers and lists the
//! probe gauges of `/metrics`. Building the probes and the monitor is in [`crate::build`].

use std::sync::Arc;

use http::{Response, StatusCode};
use serde_json::json;
use wedsync_breaker::Registry;
use wedsync_probe::report::{ReportError, ReportQuery, Reporter, ResultView};
use wedsync_probe::store::ProbeStore;
use wedsync_probe::{Monitor, ProbeResult};

pub use wedsync_probe::report::INCIDENTS_TTL;

use crate::config::Config;
use crate::error::{json_response, ApiError, Body};
use crate::metrics::Metrics;

/// Serves the integrations-health routes.
#[derive(Debug)]
pub struct Integrations {
    reporter: Reporter,
}

/// The answer to a reporter's error: unknown services are 404, a missing monitor or a failing
/// store 503 (logged in full, answered without detail), anything else a 500.
fn api_error(e: ReportError) -> ApiError {
    match e {
        ReportError::UnknownService(_) => ApiError::not_found(e.to_string()),
        ReportError::NoMonitor => ApiError::unavailable(
            "the monitor is switched off in this process ([monitor] enabled = false)",
            30,
        ),
        ReportError::Store(e) => {
            tracing::error!(error = %e, "probe store failed");
            ApiError::unavailable("the store is unavailable", 5)
        }
        e => ApiError::internal(e),
    }
}

/// `v` as a JSON value (`null` if it cannot be one).
fn value<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

impl Integrations {
    /// Integrations backed by `monitor` (or, in an API-only process, by the stored results).
    pub fn new(
        cfg: Arc<Config>,
        monitor: Option<Arc<Monitor>>,
        store: Arc<dyn ProbeStore>,
        breakers: Registry,
    ) -> Self {
        let services = cfg.services.iter().map(|s| (s.name(), s.kind()));
        Self {
            reporter: Reporter::new(store, breakers)
                .with_services(services)
                .with_monitor(monitor),
        }
    }

    /// The monitor, in a process that runs one.
    pub fn monitor(&self) -> Option<&Arc<Monitor>> {
        self.reporter.monitor()
    }

    /// The probe store.
    pub fn probe_store(&self) -> &Arc<dyn ProbeStore> {
        self.reporter.store()
    }

    /// `GET /api/admin/integrations/health` with the decoded query `q`.
    pub async fn report(&self, q: &[(String, String)]) -> Result<Response<Body>, ApiError> {
        let q = ReportQuery::from_pairs(q.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let report = self.reporter.report(&q).await.map_err(api_error)?;
        Ok(json_response(StatusCode::OK, &report))
    }

    /// `POST /api/admin/integrations/health`.
    pub async fn run_now(&self, service: &str) -> Result<Response<Body>, ApiError> {
        let r = self.reporter.run_now(service).await.map_err(api_error)?;
        let mut v = value(&ResultView::from(&r));
        v["service"] = json!(service);
        v["breaker"] = value(&self.reporter.breaker(service));
        Ok(json_response(StatusCode::OK, &v))
    }

    /// `DELETE /api/admin/integrations/health`: resets the breaker; the registry publishes the
    /// reset to the other instances through its state sharing.
    pub async fn reset_breaker(&self, service: &str) -> Result<Response<Body>, ApiError> {
        let breaker = value(&self.reporter.reset_breaker(service).map_err(api_error)?);
        Ok(json_response(
            StatusCode::OK,
            &json!({"service": service, "reset": true, "breaker": breaker}),
        ))
    }

    /// Updates the probe and breaker gauges before `/metrics` renders.
    pub fn refresh_metrics(&self, metrics: &Metrics) {
        for g in self.reporter.gauges() {
            metrics.replace_gauge(g.name, g.help, g.series);
        }
    }

    /// Records a probe result into the latency histogram (called for every new result).
    pub fn observe(metrics: &Metrics, r: &ProbeResult) {
        let (name, help) = wedsync_probe::report::PROBE_DURATION_SECONDS;
        let labels = [("service", r.service.as_str())];
        metrics.observe(name, help, &labels, r.latency.as_secs_f64());
    }
}
