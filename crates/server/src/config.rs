//! Configuration: a TOML file overlaid by `WEDSYNC_*` environment variables, validated at start.
//!
//! The file never holds a secret: it names the environment variables that do (`credential_env`,
//! `secret_env`, …). Environment overlays use `__` between path segments, for example
//! `WEDSYNC_STORE__URL=postgres://…` or `WEDSYNC_SERVICES__0__INTERVAL=10s`; the value is read as a
//! TOML value when it parses as one (`true`, `42`, `["saturday"]`) and as a string otherwise.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use wedsync_probe::config::{check_env_name, check_http_url, validate_services, ServiceSpec};
use wedsync_webhooks::Provider;

/// Prefix of the environment variables that overlay the configuration file.
pub const ENV_PREFIX: &str = "WEDSYNC_";

/// An error in the configuration; its message always names the offending key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The path that was tried.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file (or an environment overlay) is not valid TOML or has the wrong shape.
    #[error("invalid configuration: {0}")]
    Parse(String),
    /// A key holds a value that fails validation.
    #[error("invalid configuration: `{key}`: {message}")]
    Invalid {
        /// The dotted key, e.g. `services[1].interval`.
        key: String,
        /// What is wrong with it (never the value of a secret).
        message: String,
    },
}

pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// A secret value (API key, signing secret): the workspace's one `Secret` type, owned by the
/// leaf crate `wedsync-secret` (re-exported by `wedsync-webhooks`).
pub use wedsync_webhooks::Secret;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`: the HTTP listener and its limits.
    #[serde(default)]
    pub server: ServerConfig,
    /// `[store]`: where state is kept.
    #[serde(default)]
    pub store: StoreConfig,
    /// `[wedding_days]`: which days get the wedding-day policy.
    #[serde(default)]
    pub wedding_days: WeddingDaysConfig,
    /// `[[services]]`: the external services to probe.
    #[serde(default)]
    #[serde(deserialize_with = "wedsync_probe::config::deserialize_services")]
    pub services: Vec<ServiceSpec>,
    /// `[webhooks.<provider>]`: webhook ingress per provider.
    #[serde(default)]
    #[serde(deserialize_with = "webhook_tables")]
    pub webhooks: BTreeMap<Provider, WebhookConfig>,
    /// `[monitor]`: the probe scheduler, breakers and alerts.
    #[serde(default)]
    pub monitor: MonitorConfig,
    /// `[worker]`: the webhook delivery worker.
    #[serde(default)]
    pub worker: WorkerConfig,
    /// `[retention]`: the retention (cleanup) job.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// `[rate_limits]`: per-API-key request budgets.
    #[serde(default)]
    pub rate_limits: RateLimitConfig,
    /// `[alerts]`: where incidents are sent.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// `[ingress]`: how received webhooks are kept.
    #[serde(default)]
    pub ingress: IngressConfig,
    /// `[dashboard]`: the live dashboard and the public status page.
    #[serde(default)]
    pub dashboard: DashboardConfig,
    /// `[[maintenance]]`: planned maintenance windows (alerts silenced, shown on the dashboard).
    #[serde(default)]
    pub maintenance: Vec<MaintenanceConfig>,
    /// Secrets supplied in-process (tests, the demo); consulted before the environment.
    #[serde(skip)]
    pub secret_overrides: BTreeMap<String, Secret>,
}

/// Every section's `Default` is what an empty table deserialises to, so the `#[serde(default …)]`
/// of its fields are the one place a default is written.
macro_rules! default_is_the_empty_table {
    ($($t:ty),+) => {$(
        impl Default for $t {
            fn default() -> Self {
                // every field has a default: an empty table cannot fail to deserialise
                toml::Table::new().try_into().expect("every field has a default")
            }
        }
    )+};
}

