//! The raw-body key ring: where its keys come from, the start-up check of the stored bodies
//! against it, and the delivery worker's events (reclaimed leases, bodies no key opens) turned
//! into log lines and metrics.
//!
//! A 2xx to a provider promises that the webhook reaches the handler, so the key that sealed its
//! body must outlive the process: an embedded store keeps a generated key in a file beside its
//! database; a PostgreSQL store (shared by several processes) needs the key configured.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wedsync_webhooks::crypto::BodyCipher;
use wedsync_webhooks::delivery::{BodyUnopenable, DeliveryFailed, EventSink};
use wedsync_webhooks::keys::{self, KeyFileError, KeySource};
use wedsync_webhooks::store::WebhookStore;

use crate::config::{Config, ConfigError};
use crate::metrics::Metrics;
use crate::StartError;

/// Where the store wants its key kept when none is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyHome {
    /// The store forgets everything at exit (in memory): a per-process key is enough.
    Ephemeral,
    /// A file store: the key lives in this file beside it, created on first start.
    Beside(PathBuf),
    /// A shared store (PostgreSQL): every process must be given the same key.
    Required,
}

impl KeyHome {
    /// The key file kept beside a SQLite database file: `<database>.body-key`.
    pub fn beside_database(db: &Path) -> Self {
        let mut name = db.as_os_str().to_owned();
        name.push(".body-key");
        KeyHome::Beside(PathBuf::from(name))
    }
}

fn invalid(key: &str, message: impl Into<String>) -> StartError {
    StartError::Config(ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    })
}

fn file_error(key: &str, e: &KeyFileError) -> StartError {
    invalid(key, e.to_string())
}

/// Whether this process seals or opens raw bodies: it receives webhooks or forwards them.
pub fn needs_key(cfg: &Config) -> bool {
    !cfg.webhooks.is_empty() && (cfg.server.api_enabled || cfg.worker.enabled)
}

fn read_file(key: &str, path: &Path, create: bool) -> Result<[u8; 32], StartError> {
    let found = if create {
        keys::load_or_create_key_file(path).map(|(k, source)| {
            if source == KeySource::Created {
                tracing::warn!(
                    file = %path.display(),
                    "generated the raw-body encryption key; back it up with the database: \
                     without it, queued webhooks cannot be forwarded or replayed"
                );
            }
            k
        })
    } else {
        keys::read_key_file(path)
    };
    found.map_err(|e| match &e {
        KeyFileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            invalid(
                key,
                format!(
                    "{} does not exist; create it once with `wedsync-monitor keys generate > {}` \
                 (then chmod 600) and give every process the same file",
                    path.display(),
                    path.display()
                ),
            )
        }
        _ => file_error(key, &e),
    })
}

fn from_env(cfg: &Config, key: &str, env: &str) -> Result<[u8; 32], StartError> {
    let secret = cfg.require_secret(key, env)?;
    wedsync_webhooks::crypto::parse_key(secret.expose()).map_err(|reason| {
        invalid(
            key,
            format!(
                "{env} does not hold a base64 32-byte key ({reason}; make one with \
                 `wedsync-monitor keys generate`)"
            ),
        )
    })
}

/// The key ring from `[ingress]`: the current key (from `encryption_key_env`, from
/// `encryption_key_file`, else from `home`) seals; `old_encryption_keys` only open. A missing key
/// file is created only where the store is this machine's own file (several processes on a shared
/// store must share one key, so none may invent it).
pub fn key_ring(cfg: &Config, home: &KeyHome) -> Result<KeyRing, StartError> {
    ring(cfg, home, !matches!(home, KeyHome::Required))
}

