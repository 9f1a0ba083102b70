//! Raw-body keys that outlive the process: key files, and checking or re-sealing the stored bodies
//! after a key rotation.
//!
//! A raw body sealed with a key that no process has any more can never be forwarded or replayed,
//! so the key must be as durable as the database that holds the bodies:
//!
//! - [`load_or_create_key_file`] keeps a key in a file (mode `0600`), created on first use. An
//!   embedded (SQLite) deployment keeps it beside its database file.
//! - [`key_ring`] builds the ring from [`KeySettings`] (the current key from a secret, a file, or
//!   a generated file beside the database — [`KeyHome`]; older keys that only open), and
//!   [`refuse_to_replace_a_lost_key`] stops a start that would seal new bodies under the id of a
//!   lost key. Errors ([`KeyError`]) name the setting to change, as keys of an `[ingress]` table.
//! - [`rekey`] walks every stored body: it reports the bodies no configured key opens (a missing or
//!   wrong key — check *before* those deliveries are due) and, in [`RekeyMode::Reseal`], re-seals
//!   the bodies of older keys with the current one, so the old key can be retired.
//!
//! ```
//! use wedsync_webhooks::crypto::BodyCipher;
//! use wedsync_webhooks::keys::{load_or_create_key_file, KeySource};
//!
//! let dir = std::env::temp_dir().join(format!("wedsync-keys-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("bodies.key");
//! let (key, source) = load_or_create_key_file(&path).unwrap();
//! assert_eq!(source, KeySource::Created);
//! // the next start reads the same key back
//! assert_eq!(load_or_create_key_file(&path).unwrap(), (key, KeySource::Existing));
//! let cipher = BodyCipher::new("k1", &key);
//! # let _ = cipher;
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Serialize;
use uuid::Uuid;

use crate::crypto::{BodyCipher, CryptoError, KEY_LEN};
use crate::store::{KeyUsage, StoreError, WebhookStore};
use crate::Secret;

/// Errors reading or creating a key file. Never contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file could not be read, created or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold a base64 32-byte key.
    #[error("key file {path} does not hold a base64 32-byte key ({reason})")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// Others than the owner may read the file.
    #[error(
        "key file {path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}`"
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// Whether [`load_or_create_key_file`] found the key or made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// The file existed.
    Existing,
    /// The file was created with a fresh random key.
    Created,
}

/// Read the base64 key in `path`.
pub fn read_key_file(path: &Path) -> Result<[u8; KEY_LEN], KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    check_permissions(path)?;
    crate::crypto::parse_key(&text).map_err(|reason| KeyFileError::Invalid {
        path: path.to_owned(),
        reason,
    })
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), KeyFileError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path)
        .map_err(|source| KeyFileError::Io {
            path: path.to_owned(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_: &Path) -> Result<(), KeyFileError> {
    Ok(())
}

/// Read the key in `path`, or create the file with a fresh random key when it does not exist
/// (readable by the owner only, written and synced before this returns, so a crash right after
/// cannot leave bodies sealed with a key that is not on disk). Two processes racing to create it
/// agree: only one creation wins, the other reads the winner's key.
pub fn load_or_create_key_file(path: &Path) -> Result<([u8; KEY_LEN], KeySource), KeyFileError> {
    match read_key_file(path) {
        Ok(key) => return Ok((key, KeySource::Existing)),
        Err(KeyFileError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let io = |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    };
    let key = BodyCipher::generate_key();
    // Written under a temporary name and linked into place, so no reader ever sees a partial file.
    let tmp = path.with_extension(format!("tmp.{}", Uuid::new_v4().simple()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let written = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(format!("{}\n", B64.encode(key)).as_bytes())?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => {
            sync_parent(path).map_err(io)?;
            Ok((key, KeySource::Created))
        }
        // another process created it first: use theirs
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_key_file(path).map(|k| (k, KeySource::Existing))
        }
        Err(e) => Err(io(e)),
    }
}

fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// What [`rekey`] does besides checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RekeyMode {
    /// Only try to open every body and report.
    Check,
    /// Also re-seal the bodies of older keys with the current (sealing) key.
    Reseal,
}

/// One key id's bodies, as [`rekey`] found them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KeyReport {
    /// The key id recorded with the bodies.
    pub key_id: String,
    /// Whether a configured key has this id.
    pub configured: bool,
    /// Bodies sealed with it.
    pub bodies: u64,
    /// Of those, bodies of deliveries still queued.
    pub queued: u64,
    /// Bodies a configured key opened.
    pub opened: u64,
    /// Bodies re-sealed with the current key ([`RekeyMode::Reseal`]).
    pub resealed: u64,
    /// Bodies no configured key opens (missing key, wrong key, or tampered).
    pub unopenable: u64,
    /// The first unopenable deliveries (at most [`REPORTED_IDS`]).
    pub unopenable_ids: Vec<Uuid>,
}

/// How many unopenable delivery ids a [`KeyReport`] lists.
pub const REPORTED_IDS: usize = 20;

/// Everything [`rekey`] found, one entry per key id in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RekeyReport {
    /// The key that seals new bodies.
    pub sealing_key_id: String,
    /// Per key id, in key-id order.
    pub keys: Vec<KeyReport>,
}

