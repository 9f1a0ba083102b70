//! The `wedsync-monitor` configuration sections this crate owns: the `[webhooks.<provider>]`
//! tables ([`WebhookConfig`], keyed by [`Provider`]), `[worker]` ([`WorkerConfig`]) and `[ingress]`
//! ([`IngressConfig`], with [`IngressConfig::key_settings`] for the raw-body key ring).
//!
//! Checks name keys relative to their section (`lease`, `old_encryption_keys[0].env`); the server
//! places them with [`ConfigError::under`]. The list-shaped `[webhooks.<provider>]` tables name
//! theirs in full (`webhooks.stripe.secret_env`), as `wedsync_probe::config::validate_services`
//! does for `services[i]`. Files name environment variables, never secrets.
//!
//! ```
//! use std::collections::BTreeMap;
//! use wedsync_webhooks::config::{deserialize_webhooks, validate_webhooks, WebhookConfig};
//! use wedsync_webhooks::Provider;
//!
//! #[derive(serde::Deserialize)]
//! struct File {
//!     #[serde(default, deserialize_with = "deserialize_webhooks")]
//!     webhooks: BTreeMap<Provider, WebhookConfig>,
//! }
//! let text = "[webhooks.stripe]\nsecret_env = \"STRIPE_WEBHOOK_SECRET\"\n\
//!             forward_to = \"http://127.0.0.1:3000/webhooks/stripe\"\n";
//! let file: File = wedsync_config::from_toml_with_env(text, "APP_", []).unwrap();
//! validate_webhooks(&file.webhooks).unwrap();
//! assert_eq!(file.webhooks[&Provider::Stripe].secret_env, "STRIPE_WEBHOOK_SECRET");
//!
//! let bad = "[webhooks.stripe]\nsecret_env = \"whsec_oops\"\n";
//! let file: File = wedsync_config::from_toml_with_env(bad, "APP_", []).unwrap();
//! let err = validate_webhooks(&file.webhooks).unwrap_err();
//! assert_eq!(err.key(), "webhooks.stripe.secret_env");
//! assert!(!err.to_string().contains("whsec_oops"));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use wedsync_config::{
    check_env_name, check_http_url, check_optional_env_name, require_secret, ConfigError,
};

use crate::delivery::Handler;
use crate::keys::{EnvKey, KeySettings, OldKey};
use crate::verify::Verifier;
use crate::{Provider, Secret};

/// A lookup of secrets by environment variable name (the process environment, or a test's map).
pub type Secrets<'a> = &'a dyn Fn(&str) -> Option<Secret>;

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

impl WebhookConfig {
    /// The variables holding the signing secrets (`secret_env`, split at commas).
    pub fn signing_envs(&self) -> impl Iterator<Item = &str> {
        self.secret_env.split(',').map(str::trim)
    }

    /// Every environment variable the table names: the signing secrets, then the handler's.
    pub fn secret_envs(&self) -> impl Iterator<Item = &str> {
        self.signing_envs()
            .chain(self.handler_secret_env.as_deref())
    }

    /// Checks the table; keys are relative to it (`secret_env`, `forward_to`, …).
    pub fn validate(&self) -> Result<(), ConfigError> {
        for name in self.signing_envs() {
            check_env_name("secret_env", name)?;
        }
        if let Some(url) = &self.forward_to {
            check_http_url("forward_to", url)?;
        }
        check_optional_env_name("handler_secret_env", self.handler_secret_env.as_deref())?;
        if let Some(url) = &self.public_url {
            check_http_url("public_url", url)?;
        }
        Ok(())
    }

    /// The verifier for `provider` from the signing secrets (read through `secrets`); errors are
    /// about `secret_env` (an unset variable, or a secret of the wrong form, never echoed).
    pub fn verifier(
        &self,
        provider: Provider,
        secrets: Secrets<'_>,
    ) -> Result<Verifier, ConfigError> {
        let key = "secret_env";
        let values = self
            .signing_envs()
            .map(|env| require_secret(secrets, key, env))
            .collect::<Result<Vec<_>, _>>()?;
        Verifier::for_provider(provider, values, self.public_url.as_deref())
            .map_err(|e| ConfigError::new(key, format!("the secret has the wrong form: {e}")))
    }