/// The key ring, and secrets derived from its current key (the dashboard's session key), so
/// that every process sharing the store shares them without another secret to configure.
#[derive(Clone)]
pub struct KeyRing {
    /// Seals with the current key, opens with every key.
    pub cipher: BodyCipher,
    current: [u8; 32],
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// A 32-byte secret for `purpose`, derived from the current key (HMAC-SHA256 of the label):
    /// knowing it reveals nothing of the key, and different purposes get unrelated secrets.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac as _};
        let mut mac = <Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&self.current)
            .expect("HMAC takes any key length");
        mac.update(b"wedsync-monitor derived secret v1: ");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Like [`key_ring`], but never creates a key file (the `keys` commands inspect; they must not
/// invent the key a server would then seal with).
pub fn existing_key_ring(cfg: &Config, home: &KeyHome) -> Result<KeyRing, StartError> {
    ring(cfg, home, false)
}

fn ring(cfg: &Config, home: &KeyHome, create: bool) -> Result<KeyRing, StartError> {
    let ing = &cfg.ingress;
    let current = if let Some(env) = &ing.encryption_key_env {
        from_env(cfg, "ingress.encryption_key_env", env)?
    } else if let Some(file) = &ing.encryption_key_file {
        read_file("ingress.encryption_key_file", Path::new(file), create)?
    } else {
        match home {
            KeyHome::Beside(path) => read_file("ingress.encryption_key_file", path, create)?,
            KeyHome::Required if needs_key(cfg) => {
                return Err(invalid(
                    "ingress.encryption_key_env",
                    "a PostgreSQL store is shared by several processes, so they need one \
                     configured key to seal and open raw webhook bodies: set \
                     ingress.encryption_key_env (or ingress.encryption_key_file) to a base64 \
                     32-byte key made with `wedsync-monitor keys generate`, the same in every \
                     process",
                ));
            }
            // nothing here seals or opens bodies (or nothing outlives the process)
            KeyHome::Required | KeyHome::Ephemeral => {
                if needs_key(cfg) {
                    tracing::warn!(
                        "the store is in memory: raw webhook bodies are sealed with a \
                         per-process key and are gone with the process"
                    );
                }
                BodyCipher::generate_key()
            }
        }
    };
    let mut ring = BodyCipher::new(ing.encryption_key_id.clone(), &current);
    for (i, old) in ing.old_encryption_keys.iter().enumerate() {
        let key = format!("ingress.old_encryption_keys[{i}]");
        let bytes = match (&old.env, &old.file) {
            (Some(env), _) => from_env(cfg, &format!("{key}.env"), env)?,
            (None, Some(file)) => keys::read_key_file(Path::new(file))
                .map_err(|e| file_error(&format!("{key}.file"), &e))?,
            (None, None) => return Err(invalid(&key, "set exactly one of `env` or `file`")),
        };
        ring = ring.with_old_key(old.id.clone(), &bytes);
    }
    Ok(KeyRing {
        cipher: ring,
        current,
    })
}

/// Refuses to generate a key file for a store that already holds bodies sealed under the id the
/// new key would take: those were sealed with the lost key, and a new key under the same id would
/// turn the loss into a stream of decryption failures. The operator restores the file (or, having
/// accepted the loss, sets `ingress.encryption_key_id` to a new id).
pub async fn refuse_to_replace_a_lost_key(
    cfg: &Config,
    home: &KeyHome,
    store: &dyn WebhookStore,
) -> Result<(), StartError> {
    let ing = &cfg.ingress;
    let KeyHome::Beside(path) = home else {
        return Ok(());
    };
    if ing.encryption_key_env.is_some() || ing.encryption_key_file.is_some() || path.exists() {
        return Ok(());
    }
    let usage = store
        .raw_body_keys()
        .await
        .map_err(|e| StartError::Store(format!("reading the stored raw bodies' keys: {e}")))?;
    match usage.iter().find(|u| u.key_id == ing.encryption_key_id) {
        Some(u) => Err(invalid(
            "ingress.encryption_key_file",
            format!(
                "the key file {} is missing, but the store holds {} raw webhook bodies ({} of \
                 them queued) sealed with key `{}`: restore the file from the backup taken with \
                 the database; to give up those bodies instead, set ingress.encryption_key_id to \
                 a new id (their deliveries then wait for the old key, reported by `keys check`)",
                path.display(),
                u.bodies,
                u.queued,
                u.key_id
            ),
        )),
        None => Ok(()),
    }
}

const WITHOUT_KEY: &str = "wedsync_webhook_bodies_without_key";
const WITHOUT_KEY_HELP: &str = "Stored raw webhook bodies whose key id is not configured, by key \
                                id, at start-up (queued ones cannot be forwarded)";

/// Compares the stored bodies' key ids with the ring: bodies sealed with a key that is not
/// configured are an error in the log and the gauge `wedsync_webhook_bodies_without_key`. Their
/// deliveries wait for the key (they are not given up); `wedsync-monitor keys check` lists them.
pub async fn check_stored_keys(
    store: &dyn WebhookStore,
    ring: &BodyCipher,
    metrics: &Metrics,
) -> Result<u64, wedsync_webhooks::store::StoreError> {
    let mut missing = 0;
    for usage in store.raw_body_keys().await? {
        if ring.has_key(&usage.key_id) {
            continue;
        }
        missing += usage.bodies;
        metrics.set(
            WITHOUT_KEY,
            WITHOUT_KEY_HELP,
            &[("key_id", &usage.key_id)],
            usage.bodies as f64,
        );
        tracing::error!(
            key_id = %usage.key_id,
            bodies = usage.bodies,
            queued = usage.queued,
            configured = ?ring.key_ids().collect::<Vec<_>>(),
            "stored raw webhook bodies were sealed with a key that is not configured: their \
             deliveries wait until it is added to ingress.old_encryption_keys (see \
             `wedsync-monitor keys check`)"
        );
    }
    Ok(missing)
}

/// Prints a [`keys::RekeyReport`] as a table, followed by the unopenable deliveries.
pub fn print_report(
    report: &keys::RekeyReport,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    writeln!(out, "sealing key: {}", report.sealing_key_id)?;
    writeln!(
        out,
        "{:<16} {:<11} {:>9} {:>9} {:>9} {:>9} {:>11}",
        "KEY ID", "CONFIGURED", "BODIES", "QUEUED", "OPENED", "RESEALED", "UNOPENABLE"
    )?;
    for k in &report.keys {
        writeln!(
            out,
            "{:<16} {:<11} {:>9} {:>9} {:>9} {:>9} {:>11}",
            k.key_id,
            if k.configured { "yes" } else { "NO" },
            k.bodies,
            k.queued,
            k.opened,
            k.resealed,
            k.unopenable
        )?;
    }
    for k in report.keys.iter().filter(|k| k.unopenable > 0) {
        writeln!(
            out,
            "\n{} bodies sealed with `{}` open with no configured key{}; first deliveries:",
            k.unopenable,
            k.key_id,
            if k.configured {
                " (a key with this id is configured, but it is the wrong key)"
            } else {
                ""
            }
        )?;
        for id in &k.unopenable_ids {
            writeln!(out, "  {id}")?;
        }
    }
    if report.unopenable() > 0 {
        writeln!(
            out,
            "\nTheir deliveries wait (they are not given up): add the key that sealed them to \
             [[ingress.old_encryption_keys]] and they are forwarded at their next attempt."
        )?;
    }
    Ok(())
}

/// The delivery worker's events, as log lines and metrics.
#[derive(Debug)]
pub struct WorkerEvents {
    metrics: Arc<Metrics>,
}

impl WorkerEvents {
    /// Events counted in `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        WorkerEvents { metrics }
    }
}

