//! The raw-body key ring from `[ingress]` (the policy lives in [`wedsync_webhooks::keys`], the
//! settings in [`wedsync_webhooks::config::IngressConfig::key_settings`]), and the delivery
//! worker's events (reclaimed leases, bodies no key opens, the start-up check of the stored
//! bodies against the ring) turned into log lines and metrics.
//!
//! A 2xx to a provider promises that the webhook reaches the handler, so the key that sealed its
//! body must outlive the process: an embedded store keeps a generated key in a file beside its
//! database; a PostgreSQL store (shared by several processes) needs the key configured.

use std::sync::Arc;

use wedsync_webhooks::keys::{self, KeyError};
use wedsync_webhooks::store::WebhookStore;

pub use wedsync_webhooks::keys::{KeyHome, KeyRing};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::StartError;

/// Whether this process seals or opens raw bodies: it receives webhooks or forwards them.
pub fn needs_key(cfg: &Config) -> bool {
    !cfg.webhooks.is_empty() && (cfg.server.api_enabled || cfg.worker.enabled)
}

fn start_error(e: KeyError) -> StartError {
    match e {
        KeyError::Setting { setting, message } => {
            StartError::Config(crate::config::invalid(setting, message))
        }
        other => StartError::Store(other.to_string()),
    }
}

/// The key ring from `[ingress]` (see [`keys::key_ring`]), its notice logged.
pub fn key_ring(cfg: &Config, home: &KeyHome) -> Result<KeyRing, StartError> {
    let ring = keys::key_ring(&crate::build::key_settings(cfg)?, home).map_err(start_error)?;
    if let Some(notice) = &ring.notice {
        tracing::warn!("{notice}");
    }
    Ok(ring)
}

/// Like [`key_ring`], but never creates a key file (the `keys` commands inspect; they must not
/// invent the key a server would then seal with).
pub fn existing_key_ring(cfg: &Config, home: &KeyHome) -> Result<KeyRing, StartError> {
    keys::existing_key_ring(&crate::build::key_settings(cfg)?, home).map_err(start_error)
}

/// See [`keys::refuse_to_replace_a_lost_key`].
pub async fn refuse_to_replace_a_lost_key(
    cfg: &Config,
    home: &KeyHome,
    store: &dyn WebhookStore,
) -> Result<(), StartError> {
    keys::refuse_to_replace_a_lost_key(&crate::build::key_settings(cfg)?, home, store)
        .await
        .map_err(start_error)
}

/// The delivery worker's events, as log lines and metrics.
pub type WorkerEvents = wedsync_webhooks::forward::LoggedEvents<Arc<Metrics>>;

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;
    use crate::config::Secret;

    const WEBHOOKS: &str = "[webhooks.stripe]\nsecret_env = \"S\"\n";

    /// `[ingress]` reaches the key ring (built in `wedsync_webhooks::config`, tested there): its
    /// errors are configuration errors under `ingress`, and only a process that receives or
    /// forwards webhooks needs a key.
    #[test]
    fn ingress_errors_are_configuration_errors_under_ingress() {
        let text = format!(
            "{WEBHOOKS}[ingress]\nencryption_key_env = \"NEW\"\n\
             [[ingress.old_encryption_keys]]\nid = \"k0\"\nenv = \"OLD\"\n"
        );
        let mut c = Config::from_toml(&text).unwrap();
        let e = key_ring(&c, &KeyHome::Required).unwrap_err().to_string();
        assert!(
            e.contains("`ingress.encryption_key_env`: environment variable NEW"),
            "{e}"
        );
        let key = base64::engine::general_purpose::STANDARD.encode([2; 32]);
        c.secret_overrides.insert("NEW".into(), Secret::new(key));
        c.secret_overrides
            .insert("OLD".into(), Secret::new("c2hvcnQ="));
        let e = key_ring(&c, &KeyHome::Required).unwrap_err();
        assert!(matches!(e, StartError::Config(_)), "{e}");
        assert!(e.to_string().contains("old_encryption_keys[0].env"), "{e}");
        let mut idle = Config::from_toml(WEBHOOKS).unwrap();
        assert!(key_ring(&idle, &KeyHome::Required).is_err());
        idle.worker.enabled = false;
        idle.server.api_enabled = false;
        assert!(key_ring(&idle, &KeyHome::Required).is_ok());
    }
}