impl RekeyReport {
    /// Bodies that no configured key opens.
    pub fn unopenable(&self) -> u64 {
        self.keys.iter().map(|k| k.unopenable).sum()
    }

    /// Bodies re-sealed.
    pub fn resealed(&self) -> u64 {
        self.keys.iter().map(|k| k.resealed).sum()
    }
}

/// Page size of [`rekey`]'s walk.
const PAGE: usize = 500;

/// Try to open every stored raw body with `cipher` and, in [`RekeyMode::Reseal`], re-seal those of
/// older keys with its sealing key. Bodies of a key id that `cipher` does not know are counted as
/// unopenable without trying. Safe to run while the server runs: a body is replaced only if it is
/// still sealed with the key it was read with.
pub async fn rekey(
    store: &dyn WebhookStore,
    cipher: &BodyCipher,
    mode: RekeyMode,
) -> Result<RekeyReport, StoreError> {
    let mut report = RekeyReport {
        sealing_key_id: cipher.sealing_key_id().to_owned(),
        keys: Vec::new(),
    };
    for usage in store.raw_body_keys().await? {
        let mut k = KeyReport {
            configured: cipher.has_key(&usage.key_id),
            key_id: usage.key_id,
            bodies: usage.bodies,
            queued: usage.queued,
            ..KeyReport::default()
        };
        if !k.configured {
            k.unopenable = k.bodies;
            let first = store.sealed_bodies(&k.key_id, None, REPORTED_IDS).await?;
            k.unopenable_ids = first.into_iter().map(|b| b.delivery_id).collect();
            report.keys.push(k);
            continue;
        }
        let reseal = mode == RekeyMode::Reseal && k.key_id != report.sealing_key_id;
        let mut after = None;
        loop {
            let page = store.sealed_bodies(&k.key_id, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.delivery_id);
            for sealed in page {
                let plain = match cipher.open(sealed.delivery_id, &sealed.body) {
                    Ok(p) => p,
                    Err(_) => {
                        k.unopenable += 1;
                        if k.unopenable_ids.len() < REPORTED_IDS {
                            k.unopenable_ids.push(sealed.delivery_id);
                        }
                        continue;
                    }
                };
                k.opened += 1;
                if reseal {
                    let fresh = cipher
                        .seal(sealed.delivery_id, &plain)
                        .map_err(|e| StoreError::Backend(Box::new(e)))?;
                    if store
                        .replace_raw_body(sealed.delivery_id, &k.key_id, fresh)
                        .await?
                    {
                        k.resealed += 1;
                    }
                }
            }
        }
        report.keys.push(k);
    }
    Ok(report)
}

/// Whether an error opening a body means the key is missing or wrong (as opposed to the body
/// being gone): such deliveries wait for the key instead of failing for good.
pub fn is_key_problem(e: &CryptoError) -> bool {
    matches!(e, CryptoError::UnknownKey(_) | CryptoError::Decrypt)
}

