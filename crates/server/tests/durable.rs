//! Webhook deliveries on the configured store, end to end on SQLite (a file) and PostgreSQL: an
//! acknowledged webhook survives a restart and is delivered by the next process; the store going
//! down answers 503 with `Retry-After` and loses nothing acknowledged; a graceful shutdown under
//! load loses no acknowledged webhook.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{post_stripe, post_while_shutting_down, stripe_event, stripe_secret, TestServer};
use uuid::Uuid;
use wedsync_monitor::admin::Scope;
use wedsync_monitor::config::{Config, Secret};
use wedsync_testkit::{FakeWebhookHandler, Scenario};
use wedsync_webhooks::store::WebhookStore;

/// Where the test's store lives.
enum Backend {
    Sqlite(tempfile::TempDir),
    Pg(wedsync_store::testing::TestPg),
}

impl Backend {
    fn sqlite() -> Self {
        Backend::Sqlite(tempfile::tempdir().unwrap())
    }

    async fn pg() -> Self {
        Backend::Pg(wedsync_store::testing::fresh_postgres().await)
    }

    fn url(&self) -> String {
        match self {
            Backend::Sqlite(dir) => format!("sqlite://{}", dir.path().join("wsm.db").display()),
            Backend::Pg(pg) => pg.url().to_string(),
        }
    }

    /// A second, independent handle on the same store (what a later process would open).
    async fn open(&self) -> Arc<dyn WebhookStore> {
        match self {
            Backend::Sqlite(dir) => Arc::new(
                wedsync_store::SqliteStore::open(dir.path().join("wsm.db"))
                    .await
                    .unwrap(),
            ),
            Backend::Pg(pg) => Arc::new(
                wedsync_store::PgStore::connect(wedsync_store::PgConfig::new(pg.url()))
                    .await
                    .unwrap(),
            ),
        }
    }
}

/// One key for every process of a test, so a restarted server can open the sealed raw bodies.
fn encryption_key() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode([7u8; 32])
}

async fn config(backend: &Backend, handler: Option<&FakeWebhookHandler>) -> Config {
    let forward = handler
        .map(|h| format!("forward_to = \"{}\"", h.url_for("stripe")))
        .unwrap_or_default();
    let text = format!(
        r#"
[store]
url = "{}"

[ingress]
encryption_key_env = "T_ENCRYPTION_KEY"

[monitor]
enabled = false

[retention]
enabled = false

[worker]
poll_interval = "100ms"

[webhooks.stripe]
secret_env = "T_STRIPE_WHSEC"
{forward}
"#,
        backend.url()
    );
    let mut cfg = Config::from_toml(&text).unwrap();
    cfg.secret_overrides
        .insert("T_STRIPE_WHSEC".into(), Secret::new(stripe_secret()));
    cfg.secret_overrides
        .insert("T_ENCRYPTION_KEY".into(), Secret::new(encryption_key()));
    wedsync_monitor::Components::migrate(&cfg).await.unwrap();
    cfg
}

async fn acked_id(r: reqwest::Response) -> Uuid {
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    Uuid::parse_str(v["id"].as_str().unwrap()).unwrap()
}

/// A test named `$sqlite` running `$run` on SQLite, and one named `$postgres` running it on
/// PostgreSQL.
macro_rules! on_both_backends {
    ($sqlite:ident, $postgres:ident, $run:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            $run(Backend::sqlite()).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            $run(Backend::pg().await).await;
        }
    };
}

