//! Typed configuration of monitored services: one [`ServiceSpec`] per `[[services]]` entry, each
//! kind with its own required fields, durations parsed once into [`Duration`], and
//! [`ServiceSpec::build`] turning a spec into its probe; and the other sections of the
//! `wedsync-monitor` configuration this crate owns: [`WeddingDaysConfig`] (its
//! [`WeddingDaysConfig::policy`]), [`MaintenanceConfig`], [`AlertsConfig`] (its sinks) and
//! [`MonitorConfig`] (the `[monitor]` table; [`monitor_settings`] builds the monitor's tuning).
//!
//! The building blocks ([`ConfigError`], [`parse_duration`], the serde module [`duration`],
//! [`check_env_name`], …) are `wedsync-config`'s, re-exported here.
//!
//! The TOML shape (the `wedsync-monitor` server's `[[services]]` tables):
//!
//! | key | kinds | meaning |
//! |---|---|---|
//! | `name` | all | unique, lowercase letters, digits, `_`, `-` |
//! | `kind` | all | `stripe`, `twilio`, `resend`, `supabase_auth`, `supabase_data`, `http`, `statuspage`, `tcp` |
//! | `base_url` | all | `http(s)://…` without credentials (`host:port` for `tcp`) |
//! | `credential_env` | stripe, twilio, resend, supabase_* (required); http (optional bearer token) | environment variable holding the credential |
//! | `account_sid_env` | twilio (required) | environment variable holding the Account SID |
//! | `domain` | resend (required) | the sending domain that must be verified |
//! | `table` | supabase_data (required) | the table the probe reads |
//! | `interval` | all | default `30s` |
//! | `timeout` | all | default `5s`; below the interval |
//! | `public` | all | default `false`: shown on the public status page |
//!
//! ```
//! use std::time::Duration;
//! use wedsync_probe::config::ServiceSpec;
//!
//! let spec: ServiceSpec = serde_json::from_value(serde_json::json!({
//!     "name": "email",
//!     "kind": "resend",
//!     "base_url": "https://api.resend.com",
//!     "credential_env": "RESEND_API_KEY",
//!     "domain": "mail.example.com",
//!     "interval": "1m",
//! }))
//! .unwrap();
//! spec.validate().unwrap();
//! assert_eq!(spec.name(), "email");
//! assert_eq!(spec.cadence().interval, Duration::from_secs(60));
//! assert_eq!(spec.cadence().timeout, Duration::from_secs(5)); // the default
//!
//! let missing: Result<ServiceSpec, _> = serde_json::from_value(serde_json::json!({
//!     "name": "email", "kind": "resend", "base_url": "https://api.resend.com",
//!     "credential_env": "RESEND_API_KEY",
//! }));
//! assert!(missing.unwrap_err().to_string().contains("`domain`"));
//! ```

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Deserialize;

use crate::Cadence;

pub use sections::{
    monitor_settings, validate_maintenance, AlertsConfig, MaintenanceConfig, MonitorConfig,
    WeddingDaysConfig,
};
pub use wedsync_config::{
    check_env_name, check_http_url, duration, format_duration, is_env_name, parse_duration,
    ConfigError, DurationError,
};

mod sections;

/// A duration under `key`: the error names the key (an internally tagged enum's errors carry no
/// position).
fn keyed_duration<'de, D: serde::Deserializer<'de>>(key: &str, d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(|e| serde::de::Error::custom(format!("`{key}`: {e}")))
}

fn interval<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    keyed_duration("interval", d)
}

fn timeout<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    keyed_duration("timeout", d)
}

fn default_interval() -> Duration {
    Cadence::DEFAULT_INTERVAL
}

fn default_timeout() -> Duration {
    Cadence::DEFAULT_TIMEOUT
}

/// The fields every kind of service has.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServiceCommon {
    /// Unique name (`stripe`): lowercase letters, digits, `_` and `-`.
    pub name: String,
    /// Base URL of the API (`host:port` for `tcp`).
    pub base_url: String,
    /// Probe interval (`interval`, default 30 s).
    #[serde(default = "default_interval", deserialize_with = "interval")]
    pub interval: Duration,
    /// Probe timeout (`timeout`, default 5 s); must be below the interval.
    #[serde(default = "default_timeout", deserialize_with = "timeout")]
    pub timeout: Duration,
    /// Shown on the public status page and its badges (`public`, default `false`).
    #[serde(default)]
    pub public: bool,
}