default_is_the_empty_table!(
    Config,
    ServerConfig,
    StoreConfig,
    WeddingDaysConfig,
    DashboardConfig,
    MonitorConfig,
    WorkerConfig,
    RetentionConfig,
    RateLimitConfig,
    IngressConfig
);

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on (`127.0.0.1:8080`).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Largest accepted request body in bytes (1 MiB).
    #[serde(default = "default_body_limit")]
    pub body_limit_bytes: u64,
    /// How long graceful shutdown waits for in-flight requests (`10s`).
    #[serde(
        default = "default_shutdown_timeout",
        with = "wedsync_probe::config::duration"
    )]
    pub shutdown_timeout: Duration,
    /// How long a client may take to send request headers (`10s`).
    #[serde(
        default = "default_header_timeout",
        with = "wedsync_probe::config::duration"
    )]
    pub header_read_timeout: Duration,
    /// Serve the HTTP API at all (`true`); `false` makes a worker-only process.
    #[serde(default = "default_true")]
    pub api_enabled: bool,
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` (default `sqlite://wedsync-monitor.db`), `sqlite::memory:` or
    /// `postgres://user@host/db`.
    #[serde(default = "default_store_url")]
    pub url: String,
}

/// `[wedding_days]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeddingDaysConfig {
    /// IANA time zone the weekdays are read in (`Europe/London`).
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Weekdays that are wedding days (`["saturday"]`).
    #[serde(default = "default_weekdays")]
    pub weekdays: Vec<String>,
    /// Extra wedding days, `YYYY-MM-DD`.
    #[serde(default)]
    pub dates: Vec<String>,
}

/// One `[[maintenance]]` window: a provider's announced maintenance, during which a failing
/// service opens no incident and shows as "under maintenance".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceConfig {
    /// The service (a `[[services]]` name); absent for every service.
    #[serde(default)]
    pub service: Option<String>,
    /// Start, RFC 3339 with an offset (`2026-12-05T02:00:00Z`).
    pub start: String,
    /// End (exclusive), RFC 3339.
    pub end: String,
}

impl MaintenanceConfig {
    /// The window as Unix milliseconds, or the error naming what is wrong.
    pub fn window_ms(&self) -> Result<(i64, i64), String> {
        let at = |text: &str| {
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
                .map_err(|_| {
                    format!("`{text}` is not an RFC 3339 time such as 2026-12-05T02:00:00Z")
                })
        };
        let (start, end) = (at(&self.start)?, at(&self.end)?);
        if end <= start {
            return Err("ends before it starts".into());
        }
        Ok((start, end))
    }
}

/// `[dashboard]`: the live dashboard at `/dashboard` and the public status page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    /// Serve the dashboard (`true`). It needs an API key to log in, like the API.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Serve the unauthenticated status page `/status` and the badges under `/badge/` for the
    /// services with `public = true` (`false`).
    #[serde(default)]
    pub public_status: bool,
    /// Mark the session cookie `Secure` (`false`): set it when the server is reached over HTTPS
    /// (a TLS-terminating proxy), so the cookie never travels in clear.
    #[serde(default)]
    pub secure_cookies: bool,
    /// How long a browser session lasts (`12h`).
    #[serde(
        default = "default_session_ttl",
        with = "wedsync_probe::config::duration"
    )]
    pub session_ttl: Duration,
}

fn default_session_ttl() -> Duration {
    Duration::from_secs(12 * 3600)
}

/// One `[webhooks.<provider>]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Name of the environment variable holding the signing secret (several, comma separated,
    /// during a rotation).
    pub secret_env: String,
    /// Internal handler the verified deliveries are forwarded to.
    #[serde(default)]
    pub forward_to: Option<String>,
    /// Name of the environment variable holding the secret used to sign forwarded deliveries.
    #[serde(default)]
    pub handler_secret_env: Option<String>,
    /// Twilio: the public URL Twilio calls (signatures cover it), when behind a proxy.
    #[serde(default)]
    pub public_url: Option<String>,
}

/// `[monitor]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// Run the probes in this process (`true`).
    #[serde(default = "default_true")]
    pub enabled: bool,
}

