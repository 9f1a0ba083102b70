//! Configuration: a TOML file overlaid by `WEDSYNC_*` environment variables, validated at start.
//!
//! The file never holds a secret: it names the environment variables that do (`credential_env`,
//! `secret_env`, …). Environment overlays use `__` between path segments, for example
//! `WEDSYNC_STORE__URL=postgres://…` or `WEDSYNC_SERVICES__0__INTERVAL=10s`; the value is read as a
//! TOML value when it parses as one (`true`, `42`, `["saturday"]`) and as a string otherwise.
//!
//! [`Config`] composes the sections the libraries own (`wedsync_store::config`,
//! `wedsync_probe::config`, `wedsync_webhooks::config`, `wedsync_dashboard::config`, re-exported
//! here) with the server's own `[server]` and `[rate_limits]`; the loader is `wedsync-config`'s.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use wedsync_probe::config::{validate_maintenance, validate_services, ServiceSpec};
use wedsync_webhooks::config::validate_webhooks;
use wedsync_webhooks::Provider;

pub use wedsync_dashboard::config::DashboardConfig;
pub use wedsync_probe::config::{
    AlertsConfig, MaintenanceConfig, MonitorConfig, WeddingDaysConfig,
};
pub use wedsync_store::config::{RetentionConfig, StoreConfig};
pub use wedsync_webhooks::config::{IngressConfig, OldKeyConfig, WebhookConfig, WorkerConfig};

/// Prefix of the environment variables that overlay the configuration file.
pub const ENV_PREFIX: &str = "WEDSYNC_";

/// An error in the configuration (the loader's): the file could not be read, is not TOML, or a
/// key holds a bad value — its message names the key and never echoes a value.
pub use wedsync_config::LoadError as ConfigError;

pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    wedsync_config::ConfigError::new(key, message).into()
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
    #[serde(deserialize_with = "wedsync_webhooks::config::deserialize_webhooks")]
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

wedsync_config::default_is_the_empty_table!(Config, ServerConfig, RateLimitConfig);

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
    #[serde(default = "default_ten_seconds", with = "wedsync_config::duration")]
    pub shutdown_timeout: Duration,
    /// How long a client may take to send request headers (`10s`).
    #[serde(default = "default_ten_seconds", with = "wedsync_config::duration")]
    pub header_read_timeout: Duration,
    /// Serve the HTTP API at all (`true`); `false` makes a worker-only process.
    #[serde(default = "wedsync_config::default_true")]
    pub api_enabled: bool,
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

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_body_limit() -> u64 {
    1024 * 1024
}
fn default_ten_seconds() -> Duration {
    Duration::from_secs(10)
}
fn default_general_rpm() -> u32 {
    600
}
fn default_strict_rpm() -> u32 {
    10
}

impl Config {
    /// Loads the file at `path` (or the defaults when `None`), overlays `WEDSYNC_*` variables from
    /// the process environment, and validates the result.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let cfg: Config = wedsync_config::load(path, ENV_PREFIX, std::env::vars())?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses `text` and overlays the `WEDSYNC_*` variables among `env`, then validates.
    pub fn from_toml_with_env(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let cfg: Config = wedsync_config::from_toml_with_env(text, ENV_PREFIX, env)?;
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
        self.store.validate().map_err(|e| e.under("store"))?;
        self.wedding_days
            .validate()
            .map_err(|e| e.under("wedding_days"))?;
        validate_services(&self.services)?;
        validate_webhooks(&self.webhooks)?;
        self.worker.validate().map_err(|e| e.under("worker"))?;
        self.ingress.validate().map_err(|e| e.under("ingress"))?;
        validate_maintenance(&self.maintenance, &self.services)?;
        let limits = [
            ("general_per_minute", self.rate_limits.general_per_minute),
            ("strict_per_minute", self.rate_limits.strict_per_minute),
        ];
        if let Some((key, _)) = limits.iter().find(|(_, n)| *n == 0) {
            return Err(invalid(format!("rate_limits.{key}"), "must be at least 1"));
        }
        self.alerts.validate().map_err(|e| e.under("alerts"))?;
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
        Ok(wedsync_config::require_secret(
            |n| self.secret(n),
            key,
            name,
        )?)
    }

    /// Every secret value the configuration resolves to, for leak checks and log scrubbing.
    pub fn known_secrets(&self) -> Vec<Secret> {
        let services = self.services.iter().flat_map(|s| s.secret_envs());
        let names = (services.map(|(_, env)| env))
            .chain(self.webhooks.values().flat_map(WebhookConfig::secret_envs))
            .chain(self.ingress.secret_envs())
            .chain(self.alerts.secret_envs());
        names.filter_map(|n| self.secret(n)).collect()
    }
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
