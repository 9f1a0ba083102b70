//! Raw-body keys that outlive the process: key files, and checking or re-sealing the stored bodies
//! after a key rotation.
//!
//! A raw body sealed with a key that no process has any more can never be forwarded or replayed,
//! so the key must be as durable as the database that holds the bodies:
//!
//! - [`load_or_create_key_file`] keeps a key in a file (mode `0600`), created on first use. An
//!   embedded (SQLite) deployment keeps it beside its database file.
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

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Serialize;
use uuid::Uuid;

use crate::crypto::{BodyCipher, CryptoError, KEY_LEN};
use crate::store::{StoreError, WebhookStore};

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
}
