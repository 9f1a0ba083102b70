//! How services and the monitor are configured: [`ServiceConfig`], [`MonitorConfig`], the
//! breaker configurations sized to probe cadence, and [`MonitorError`].

use super::*;

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