/// The setting naming the environment variable that holds the current key.
pub const ENV_SETTING: &str = "ingress.encryption_key_env";
/// The setting naming the file that holds the current key.
pub const FILE_SETTING: &str = "ingress.encryption_key_file";
/// The setting holding the current key's id.
pub const ID_SETTING: &str = "ingress.encryption_key_id";
/// The list of older keys.
pub const OLD_SETTING: &str = "ingress.old_encryption_keys";

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

/// A key given as base64 text in an environment variable, already read.
#[derive(Debug, Clone)]
pub struct EnvKey {
    /// The variable's name (named in errors; the value never is).
    pub var: String,
    /// Its value.
    pub value: Secret,
}

/// One older key: opens the bodies it sealed, never seals.
#[derive(Debug, Clone)]
pub struct OldKey {
    /// The id its bodies were sealed with.
    pub id: String,
    /// The key from an environment variable.
    pub env: Option<EnvKey>,
    /// The key from a file (base64, mode 0600).
    pub file: Option<PathBuf>,
}

/// Where the raw-body keys come from (the `[ingress]` key settings).
#[derive(Debug, Clone)]
pub struct KeySettings {
    /// The id recorded with every body the current key seals ([`ID_SETTING`]).
    pub key_id: String,
    /// The current key from an environment variable ([`ENV_SETTING`]).
    pub env: Option<EnvKey>,
    /// The current key from a file ([`FILE_SETTING`]).
    pub file: Option<PathBuf>,
    /// Older keys ([`OLD_SETTING`]).
    pub old: Vec<OldKey>,
    /// Whether this process seals or opens bodies (it receives or forwards webhooks): only then
    /// does a shared store require a configured key.
    pub needed: bool,
    /// The command that prints a fresh key, quoted in errors (`wedsync-monitor keys generate`).
    pub make_key: String,
}

impl KeySettings {
    /// Settings with the current key `key_id` and nothing configured: the key comes from the
    /// store's [`KeyHome`].
    pub fn new(key_id: impl Into<String>, make_key: impl Into<String>) -> Self {
        KeySettings {
            key_id: key_id.into(),
            env: None,
            file: None,
            old: Vec::new(),
            needed: true,
            make_key: make_key.into(),
        }
    }
}

/// Errors building a key ring. Never contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key setting is missing or wrong; `setting` names what to change.
    #[error("invalid configuration: `{setting}`: {message}")]
    Setting {
        /// The setting, e.g. `ingress.encryption_key_env` or `ingress.old_encryption_keys[0].env`.
        setting: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The store could not list the keys of its bodies.
    #[error("reading the stored raw bodies' keys: {0}")]
    Store(#[from] StoreError),
}

fn setting(setting: &str, message: impl Into<String>) -> KeyError {
    KeyError::Setting {
        setting: setting.to_owned(),
        message: message.into(),
    }
}

/// Something worth a warning in the log about where the current key came from (its `Display`
/// is the warning).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyNotice {
    /// The key file was generated now: back it up with the database.
    #[error(
        "generated the raw-body encryption key {}; back it up with the database: without it, \
         queued webhooks cannot be forwarded or replayed",
        .0.display()
    )]
    Created(PathBuf),
    /// Bodies are sealed with a per-process key (the store is in memory) and gone with it.
    #[error(
        "the store is in memory: raw webhook bodies are sealed with a per-process key and are \
         gone with the process"
    )]
    PerProcess,
}

