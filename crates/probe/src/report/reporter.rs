//! [`Reporter`]: the health report of a set of services, assembled from a running [`Monitor`]
//! (or, without one, from the stored results) and cached so that a dashboard polling it costs
//! little; manual probe runs and breaker resets; and the probe gauges for a metrics page.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use wedsync_breaker::{Registry, State};

use super::{service_views, BreakerView, HealthReport, HistoryView, ServiceInput, Ts};
use crate::store::{Incident, ProbeStore, StoreError, HOUR_MS};
use crate::{Monitor, MonitorError, ProbeResult, ProbeStatus, Snapshot};

/// How long a [`Reporter`] reuses the open incidents it read by default (incidents open and
/// resolve at the probes' pace, seconds apart).
pub const INCIDENTS_TTL: Duration = Duration::from_millis(500);

/// A health report whose `services` array is already JSON (serialises like the report of the
/// views it was rendered from).
pub type RenderedReport = HealthReport<Arc<RawValue>>;

/// Why a [`Reporter`] could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// No service of that name is reported (the name is cut to 64 characters).
    #[error("unknown service `{0}`")]
    UnknownService(String),
    /// The action needs a monitor and this reporter has none.
    #[error("no monitor runs in this process")]
    NoMonitor,
    /// The probe store failed; the caller may retry.
    #[error("probe store: {0}")]
    Store(#[from] StoreError),
    /// The monitor refused a manual run.
    #[error(transparent)]
    Monitor(#[from] MonitorError),
    /// The report could not be serialised.
    #[error("rendering the report: {0}")]
    Render(#[from] serde_json::Error),
}

/// Which report to build: one service or all, with or without the last 24 hours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportQuery {
    /// Only this service (else every service).
    pub service: Option<String>,
    /// Each service's last 24 hours from the hourly rollups.
    pub include_history: bool,
}

impl ReportQuery {
    /// From decoded query-string pairs: the first `service`, and `include_history` when any
    /// `include_history` is `true` or `1`.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut q = Self::default();
        for (k, v) in pairs {
            match k {
                "service" if q.service.is_none() => q.service = Some(v.to_owned()),
                "include_history" if v == "true" || v == "1" => q.include_history = true,
                _ => {}
            }
        }
        q
    }
}