    /// The secret forwarded deliveries are signed with: `handler_secret_env`'s, read through
    /// `secrets` (an unset variable is an error about `handler_secret_env`), or `None` when the
    /// table names none.
    pub fn handler_secret(&self, secrets: Secrets<'_>) -> Result<Option<Secret>, ConfigError> {
        self.handler_secret_env
            .as_deref()
            .map(|env| require_secret(secrets, "handler_secret_env", env))
            .transpose()
    }

    /// The handler verified deliveries are forwarded to (`forward_to`; `None` when the table
    /// forwards nothing), signed with [`WebhookConfig::handler_secret`] or, when the table names
    /// no `handler_secret_env`, a random per-process secret
    /// ([`crate::verify::standard::random_secret`]).
    pub fn handler(&self, secrets: Secrets<'_>) -> Result<Option<ForwardTo>, ConfigError> {
        let Some(url) = &self.forward_to else {
            return Ok(None);
        };
        let configured = self.handler_secret(secrets)?;
        let random_secret = configured.is_none();
        let secret =
            configured.unwrap_or_else(|| Secret::new(crate::verify::standard::random_secret()));
        Ok(Some(ForwardTo {
            handler: Handler::new(url.clone(), secret),
            random_secret,
        }))
    }
}

/// Where a `[webhooks.<provider>]` table forwards to ([`WebhookConfig::handler`]).
#[derive(Debug, Clone)]
pub struct ForwardTo {
    /// The handler at `forward_to` and the secret its deliveries are signed with.
    pub handler: Handler,
    /// The table names no `handler_secret_env`: the secret is random and lives as long as the
    /// process, so the handler cannot check the signatures (worth a warning).
    pub random_secret: bool,
}

/// `#[serde(deserialize_with = "wedsync_webhooks::config::deserialize_webhooks")]` for the
/// `[webhooks.<provider>]` tables: keyed by the providers [`Provider`] parses, except the generic
/// `standard` sender (it has no route of its own). Another name is refused with the list.
pub fn deserialize_webhooks<'de, D: serde::Deserializer<'de>>(
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

/// [`WebhookConfig::validate`] for every table, keys under `webhooks.<provider>`.
pub fn validate_webhooks(tables: &BTreeMap<Provider, WebhookConfig>) -> Result<(), ConfigError> {
    tables.iter().try_for_each(|(provider, w)| {
        w.validate()
            .map_err(|e| e.under(&format!("webhooks.{provider}")))
    })
}

/// `[worker]`: the webhook delivery worker.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// Run the delivery worker in this process (`true`).
    #[serde(default = "wedsync_config::default_true")]
    pub enabled: bool,
    /// Deliveries forwarded concurrently (`4`).
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// How often an idle worker polls the queue (`1s`).
    #[serde(default = "default_poll", with = "wedsync_config::duration")]
    pub poll_interval: Duration,
    /// How long a claim holds a delivery (`15s`). The worker renews it every third of that while
    /// the attempt is in flight, so this bounds how long a dead process's deliveries wait before
    /// another worker attempts them again.
    #[serde(default = "default_lease", with = "wedsync_config::duration")]
    pub lease: Duration,
}

impl WorkerConfig {
    /// The shortest `lease`: renewed every third of it, a shorter one would be renewed more often
    /// than a second.
    pub const MIN_LEASE: Duration = Duration::from_secs(3);

    /// Checks `concurrency` (at least 1) and `lease` (at least [`WorkerConfig::MIN_LEASE`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.concurrency == 0 {
            return Err(ConfigError::new("concurrency", "must be at least 1"));
        }
        if self.lease < Self::MIN_LEASE {
            return Err(ConfigError::new("lease", "must be at least 3s"));
        }
        Ok(())
    }
}

/// `[ingress]`: how received webhooks are kept.
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
    #[serde(default = "default_raw_retention", with = "wedsync_config::duration")]
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

wedsync_config::default_is_the_empty_table!(WorkerConfig, IngressConfig);

fn default_concurrency() -> u32 {
    4
}
fn default_poll() -> Duration {
    Duration::from_secs(1)
}
fn default_lease() -> Duration {
    Duration::from_secs(15)
}
fn default_key_id() -> String {
    "k1".into()
}
fn default_raw_retention() -> Duration {
    Duration::from_secs(7 * 86_400)
}