/// One monitored service (a `[[services]]` entry), tagged by `kind`; each kind carries the
/// fields it needs. Environment variable *names* only: secrets are read at [`ServiceSpec::build`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum ServiceSpec {
    /// Stripe's API (balance, optionally the account), with a secret or restricted key.
    Stripe {
        /// Common fields.
        #[serde(flatten)]
        common: ServiceCommon,
        /// The variable holding the API key (`sk_…`/`rk_…`; `_live_` keys probe live mode).
        credential_env: String,
    },
    /// Twilio's API (account and balance).
    Twilio {
        /// Common fields.
        #[serde(flatten)]
        common: ServiceCommon,
        /// The variable holding the auth token.
        credential_env: String,
        /// The variable holding the Account SID.
        account_sid_env: String,
    },
    /// Resend's API (the sending domain's verification).
    Resend {
        /// Common fields.
        #[serde(flatten)]
        common: ServiceCommon,
        /// The variable holding the API key.
        credential_env: String,
        /// The sending domain that must be verified.
        domain: String,
    },
    /// Supabase Auth's health endpoint.
    SupabaseAuth {
        /// Common fields.
        #[serde(flatten)]
        common: ServiceCommon,
        /// The variable holding the anon / publishable key.
        credential_env: String,
    },
    /// A read of one row from a Supabase table through PostgREST.
    SupabaseData {
        /// Common fields.
        #[serde(flatten)]
        common: ServiceCommon,
        /// The variable holding the anon / publishable key.
        credential_env: String,
        /// The table the probe reads.
        table: String,
    },
    /// A plain HTTP GET of `base_url` (2xx is healthy).
    Http {
        /// Common fields.
        #[serde(flatten)]
        common: ServiceCommon,
        /// The variable holding a bearer token sent as `Authorization`, if any.
        #[serde(default)]
        credential_env: Option<String>,
    },
    /// An Atlassian Statuspage (`/api/v2/summary.json`) at `base_url`.
    Statuspage {
        /// Common fields.
        #[serde(flatten)]
        common: ServiceCommon,
    },
    /// A TCP connect to `base_url` (`host:port`).
    Tcp {
        /// Common fields.
        #[serde(flatten)]
        common: ServiceCommon,
    },
}

/// The `common` field of any variant (by reference or mutable reference, as `$spec` is).
macro_rules! common_of {
    ($spec:expr) => {
        match $spec {
            ServiceSpec::Stripe { common, .. }
            | ServiceSpec::Twilio { common, .. }
            | ServiceSpec::Resend { common, .. }
            | ServiceSpec::SupabaseAuth { common, .. }
            | ServiceSpec::SupabaseData { common, .. }
            | ServiceSpec::Http { common, .. }
            | ServiceSpec::Statuspage { common }
            | ServiceSpec::Tcp { common } => common,
        }
    };
}