/// `[worker]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// Run the delivery worker in this process (`true`).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Deliveries forwarded concurrently (`4`).
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// How often an idle worker polls the queue (`1s`).
    #[serde(default = "default_poll", with = "wedsync_probe::config::duration")]
    pub poll_interval: Duration,
    /// How long a claim holds a delivery (`15s`). The worker renews it every third of that while
    /// the attempt is in flight, so this bounds how long a dead process's deliveries wait before
    /// another worker attempts them again.
    #[serde(default = "default_lease", with = "wedsync_probe::config::duration")]
    pub lease: Duration,
}

/// `[retention]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Run the retention job in this process (`true`).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// How often it runs (`1h`).
    #[serde(
        default = "default_retention_interval",
        with = "wedsync_probe::config::duration"
    )]
    pub interval: Duration,
}

/// `[rate_limits]`, per API key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests per minute on the admin API (`600`).
    #[serde(default = "default_general_rpm")]
    pub general_per_minute: u32,
    /// Manual probe runs and replays per minute (`10`).
    #[serde(default = "default_strict_rpm")]
    pub strict_per_minute: u32,
}

/// `[alerts]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Environment variable holding a Slack incoming-webhook URL.
    #[serde(default)]
    pub slack_webhook_env: Option<String>,
    /// Environment variable holding a PagerDuty Events v2 routing key.
    #[serde(default)]
    pub pagerduty_routing_key_env: Option<String>,
}

/// `[ingress]`.
///
/// Raw webhook bodies are sealed at rest with a key ring: the current key seals, every key in the
/// ring opens. The current key comes from `encryption_key_env` or `encryption_key_file`; with
/// neither, an embedded (SQLite) store keeps a generated key in `<database file>.body-key`
/// beside the database, and a PostgreSQL store refuses to start an ingress or worker process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressConfig {
    /// Environment variable holding the base64 32-byte key that seals raw webhook bodies.
    #[serde(default)]
    pub encryption_key_env: Option<String>,
    /// File holding that key instead (base64, mode 0600). On SQLite it is created with a fresh key
    /// when missing; on PostgreSQL every process must be given the same existing file.
    #[serde(default)]
    pub encryption_key_file: Option<String>,
    /// The id recorded with every body the current key seals (`k1`). Give a new key a new id.
    #[serde(default = "default_key_id")]
    pub encryption_key_id: String,
    /// Older keys that still open bodies they sealed, never used to seal (key rotation).
    #[serde(default)]
    pub old_encryption_keys: Vec<OldKeyConfig>,
    /// How long raw bodies are kept for replay (`7d`).
    #[serde(
        default = "default_raw_retention",
        with = "wedsync_probe::config::duration"
    )]
    pub raw_body_retention: Duration,
}

/// One `[[ingress.old_encryption_keys]]` entry: an older key, by id, from an environment variable
/// or a file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OldKeyConfig {
    /// The id its bodies were sealed with.
    pub id: String,
    /// Environment variable holding it (base64).
    #[serde(default)]
    pub env: Option<String>,
    /// File holding it (base64).
    #[serde(default)]
    pub file: Option<String>,
}

fn default_key_id() -> String {
    "k1".into()
}