/// One gauge family for a metrics page: every series it has now.
#[derive(Debug, Clone, PartialEq)]
pub struct Gauge {
    /// The metric's name.
    pub name: &'static str,
    /// Its help text.
    pub help: &'static str,
    /// Each series' labels and value.
    pub series: Vec<(Vec<(&'static str, String)>, f64)>,
}

/// The histogram every probe result's latency (seconds) goes into, labelled by `service`.
pub const PROBE_DURATION_SECONDS: (&str, &str) =
    ("wedsync_probe_duration_seconds", "Probe latency by service");

type CachedIncidents = (Instant, Arc<BTreeMap<String, Incident>>);

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

/// A service's name and probe kind, as the report shows them.
#[derive(Debug, Clone)]
struct Reported {
    name: String,
    kind: String,
}

/// Builds the health report of a fixed list of services.
///
/// - The open incidents are read from the store at most every [`INCIDENTS_TTL`] (see
///   [`with_incidents_ttl`](Self::with_incidents_ttl)).
/// - With a monitor, the unfiltered report without history (the one dashboards poll) renders its
///   `services` array again only when the monitor's generation, the open incidents or a breaker's
///   view changed.
/// - Without a monitor (an API-only process), the report comes from the stored latest results.
///
/// ```
/// use std::sync::Arc;
/// use wedsync_probe::report::{ReportQuery, Reporter};
/// use wedsync_probe::store::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let breakers = wedsync_breaker::Registry::new(wedsync_probe::service_breaker_config());
/// let reporter = Reporter::new(Arc::new(MemoryStore::new()), breakers)
///     .with_services([("stripe", "stripe")]); // and .with_monitor(monitor) where one runs
/// let q = ReportQuery::from_pairs([("service", "stripe")]);
/// let v = serde_json::to_value(reporter.report(&q).await.unwrap()).unwrap();
/// assert_eq!(v["services"][0]["status"], "unknown"); // nothing stored yet
/// assert_eq!(v["monitor_running"], false);
/// assert!(reporter.known("twilio").is_err());
/// # }
/// ```
pub struct Reporter {
    services: Vec<Reported>,
    monitor: Option<Arc<Monitor>>,
    store: Arc<dyn ProbeStore>,
    breakers: Registry,
    incidents_ttl: Duration,
    incidents: Mutex<Option<CachedIncidents>>,
    rendered: Mutex<Option<RenderedServices>>,
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter")
            .field("services", &self.services.len())
            .field("monitor", &self.monitor.is_some())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Reporter {
    /// A reporter of no service yet, reading `store` and the breakers of `breakers`.
    pub fn new(store: Arc<dyn ProbeStore>, breakers: Registry) -> Self {
        Self {
            services: Vec::new(),
            monitor: None,
            store,
            breakers,
            incidents_ttl: INCIDENTS_TTL,
            incidents: Mutex::new(None),
            rendered: Mutex::new(None),
        }
    }

    /// Reports these services, as `(name, probe kind)`, in this order.
    pub fn with_services<N: Into<String>, K: Into<String>>(
        mut self,
        services: impl IntoIterator<Item = (N, K)>,
    ) -> Self {
        self.services
            .extend(services.into_iter().map(|(n, k)| Reported {
                name: n.into(),
                kind: k.into(),
            }));
        self
    }

    /// Reports from this monitor's live state (`None`: from the stored results).
    pub fn with_monitor(mut self, monitor: impl Into<Option<Arc<Monitor>>>) -> Self {
        self.monitor = monitor.into();
        self
    }

    /// How long the open incidents read from the store are reused (default [`INCIDENTS_TTL`]).
    pub fn with_incidents_ttl(mut self, ttl: Duration) -> Self {
        self.incidents_ttl = ttl;
        self
    }

    /// The monitor, when there is one.
    pub fn monitor(&self) -> Option<&Arc<Monitor>> {
        self.monitor.as_ref()
    }

    /// The probe store.
    pub fn store(&self) -> &Arc<dyn ProbeStore> {
        &self.store
    }

    /// `Ok` when `service` is reported, else [`ReportError::UnknownService`].
    pub fn known(&self, service: &str) -> Result<(), ReportError> {
        if self.services.iter().any(|s| s.name == service) {
            Ok(())
        } else {
            Err(ReportError::UnknownService(
                service.chars().take(64).collect(),
            ))
        }
    }

    /// `service`'s breaker now.
    pub fn breaker(&self, service: &str) -> BreakerView {
        BreakerView::of(&self.breakers, service)
    }

    /// Runs `service`'s probe now (through the monitor, which records the result).
    pub async fn run_now(&self, service: &str) -> Result<ProbeResult, ReportError> {
        self.known(service)?;
        let m = self.monitor.as_ref().ok_or(ReportError::NoMonitor)?;
        Ok(m.run_now(service).await?)
    }

    /// Resets `service`'s breaker (the registry shares the reset with other instances through
    /// its state sharing) and returns its view after the reset.
    pub fn reset_breaker(&self, service: &str) -> Result<BreakerView, ReportError> {
        self.known(service)?;
        self.breakers.get(service).reset();
        Ok(self.breaker(service))
    }

    /// The report `q` asks for.
    pub async fn report(&self, q: &ReportQuery) -> Result<RenderedReport, ReportError> {
        let filter = q.service.as_deref();
        if let Some(f) = filter {
            self.known(f)?;
        }
        let incidents = self.open_incidents().await?;
        if let (Some(m), None, false) = (&self.monitor, filter, q.include_history) {
            return self.full_report(m, incidents);
        }
        let snapshot = self.monitor.as_ref().map(|m| m.snapshot());
        let latest: BTreeMap<String, ProbeResult> = match snapshot {
            Some(_) => BTreeMap::new(),
            None => self
                .store
                .latest_results()
                .await?
                .into_iter()
                .map(|r| (r.service.clone(), r))
                .collect(),
        };
        let selected: Vec<&Reported> = self
            .services
            .iter()
            .filter(|s| filter.is_none_or(|f| f == s.name))
            .collect();
        let mut inputs = Vec::with_capacity(selected.len());
        for s in selected {
            let history = match q.include_history {
                true => Some(self.history(&s.name).await?),
                false => None,
            };
            inputs.push(self.input(s, self.breaker(&s.name), history));
        }
        let (services, overall) = render(inputs, snapshot.as_deref(), &latest, &incidents)?;
        let (wedding_day, checked_at) = match &snapshot {
            Some(snap) => (snap.wedding_day, snap.at_ms),
            None => (false, crate::now_ms()),
        };
        Ok(HealthReport {
            status: overall,
            wedding_day,
            checked_at: Ts(checked_at),
            monitor_running: self.monitor.is_some(),
            services,
        })
    }

    fn input<'a>(
        &self,
        s: &'a Reported,
        breaker: BreakerView,
        history: Option<Vec<HistoryView>>,
    ) -> ServiceInput<'a> {
        ServiceInput {
            name: &s.name,
            kind: &s.kind,
            breaker,
            history,
        }
    }

    /// The unfiltered report without history: its `services` array is rendered again only when
    /// something in it changed (see [`RenderedServices`]).
    fn full_report(
        &self,
        m: &Monitor,
        incidents: Arc<BTreeMap<String, Incident>>,
    ) -> Result<RenderedReport, ReportError> {
        // read before the snapshot: a result recorded in between moves it again, so a rendering
        // is never kept under a generation older than its content
        let generation = m.generation();
        let checked_at = m.now_ms();
        let wedding_day = m.is_wedding_day();
        let breakers: Vec<BreakerView> = self
            .services
            .iter()
            .map(|s| self.breaker(&s.name))
            .collect();
        let hit = lock(&self.rendered).as_ref().and_then(|r| {
            (r.generation == generation
                && Arc::ptr_eq(&r.incidents, &incidents)
                && r.breakers == breakers)
                .then(|| (r.overall, r.json.clone()))
        });
        let (overall, json) = match hit {
            Some(hit) => hit,
            None => {
                let snapshot = m.snapshot();
                let inputs = self
                    .services
                    .iter()
                    .zip(breakers.iter().cloned())
                    .map(|(s, b)| self.input(s, b, None));
                let (json, overall) =
                    render(inputs, Some(&snapshot), &BTreeMap::new(), &incidents)?;
                *lock(&self.rendered) = Some(RenderedServices {
                    generation,
                    incidents,
                    breakers,
                    overall,
                    json: json.clone(),
                });
                (overall, json)
            }
        };
        Ok(HealthReport {
            status: overall,
            wedding_day,
            checked_at: Ts(checked_at),
            monitor_running: true,
            services: json,
        })
    }

    /// The open incidents by service, read from the store at most every `incidents_ttl`.
    async fn open_incidents(&self) -> Result<Arc<BTreeMap<String, Incident>>, StoreError> {
        if let Some((at, v)) = &*lock(&self.incidents) {
            if at.elapsed() < self.incidents_ttl {
                return Ok(v.clone());
            }
        }
        let fresh: BTreeMap<String, Incident> = self
            .store
            .list_open_incidents()
            .await?
            .into_iter()
            .map(|i| (i.service.clone(), i))
            .collect();
        let fresh = Arc::new(fresh);
        *lock(&self.incidents) = Some((Instant::now(), fresh.clone()));
        Ok(fresh)
    }

    /// The last 24 hours of `service`'s results from the hourly rollups, oldest first: the 24
    /// completed hours and the current one.
    async fn history(&self, service: &str) -> Result<Vec<HistoryView>, StoreError> {
        let since = crate::now_ms() - 24 * HOUR_MS;
        let hours = self.store.hourly_history(service, since).await?;
        Ok(hours.iter().map(HistoryView::from).collect())
    }

    /// The probe and breaker gauges now: `wedsync_service_status` (1 for each service's current
    /// status), `wedsync_probe_last_latency_seconds` and `wedsync_breaker_state` (1 for each
    /// breaker's current state).
    pub fn gauges(&self) -> [Gauge; 3] {
        let mut status = Vec::new();
        let mut latency = Vec::new();
        let mut breaker = Vec::new();
        let snapshot = self.monitor.as_ref().map(|m| m.snapshot());
        for s in &self.services {
            let health = snapshot.as_ref().and_then(|sn| sn.services.get(&s.name));
            let current = health.map_or(ProbeStatus::Unknown, |h| h.status);
            for st in ProbeStatus::ALL {
                let labels = vec![("service", s.name.clone()), ("status", st.as_str().into())];
                status.push((labels, f64::from(u8::from(st == current))));
            }
            if let Some(l) = health.and_then(|h| h.last.as_ref()) {
                latency.push((vec![("service", s.name.clone())], l.latency.as_secs_f64()));
            }
            let state = self
                .breakers
                .get_existing(&s.name)
                .map_or(State::Closed, |b| b.state());
            for st in State::ALL {
                let labels = vec![("service", s.name.clone()), ("state", st.as_str().into())];
                breaker.push((labels, f64::from(u8::from(st == state))));
            }
        }
        [
            Gauge {
                name: "wedsync_service_status",
                help: "1 for each service's current probe status",
                series: status,
            },
            Gauge {
                name: "wedsync_probe_last_latency_seconds",
                help: "Latency of each service's latest probe",
                series: latency,
            },
            Gauge {
                name: "wedsync_breaker_state",
                help: "1 for each service breaker's current state",
                series: breaker,
            },
        ]
    }
}

/// The views of `inputs` rendered as a JSON array, and their aggregate status.
fn render<'a>(
    inputs: impl IntoIterator<Item = ServiceInput<'a>>,
    snapshot: Option<&'a Snapshot>,
    latest: &'a BTreeMap<String, ProbeResult>,
    incidents: &'a BTreeMap<String, Incident>,
) -> Result<(Arc<RawValue>, &'static str), serde_json::Error> {
    let (views, overall) = service_views(inputs, snapshot, latest, incidents);
    Ok((
        serde_json::value::to_raw_value(&views)?.into(),
        overall.as_str(),
    ))
}

#[cfg(test)]
mod tests;
