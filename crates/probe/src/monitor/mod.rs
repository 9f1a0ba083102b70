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

mod builder;
mod config;
mod health;
#[cfg(test)]
mod tests;

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

pub use builder::MonitorBuilder;
pub use config::{
    probe_breaker_config, service_breaker_config, MonitorConfig, MonitorError, ServiceConfig,
};
use health::{LagHist, Live, LAG_BUCKETS};
pub use health::{LagStats, ServiceHealth, Snapshot};

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

    /// Calls `each` once with every new result the published snapshots carry (each service's
    /// latest, see [`subscribe`](Self::subscribe)), from now until the monitor is dropped; a
    /// server counts them into its metrics. Await (or spawn) the returned future.
    pub fn each_new_result<F>(
        &self,
        mut each: F,
    ) -> impl std::future::Future<Output = ()> + Send + 'static
    where
        F: FnMut(&ProbeResult) + Send + 'static,
    {
        let mut rx = self.subscribe();
        async move {
            let mut seen: BTreeMap<String, i64> = BTreeMap::new();
            while rx.changed().await.is_ok() {
                let snap = rx.borrow_and_update().clone();
                for (name, h) in &snap.services {
                    let Some(last) = &h.last else { continue };
                    if seen.insert(name.clone(), last.checked_at_ms) != Some(last.checked_at_ms) {
                        each(last);
                    }
                }
            }
        }
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
