//! The monitor: schedules every service's probe, caches results, feeds breakers and the alert
//! engine, and publishes snapshots.
//!
//! # Scheduling
//! - One scheduler task keeps every service's next start in a heap (no sleeping task per
//!   service: 10,000 services cost 160 KB of schedule). A due service runs in a task of its own
//!   and is scheduled again when that run has ended: runs of one service never overlap
//!   ([`Monitor::run_now`] takes the same per-service lock), and the interval is measured from the
//!   end of a run, so it excludes probe time.
//! - A global semaphore bounds how many probes run at once, so measured latency stays honest.
//! - Every delay gets ± [`ServiceConfig::jitter`] (a fraction), and first runs are spread over
//!   [`MonitorConfig::startup_spread`].
//! - After a failing result (or while an incident is open) the service is re-checked after
//!   [`ServiceConfig::recheck_interval`] instead of the interval.
//! - `rate_limited` results back off for the provider's `Retry-After` / `ratelimit-reset`
//!   (or [`MonitorConfig::rate_limit_backoff`]), never less than the interval.
//! - On wedding days ([`WeddingDayPolicy`]) the wedding intervals and the lower alert threshold
//!   apply, and the breaker registry is switched to wedding-day mode.
//!
//! # Breaker feedback
//! `healthy`/`degraded` record a success on the service's breaker, `unhealthy` a failure;
//! `auth_failed`, `rate_limited` and `unknown` are recorded as ignored (never a provider failure).
//! While the breaker is open its rejections are respected (the result is not recorded); after the
//! open wait, probe results serve as its half-open trial calls.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::Instant;
use wedsync_breaker::{BreakerConfig, CircuitBreaker, Outcome, Registry, SlidingWindow, State};

use crate::alert::{AlertConfig, AlertEngine};
use crate::cadence::Cadence;
use crate::clock::{TokioClock, WallClock};
use crate::outbox::{Dispatcher, RetryPolicy};
use crate::policy::WeddingDayPolicy;
use crate::sink::AlertSink;
use crate::store::{MemoryStore, ProbeStore};
use crate::{aggregate, HealthProbe, ProbeResult, ProbeStatus};

/// How one service is monitored.
#[derive(Clone)]
pub struct ServiceConfig {
    /// The probe (its `service()` is the service's name).
    pub probe: Arc<dyn HealthProbe>,
    /// Interval between the end of one run and the start of the next (default 30 s).
    pub interval: Duration,
    /// The interval on wedding days (default 5 s).
    pub wedding_interval: Duration,
    /// Delay before re-checking after a failing result or while an incident is open (default 5 s).
    pub recheck_interval: Duration,
    /// The same on wedding days (default 1 s).
    pub wedding_recheck_interval: Duration,
    /// Jitter as a fraction of each delay (default 0.1 = ±10 %).
    pub jitter: f64,
}

impl std::fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("service", &self.probe.service())
            .field("interval", &self.interval)
            .field("wedding_interval", &self.wedding_interval)
            .field("recheck_interval", &self.recheck_interval)
            .field("wedding_recheck_interval", &self.wedding_recheck_interval)
            .field("jitter", &self.jitter)
            .finish()
    }
}

impl ServiceConfig {
    /// Defaults for `probe`: 30 s (wedding days 5 s), re-check 5 s (1 s), ±10 % jitter.
    pub fn new(probe: Arc<dyn HealthProbe>) -> Self {
        ServiceConfig {
            probe,
            interval: Duration::from_secs(30),
            wedding_interval: Duration::from_secs(5),
            recheck_interval: Duration::from_secs(5),
            wedding_recheck_interval: Duration::from_secs(1),
            jitter: 0.1,
        }
    }

    /// Sets the normal and wedding-day intervals.
    pub fn intervals(mut self, normal: Duration, wedding: Duration) -> Self {
        self.interval = normal;
        self.wedding_interval = wedding;
        self
    }

    /// Sets the normal and wedding-day intervals from `cadence`: its interval, and on wedding days
    /// [`Cadence::wedding_day_interval`] (the one place that rule lives). The probe's own timeout
    /// is the probe's; `cadence.timeout` only decides the wedding-day interval.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use wedsync_probe::{Cadence, FnProbe, ProbeResult, ProbeStatus, ServiceConfig};
    ///
    /// let probe = Arc::new(FnProbe::new("stripe", Duration::from_secs(5), || async {
    ///     ProbeResult::new("stripe", ProbeStatus::Healthy, "ok")
    /// }));
    /// let s = ServiceConfig::new(probe).cadence(Cadence::default());
    /// assert_eq!((s.interval, s.wedding_interval), (Duration::from_secs(30), Duration::from_secs(15)));
    /// ```
    pub fn cadence(self, cadence: Cadence) -> Self {
        let (normal, wedding) = cadence.intervals();
        self.intervals(normal, wedding)
    }