impl IngressConfig {
    /// Checks the key settings (keys relative to `[ingress]`): environment variable names, not
    /// both `encryption_key_env` and `encryption_key_file`, key ids made of letters, digits, `_`,
    /// `-` or `.` and unique across the ring, and each old key from exactly one of `env`/`file`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_optional_env_name("encryption_key_env", self.encryption_key_env.as_deref())?;
        if self.encryption_key_env.is_some() && self.encryption_key_file.is_some() {
            return Err(ConfigError::new(
                "encryption_key_file",
                "set either encryption_key_env or encryption_key_file, not both",
            ));
        }
        let mut ids = BTreeSet::new();
        let keys = std::iter::once(("encryption_key_id".to_owned(), &self.encryption_key_id))
            .chain(
                self.old_encryption_keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| (format!("old_encryption_keys[{i}].id"), &k.id)),
            );
        for (key, id) in keys {
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                return Err(ConfigError::new(
                    key,
                    "must be letters, digits, `_`, `-` or `.`",
                ));
            }
            if !ids.insert(id.as_str()) {
                return Err(ConfigError::new(key, format!("`{id}` names two keys")));
            }
        }
        for (i, k) in self.old_encryption_keys.iter().enumerate() {
            let key = format!("old_encryption_keys[{i}]");
            match (&k.env, &k.file) {
                (Some(env), None) => check_env_name(&format!("{key}.env"), env)?,
                (None, Some(_)) => {}
                _ => return Err(ConfigError::new(key, "set exactly one of `env` or `file`")),
            }
        }
        Ok(())
    }

    /// Every environment variable the section names (the current and the older keys').
    pub fn secret_envs(&self) -> impl Iterator<Item = &str> {
        let old = self.old_encryption_keys.iter();
        self.encryption_key_env
            .as_deref()
            .into_iter()
            .chain(old.filter_map(|k| k.env.as_deref()))
    }

    /// The [`KeySettings`] the key ring is built from ([`crate::keys::key_ring`]), the keys given
    /// as environment variables read through `secrets` (an unset one is an error naming its key,
    /// relative to `[ingress]`: `encryption_key_env`, `old_encryption_keys[0].env`). `needed`:
    /// whether this process seals or opens bodies; `make_key`: the command that prints a fresh
    /// key, quoted in errors.
    ///
    /// ```
    /// use wedsync_webhooks::config::IngressConfig;
    /// use wedsync_webhooks::Secret;
    ///
    /// let mut ingress = IngressConfig::default();
    /// ingress.encryption_key_env = Some("BODY_KEY".into());
    /// let none = |_: &str| None;
    /// let err = ingress.key_settings(true, "keys generate", &none).unwrap_err();
    /// assert_eq!(err.under("ingress").key(), "ingress.encryption_key_env");
    /// let set = |_: &str| Some(Secret::new("c2hvcnQ="));
    /// let settings = ingress.key_settings(true, "keys generate", &set).unwrap();
    /// assert_eq!(settings.key_id, "k1");
    /// ```
    pub fn key_settings(
        &self,
        needed: bool,
        make_key: &str,
        secrets: Secrets<'_>,
    ) -> Result<KeySettings, ConfigError> {
        let env = |key: &str, var: &Option<String>| {
            var.as_ref()
                .map(|var| {
                    let value = require_secret(secrets, key, var)?;
                    Ok::<_, ConfigError>(EnvKey {
                        var: var.clone(),
                        value,
                    })
                })
                .transpose()
        };
        let current = env("encryption_key_env", &self.encryption_key_env)?;
        let mut old = Vec::new();
        for (i, k) in self.old_encryption_keys.iter().enumerate() {
            old.push(OldKey {
                id: k.id.clone(),
                env: env(&format!("old_encryption_keys[{i}].env"), &k.env)?,
                file: k.file.as_ref().map(PathBuf::from),
            });
        }
        Ok(KeySettings {
            key_id: self.encryption_key_id.clone(),
            env: current,
            file: self.encryption_key_file.as_ref().map(PathBuf::from),
            old,
            needed,
            make_key: make_key.into(),
        })
    }
}

#[cfg(test)]
mod tests;