impl ServiceSpec {
    /// The `kind` values, in the order of the enum.
    pub const KINDS: &'static [&'static str] = &[
        "stripe",
        "twilio",
        "resend",
        "supabase_auth",
        "supabase_data",
        "http",
        "statuspage",
        "tcp",
    ];

    /// The fields every kind has.
    pub fn common(&self) -> &ServiceCommon {
        common_of!(self)
    }

    /// The fields every kind has, to change (`public`, a test's `base_url`).
    pub fn common_mut(&mut self) -> &mut ServiceCommon {
        common_of!(self)
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.common().name
    }

    /// The `kind` as written in the configuration.
    pub fn kind(&self) -> &'static str {
        let i = match self {
            ServiceSpec::Stripe { .. } => 0,
            ServiceSpec::Twilio { .. } => 1,
            ServiceSpec::Resend { .. } => 2,
            ServiceSpec::SupabaseAuth { .. } => 3,
            ServiceSpec::SupabaseData { .. } => 4,
            ServiceSpec::Http { .. } => 5,
            ServiceSpec::Statuspage { .. } => 6,
            ServiceSpec::Tcp { .. } => 7,
        };
        Self::KINDS[i]
    }

    /// Interval and timeout; [`Cadence::wedding_day_interval`] derives the wedding-day interval.
    pub fn cadence(&self) -> Cadence {
        let c = self.common();
        Cadence::new(c.interval, c.timeout)
    }

    /// How the monitor runs `probe` (built from this spec, or a test's stand-in) for this
    /// service: [`crate::ServiceConfig::new`] with this spec's [`Cadence`].
    pub fn service_config(
        &self,
        probe: std::sync::Arc<dyn crate::HealthProbe>,
    ) -> crate::ServiceConfig {
        crate::ServiceConfig::new(probe).cadence(self.cadence())
    }

    /// Every environment-variable key of this spec and the variable it names:
    /// `("credential_env", "STRIPE_SECRET_KEY")`, … (for leak checks and log scrubbing).
    pub fn secret_envs(&self) -> Vec<(&'static str, &str)> {
        match self {
            ServiceSpec::Stripe { credential_env, .. }
            | ServiceSpec::Resend { credential_env, .. }
            | ServiceSpec::SupabaseAuth { credential_env, .. }
            | ServiceSpec::SupabaseData { credential_env, .. } => {
                vec![("credential_env", credential_env)]
            }
            ServiceSpec::Twilio {
                credential_env,
                account_sid_env,
                ..
            } => vec![
                ("credential_env", credential_env),
                ("account_sid_env", account_sid_env),
            ],
            ServiceSpec::Http { credential_env, .. } => credential_env
                .as_deref()
                .map(|env| ("credential_env", env))
                .into_iter()
                .collect(),
            ServiceSpec::Statuspage { .. } | ServiceSpec::Tcp { .. } => Vec::new(),
        }
    }

    /// Checks the values serde cannot: the name's characters, `base_url` (an `http(s)://` URL
    /// without credentials, or `host:port` for `tcp`), environment variable names (`A-Z`, `0-9`,
    /// `_`) and `timeout` < `interval`. Errors name the key (unprefixed: `timeout`) and never
    /// echo an environment variable name's value or a URL.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let c = self.common();
        if c.name.is_empty()
            || !c
                .name
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-')
        {
            return Err(ConfigError::new(
                "name",
                "must be non-empty lowercase letters, digits, `_` or `-`",
            ));
        }
        if let ServiceSpec::Tcp { .. } = self {
            if c.base_url.rsplit_once(':').is_none() {
                return Err(ConfigError::new(
                    "base_url",
                    "must be host:port for kind tcp",
                ));
            }
        } else {
            check_http_url("base_url", &c.base_url)?;
        }
        for (key, env) in self.secret_envs() {
            check_env_name(key, env)?;
        }
        if c.timeout >= c.interval {
            return Err(ConfigError::new(
                "timeout",
                "must be shorter than the service's interval",
            ));
        }
        Ok(())
    }

    /// Builds the probe, reading credentials through `secrets` (an environment variable name to
    /// its value; the server looks at in-process overrides, then the process environment). Fails,
    /// naming the key and the variable, when a variable is unset; never with a secret's value.
    #[cfg(feature = "http")]
    pub fn build(
        &self,
        secrets: &dyn Fn(&str) -> Option<crate::Secret>,
    ) -> Result<std::sync::Arc<dyn crate::HealthProbe>, ConfigError> {
        use crate::http_probes::{
            HttpProbe, ResendProbe, StatuspageProbe, StripeProbe, SupabaseAuthProbe,
            SupabaseDataProbe, TwilioProbe,
        };
        use std::sync::Arc;

        let require = |key: &str, env: &str| wedsync_config::require_secret(secrets, key, env);
        let c = self.common();
        let (name, url, timeout) = (c.name.as_str(), c.base_url.as_str(), c.timeout);
        let probe: Arc<dyn crate::HealthProbe> = match self {
            ServiceSpec::Stripe { credential_env, .. } => {
                let key = require("credential_env", credential_env)?;
                let live = key.expose().contains("_live_");
                Arc::new(
                    StripeProbe::new(key, live)
                        .base_url(url)
                        .service_name(name)
                        .timeout(timeout),
                )
            }
            ServiceSpec::Twilio {
                credential_env,
                account_sid_env,
                ..
            } => {
                let token = require("credential_env", credential_env)?;
                let sid = require("account_sid_env", account_sid_env)?
                    .expose()
                    .to_owned();
                Arc::new(
                    TwilioProbe::new(sid.clone(), sid, token)
                        .base_url(url)
                        .service_name(name)
                        .timeout(timeout),
                )
            }
            ServiceSpec::Resend {
                credential_env,
                domain,
                ..
            } => Arc::new(
                ResendProbe::new(require("credential_env", credential_env)?, domain.clone())
                    .base_url(url)
                    .service_name(name)
                    .timeout(timeout),
            ),
            ServiceSpec::SupabaseAuth { credential_env, .. } => Arc::new(
                SupabaseAuthProbe::new(url, require("credential_env", credential_env)?)
                    .service_name(name)
                    .timeout(timeout),
            ),
            ServiceSpec::SupabaseData {
                credential_env,
                table,
                ..
            } => Arc::new(
                SupabaseDataProbe::new(
                    url,
                    require("credential_env", credential_env)?,
                    table.clone(),
                )
                .service_name(name)
                .timeout(timeout),
            ),
            ServiceSpec::Http { credential_env, .. } => {
                let mut p = HttpProbe::new(name, url);
                if let Some(env) = credential_env {
                    let token = require("credential_env", env)?;
                    p = p.header(
                        "authorization",
                        crate::Secret::new(format!("Bearer {}", token.expose())),
                    );
                }
                Arc::new(p.timeout(timeout))
            }
            ServiceSpec::Statuspage { .. } => Arc::new(
                StatuspageProbe::atlassian(name, url)
                    .service_name(name)
                    .timeout(timeout),
            ),
            ServiceSpec::Tcp { .. } => Arc::new(crate::TcpProbe::new(name, url).timeout(timeout)),
        };
        Ok(probe)
    }
}