    /// Sets the normal and wedding-day re-check intervals.
    pub fn rechecks(mut self, normal: Duration, wedding: Duration) -> Self {
        self.recheck_interval = normal;
        self.wedding_recheck_interval = wedding;
        self
    }

    /// Sets the jitter fraction (clamped to 0..=0.5).
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction.clamp(0.0, 0.5);
        self
    }
}

/// The configuration of the breakers in a monitor's own registry (when
/// [`MonitorBuilder::breakers`] is not given one), sized to the cadence of probes rather than of
/// calls: a count window of the last 10 results, rates from 5 results on (a failure rate ≥ 50 %
/// opens it, so a provider failing every probe opens its breaker on the 5th failing result —
/// about 20 s with the default 5 s re-check — instead of after the 100 results of the breaker
/// crate's default, 50 minutes of 30 s probes), 2 half-open probes, 60 s open. Everything else
/// is the breaker crate's default (wedding-day mode halves the threshold and the open time).
/// It also keeps each breaker's window at 10 slots instead of 100 (about 0.4 KB less per
/// service; a monitor of 10,000 services holds 10,000 breakers).
pub fn probe_breaker_config() -> BreakerConfig {
    let mut cfg = BreakerConfig::default();
    cfg.sliding_window = SlidingWindow::Count(10);
    cfg.minimum_calls = 5;
    cfg.permitted_calls_in_half_open = 2;
    cfg
}

/// The documented default for a registry of *service* breakers that a monitor shares with the
/// rest of a process (the `wedsync-monitor` server's registry, synchronised across instances):
/// the last 10 outcomes, judged after 4, opening at a 50 % failure rate for 30 s, two probes in
/// half-open. Probes arrive every few seconds, not hundreds per second, so the breaker crate's
/// defaults (100 calls) would never trip. (A monitor that builds its own registry uses
/// [`probe_breaker_config`].)
///
/// ```
/// use wedsync_breaker::{CircuitBreaker, State};
/// let cfg = wedsync_probe::service_breaker_config();
/// assert_eq!(cfg.minimum_calls, 4);
/// let b = CircuitBreaker::new("stripe", cfg);
/// for _ in 0..4 {
///     b.try_acquire().expect("closed").failure();
/// }
/// assert_eq!(b.state(), State::Open, "4 failing probes open it");
/// ```
pub fn service_breaker_config() -> BreakerConfig {
    BreakerConfig::builder()
        .sliding_window(SlidingWindow::Count(10))
        .minimum_calls(4)
        .failure_rate_threshold(50.0)
        .wait_duration_in_open(Duration::from_secs(30))
        .permitted_calls_in_half_open(2)
        .build()
        .unwrap_or_default()
}

/// Monitor-wide settings.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// Most probes running at once (default 16).
    pub max_concurrency: usize,
    /// When wedding days are.
    pub policy: WeddingDayPolicy,
    /// Alert thresholds.
    pub alert: AlertConfig,
    /// Back-off after `rate_limited` when the provider named no time (default 60 s).
    pub rate_limit_backoff: Duration,
    /// First runs are spread over this long (default 2 s; a large fleet wants its interval).
    pub startup_spread: Duration,
    /// How often the outbox is polled besides wake-ups (default 1 s).
    pub outbox_poll: Duration,
    /// Outbox retry policy.
    pub retry: RetryPolicy,
    /// Whether every result is written to the result store (default true).
    pub persist_results: bool,
    /// Snapshots are published at most this often (default 100 ms); see [`Monitor::subscribe`].
    pub publish_every: Duration,
    /// How long a self-connectivity answer is reused (default 5 s).
    pub connectivity_ttl: Duration,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            max_concurrency: 16,
            policy: WeddingDayPolicy::default(),
            alert: AlertConfig::default(),
            rate_limit_backoff: Duration::from_secs(60),
            startup_spread: Duration::from_secs(2),
            outbox_poll: Duration::from_secs(1),
            retry: RetryPolicy::default(),
            persist_results: true,
            publish_every: Duration::from_millis(100),
            connectivity_ttl: Duration::from_secs(5),
        }
    }
}