/// The key ring, and secrets derived from its current key (e.g. a dashboard's session key), so
/// that every process sharing the store shares them without another secret to configure.
#[derive(Clone)]
pub struct KeyRing {
    /// Seals with the current key, opens with every key.
    pub cipher: BodyCipher,
    /// Worth a log line, if anything.
    pub notice: Option<KeyNotice>,
    current: [u8; KEY_LEN],
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("cipher", &self.cipher)
            .field("notice", &self.notice)
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// A 32-byte secret for `purpose`, derived from the current key (HMAC-SHA256 of the label):
    /// knowing it reveals nothing of the key, and different purposes get unrelated secrets.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use hmac::Mac as _;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.current)
            .expect("HMAC takes any key length");
        // the label is part of every derived secret: changing it changes them all
        mac.update(b"wedsync-monitor derived secret v1: ");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

fn from_env(setting_name: &str, key: &EnvKey, make_key: &str) -> Result<[u8; KEY_LEN], KeyError> {
    crate::crypto::parse_key(key.value.expose()).map_err(|reason| {
        setting(
            setting_name,
            format!(
                "{} does not hold a base64 32-byte key ({reason}; make one with `{make_key}`)",
                key.var
            ),
        )
    })
}

fn from_file(
    setting_name: &str,
    path: &Path,
    create: bool,
    make_key: &str,
) -> Result<([u8; KEY_LEN], KeySource), KeyError> {
    let found = if create {
        load_or_create_key_file(path)
    } else {
        read_key_file(path).map(|k| (k, KeySource::Existing))
    };
    found.map_err(|e| match &e {
        KeyFileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            setting(
                setting_name,
                format!(
                    "{} does not exist; create it once with `{make_key} > {}` (then chmod 600) \
                     and give every process the same file",
                    path.display(),
                    path.display()
                ),
            )
        }
        _ => setting(setting_name, e.to_string()),
    })
}

/// The key ring: the current key (from `settings.env`, from `settings.file`, else from `home`)
/// seals; `settings.old` only open. A missing key file is created only where the store is this
/// machine's own file (several processes on a shared store must share one key, so none may
/// invent it).
pub fn key_ring(settings: &KeySettings, home: &KeyHome) -> Result<KeyRing, KeyError> {
    ring(settings, home, !matches!(home, KeyHome::Required))
}

/// Like [`key_ring`], but never creates a key file (tools that inspect must not invent the key a
/// server would then seal with).
pub fn existing_key_ring(settings: &KeySettings, home: &KeyHome) -> Result<KeyRing, KeyError> {
    ring(settings, home, false)
}

fn ring(s: &KeySettings, home: &KeyHome, create: bool) -> Result<KeyRing, KeyError> {
    let make = s.make_key.as_str();
    let mut notice = None;
    let mut file = |name: &str, path: &Path| {
        let (key, source) = from_file(name, path, create, make)?;
        if source == KeySource::Created {
            notice = Some(KeyNotice::Created(path.to_owned()));
        }
        Ok::<_, KeyError>(key)
    };
    let current = match (&s.env, &s.file, home) {
        (Some(env), _, _) => from_env(ENV_SETTING, env, make)?,
        (None, Some(path), _) => file(FILE_SETTING, path)?,
        (None, None, KeyHome::Beside(path)) => file(FILE_SETTING, path)?,
        (None, None, KeyHome::Required) if s.needed => {
            return Err(setting(
                ENV_SETTING,
                format!(
                    "a PostgreSQL store is shared by several processes, so they need one \
                     configured key to seal and open raw webhook bodies: set {ENV_SETTING} (or \
                     {FILE_SETTING}) to a base64 32-byte key made with `{make}`, the same in every \
                     process"
                ),
            ));
        }
        // nothing here seals or opens bodies (or nothing outlives the process)
        (None, None, KeyHome::Required | KeyHome::Ephemeral) => {
            if s.needed {
                notice = Some(KeyNotice::PerProcess);
            }
            BodyCipher::generate_key()
        }
    };
    let mut cipher = BodyCipher::new(s.key_id.clone(), &current);
    for (i, old) in s.old.iter().enumerate() {
        let name = format!("{OLD_SETTING}[{i}]");
        let bytes = match (&old.env, &old.file) {
            (Some(env), _) => from_env(&format!("{name}.env"), env, make)?,
            (None, Some(path)) => {
                read_key_file(path).map_err(|e| setting(&format!("{name}.file"), e.to_string()))?
            }
            (None, None) => return Err(setting(&name, "set exactly one of `env` or `file`")),
        };
        cipher = cipher.with_old_key(old.id.clone(), &bytes);
    }
    Ok(KeyRing {
        cipher,
        notice,
        current,
    })
}

