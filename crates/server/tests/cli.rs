//! The `wedsync-monitor` binary itself, run as a child process: `--help`/`--version`, `migrate`,
//! `api-key create|list|revoke` on a SQLite file, `check` against the fake Stripe, and clear
//! errors (naming the configuration key; never a password) for bad input.

use std::path::Path;
use std::process::{Command, Output};

use wedsync_testkit::{FakeStripe, Scenario};

const BIN: &str = env!("CARGO_BIN_EXE_wedsync-monitor");

/// Runs the binary with `args` in `dir`, with no `WEDSYNC_*` variables from the caller.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("WEDSYNC_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

/// `api-key create --name NAME --scope SCOPE` with the configuration at `cfg`.
fn create_key(dir: &Path, cfg: &str, name: &str, scope: &str) -> Output {
    run(
        dir,
        &[
            "--config", cfg, "api-key", "create", "--name", name, "--scope", scope,
        ],
        &[],
    )
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn help_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["--version"], &[]);
    assert!(o.status.success());
    assert!(text(&o).0.contains(env!("CARGO_PKG_VERSION")));
    let o = run(dir.path(), &["--help"], &[]);
    assert!(o.status.success());
    let (out, _) = text(&o);
    for sub in ["serve", "migrate", "api-key", "check", "demo"] {
        assert!(out.contains(sub), "--help names `{sub}`: {out}");
    }
    let o = run(dir.path(), &["api-key", "--help"], &[]);
    assert!(o.status.success());
    let (out, _) = text(&o);
    for sub in ["create", "list", "revoke"] {
        assert!(out.contains(sub), "api-key --help names `{sub}`: {out}");
    }
}

#[test]
fn migrate_and_the_api_key_lifecycle_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("wsm.toml");
    std::fs::write(&cfg, "[store]\nurl = \"sqlite://keys.db\"\n").unwrap();
    let cfg = cfg.to_str().unwrap();

    let o = run(dir.path(), &["--config", cfg, "migrate"], &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.contains("migrations applied"));
    assert!(dir.path().join("keys.db").exists());

    let o = create_key(dir.path(), cfg, "grafana", "monitoring:read");
    assert!(o.status.success(), "{:?}", text(&o));
    let (out, _) = text(&o);
    // "created API key <id> (<scopes>)", a blank line, the key indented, a blank line, a note
    let id = out
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("created API key "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the key id is printed")
        .to_string();
    let key = out
        .lines()
        .nth(2)
        .map(str::trim)
        .filter(|k| k.starts_with("wsk_") && k.len() > 40)
        .expect("the key is printed once")
        .to_string();

    let o = run(dir.path(), &["--config", cfg, "api-key", "list"], &[]);
    assert!(o.status.success());
    let (out, _) = text(&o);
    assert!(out.contains(&id) && out.contains("grafana") && out.contains("monitoring:read"));
    assert!(out.contains("active"));
    assert!(!out.contains(&key), "list never shows the key itself");

    let o = run(
        dir.path(),
        &["--config", cfg, "api-key", "revoke", &id],
        &[],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    let o = run(dir.path(), &["--config", cfg, "api-key", "list"], &[]);
    assert!(text(&o).0.contains("revoked"));

    // bad input: a clear error and a failing exit status
    let o = run(
        dir.path(),
        &["--config", cfg, "api-key", "revoke", "key_nope"],
        &[],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).1.contains("no API key with id key_nope"),
        "{:?}",
        text(&o)
    );
    let o = create_key(dir.path(), cfg, "x", "monitoring:root");
    assert!(!o.status.success());
    assert!(text(&o).1.contains("is not a scope"), "{:?}", text(&o));
}

#[test]
fn configuration_errors_name_the_key_and_never_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[server]\nlisten = \"not an address\"\n").unwrap();
    let o = run(
        dir.path(),
        &["--config", cfg.to_str().unwrap(), "migrate"],
        &[],
    );
    assert!(!o.status.success());
    let (_, err) = text(&o);
    assert!(err.contains("server.listen"), "{err}");

    // an unreachable PostgreSQL: the error says so, without the password in the URL
    let password = concat!("pw-", "planted-", "7f3a");
    let url = format!("postgres://wsm:{password}@127.0.0.1:9/wedsync");
    let o = run(dir.path(), &["--store-url", &url, "migrate"], &[]);
    assert!(!o.status.success());
    let (out, err) = text(&o);
    assert!(!err.is_empty(), "a message on stderr");
    assert!(
        !out.contains(password) && !err.contains(password),
        "password leaked: {out}{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_prints_a_table_and_its_exit_status_says_whether_all_are_healthy() {
    let stripe = FakeStripe::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("check.toml");
    std::fs::write(
        &cfg,
        format!(
            "[store]\nurl = \"sqlite::memory:\"\n\n[[services]]\nname = \"stripe\"\nkind = \"stripe\"\n\
             base_url = \"{}\"\ncredential_env = \"T_CLI_STRIPE_KEY\"\ntimeout = \"2s\"\n",
            stripe.base_url()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let secret = stripe.secret_key().to_string();
    let check = |dir: std::path::PathBuf, cfg: String, secret: String| {
        tokio::task::spawn_blocking(move || {
            run(
                &dir,
                &["--config", &cfg, "check"],
                &[("T_CLI_STRIPE_KEY", &secret)],
            )
        })
    };
    let o = check(dir.path().into(), cfg.clone(), secret.clone())
        .await
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("stripe") && out.contains("healthy"), "{out}");

    stripe.set_scenario(Scenario::ServerError);
    let o = check(dir.path().into(), cfg, secret.clone()).await.unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("unhealthy"), "{out}");
    assert!(
        !out.contains(&secret) && !err.contains(&secret),
        "secret leaked"
    );
}

