//! Configuration to libraries, in one place: every constructor that turns a part of [`Config`]
//! into a library's type (probes and the monitor, webhook verifiers, the delivery worker, the
//! breaker registry, the body-key settings, the wedding-day and retention policies).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use wedsync_breaker::Registry;
use wedsync_probe::config::ServiceSpec;
use wedsync_probe::policy::PolicyError;
use wedsync_probe::store::ProbeStore;
use wedsync_probe::{HealthProbe, Monitor, MonitorConfig, WeddingDayPolicy};
use wedsync_webhooks::crypto::BodyCipher;
use wedsync_webhooks::delivery::handler_breakers;
use wedsync_webhooks::keys::{self, EnvKey, KeySettings, OldKey};
use wedsync_webhooks::verify::Verifier;
use wedsync_webhooks::Provider;

use crate::config::{invalid, Config, ConfigError, WebhookConfig};
use crate::metrics::Metrics;
use crate::{bodykeys, Components, StartError};

impl Config {
    /// The wedding-day policy `[wedding_days]` describes, parsed by `wedsync-probe`; an error names
    /// the offending key (`wedding_days.weekdays[2]`).
    pub fn wedding_day_policy(&self) -> Result<WeddingDayPolicy, ConfigError> {
        let w = &self.wedding_days;
        WeddingDayPolicy::new(&w.timezone, &w.weekdays, &w.dates).map_err(|e| {
            let at = |list: &[String], bad: &str, name: &str| {
                let i = list.iter().position(|v| v == bad).unwrap_or(0);
                format!("wedding_days.{name}[{i}]")
            };
            let key = match &e {
                PolicyError::TimeZone(_) => "wedding_days.timezone".to_string(),
                PolicyError::Weekday(v) => at(&w.weekdays, v, "weekdays"),
                PolicyError::Date(v) => at(&w.dates, v, "dates"),
                _ => "wedding_days".to_string(),
            };
            invalid(key, e.to_string())
        })
    }

    /// What the retention job deletes and when: the store's defaults, with raw webhook bodies kept
    /// for `ingress.raw_body_retention`.
    pub fn retention_policy(&self) -> wedsync_store::RetentionPolicy {
        wedsync_store::RetentionPolicy {
            raw_webhook_bodies: self.ingress.raw_body_retention,
            ..wedsync_store::RetentionPolicy::default()
        }
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
    let policy = cfg.wedding_day_policy()?;
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
        .config(MonitorConfig {
            policy,
            alert: wedsync_probe::AlertConfig {
                maintenance: cfg
                    .maintenance
                    .iter()
                    .filter_map(|m| {
                        let (start_ms, end_ms) = m.window_ms().ok()?;
                        Some(wedsync_probe::MaintenanceWindow {
                            service: m.service.clone(),
                            start_ms,
                            end_ms,
                        })
                    })
                    .collect(),
                ..wedsync_probe::AlertConfig::default()
            },
            ..MonitorConfig::default()
        })
        .store(store)
        .breakers(breakers)
        .instance(instance.to_string())
        .sink(Arc::new(wedsync_probe::LogSink::new()));
    if let Some(env) = &cfg.alerts.slack_webhook_env {
        let url = cfg.require_secret("alerts.slack_webhook_env", env)?;
        builder = builder.sink(Arc::new(wedsync_probe::SlackSink::new(
            wedsync_probe::Secret::new(url.expose()),
        )));
    }
    if let Some(env) = &cfg.alerts.pagerduty_routing_key_env {
        let key = cfg.require_secret("alerts.pagerduty_routing_key_env", env)?;
        builder = builder.sink(Arc::new(wedsync_probe::PagerDutySink::new(
            wedsync_probe::Secret::new(key.expose()),
        )));
    }
    for sink in sinks {
        builder = builder.sink(sink);
    }
    builder.build().map_err(|e| ConfigError::Invalid {
        key: "services".into(),
        message: e.to_string(),
    })
}

/// Builds the verifier for one configured provider from its secrets (read from the environment).
pub(crate) fn verifier_for(
    cfg: &Config,
    provider: Provider,
    w: &WebhookConfig,
) -> Result<Verifier, ConfigError> {
    let key = format!("webhooks.{provider}.secret_env");
    let secrets = w
        .secret_env
        .split(',')
        .map(|env| cfg.require_secret(&key, env.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    Verifier::for_provider(provider, secrets, w.public_url.as_deref()).map_err(|e| {
        ConfigError::Invalid {
            key,
            message: format!("the secret has the wrong form: {e}"),
        }
    })
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
pub fn random_whsec() -> String {
    use base64::Engine as _;
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(BodyCipher::generate_key())
    )
}

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
        let Some(url) = &w.forward_to else { continue };
        let name = provider.as_str();
        let secret = match &w.handler_secret_env {
            Some(env) => cfg
                .require_secret(&format!("webhooks.{name}.handler_secret_env"), env)?
                .expose()
                .to_string(),
            None => {
                tracing::warn!(provider = %name, "handler_secret_env is not set, so the handler sees deliveries signed with a random per-process key");
                random_whsec()
            }
        };
        worker = worker.handler(
            provider,
            wedsync_webhooks::delivery::Handler::new(
                url.clone(),
                wedsync_webhooks::Secret::new(secret),
            ),
        );
    }
    Ok(worker)
}

/// The key settings of `[ingress]`, with the keys given as environment variables read.
pub fn key_settings(cfg: &Config) -> Result<KeySettings, ConfigError> {
    let ing = &cfg.ingress;
    let env = |key: &str, var: &Option<String>| {
        var.as_ref()
            .map(|var| {
                let value = cfg.require_secret(key, var)?;
                Ok::<_, ConfigError>(EnvKey {
                    var: var.clone(),
                    value,
                })
            })
            .transpose()
    };
    let current = env(keys::ENV_SETTING, &ing.encryption_key_env)?;
    let mut old = Vec::new();
    for (i, k) in ing.old_encryption_keys.iter().enumerate() {
        old.push(OldKey {
            id: k.id.clone(),
            env: env(&format!("{}[{i}].env", keys::OLD_SETTING), &k.env)?,
            file: k.file.as_ref().map(PathBuf::from),
        });
    }
    Ok(KeySettings {
        key_id: ing.encryption_key_id.clone(),
        env: current,
        file: ing.encryption_key_file.as_ref().map(PathBuf::from),
        old,
        needed: bodykeys::needs_key(cfg),
        make_key: "wedsync-monitor keys generate".into(),
    })
}