fn default_raw_retention() -> Duration {
    Duration::from_secs(7 * 86_400)
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_body_limit() -> u64 {
    1024 * 1024
}
fn default_shutdown_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_header_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_true() -> bool {
    true
}
fn default_store_url() -> String {
    "sqlite://wedsync-monitor.db".into()
}
fn default_timezone() -> String {
    "Europe/London".into()
}
fn default_weekdays() -> Vec<String> {
    vec!["saturday".into()]
}
fn default_concurrency() -> u32 {
    4
}
fn default_poll() -> Duration {
    Duration::from_secs(1)
}
fn default_lease() -> Duration {
    Duration::from_secs(15)
}
fn default_retention_interval() -> Duration {
    Duration::from_secs(3600)
}
fn default_general_rpm() -> u32 {
    600
}
fn default_strict_rpm() -> u32 {
    10
}

/// `[webhooks.<provider>]` tables, keyed by the providers `wedsync-webhooks` parses (the generic
/// `standard` sender has no route of its own, so it is not one of them here).
fn webhook_tables<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<Provider, WebhookConfig>, D::Error> {
    let tables = BTreeMap::<String, WebhookConfig>::deserialize(d)?;
    let names = || {
        let all = Provider::ALL.iter().filter(|p| **p != Provider::Standard);
        all.map(|p| p.as_str()).collect::<Vec<_>>().join(" | ")
    };
    tables
        .into_iter()
        .map(|(name, table)| match name.parse::<Provider>() {
            Ok(p) if p != Provider::Standard => Ok((p, table)),
            _ => Err(serde::de::Error::custom(format!(
                "`webhooks.{name}`: unknown provider; use one of {}",
                names()
            ))),
        })
        .collect()
}

/// `key` must name an environment variable (the value is never echoed).
fn env_name_key(key: &str, name: &str) -> Result<(), ConfigError> {
    check_env_name(key, name).map_err(ConfigError::from)
}

/// `key` must be an http(s) URL without credentials (the URL is never echoed).
fn http_url_key(key: &str, url: &str) -> Result<(), ConfigError> {
    check_http_url(key, url).map_err(ConfigError::from)
}

impl From<wedsync_probe::config::ConfigError> for ConfigError {
    fn from(e: wedsync_probe::config::ConfigError) -> Self {
        invalid(e.key(), e.message())
    }
}

impl Config {
    /// Loads the file at `path` (or the defaults when `None`), overlays `WEDSYNC_*` variables from
    /// the process environment, and validates the result.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.display().to_string(),
                source,
            })?,
            None => String::new(),
        };
        Self::from_toml_with_env(&text, std::env::vars())
    }

    /// Parses `text` and overlays the `WEDSYNC_*` variables among `env`, then validates.
    pub fn from_toml_with_env(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        let mut overlays: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX) && k.contains("__"))
            .collect();
        overlays.sort();
        for (name, value) in overlays {
            apply_overlay(&mut table, &name, &value)?;
        }
        let cfg: Config = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(
            |e: serde_path_to_error::Error<toml::de::Error>| {
                let key = e.path().to_string();
                let message = e.into_inner().message().to_string();
                // a message that already names its key: "`services[1].domain`: missing …"
                let keyed = message
                    .strip_prefix('`')
                    .and_then(|m| m.split_once("`: "))
                    .map(|(k, m)| (k.to_string(), m.to_string()));
                match (keyed, key.as_str()) {
                    (Some((k, m)), _) => invalid(k, m),
                    (None, "." | "") => ConfigError::Parse(message),
                    (None, _) => invalid(key, message),
                }
            },
        )?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses and validates a TOML document without looking at the environment.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::from_toml_with_env(text, std::iter::empty())
    }

    /// Checks every key; the error names the first offending one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        if self.server.body_limit_bytes == 0 {
            return Err(invalid("server.body_limit_bytes", "must be greater than 0"));
        }
        let url = &self.store.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "store.url",
                "must start with sqlite://, postgres:// or postgresql://",
            ));
        }
        self.wedding_day_policy()?;
        validate_services(&self.services)?;
        for (provider, w) in &self.webhooks {
            let key = |k: &str| format!("webhooks.{provider}.{k}");
            for name in w.secret_env.split(',') {
                env_name_key(&key("secret_env"), name.trim())?;
            }
            if let Some(url) = &w.forward_to {
                http_url_key(&key("forward_to"), url)?;
            }
            if let Some(env) = &w.handler_secret_env {
                env_name_key(&key("handler_secret_env"), env)?;
            }
            if let Some(url) = &w.public_url {
                http_url_key(&key("public_url"), url)?;
            }
        }
        if self.worker.concurrency == 0 {
            return Err(invalid("worker.concurrency", "must be at least 1"));
        }
        if self.worker.lease < Duration::from_secs(3) {
            return Err(invalid("worker.lease", "must be at least 3s"));
        }
        self.validate_keys()?;
        for (i, m) in self.maintenance.iter().enumerate() {
            m.window_ms()
                .map_err(|e| invalid(format!("maintenance[{i}]"), e))?;
            if let Some(s) = &m.service {
                if !self.services.iter().any(|c| c.name() == s) {
                    return Err(invalid(
                        format!("maintenance[{i}].service"),
                        format!("`{s}` is not a configured service"),
                    ));
                }
            }
        }
        if self.rate_limits.general_per_minute == 0 {
            return Err(invalid(
                "rate_limits.general_per_minute",
                "must be at least 1",
            ));
        }
        if self.rate_limits.strict_per_minute == 0 {
            return Err(invalid(
                "rate_limits.strict_per_minute",
                "must be at least 1",
            ));
        }
        for (k, v) in [
            ("alerts.slack_webhook_env", &self.alerts.slack_webhook_env),
            (
                "alerts.pagerduty_routing_key_env",
                &self.alerts.pagerduty_routing_key_env,
            ),
        ] {
            if let Some(env) = v {
                env_name_key(k, env)?;
            }
        }
        Ok(())
    }

    fn validate_keys(&self) -> Result<(), ConfigError> {
        let ing = &self.ingress;
        if let Some(env) = &ing.encryption_key_env {
            env_name_key("ingress.encryption_key_env", env)?;
        }
        if ing.encryption_key_env.is_some() && ing.encryption_key_file.is_some() {
            return Err(invalid(
                "ingress.encryption_key_file",
                "set either encryption_key_env or encryption_key_file, not both",
            ));
        }
        let mut ids = std::collections::BTreeSet::new();
        let keys = std::iter::once((
            "ingress.encryption_key_id".to_owned(),
            &ing.encryption_key_id,
        ))
        .chain(
            ing.old_encryption_keys
                .iter()
                .enumerate()
                .map(|(i, k)| (format!("ingress.old_encryption_keys[{i}].id"), &k.id)),
        );
        for (key, id) in keys {
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                return Err(invalid(key, "must be letters, digits, `_`, `-` or `.`"));
            }
            if !ids.insert(id.as_str()) {
                return Err(invalid(key, format!("`{id}` names two keys")));
            }
        }
        for (i, k) in ing.old_encryption_keys.iter().enumerate() {
            let key = format!("ingress.old_encryption_keys[{i}]");
            match (&k.env, &k.file) {
                (Some(env), None) => env_name_key(&format!("{key}.env"), env)?,
                (None, Some(_)) => {}
                _ => return Err(invalid(key, "set exactly one of `env` or `file`")),
            }
        }
        Ok(())
    }

    /// The validated listen address.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server
            .listen
            .parse()
            .map_err(|_| invalid("server.listen", "must be an address such as 127.0.0.1:8080"))
    }

    /// Reads the secret held by the environment variable `name` (in-process overrides first).
    pub fn secret(&self, name: &str) -> Option<Secret> {
        if let Some(s) = self.secret_overrides.get(name) {
            return Some(s.clone());
        }
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .map(Secret::new)
    }

    /// Like [`Config::secret`], but an error naming `key` when the variable is unset.
    pub fn require_secret(&self, key: &str, name: &str) -> Result<Secret, ConfigError> {
        self.secret(name).ok_or_else(|| {
            invalid(
                key,
                format!(
                    "environment variable {name} is not set (secrets come from the environment)"
                ),
            )
        })
    }

    /// Every secret value the configuration resolves to, for leak checks and log scrubbing.
    pub fn known_secrets(&self) -> Vec<Secret> {
        let mut names: Vec<&str> = Vec::new();
        for s in &self.services {
            names.extend(s.secret_envs().into_iter().map(|(_, env)| env));
        }
        for w in self.webhooks.values() {
            names.extend(w.secret_env.split(',').map(str::trim));
            names.extend(w.handler_secret_env.as_deref());
        }
        names.extend(self.ingress.encryption_key_env.as_deref());
        names.extend(
            self.ingress
                .old_encryption_keys
                .iter()
                .filter_map(|k| k.env.as_deref()),
        );
        names.extend(self.alerts.slack_webhook_env.as_deref());
        names.extend(self.alerts.pagerduty_routing_key_env.as_deref());
        names.into_iter().filter_map(|n| self.secret(n)).collect()
    }
}