/// A configuration error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// No service of that name is configured.
    #[error("unknown service {0:?}")]
    UnknownService(String),
    /// The configuration is inconsistent.
    #[error("invalid monitor configuration: {0}")]
    Config(String),
    /// The store failed at start-up.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

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

const LAG_BUCKETS: usize = 10_001; // 1 ms buckets up to 10 s, then overflow

struct LagHist {
    buckets: Vec<u64>,
    count: u64,
    max: Duration,
}

impl LagHist {
    fn record(&mut self, d: Duration) {
        let i = (d.as_millis() as usize).min(LAG_BUCKETS - 1);
        self.buckets[i] += 1;
        self.count += 1;
        self.max = self.max.max(d);
    }
    fn quantile(&self, q: f64) -> Duration {
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
struct Live {
    status: ProbeStatus,
    last: Option<ProbeResult>,
    consecutive_failures: u32,
    incident: Option<String>,
    in_maintenance: bool,
    flapping: bool,
    breaker: State,
}

impl Live {
    /// A service before its first result.
    fn new(breaker: State) -> Self {
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
    fn published(&self) -> (ProbeStatus, Option<&str>, bool, bool, State) {
        (
            self.status,
            self.incident.as_deref(),
            self.in_maintenance,
            self.flapping,
            self.breaker,
        )
    }

    /// Makes `h` equal to `self.health(h.service, breaker)`, reusing `h`'s strings.
    fn refresh(&self, h: &mut ServiceHealth, breaker: State) {
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

    fn health(&self, service: &str, breaker: State) -> ServiceHealth {
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

struct Svc {
    cfg: ServiceConfig,
    name: String,
    /// `breakers.get(name)`, looked up once (a registry never drops a breaker).
    breaker: CircuitBreaker,
    run_lock: tokio::sync::Mutex<()>,
    seq: AtomicU64,
    seed: u64,
}

struct Inner {
    services: Vec<Svc>,
    /// Indices into `services`, sorted by name (binary search; no second copy of each name).
    by_name: Vec<u32>,
    cfg: MonitorConfig,
    store: Arc<dyn ProbeStore>,
    engine: Arc<AlertEngine>,
    dispatcher: Arc<Dispatcher>,
    breakers: Registry,
    clock: Arc<dyn WallClock>,
    sem: Semaphore,
    /// Indexed like `services`.
    live: Mutex<Vec<Live>>,
    tx: watch::Sender<Arc<Snapshot>>,
    dirty: Notify,
    wedding: AtomicBool,
    /// Moves whenever `live` or `wedding` changes ([`Monitor::generation`]).
    generation: AtomicU64,
    lag: Mutex<LagHist>,
    connectivity: Option<Arc<dyn HealthProbe>>,
    conn_cache: tokio::sync::Mutex<Option<(Instant, bool)>>,
}

/// Builds a [`Monitor`].
pub struct MonitorBuilder {
    services: Vec<ServiceConfig>,
    cfg: MonitorConfig,
    store: Option<Arc<dyn ProbeStore>>,
    sinks: Vec<Arc<dyn AlertSink>>,
    breakers: Option<Registry>,
    clock: Option<Arc<dyn WallClock>>,
    instance: String,
    connectivity: Option<Arc<dyn HealthProbe>>,
}

impl MonitorBuilder {
    /// Adds a service.
    pub fn service(mut self, s: ServiceConfig) -> Self {
        self.services.push(s);
        self
    }

    /// Adds services.
    pub fn services(mut self, s: impl IntoIterator<Item = ServiceConfig>) -> Self {
        self.services.extend(s);
        self
    }

    /// Sets the monitor-wide configuration.
    pub fn config(mut self, cfg: MonitorConfig) -> Self {
        self.cfg = cfg;
        self
    }

    /// Sets the store (default: [`MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn ProbeStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Adds an alert sink.
    pub fn sink(mut self, sink: Arc<dyn AlertSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Uses this breaker registry (default: a registry of [`probe_breaker_config`] breakers).
    /// Each service's breaker is `registry.get(service)`.
    pub fn breakers(mut self, registry: Registry) -> Self {
        self.breakers = Some(registry);
        self
    }

    /// Sets the wall clock (default: [`TokioClock`]).
    pub fn clock(mut self, clock: Arc<dyn WallClock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Names this process (outbox lease owner; default `"monitor"`). Must be unique per process
    /// when several share a store.
    pub fn instance(mut self, id: impl Into<String>) -> Self {
        self.instance = id.into();
        self
    }

    /// A self-connectivity probe (e.g. a [`crate::TcpProbe`] to a reliable host): when a service
    /// looks `unhealthy` and this probe is not healthy either, the result becomes `unknown`.
    pub fn connectivity(mut self, probe: Arc<dyn HealthProbe>) -> Self {
        self.connectivity = Some(probe);
        self
    }

    /// Validates and builds. Fails when names repeat, or a probe's timeout is not below every
    /// interval it may run at.
    pub fn build(self) -> Result<Monitor, MonitorError> {
        let breakers = self
            .breakers
            .unwrap_or_else(|| Registry::new(probe_breaker_config()));
        let mut seen = HashSet::new();
        let mut services = Vec::with_capacity(self.services.len());
        for s in self.services {
            let name = s.probe.service().to_owned();
            if !seen.insert(name.clone()) {
                return Err(MonitorError::Config(format!(
                    "service {name:?} configured twice"
                )));
            }
            let t = s.probe.timeout();
            for (what, iv) in [
                ("interval", s.interval),
                ("wedding_interval", s.wedding_interval),
                ("recheck_interval", s.recheck_interval),
                ("wedding_recheck_interval", s.wedding_recheck_interval),
            ] {
                if iv.is_zero() {
                    return Err(MonitorError::Config(format!("{name}: {what} is zero")));
                }
            }
            for (what, iv) in [
                ("interval", s.interval),
                ("wedding_interval", s.wedding_interval),
            ] {
                if t >= iv {
                    return Err(MonitorError::Config(format!(
                        "{name}: timeout {t:?} must be below {what} {iv:?}"
                    )));
                }
            }
            let seed = s
                .probe
                .service()
                .bytes()
                .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                    (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
                });
            services.push(Svc {
                breaker: breakers.get(&name),
                name,
                cfg: s,
                run_lock: tokio::sync::Mutex::new(()),
                seq: AtomicU64::new(0),
                seed,
            });
        }
        drop(seen);
        let mut by_name: Vec<u32> = (0..services.len())
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
            .collect();
        by_name.sort_by(|&a, &b| services[a as usize].name.cmp(&services[b as usize].name));
        let clock = self
            .clock
            .unwrap_or_else(|| Arc::new(TokioClock::new()) as Arc<dyn WallClock>);
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(MemoryStore::new()) as Arc<dyn ProbeStore>);
        let engine = Arc::new(AlertEngine::new(
            self.cfg.alert.clone(),
            store.clone(),
            self.sinks.clone(),
            clock.clone(),
        ));
        let dispatcher = Arc::new(
            Dispatcher::new(store.clone(), self.sinks, self.instance, clock.clone())
                .with_retry(self.cfg.retry),
        );
        let wedding = self.cfg.policy.is_wedding_day(clock.now_ms());
        breakers.set_wedding_day(wedding);
        let live: Vec<Live> = services
            .iter()
            .map(|s| Live::new(s.breaker.state()))
            .collect();
        let first = Snapshot {
            at_ms: clock.now_ms(),
            wedding_day: wedding,
            overall: ProbeStatus::Unknown,
            services: services
                .iter()
                .zip(&live)
                .map(|(s, l)| (s.name.clone(), l.health(&s.name, l.breaker)))
                .collect(),
        };
        let (tx, _) = watch::channel(Arc::new(first));
        Ok(Monitor {
            inner: Arc::new(Inner {
                services,
                by_name,
                sem: Semaphore::new(self.cfg.max_concurrency.max(1)),
                cfg: self.cfg,
                store,
                engine,
                dispatcher,
                breakers,
                clock,
                live: Mutex::new(live),
                tx,
                dirty: Notify::new(),
                wedding: AtomicBool::new(wedding),
                generation: AtomicU64::new(0),
                lag: Mutex::new(LagHist {
                    buckets: vec![0; LAG_BUCKETS],
                    count: 0,
                    max: Duration::ZERO,
                }),
                connectivity: self.connectivity,
                conn_cache: tokio::sync::Mutex::new(None),
            }),
        })
    }
}

/// The running monitor's handle; cheap to clone.
#[derive(Clone)]
pub struct Monitor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("services", &self.inner.services.len())
            .field("wedding_day", &self.is_wedding_day())
            .finish_non_exhaustive()
    }
}

/// Stops the monitor's tasks.
#[derive(Debug)]
pub struct MonitorHandle {
    shutdown: watch::Sender<bool>,
    /// Aborted when the handle is dropped.
    tasks: tokio::task::JoinSet<()>,
}

impl MonitorHandle {
    /// Signals every task to stop and waits for them (a probe in flight is cancelled).
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `d` scaled by a factor in `[1 - fraction, 1 + fraction]` chosen by `rnd`.
fn jittered(d: Duration, fraction: f64, rnd: u64) -> Duration {
    if fraction <= 0.0 {
        return d;
    }
    let u = (rnd >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
    d.mul_f64(1.0 + fraction * (2.0 * u - 1.0))
}

impl Monitor {
    /// A builder.
    pub fn builder() -> MonitorBuilder {
        MonitorBuilder {
            services: Vec::new(),
            cfg: MonitorConfig::default(),
            store: None,
            sinks: Vec::new(),
            breakers: None,
            clock: None,
            instance: "monitor".to_owned(),
            connectivity: None,
        }
    }

    /// The current state of every service (built now).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::new(self.inner.build_snapshot())
    }

    /// A receiver of snapshots, published when something a subscriber acts on changes — a
    /// service's status, incident, maintenance, flapping or breaker state, or the wedding-day
    /// state — at most every [`MonitorConfig::publish_every`]. Results that change none of these
    /// (a healthy service staying healthy) are in [`Monitor::snapshot`] but publish nothing, so a
    /// large fleet does not copy its state several times a second.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.inner.tx.subscribe()
    }

    /// The breaker registry; each service's breaker is `breakers().get(service)`.
    pub fn breakers(&self) -> &Registry {
        &self.inner.breakers
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ProbeStore> {
        &self.inner.store
    }

    /// The alert engine.
    pub fn alerts(&self) -> &Arc<AlertEngine> {
        &self.inner.engine
    }

    /// A counter that moves whenever what [`Monitor::snapshot`] reports may have changed: a
    /// result recorded (status, latest result, failure count, incident, maintenance, flapping) or
    /// the wedding-day state switched. Equal generations mean equal snapshots apart from `at_ms`
    /// and each service's `breaker`, which is read live from the breaker (its metrics move on
    /// their own: calls recorded by other users, time windows, open deadlines).
    ///
    /// It lets a caller that renders snapshots (a health API, a dashboard) keep its rendering
    /// until the generation moves instead of building a snapshot per request.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// Unix milliseconds on the monitor's clock: what a snapshot taken now has as `at_ms`.
    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// Whether the monitor currently applies wedding-day settings.
    pub fn is_wedding_day(&self) -> bool {
        self.inner.wedding.load(Ordering::Acquire)
    }

    /// The configured service names, in configuration order.
    pub fn services(&self) -> Vec<String> {
        self.inner.services.iter().map(|s| s.name.clone()).collect()
    }

    /// Scheduling-lag statistics since start.
    pub fn scheduling_lag(&self) -> LagStats {
        let h = self.inner.lag.lock().unwrap_or_else(|e| e.into_inner());
        LagStats {
            count: h.count,
            p50: h.quantile(0.50),
            p99: h.quantile(0.99),
            max: h.max,
        }
    }

    /// Runs one service's probe now (waiting for a run in progress to finish first, so runs
    /// never overlap) and processes the result like a scheduled one.
    pub async fn run_now(&self, service: &str) -> Result<ProbeResult, MonitorError> {
        let svcs = &self.inner.services;
        let idx = self
            .inner
            .by_name
            .binary_search_by(|&i| svcs[i as usize].name.as_str().cmp(service))
            .map(|pos| self.inner.by_name[pos] as usize)
            .map_err(|_| MonitorError::UnknownService(service.to_owned()))?;
        Ok(self.inner.run_service(idx, None).await)
    }

    /// Reconciles open incidents from the store, then starts every task: the scheduler (which
    /// runs each service when due), the wedding-day switch, the outbox dispatcher and the snapshot publisher. Must be called inside
    /// a tokio runtime.
    pub async fn start(&self) -> Result<MonitorHandle, MonitorError> {
        self.inner.engine.reconcile().await?;
        let (shutdown, rx) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        let n = self.inner.services.len().max(1) as u64;
        let start = Instant::now();
        let due: BinaryHeap<Reverse<(Instant, u32)>> = self
            .inner
            .services
            .iter()
            .enumerate()
            .map(|(idx, s)| {
                let spread = self
                    .inner
                    .cfg
                    .startup_spread
                    .mul_f64((splitmix(s.seed) % n) as f64 / n as f64);
                Reverse((start + spread, u32::try_from(idx).unwrap_or(u32::MAX)))
            })
            .collect();
        tasks.spawn(Inner::schedule(self.inner.clone(), due));
        {
            let inner = self.inner.clone();
            let mut rx = rx.clone();
            tasks.spawn(async move {
                loop {
                    let now = inner.clock.now_ms();
                    let on = inner.cfg.policy.is_wedding_day(now);
                    if inner.wedding.swap(on, Ordering::AcqRel) != on {
                        inner.generation.fetch_add(1, Ordering::AcqRel);
                        tracing::info!(wedding_day = on, "wedding-day mode changed");
                        inner.breakers.set_wedding_day(on);
                        inner.dirty.notify_one();
                    }
                    let wait = inner
                        .cfg
                        .policy
                        .until_next_day(now)
                        .min(Duration::from_secs(60));
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = rx.changed() => return,
                    }
                }
            });
        }
        {
            let d = self.inner.dispatcher.clone();
            let wake = self.inner.engine.wake_handle();
            let poll = self.inner.cfg.outbox_poll;
            tasks.spawn(d.run(wake, poll, rx.clone()));
        }
        {
            let inner = self.inner.clone();
            let mut rx = rx.clone();
            tasks.spawn(async move {
                loop {
                    tokio::select! {
                        _ = inner.dirty.notified() => {}
                        _ = rx.changed() => return,
                    }
                    inner.publish();
                    tokio::time::sleep(inner.cfg.publish_every).await;
                }
            });
        }
        Ok(MonitorHandle { shutdown, tasks })
    }

    /// Sends due notifications once (tests and tools; [`Monitor::start`] runs this continuously).
    pub async fn dispatch_outbox(
        &self,
    ) -> Result<crate::outbox::DispatchReport, crate::store::StoreError> {
        self.inner.dispatcher.dispatch_once().await
    }
}

impl Inner {
    /// The scheduler: one task holding every service's next start in a heap (16 bytes a
    /// service, instead of one sleeping task each). A due service runs in a task of its own,
    /// which reports its next start when the run has ended, so runs of one service never
    /// overlap and the interval excludes probe time. Aborting the scheduler aborts the runs in
    /// flight (they live in its `JoinSet`).
    async fn schedule(inner: Arc<Inner>, mut due: BinaryHeap<Reverse<(Instant, u32)>>) {
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, u32)>();
        let mut runs = tokio::task::JoinSet::new();
        loop {
            let now = Instant::now();
            while let Some(&Reverse((at, idx))) = due.peek() {
                if at > now {
                    break;
                }
                due.pop();
                let inner = inner.clone();
                let done = done_tx.clone();
                runs.spawn(async move {
                    let r = inner.run_service(idx as usize, Some(at)).await;
                    let next = Instant::now() + inner.next_delay(idx as usize, &r);
                    let _ = done.send((next, idx));
                });
            }
            let wake = due.peek().map(|Reverse((at, _))| *at);
            tokio::select! {
                () = async {
                    match wake {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {}
                Some(next) = done_rx.recv() => due.push(Reverse(next)),
                Some(_) = runs.join_next(), if !runs.is_empty() => {}
            }
        }
    }

    /// Publishes a current snapshot. When no subscriber holds the previous one, it is updated
    /// in place, reusing its strings: a large fleet whose statuses change (every service at
    /// start-up) does not allocate and free a whole snapshot every `publish_every`.
    fn publish(&self) {
        self.tx.send_modify(|snap| match Arc::get_mut(snap) {
            Some(s) if s.services.len() == self.services.len() => self.refresh(s),
            _ => *snap = Arc::new(self.build_snapshot()),
        });
    }

    /// Brings `snap` (of these services) up to date in place.
    fn refresh(&self, snap: &mut Snapshot) {
        {
            let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
            for (s, l) in self.services.iter().zip(live.iter()) {
                let breaker = s.breaker.state();
                match snap.services.get_mut(&s.name) {
                    Some(h) => l.refresh(h, breaker),
                    None => {
                        snap.services
                            .insert(s.name.clone(), l.health(&s.name, breaker));
                    }
                }
            }
        }
        snap.at_ms = self.clock.now_ms();
        snap.wedding_day = self.wedding.load(Ordering::Acquire);
        snap.overall = aggregate(snap.services.values().map(|h| h.status));
    }

    fn build_snapshot(&self) -> Snapshot {
        let services: BTreeMap<String, ServiceHealth> = {
            let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
            self.services
                .iter()
                .zip(live.iter())
                .map(|(s, l)| (s.name.clone(), l.health(&s.name, s.breaker.state())))
                .collect()
        };
        Snapshot {
            at_ms: self.clock.now_ms(),
            wedding_day: self.wedding.load(Ordering::Acquire),
            overall: aggregate(services.values().map(|h| h.status)),
            services,
        }
    }

    fn next_delay(&self, idx: usize, r: &ProbeResult) -> Duration {
        let s = &self.services[idx];
        let wedding = self.cfg.policy.is_wedding_day(self.clock.now_ms());
        let c = &s.cfg;
        let (interval, recheck) = if wedding {
            (c.wedding_interval, c.wedding_recheck_interval)
        } else {
            (c.interval, c.recheck_interval)
        };
        let floor = c.probe.min_interval();
        let incident_open = self
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(idx)
            .is_some_and(|h| h.incident.is_some());
        let d = match r.status {
            ProbeStatus::RateLimited => interval.max(
                r.retry_after
                    .unwrap_or(self.cfg.rate_limit_backoff)
                    .min(Duration::from_secs(3600)),
            ),
            st if st.is_alerting() || st == ProbeStatus::Unknown || incident_open => recheck,
            _ => interval,
        }
        .max(floor);
        let seq = s.seq.fetch_add(1, Ordering::Relaxed);
        let d = jittered(d, c.jitter, splitmix(s.seed ^ seq.wrapping_mul(0x9e37)));
        if r.status == ProbeStatus::RateLimited {
            d.max(r.retry_after.unwrap_or_default()) // jitter never shortens a provider's ask
        } else {
            d
        }
    }

    async fn connectivity_ok(&self) -> bool {
        let Some(p) = &self.connectivity else {
            return true;
        };
        let mut cache = self.conn_cache.lock().await;
        if let Some((at, ok)) = *cache {
            if at.elapsed() < self.cfg.connectivity_ttl {
                return ok;
            }
        }
        let ok = match tokio::time::timeout(p.timeout(), p.check()).await {
            Ok(r) => r.status.is_ok(),
            Err(_) => false,
        };
        *cache = Some((Instant::now(), ok));
        ok
    }

    async fn run_service(&self, idx: usize, planned: Option<Instant>) -> ProbeResult {
        let s = &self.services[idx];
        let _run = s.run_lock.lock().await;
        let permit = self.sem.acquire().await;
        if let Some(p) = planned {
            let lag = Instant::now().saturating_duration_since(p);
            self.lag
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .record(lag);
        }
        let checked_at = self.clock.now_ms();
        let started = Instant::now();
        let timeout = s.cfg.probe.timeout();
        let mut r = match tokio::time::timeout(timeout, s.cfg.probe.check()).await {
            Ok(r) => r,
            Err(_) => ProbeResult::new(
                s.name.clone(),
                ProbeStatus::Unhealthy,
                format!("timed out after {} ms", timeout.as_millis()),
            )
            .with_latency(started.elapsed()),
        };
        drop(permit);
        r.service.clone_from(&s.name);
        r.checked_at_ms = checked_at;
        if r.status == ProbeStatus::Unhealthy && !self.connectivity_ok().await {
            r.detail = crate::sanitize_detail(&format!(
                "monitor cannot reach the network (self-check failed); saw: {}",
                r.detail
            ));
            r.status = ProbeStatus::Unknown;
        }
        self.process(idx, &r).await;
        r
    }

    async fn process(&self, idx: usize, r: &ProbeResult) {
        if self.cfg.persist_results {
            if let Err(e) = self.store.insert_result(r).await {
                tracing::error!(service = %r.service, error = %e, "storing a probe result failed");
            }
        }
        let breaker = &self.services[idx].breaker;
        let outcome = match r.status {
            ProbeStatus::Healthy | ProbeStatus::Degraded => Outcome::Success,
            ProbeStatus::Unhealthy => Outcome::Failure,
            ProbeStatus::AuthFailed | ProbeStatus::RateLimited | ProbeStatus::Unknown => {
                Outcome::Ignored
            }
        };
        if let Ok(permit) = breaker.try_acquire() {
            permit.record_elapsed(outcome, r.latency);
        }
        let wedding = self.wedding.load(Ordering::Acquire)
            || self.cfg.policy.is_wedding_day(self.clock.now_ms());
        let alert = match self.engine.on_result(r, wedding).await {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::error!(service = %r.service, error = %e, "alert engine failed");
                None
            }
        };
        let changed = {
            let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
            match live.get_mut(idx) {
                Some(h) => {
                    let before = (
                        h.status,
                        h.incident.take(),
                        h.in_maintenance,
                        h.flapping,
                        h.breaker,
                    );
                    h.status = r.status;
                    h.last = Some(r.clone());
                    h.breaker = breaker.state();
                    match alert {
                        Some(a) => {
                            h.consecutive_failures = a.consecutive_failures;
                            h.incident = a.incident;
                            h.in_maintenance = a.in_maintenance;
                            h.flapping = a.flapping;
                        }
                        None => h.incident.clone_from(&before.1),
                    }
                    (before.0, before.1.as_deref(), before.2, before.3, before.4) != h.published()
                }
                None => false,
            }
        };
        // after the lock: a reader that sees the new generation also sees the new state
        self.generation.fetch_add(1, Ordering::AcqRel);
        if changed {
            self.dirty.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_bounds_and_varies() {
        let d = Duration::from_secs(30);
        let mut seen = HashSet::new();
        for i in 0..1000u64 {
            let j = jittered(d, 0.1, splitmix(i));
            assert!(
                j >= Duration::from_secs(27) && j <= Duration::from_secs(33),
                "{j:?}"
            );
            seen.insert(j.as_millis());
        }
        assert!(seen.len() > 500, "jitter spreads: {} distinct", seen.len());
        assert_eq!(jittered(d, 0.0, 12345), d);
    }

    #[test]
    fn refreshing_in_place_equals_building_anew() {
        let result = |status, detail: &str, rid: Option<&str>| {
            ProbeResult::new("svc", status, detail)
                .with_request_id(rid.map(str::to_owned))
                .with_http_status(503)
                .with_latency(Duration::from_millis(7))
                .at(42)
        };
        let lives = [
            Live::new(State::Closed),
            Live {
                status: ProbeStatus::Unhealthy,
                last: Some(result(ProbeStatus::Unhealthy, "HTTP 503", Some("req_1"))),
                consecutive_failures: 3,
                incident: Some("svc/1".into()),
                in_maintenance: true,
                flapping: true,
                breaker: State::Open,
            },
            Live {
                status: ProbeStatus::Healthy,
                last: Some(result(
                    ProbeStatus::Healthy,
                    "a much longer detail than before",
                    None,
                )),
                consecutive_failures: 0,
                incident: None,
                in_maintenance: false,
                flapping: false,
                breaker: State::HalfOpen,
            },
        ];
        for from in &lives {
            for to in &lives {
                for breaker in [State::Closed, State::ForcedOpen] {
                    let mut h = from.health("svc", from.breaker);
                    to.refresh(&mut h, breaker);
                    assert_eq!(h, to.health("svc", breaker), "{from:?} -> {to:?}");
                }
            }
        }
    }

    #[test]
    fn the_default_breakers_suit_probe_cadence() {
        let cfg = probe_breaker_config();
        assert!(cfg.validate().is_ok(), "{cfg:?}");
        let b = wedsync_breaker::CircuitBreaker::new("svc", cfg);
        for i in 1..=5 {
            assert_eq!(b.state(), State::Closed, "before failing probe {i}");
            b.try_acquire().expect("closed").failure();
        }
        assert_eq!(b.state(), State::Open, "5 failing probes open it");
    }

    #[test]
    fn lag_quantiles() {
        let mut h = LagHist {
            buckets: vec![0; LAG_BUCKETS],
            count: 0,
            max: Duration::ZERO,
        };
        for ms in 0..100u64 {
            h.record(Duration::from_millis(ms));
        }
        assert_eq!(h.quantile(0.5), Duration::from_millis(49));
        assert_eq!(h.quantile(0.99), Duration::from_millis(98));
        assert_eq!(h.max, Duration::from_millis(99));
    }
}