/// Refuses to generate a key file for a store that already holds bodies sealed under the id the
/// new key would take: those were sealed with the lost key, and a new key under the same id would
/// turn the loss into a stream of decryption failures. The operator restores the file (or, having
/// accepted the loss, gives the current key a new id).
pub async fn refuse_to_replace_a_lost_key(
    settings: &KeySettings,
    home: &KeyHome,
    store: &dyn WebhookStore,
) -> Result<(), KeyError> {
    let KeyHome::Beside(path) = home else {
        return Ok(());
    };
    if settings.env.is_some() || settings.file.is_some() || path.exists() {
        return Ok(());
    }
    let usage = store.raw_body_keys().await?;
    match usage.iter().find(|u| u.key_id == settings.key_id) {
        Some(u) => Err(setting(
            FILE_SETTING,
            format!(
                "the key file {} is missing, but the store holds {} raw webhook bodies ({} of \
                 them queued) sealed with key `{}`: restore the file from the backup taken with \
                 the database; to give up those bodies instead, set {ID_SETTING} to a new id \
                 (their deliveries then wait for the old key, reported by `keys check`)",
                path.display(),
                u.bodies,
                u.queued,
                u.key_id
            ),
        )),
        None => Ok(()),
    }
}

/// The stored bodies' keys that `ring` does not have: their deliveries wait until the key is
/// added to the older keys (they are not given up). Check at start-up, so that the operator hears
/// of it now, not at the deliveries' first attempt.
pub async fn keys_not_configured(
    store: &dyn WebhookStore,
    ring: &BodyCipher,
) -> Result<Vec<KeyUsage>, StoreError> {
    let mut usage = store.raw_body_keys().await?;
    usage.retain(|u| !ring.has_key(&u.key_id));
    Ok(usage)
}