/// `#[serde(deserialize_with = "wedsync_probe::config::deserialize_services")]` for a
/// `services: Vec<ServiceSpec>` field: each entry's error names its key under `services[i]`
/// (`` `services[0].credential_env`: missing … ``), as [`ConfigError`] does, where serde alone
/// would say only "missing field" without the entry.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct File {
///     #[serde(default, deserialize_with = "wedsync_probe::config::deserialize_services")]
///     services: Vec<wedsync_probe::config::ServiceSpec>,
/// }
/// let err = serde_json::from_str::<File>(
///     r#"{"services": [{"name": "db", "kind": "tcp", "base_url": "db:5432"},
///                      {"name": "mail", "kind": "resend", "base_url": "https://api.resend.com",
///                       "credential_env": "RESEND_API_KEY"}]}"#,
/// )
/// .err()
/// .unwrap();
/// assert!(err.to_string().contains("`services[1].domain`"), "{err}");
/// ```
pub fn deserialize_services<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<ServiceSpec>, D::Error> {
    struct Entry(usize);
    impl<'de> serde::de::DeserializeSeed<'de> for Entry {
        type Value = ServiceSpec;
        fn deserialize<D2: serde::Deserializer<'de>>(
            self,
            d: D2,
        ) -> Result<ServiceSpec, D2::Error> {
            ServiceSpec::deserialize(d).map_err(|e| {
                serde::de::Error::custom(keyed_message(
                    &format!("services[{}]", self.0),
                    &e.to_string(),
                ))
            })
        }
    }
    struct List;
    impl<'de> serde::de::Visitor<'de> for List {
        type Value = Vec<ServiceSpec>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of services")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(spec) = seq.next_element_seed(Entry(out.len()))? {
                out.push(spec);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(List)
}

/// Rewrites a serde message about one entry so that it names the key under `prefix`, in
/// [`ConfigError`]'s form: `` `prefix.field`: … ``.
fn keyed_message(prefix: &str, msg: &str) -> String {
    // serde's own words: "missing field `x`", "unknown field `x`, expected …",
    // "unknown variant `x`, expected one of …"; ours: "`interval`: …"
    let field = |rest: &str| {
        rest.split_once('`')
            .map(|(f, tail)| (f.to_owned(), tail.to_owned()))
    };
    if let Some((f, _)) = msg.strip_prefix("missing field `").and_then(field) {
        return format!("`{prefix}.{f}`: missing (this kind of service needs it)");
    }
    if let Some((f, tail)) = msg.strip_prefix("unknown field `").and_then(field) {
        return format!("`{prefix}.{f}`: unknown key{tail}");
    }
    if msg.starts_with("unknown variant `") {
        return format!("`{prefix}.kind`: {msg}");
    }
    if let Some((f, tail)) = msg.strip_prefix('`').and_then(field) {
        if let Some(rest) = tail.strip_prefix(": ") {
            return format!("`{prefix}.{f}`: {rest}");
        }
    }
    format!("`{prefix}`: {msg}")
}

/// [`ServiceSpec::validate`] for every entry of a `[[services]]` list, with keys under
/// `services[i]`, and names unique across the list.
pub fn validate_services(specs: &[ServiceSpec]) -> Result<(), ConfigError> {
    let mut names = BTreeSet::new();
    for (i, s) in specs.iter().enumerate() {
        let prefix = format!("services[{i}]");
        s.validate().map_err(|e| e.under(&prefix))?;
        if !names.insert(s.name()) {
            return Err(ConfigError::new(
                "name",
                format!("`{}` is used by another service", s.name()),
            )
            .under(&prefix));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
