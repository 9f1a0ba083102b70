//! Configuration to libraries, in one place: every constructor that turns a part of [`Config`]
//! into a library's type (probes and the monitor, the delivery worker, the breaker registry, the
//! body-key settings, the wedding-day and retention policies). The webhook receiver is
//! `wedsync_webhooks::ingest::Receiver::configured`.

use std::collections::BTreeMap;
use std::sync::Arc;

use wedsync_breaker::Registry;
use wedsync_probe::config::{monitor_settings, ServiceSpec};
use wedsync_probe::store::ProbeStore;
use wedsync_probe::{HealthProbe, Monitor};
use wedsync_webhooks::crypto::BodyCipher;
use wedsync_webhooks::delivery::handler_breakers;
use wedsync_webhooks::keys::KeySettings;

use crate::config::{Config, ConfigError};
use crate::metrics::Metrics;
use crate::{bodykeys, Components, StartError};

impl Config {
    /// What the retention job deletes and when: the store's defaults, with raw webhook bodies kept
    /// for `ingress.raw_body_retention`.
    pub fn retention_policy(&self) -> wedsync_store::RetentionPolicy {
        self.retention.policy(self.ingress.raw_body_retention)
    }
}

/// Builds the probe for one configured service (credentials from the environment).
pub fn build_probe(cfg: &Config, spec: &ServiceSpec) -> Result<Arc<dyn HealthProbe>, ConfigError> {
    spec.build(&|env: &str| cfg.secret(env))
        .map_err(ConfigError::from)
}

/// Builds the monitor for the configured services. `overrides` replace built-in probes by service
/// name (tests and the demo); `sinks` receive alerts (the log always does).
pub fn build_monitor(
    cfg: &Config,
    store: Arc<dyn ProbeStore>,
    breakers: Registry,
    instance: &str,
    overrides: &BTreeMap<String, Arc<dyn HealthProbe>>,
    sinks: Vec<Arc<dyn wedsync_probe::AlertSink>>,
) -> Result<Monitor, ConfigError> {
    let settings = monitor_settings(&cfg.wedding_days, &cfg.maintenance)?;
    let mut services = Vec::new();
    for s in &cfg.services {
        let probe = match overrides.get(s.name()) {
            Some(p) => p.clone(),
            None => build_probe(cfg, s)?,
        };
        services.push(s.service_config(probe));
    }
    let mut builder = Monitor::builder()
        .services(services)
        .config(settings)
        .store(store)
        .breakers(breakers)
        .instance(instance.to_string())
        .sink(Arc::new(wedsync_probe::LogSink::new()));
    let configured = cfg.alerts.sinks(&|env| cfg.secret(env));
    for sink in configured.map_err(|e| e.under("alerts"))? {
        builder = builder.sink(sink);
    }
    for sink in sinks {
        builder = builder.sink(sink);
    }
    builder
        .build()
        .map_err(|e| crate::config::invalid("services", e.to_string()))
}

/// The registry of every breaker: services' with [`service_breaker_config`], webhook handlers'
/// with [`handler_breaker_config`], shared with the other instances when the store can.
pub(crate) fn breaker_registry(
    cfg: &Config,
    instance: &str,
    components: &Components,
) -> wedsync_breaker::Registry {
    let registry = wedsync_breaker::Registry::builder()
        .default_config(wedsync_probe::service_breaker_config())
        .instance(instance.to_string());
    let mut registry = handler_breakers(registry, cfg.webhooks.keys().copied());
    if let Some(sync) = &components.breaker_sync {
        registry = registry.state_sync(sync.clone());
    }
    registry.build()
}

/// A random Standard Webhooks secret (`whsec_<base64>`).
pub use wedsync_webhooks::verify::standard::random_secret as random_whsec;

pub(crate) fn build_worker(
    cfg: &Config,
    instance: &str,
    components: &Components,
    cipher: BodyCipher,
    breakers: &Arc<wedsync_breaker::Registry>,
    metrics: &Arc<Metrics>,
) -> Result<wedsync_webhooks::delivery::Worker, StartError> {
    let store = components.webhook_store.clone();
    let breakers = breakers.clone();
    let transport = wedsync_webhooks::forward::ReqwestTransport::new()
        .map_err(|e| StartError::Store(format!("cannot build the HTTP client: {e}")))?;
    let mut worker = wedsync_webhooks::delivery::Worker::new(
        instance,
        store,
        Arc::new(transport),
        cipher,
        breakers,
        Arc::new(wedsync_webhooks::clock::SystemClock),
    )
    .events(Arc::new(bodykeys::WorkerEvents::new(metrics.clone())))
    .heartbeat(cfg.worker.lease, cfg.worker.lease / 3);
    for (&provider, w) in &cfg.webhooks {
        let forward = w.handler(&|env| cfg.secret(env));
        let under = |e: wedsync_config::ConfigError| e.under(&format!("webhooks.{provider}"));
        let Some(to) = forward.map_err(|e| ConfigError::from(under(e)))? else {
            continue;
        };
        if to.random_secret {
            tracing::warn!(provider = %provider, "handler_secret_env is not set, so the handler sees deliveries signed with a random per-process key");
        }
        worker = worker.handler(provider, to.handler);
    }
    Ok(worker)
}

/// The key settings of `[ingress]`, with the keys given as environment variables read.
pub fn key_settings(cfg: &Config) -> Result<KeySettings, ConfigError> {
    let needed = bodykeys::needs_key(cfg);
    let settings = cfg
        .ingress
        .key_settings(needed, "wedsync-monitor keys generate", &|env| {
            cfg.secret(env)
        });
    Ok(settings.map_err(|e| e.under("ingress"))?)
}