/// Seals `n` queued Stripe deliveries with `cipher` straight into the SQLite store at `db`.
async fn seal_into(db: &Path, cipher: &wedsync_webhooks::crypto::BodyCipher, n: usize) {
    use wedsync_webhooks::store::{NewDelivery, WebhookStore as _};
    use wedsync_webhooks::Provider;
    let store = wedsync_store::SqliteStore::open(db).await.unwrap();
    for _ in 0..n {
        let id = uuid::Uuid::new_v4();
        let now = time::OffsetDateTime::now_utc();
        let body = cipher.seal(id, b"{\"id\":\"evt\"}").unwrap();
        let mut new = NewDelivery::verified(id, Provider::Stripe, id.to_string(), Some(body), now);
        new.raw_body_expires_at = Some(now + time::Duration::days(7));
        new.next_attempt_at = Some(now + time::Duration::hours(1));
        store.insert_delivery(new).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_generate_check_and_reseal_after_a_rotation() {
    use base64::Engine as _;
    use wedsync_webhooks::crypto::BodyCipher;
    let b64 = base64::engine::general_purpose::STANDARD;
    let dir = tempfile::tempdir().unwrap();
    let generate = || {
        let o = run(dir.path(), &["keys", "generate"], &[]);
        assert!(o.status.success(), "{:?}", text(&o));
        let line = text(&o).0.trim().to_owned();
        assert_eq!(b64.decode(&line).unwrap().len(), 32, "{line}");
        line
    };
    let (old, new, wrong) = (generate(), generate(), generate());
    assert_ne!(old, new);

    let db = dir.path().join("wsm.db");
    let old_bytes: [u8; 32] = b64.decode(&old).unwrap().try_into().unwrap();
    seal_into(&db, &BodyCipher::new("k1", &old_bytes), 3).await;
    let write_cfg = |name: &str, ingress: &str| {
        let text = format!(
            "[store]\nurl = \"sqlite://{}\"\n\n[webhooks.stripe]\nsecret_env = \"T_WHSEC\"\n\n[ingress]\n{ingress}\n",
            db.display()
        );
        std::fs::write(dir.path().join(name), text).unwrap();
        name.to_owned()
    };
    let rotated = write_cfg(
        "rotated.toml",
        "encryption_key_env = \"T_NEW\"\nencryption_key_id = \"k2\"\n\
         [[ingress.old_encryption_keys]]\nid = \"k1\"\nenv = \"T_OLD\"",
    );
    let only_new = write_cfg(
        "new.toml",
        "encryption_key_env = \"T_NEW\"\nencryption_key_id = \"k2\"",
    );
    let env = [
        ("T_NEW", new.as_str()),
        ("T_OLD", old.as_str()),
        ("T_WRONG", wrong.as_str()),
        ("T_WHSEC", "whsec_dGVzdA=="),
    ];
    let keys = |cfg: &str, cmd: &str| run(dir.path(), &["--config", cfg, "keys", cmd], &env);

    // before the re-seal: everything opens, nothing moved yet; the old key is still needed
    let o = keys(&rotated, "check");
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("sealing key: k2"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("k1 ") && l.contains(" yes ")),
        "{out}"
    );
    let o = keys(&only_new, "check");
    let (out, _) = text(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "k1's bodies open with no key: {out}"
    );
    assert!(
        out.contains("3 bodies sealed with `k1` open with no configured key"),
        "{out}"
    );

    // re-seal, then the old key can go
    let o = keys(&rotated, "reseal");
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let k1 = out.lines().find(|l| l.starts_with("k1 ")).unwrap();
    assert_eq!(k1.split_whitespace().nth(5), Some("3"), "resealed: {out}");
    let o = keys(&only_new, "check");
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(!out.lines().any(|l| l.starts_with("k1 ")), "{out}");

    // the wrong key under the right id: reported, exit 1, no key material printed
    let wrong_cfg = write_cfg(
        "wrong.toml",
        "encryption_key_env = \"T_WRONG\"\nencryption_key_id = \"k2\"",
    );
    let o = keys(&wrong_cfg, "check");
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("it is the wrong key"), "{out}");
    for k in [&old, &new, &wrong] {
        assert!(!out.contains(k.as_str()) && !err.contains(k.as_str()));
    }

    // an embedded store whose key file is gone: `keys check` says so and invents none
    let o = run(
        dir.path(),
        &[
            "--store-url",
            &format!("sqlite://{}", db.display()),
            "keys",
            "check",
        ],
        &[],
    );
    let (out, err) = text(&o);
    assert!(!o.status.success(), "{out}{err}");
    assert!(err.contains("wsm.db.body-key does not exist"), "{err}");
    assert!(!dir.path().join("wsm.db.body-key").exists());

    // `serve` with the key file lost while the store holds bodies sealed under its id: a clear
    // error at start, no new key invented under the old id
    let default_cfg = write_cfg("default.toml", "");
    seal_into(&db, &BodyCipher::new("k1", &[5u8; 32]), 2).await;
    let o = run(
        dir.path(),
        &["--config", &default_cfg, "serve", "--listen", "127.0.0.1:0"],
        &env,
    );
    let (out, err) = text(&o);
    assert!(!o.status.success(), "{out}{err}");
    assert!(
        err.contains("wsm.db.body-key is missing, but the store holds 2 raw webhook bodies"),
        "{err}"
    );
    assert!(!dir.path().join("wsm.db.body-key").exists());
}