impl EventSink for WorkerEvents {
    fn delivery_failed(&self, e: &DeliveryFailed) {
        self.metrics.inc(
            "wedsync_webhook_deliveries_given_up_total",
            "Deliveries given up for good (retries exhausted, 410 Gone, raw body expired)",
            &[("provider", e.provider.as_str()), ("reason", &e.reason)],
            1.0,
        );
        tracing::error!(
            delivery = %e.delivery_id,
            provider = %e.provider,
            attempts = e.attempts,
            reason = %e.reason,
            "webhook delivery failed for good"
        );
    }

    fn body_unopenable(&self, e: &BodyUnopenable) {
        self.metrics.inc(
            "wedsync_webhook_bodies_unopenable_total",
            "Delivery attempts whose raw body no configured key opens (missing or wrong key); \
             the delivery waits for the key",
            &[("provider", e.provider.as_str())],
            1.0,
        );
        tracing::error!(
            delivery = %e.delivery_id,
            provider = %e.provider,
            key_id = %e.key_id,
            reason = %e.reason,
            retry_at = %e.retry_at,
            "a queued webhook's raw body cannot be opened: configure the key that sealed it \
             (ingress.old_encryption_keys); the delivery waits for it"
        );
    }

    fn leases_reclaimed(&self, worker: &str, count: u64) {
        self.metrics.inc(
            "wedsync_webhook_leases_reclaimed_total",
            "Deliveries whose worker died or stalled while holding them, attempted again",
            &[],
            count as f64,
        );
        tracing::warn!(
            worker,
            count,
            "re-claimed deliveries whose lease ran out: a worker died or stalled mid-attempt; \
             they are attempted again now (the handler may see them twice)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        Config::from_toml(text).unwrap()
    }

    const WEBHOOKS: &str = "[webhooks.stripe]\nsecret_env = \"S\"\n";

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn sqlite_keeps_a_generated_key_beside_the_database() {
        let d = dir();
        let home = KeyHome::beside_database(&d.path().join("wsm.db"));
        assert_eq!(
            home,
            KeyHome::Beside(d.path().join("wsm.db.body-key")),
            "the documented path"
        );
        let c = cfg(WEBHOOKS);
        let first = key_ring(&c, &home).unwrap().cipher;
        let id = uuid::Uuid::new_v4();
        let sealed = first.seal(id, b"body").unwrap();
        // the next process opens what the first sealed
        let second = key_ring(&c, &home).unwrap().cipher;
        assert_eq!(second.open(id, &sealed).unwrap(), b"body");
        assert_eq!(second.sealing_key_id(), "k1");
    }

    #[test]
    fn postgres_without_a_key_is_refused_with_what_to_set() {
        let e = key_ring(&cfg(WEBHOOKS), &KeyHome::Required).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("ingress.encryption_key_env"), "{text}");
        assert!(text.contains("keys generate"), "{text}");
        // a process that neither receives nor forwards webhooks needs none
        assert!(key_ring(&cfg(""), &KeyHome::Required).is_ok());
        let mut worker_off = cfg(WEBHOOKS);
        worker_off.worker.enabled = false;
        worker_off.server.api_enabled = false;
        assert!(key_ring(&worker_off, &KeyHome::Required).is_ok());
    }