impl RekeyReport {
    /// Writes the report as a table, followed by the unopenable deliveries.
    pub fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "sealing key: {}", self.sealing_key_id)?;
        writeln!(
            out,
            "{:<16} {:<11} {:>9} {:>9} {:>9} {:>9} {:>11}",
            "KEY ID", "CONFIGURED", "BODIES", "QUEUED", "OPENED", "RESEALED", "UNOPENABLE"
        )?;
        for k in &self.keys {
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
        for k in self.keys.iter().filter(|k| k.unopenable > 0) {
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
        if self.unopenable() > 0 {
            writeln!(
                out,
                "\nTheir deliveries wait (they are not given up): add the key that sealed them to \
                 [[{OLD_SETTING}]] and they are forwarded at their next attempt."
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{InMemoryStore, NewDelivery};

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "wedsync-keys-{name}-{}-{}",
            std::process::id(),
            Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn key_file_is_created_once_private_and_reused() {
        let dir = tempdir("create");
        let path = dir.join("k.key");
        let (k1, s1) = load_or_create_key_file(&path).unwrap();
        assert_eq!(s1, KeySource::Created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let (k2, s2) = load_or_create_key_file(&path).unwrap();
        assert_eq!((k1, s2), (k2, KeySource::Existing));
        // no temporary files left behind
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn racing_creators_agree_on_one_key() {
        let dir = tempdir("race");
        let path = dir.join("k.key");
        let keys: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| load_or_create_key_file(&path).unwrap().0))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_key_files_are_clear_errors_without_the_key() {
        let dir = tempdir("bad");
        let path = dir.join("k.key");
        std::fs::write(&path, "c2hvcnQ=\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let e = load_or_create_key_file(&path).unwrap_err();
        assert!(matches!(e, KeyFileError::Invalid { .. }), "{e}");
        assert!(!e.to_string().contains("c2hvcnQ"), "{e}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::write(&path, format!("{}\n", B64.encode([3u8; 32]))).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = read_key_file(&path).unwrap_err();
            assert!(e.to_string().contains("chmod 600"), "{e}");
        }
        let missing_dir = dir.join("no/such/dir/k.key");
        assert!(matches!(
            load_or_create_key_file(&missing_dir).unwrap_err(),
            KeyFileError::Io { .. }
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    async fn stored(store: &InMemoryStore, cipher: &BodyCipher, n: usize) -> Vec<Uuid> {
        let mut ids = Vec::new();
        for i in 0..n {
            let id = Uuid::new_v4();
            let now = time::OffsetDateTime::now_utc();
            let body = cipher.seal(id, b"{\"id\":\"evt\"}").unwrap();
            let mut new =
                NewDelivery::verified(id, crate::Provider::Stripe, id.to_string(), Some(body), now);
            new.next_attempt_at = (i % 2 == 0).then_some(now);
            ids.push(id);
            store.insert_delivery(new).await.unwrap();
        }
        ids
    }

    #[tokio::test]
    async fn rekey_reports_missing_keys_and_reseals_old_ones() {
        let store = InMemoryStore::new();
        let (old, new, lost) = (
            BodyCipher::generate_key(),
            BodyCipher::generate_key(),
            BodyCipher::generate_key(),
        );
        stored(&store, &BodyCipher::new("k1", &old), 3).await;
        let lost_ids = stored(&store, &BodyCipher::new("k0", &lost), 2).await;
        let ring = BodyCipher::new("k2", &new).with_old_key("k1", &old);

        let check = rekey(&store, &ring, RekeyMode::Check).await.unwrap();
        assert_eq!(check.sealing_key_id, "k2");
        assert_eq!(check.unopenable(), 2);
        assert_eq!(check.resealed(), 0);
        let k0 = &check.keys[0];
        assert_eq!((k0.key_id.as_str(), k0.configured), ("k0", false));
        let mut reported = k0.unopenable_ids.clone();
        reported.sort();
        let mut expected = lost_ids.clone();
        expected.sort();
        assert_eq!(reported, expected);
        assert_eq!((check.keys[1].opened, check.keys[1].bodies), (3, 3));

        let done = rekey(&store, &ring, RekeyMode::Reseal).await.unwrap();
        assert_eq!(done.resealed(), 3);
        // the old key can go now: everything it sealed opens with the new one alone
        let only_new = BodyCipher::new("k2", &new);
        let after = rekey(&store, &only_new, RekeyMode::Check).await.unwrap();
        let k2 = after.keys.iter().find(|k| k.key_id == "k2").unwrap();
        assert_eq!((k2.bodies, k2.opened, k2.unopenable), (3, 3, 0));
        assert_eq!(after.unopenable(), 2, "the lost key's bodies stay reported");

        // a wrong key under a known id: counted, never opened
        let wrong = BodyCipher::new("k2", &lost);
        let r = rekey(&store, &wrong, RekeyMode::Reseal).await.unwrap();
        let k2 = r.keys.iter().find(|k| k.key_id == "k2").unwrap();
        assert_eq!((k2.opened, k2.unopenable, k2.resealed), (0, 3, 0));
    }

    const MAKE: &str = "wedsync-monitor keys generate";

    fn settings() -> KeySettings {
        KeySettings::new("k1", MAKE)
    }

    fn env(var: &str, key: [u8; 32]) -> Option<EnvKey> {
        Some(EnvKey {
            var: var.into(),
            value: Secret::new(B64.encode(key)),
        })
    }

    #[test]
    fn sqlite_keeps_a_generated_key_beside_the_database() {
        let d = tempdir("beside");
        let home = KeyHome::beside_database(&d.join("wsm.db"));
        assert_eq!(
            home,
            KeyHome::Beside(d.join("wsm.db.body-key")),
            "the documented path"
        );
        let first = key_ring(&settings(), &home).unwrap();
        assert_eq!(
            first.notice,
            Some(KeyNotice::Created(d.join("wsm.db.body-key")))
        );
        let warning = first.notice.as_ref().unwrap().to_string();
        assert!(warning.contains("wsm.db.body-key; back it up"), "{warning}");
        let id = Uuid::new_v4();
        let sealed = first.cipher.seal(id, b"body").unwrap();
        // the next process opens what the first sealed
        let second = key_ring(&settings(), &home).unwrap();
        assert_eq!(second.notice, None);
        assert_eq!(second.cipher.open(id, &sealed).unwrap(), b"body");
        assert_eq!(second.cipher.sealing_key_id(), "k1");
        assert_eq!(first.derive("x"), second.derive("x"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn postgres_without_a_key_is_refused_with_what_to_set() {
        let e = key_ring(&settings(), &KeyHome::Required).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("`ingress.encryption_key_env`"), "{text}");
        assert!(text.contains("keys generate"), "{text}");
        // a process that neither receives nor forwards webhooks needs none
        let idle = KeySettings {
            needed: false,
            ..settings()
        };
        let ring = key_ring(&idle, &KeyHome::Required).unwrap();
        assert_eq!(ring.notice, None);
        // an in-memory store seals with a key that dies with the process, and says so
        let mem = key_ring(&settings(), &KeyHome::Ephemeral).unwrap();
        assert_eq!(mem.notice, Some(KeyNotice::PerProcess));
    }

    #[test]
    fn a_missing_key_file_on_postgres_is_not_invented() {
        let d = tempdir("shared");
        let path = d.join("shared.key");
        let s = KeySettings {
            file: Some(path.clone()),
            ..settings()
        };
        let e = key_ring(&s, &KeyHome::Required).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        assert!(e.to_string().contains(FILE_SETTING), "{e}");
        assert!(!path.exists());
        // nor by the tools, even beside a SQLite file
        let beside = KeyHome::beside_database(&d.join("wsm.db"));
        assert!(existing_key_ring(&settings(), &beside).is_err());
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_ring_seals_with_the_current_key_and_opens_with_old_ones() {
        let mut s = KeySettings {
            key_id: "k2".into(),
            env: env("NEW", [2; 32]),
            old: vec![OldKey {
                id: "k1".into(),
                env: env("OLD", [1; 32]),
                file: None,
            }],
            ..settings()
        };
        let keys = key_ring(&s, &KeyHome::Required).unwrap();
        assert_ne!(keys.derive("a"), keys.derive("b"));
        let ring = keys.cipher;
        let old = BodyCipher::new("k1", &[1; 32]);
        let id = Uuid::new_v4();
        assert_eq!(ring.open(id, &old.seal(id, b"x").unwrap()).unwrap(), b"x");
        assert_eq!(ring.seal(id, b"y").unwrap().key_id, "k2");
        // a bad key is named, never echoed
        s.old[0].env = Some(EnvKey {
            var: "OLD".into(),
            value: Secret::new("c2hvcnQ="),
        });
        let e = key_ring(&s, &KeyHome::Required).unwrap_err().to_string();
        assert!(e.contains("old_encryption_keys[0].env"), "{e}");
        assert!(e.contains("OLD does not hold a base64 32-byte key"), "{e}");
        assert!(!e.contains("c2hvcnQ"), "{e}");
        s.old[0].env = None;
        let e = key_ring(&s, &KeyHome::Required).unwrap_err().to_string();
        assert!(e.contains("set exactly one of `env` or `file`"), "{e}");
    }

    #[tokio::test]
    async fn a_lost_key_file_is_not_replaced_while_its_bodies_are_stored() {
        let d = tempdir("lost");
        let home = KeyHome::beside_database(&d.join("wsm.db"));
        let store = InMemoryStore::new();
        refuse_to_replace_a_lost_key(&settings(), &home, &store)
            .await
            .unwrap();
        let ring = key_ring(&settings(), &home).unwrap().cipher;
        stored(&store, &ring, 2).await;
        let KeyHome::Beside(path) = &home else {
            unreachable!()
        };
        std::fs::remove_file(path).unwrap();
        let e = refuse_to_replace_a_lost_key(&settings(), &home, &store)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("wsm.db.body-key is missing, but the store holds 2 raw webhook bodies"),
            "{e}"
        );
        // a new id gives those bodies up knowingly; they are reported as waiting for their key
        let fresh = KeySettings {
            key_id: "k2".into(),
            ..settings()
        };
        refuse_to_replace_a_lost_key(&fresh, &home, &store)
            .await
            .unwrap();
        let ring = key_ring(&fresh, &home).unwrap().cipher;
        let missing = keys_not_configured(&store, &ring).await.unwrap();
        assert_eq!(missing.len(), 1);
        assert_eq!((missing[0].key_id.as_str(), missing[0].bodies), ("k1", 2));
        let report = rekey(&store, &ring, RekeyMode::Check).await.unwrap();
        let mut table = Vec::new();
        report.write_table(&mut table).unwrap();
        let table = String::from_utf8(table).unwrap();
        assert!(table.starts_with("sealing key: k2\nKEY ID"), "{table}");
        assert!(table.contains("[[ingress.old_encryption_keys]]"), "{table}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