async fn survives_a_restart(backend: Backend) {
    let handler = FakeWebhookHandler::start().await;
    handler.set_scenario(Scenario::ServerError);
    let t = TestServer::start(config(&backend, Some(&handler)).await).await;
    let id = acked_id(post_stripe(&t, &stripe_event("evt_restart"), &stripe_secret()).await).await;
    // the first attempt fails; the retry is scheduled ~5 s later, in the store
    assert!(
        handler
            .handle()
            .wait_for_requests(1, Duration::from_secs(10))
            .await
    );
    t.stop().await;

    handler.set_scenario(Scenario::Healthy);
    let t = TestServer::start(config(&backend, Some(&handler)).await).await;
    assert!(
        handler
            .wait_for_deliveries(1, Duration::from_secs(20))
            .await,
        "the restarted server delivers the webhook the first one acknowledged"
    );
    let (read, _) = t.key(&[Scope::Read]).await;
    let mut stats = serde_json::Value::Null;
    for _ in 0..50 {
        stats = t
            .get_json("/api/admin/webhooks/health?timeframe=1h", &read)
            .await;
        if stats["overall"]["delivered"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stats["overall"]["received"], 1, "{stats}");
    assert_eq!(stats["overall"]["delivered"], 1, "{stats}");
    let d = backend
        .open()
        .await
        .get_delivery(id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        d.attempt_count, 2,
        "one failed attempt before, one success after the restart"
    );
    t.stop().await;
}

on_both_backends!(
    acknowledged_webhook_survives_a_restart_on_sqlite,
    acknowledged_webhook_survives_a_restart_on_postgres,
    survives_a_restart
);

/// Runs SQL as the PostgreSQL superuser on the server's maintenance database (with `psql`).
fn psql(sql: &str) {
    let url =
        wedsync_testkit::pg::url_with_database(&wedsync_testkit::pg::server_url(), "postgres");
    let out = std::process::Command::new("psql")
        .args(["-v", "ON_ERROR_STOP=1", "-qAt", &url, "-c", sql])
        .output()
        .expect("this test needs `psql` on PATH (apt-get install postgresql-client)");
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_down_means_503_with_retry_after_on_postgres() {
    let backend = Backend::pg().await;
    let Backend::Pg(pg) = &backend else {
        unreachable!()
    };
    let db = pg.db.name().to_string();
    let t = TestServer::start(config(&backend, None).await).await;
    let acked =
        acked_id(post_stripe(&t, &stripe_event("evt_before"), &stripe_secret()).await).await;

    // the database goes away: no new connections, the pool's connections killed
    psql(&format!(
        "ALTER DATABASE \"{db}\" WITH ALLOW_CONNECTIONS false; \
         SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = '{db}' AND pid <> pg_backend_pid();"
    ));
    let r = post_stripe(&t, &stripe_event("evt_during"), &stripe_secret()).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let text = r.text().await.unwrap();
    assert!(!text.contains(&db), "store detail leaked: {text}");
    assert_eq!(
        t.http.get(t.url("/readyz")).send().await.unwrap().status(),
        503
    );

    // it comes back; the provider's retry is accepted
    psql(&format!(
        "ALTER DATABASE \"{db}\" WITH ALLOW_CONNECTIONS true;"
    ));
    let mut status = 0;
    for _ in 0..50 {
        let r = post_stripe(&t, &stripe_event("evt_during"), &stripe_secret()).await;
        status = r.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status, 200, "accepted once the store is back");
    let store = backend.open().await;
    assert!(store.get_delivery(acked).await.unwrap().is_some());
    t.stop().await;
}

/// The SQLite file is locked by another writer (another process, a backup tool holding an
/// exclusive transaction) for longer than the store's busy timeout: ingress answers 503 with
/// `Retry-After` instead of acknowledging, loses nothing acknowledged before, and accepts the
/// provider's retry once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_down_means_503_with_retry_after_on_sqlite() {
    use diesel::connection::SimpleConnection as _;
    use diesel::Connection as _;

    let backend = Backend::sqlite();
    let Backend::Sqlite(dir) = &backend else {
        unreachable!()
    };
    let path = dir.path().join("wsm.db");
    let t = TestServer::start(config(&backend, None).await).await;
    let acked =
        acked_id(post_stripe(&t, &stripe_event("evt_before"), &stripe_secret()).await).await;

    // another writer takes the write lock and keeps it past the busy timeout
    let path_text = path.display().to_string();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let locker = std::thread::spawn(move || {
        let mut c = diesel::SqliteConnection::establish(&path_text).expect("open the SQLite file");
        c.batch_execute("BEGIN EXCLUSIVE")
            .expect("take the write lock");
        locked_tx.send(()).expect("the test waits for the lock");
        let _ = release_rx.recv_timeout(Duration::from_secs(60));
        c.batch_execute("ROLLBACK").expect("release the write lock");
    });
    locked_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the lock was taken");

    let started = std::time::Instant::now();
    let r = post_stripe(&t, &stripe_event("evt_during"), &stripe_secret()).await;
    assert_eq!(r.status(), 503, "refused while the store cannot commit");
    assert!(
        started.elapsed() >= wedsync_store::sqlite::BUSY_TIMEOUT / 2,
        "the store waited for the lock before giving up"
    );
    assert!(r.headers().contains_key("retry-after"));
    let text = r.text().await.unwrap();
    assert!(
        !text.contains(&*path.display().to_string()) && !text.contains("locked"),
        "store detail leaked: {text}"
    );

    // the lock goes away; the provider's retry is accepted
    release_tx.send(()).unwrap();
    locker.join().unwrap();
    let during =
        acked_id(post_stripe(&t, &stripe_event("evt_during"), &stripe_secret()).await).await;
    t.stop().await;

    let store = backend.open().await;
    assert!(store.get_delivery(acked).await.unwrap().is_some());
    let d = store.get_delivery(during).await.unwrap().unwrap();
    assert_eq!(d.event_id.as_deref(), Some("evt_during"));
}

async fn shutdown_loses_nothing(backend: Backend) {
    let t = Arc::new(TestServer::start(config(&backend, None).await).await);
    let mut acked = Vec::new();
    for i in 0..5 {
        let body = stripe_event(&format!("evt_before_{i}"));
        acked.push(acked_id(post_stripe(&t, &body, &stripe_secret()).await).await);
    }
    for id in post_while_shutting_down(&t).await {
        acked.push(Uuid::parse_str(&id).unwrap());
    }
    let store = backend.open().await;
    for id in acked {
        assert!(
            store.get_delivery(id).await.unwrap().is_some(),
            "acknowledged {id} is in the store"
        );
    }
}

on_both_backends!(
    graceful_shutdown_loses_no_acknowledged_webhook_on_sqlite,
    graceful_shutdown_loses_no_acknowledged_webhook_on_postgres,
    shutdown_loses_nothing
);

/// The probe store failing under the health route (here: the SQLite rollup table gone): the
/// route answers 503 with `Retry-After` and no store detail, instead of a report with an empty
/// history that looks like "no data".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_history_from_a_failing_store_is_503_not_empty() {
    use diesel::connection::SimpleConnection as _;
    use diesel::Connection as _;

    let stripe = wedsync_testkit::FakeStripe::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wsm.db");
    let sections = format!(
        "[store]\nurl = \"sqlite://{}\"\n\n[monitor]\nenabled = false\n",
        path.display()
    );
    let cfg = common::stripe_service_config(&sections, &stripe, "T_STRIPE_KEY");
    wedsync_monitor::Components::migrate(&cfg).await.unwrap();
    let t = TestServer::start(cfg).await;
    let (read, _) = t.key(&[Scope::Read]).await;
    let history = "/api/admin/integrations/health?include_history=true";
    assert_eq!(t.get_as(history, &read).await.status(), 200);

    let mut c = diesel::SqliteConnection::establish(&path.display().to_string()).unwrap();
    c.batch_execute("DROP TABLE service_health_rollups_hourly")
        .unwrap();
    let r = t.get_as(history, &read).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let text = r.text().await.unwrap();
    assert!(!text.contains("rollups"), "store detail leaked: {text}");
    // the report without history does not need the table
    assert_eq!(
        t.get_as("/api/admin/integrations/health", &read)
            .await
            .status(),
        200
    );
    t.stop().await;
}
