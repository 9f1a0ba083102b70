//! [`MonitorBuilder`]: validates the services and builds a [`Monitor`].

use super::*;

/// Builds a [`Monitor`].
pub struct MonitorBuilder {
    pub(super) services: Vec<ServiceConfig>,
    pub(super) cfg: MonitorConfig,
    pub(super) store: Option<Arc<dyn ProbeStore>>,
    pub(super) sinks: Vec<Arc<dyn AlertSink>>,
    pub(super) breakers: Option<Registry>,
    pub(super) clock: Option<Arc<dyn WallClock>>,
    pub(super) instance: String,
    pub(super) connectivity: Option<Arc<dyn HealthProbe>>,
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