fn apply_overlay(table: &mut toml::Table, name: &str, value: &str) -> Result<(), ConfigError> {
    let path: Vec<String> = name[ENV_PREFIX.len()..]
        .split("__")
        .map(str::to_ascii_lowercase)
        .collect();
    if path.iter().any(String::is_empty) {
        return Err(ConfigError::Parse(format!(
            "environment variable {name}: empty path segment"
        )));
    }
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let (first, rest) = path.split_first().expect("path is not empty");
    if rest.is_empty() {
        table.insert(first.clone(), parsed);
        return Ok(());
    }
    let node = table
        .entry(first.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    set_path(node, rest, parsed, name)
}

fn set_path(
    node: &mut toml::Value,
    path: &[String],
    value: toml::Value,
    name: &str,
) -> Result<(), ConfigError> {
    let Some((seg, rest)) = path.split_first() else {
        *node = value;
        return Ok(());
    };
    let child = match node {
        toml::Value::Table(t) => t
            .entry(seg.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new())),
        toml::Value::Array(a) => {
            let len = a.len();
            let idx: usize = seg.parse().map_err(|_| {
                ConfigError::Parse(format!(
                    "environment variable {name}: `{seg}` must be an array index"
                ))
            })?;
            a.get_mut(idx).ok_or_else(|| {
                ConfigError::Parse(format!(
                    "environment variable {name}: index {idx} is out of range ({len} entries)"
                ))
            })?
        }
        _ => {
            return Err(ConfigError::Parse(format!(
                "environment variable {name}: `{seg}` is not inside a table"
            )))
        }
    };
    set_path(child, rest, value, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUE_EXAMPLE: &str = r#"
[server]
listen = "127.0.0.1:8080"

[store]
url = "sqlite://wedsync-monitor.db"

[wedding_days]
timezone = "Europe/London"
weekdays = ["saturday"]
dates = []

[[services]]
name = "stripe"
kind = "stripe"
base_url = "https://api.stripe.com"
credential_env = "STRIPE_SECRET_KEY"
interval = "30s"
timeout = "5s"

[webhooks.stripe]
secret_env = "STRIPE_WEBHOOK_SECRET"
forward_to = "http://127.0.0.1:3000/webhooks/stripe"
"#;

    #[test]
    fn the_issue_example_parses() {
        let cfg = Config::from_toml(ISSUE_EXAMPLE).unwrap();
        assert_eq!(cfg.services[0].name(), "stripe");
        assert_eq!(
            cfg.webhooks[&Provider::Stripe].secret_env,
            "STRIPE_WEBHOOK_SECRET"
        );
        assert_eq!(cfg.listen_addr().unwrap().port(), 8080);
    }

    #[test]
    fn the_shipped_example_parses() {
        let text = include_str!("../../../examples/wedsync-monitor.toml");
        let cfg = Config::from_toml(text).unwrap();
        assert!(!cfg.services.is_empty());
    }

    #[test]
    fn defaults_match_the_issue() {
        let cfg = Config::default();
        assert_eq!(cfg.server.listen, "127.0.0.1:8080");
        assert_eq!(cfg.store.url, "sqlite://wedsync-monitor.db");
        assert_eq!(cfg.wedding_days.weekdays, vec!["saturday".to_string()]);
        assert_eq!(cfg.server.body_limit_bytes, 1024 * 1024);
    }

    #[test]
    fn env_overlays_win_and_parse_values() {
        let env = vec![
            (
                "WEDSYNC_STORE__URL".to_string(),
                "postgres://u@h/db".to_string(),
            ),
            (
                "WEDSYNC_SERVICES__0__INTERVAL".to_string(),
                "10s".to_string(),
            ),
            ("WEDSYNC_WORKER__ENABLED".to_string(), "false".to_string()),
            ("WEDSYNC_IGNORED".to_string(), "x".to_string()),
        ];
        let cfg = Config::from_toml_with_env(ISSUE_EXAMPLE, env).unwrap();
        assert_eq!(cfg.store.url, "postgres://u@h/db");
        assert_eq!(cfg.services[0].common().interval, Duration::from_secs(10));
        assert!(!cfg.worker.enabled);
    }

    fn err(text: &str) -> String {
        Config::from_toml(text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_key() {
        assert!(err("[server]\nlisten = \"nope\"").contains("server.listen"));
        let bad_interval = ISSUE_EXAMPLE.replace("interval = \"30s\"", "interval = \"3x\"");
        assert!(err(&bad_interval).contains("services[0].interval"));
        let bad_kind = ISSUE_EXAMPLE.replace("kind = \"stripe\"", "kind = \"paypal\"");
        assert!(err(&bad_kind).contains("services[0].kind"));
        let slow = ISSUE_EXAMPLE.replace("timeout = \"5s\"", "timeout = \"30s\"");
        assert!(err(&slow).contains("services[0].timeout"));
        assert!(
            err("[wedding_days]\nweekdays = [\"caturday\"]").contains("wedding_days.weekdays[0]")
        );
        assert!(err("[wedding_days]\ndates = [\"2026-13-01\"]").contains("wedding_days.dates[0]"));
        assert!(err("[store]\nurl = \"mysql://x\"").contains("store.url"));
        assert!(err("[webhooks.paypal]\nsecret_env = \"X\"").contains("webhooks.paypal"));
        let dup = format!(
            "{ISSUE_EXAMPLE}\n[[services]]\nname = \"stripe\"\nkind = \"http\"\nbase_url = \"http://x.test\"\n"
        );
        assert!(err(&dup).contains("services[1].name"));
    }

    #[test]
    fn a_secret_in_the_file_is_rejected_without_echoing_it() {
        let secret = concat!("sk_", "live_", "abcdefghijklmnop");
        let text = ISSUE_EXAMPLE.replace("STRIPE_SECRET_KEY", secret);
        let e = err(&text);
        assert!(e.contains("services[0].credential_env"), "{e}");
        assert!(!e.contains(secret));
        let unknown = format!("[store]\nurl = \"sqlite://x.db\"\npassword = \"{secret}\"\n");
        assert!(err(&unknown).contains("password"));
    }

    #[test]
    fn a_key_the_kind_does_not_take_and_the_generic_provider_are_refused() {
        let domain = ISSUE_EXAMPLE.replace(
            "credential_env = \"STRIPE_SECRET_KEY\"",
            "credential_env = \"STRIPE_SECRET_KEY\"\ndomain = \"example.com\"",
        );
        let e = err(&domain);
        assert!(e.contains("services[0].domain"), "{e}");
        let twilio = "[[services]]\nname = \"sms\"\nkind = \"twilio\"\nbase_url = \"https://api.twilio.com\"\ncredential_env = \"T\"\n";
        let e = err(twilio);
        assert!(e.contains("services[0].account_sid_env"), "{e}");
        let e = err("[webhooks.standard]\nsecret_env = \"X\"");
        assert!(
            e.contains("webhooks.standard") && e.contains("unknown provider"),
            "{e}"
        );
    }

    #[test]
    fn a_bad_duration_names_its_key_and_never_its_value() {
        let secret = concat!("sk_", "live_", "abcdefghijklmnop");
        let e = err(&format!("[worker]\nlease = \"{secret}\""));
        assert!(e.contains("`worker.lease`"), "{e}");
        assert!(!e.contains(secret), "{e}");
        assert!(err("[dashboard]\nsession_ttl = \"0s\"").contains("dashboard.session_ttl"));
    }

    #[test]
    fn secrets_mask_in_debug() {
        let s = Secret::new(concat!("whsec_", "abc"));
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.to_string(), "***");
    }
}