    #[test]
    fn a_missing_key_file_on_postgres_is_not_invented() {
        let d = dir();
        let path = d.path().join("shared.key");
        let text = format!(
            "{WEBHOOKS}[ingress]\nencryption_key_file = \"{}\"\n",
            path.display()
        );
        let e = key_ring(&cfg(&text), &KeyHome::Required).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        assert!(!path.exists());
    }

    #[test]
    fn the_ring_seals_with_the_current_key_and_opens_with_old_ones() {
        use base64::Engine as _;
        let b64 = |k: [u8; 32]| base64::engine::general_purpose::STANDARD.encode(k);
        let text = format!(
            "{WEBHOOKS}[ingress]\nencryption_key_env = \"NEW\"\nencryption_key_id = \"k2\"\n\
             [[ingress.old_encryption_keys]]\nid = \"k1\"\nenv = \"OLD\"\n"
        );
        let mut c = cfg(&text);
        c.secret_overrides
            .insert("NEW".into(), crate::config::Secret::new(b64([2; 32])));
        c.secret_overrides
            .insert("OLD".into(), crate::config::Secret::new(b64([1; 32])));
        let keys = key_ring(&c, &KeyHome::Required).unwrap();
        assert_ne!(keys.derive("a"), keys.derive("b"));
        let ring = keys.cipher;
        let old = BodyCipher::new("k1", &[1; 32]);
        let id = uuid::Uuid::new_v4();
        assert_eq!(ring.open(id, &old.seal(id, b"x").unwrap()).unwrap(), b"x");
        assert_eq!(ring.seal(id, b"y").unwrap().key_id, "k2");
        // a bad key is named, never echoed
        c.secret_overrides
            .insert("OLD".into(), crate::config::Secret::new("c2hvcnQ="));
        let e = key_ring(&c, &KeyHome::Required).unwrap_err().to_string();
        assert!(e.contains("old_encryption_keys[0].env"), "{e}");
        assert!(!e.contains("c2hvcnQ"), "{e}");
    }
}
