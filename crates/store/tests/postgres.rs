//! PostgreSQL-specific tests: migrations up/down/up (and SQLite's), session settings, Row Level
//! Security, unreachable database. (The queue's concurrency tests are in `tests/webhooks.rs`.)

use std::str::FromStr;
use std::time::Duration;

use wedsync_store::testing::fresh_postgres;
use wedsync_store::*;
use wedsync_webhooks::store::WebhookStore;

async fn raw_client(url: &str) -> tokio_postgres::Client {
    let config = tokio_postgres::Config::from_str(url).unwrap();
    let (client, conn) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

async fn tables(client: &tokio_postgres::Client) -> Vec<String> {
    client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'
             AND tablename <> '__diesel_schema_migrations' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn postgres_migrations_up_down_up() {
    let pg = fresh_postgres().await;
    let client = raw_client(pg.url()).await;
    let before = tables(&client).await;
    for t in [
        "service_health_metrics",
        "service_alerts",
        "webhook_delivery_log",
        "circuit_breaker_status",
        "monitoring_configuration",
        "api_keys",
        "audit_log",
        "notification_outbox",
        "webhook_delivery_attempts",
        "webhook_replay_jobs",
        "service_health_rollups_hourly",
        "service_health_rollups_daily",
    ] {
        assert!(before.iter().any(|b| b == t), "missing table {t}");
    }
    // every timestamp column is timestamptz
    let naive: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public'
             AND data_type = 'timestamp without time zone'
             AND table_name <> '__diesel_schema_migrations'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(naive, 0);
    let reverted = pg.store.revert_all_migrations().await.unwrap();
    assert_eq!(reverted.len(), 4);
    assert!(tables(&client).await.is_empty());
    let functions: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_proc WHERE proname LIKE 'wedsync_%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(functions, 0, "down migrations leave no functions behind");
    let applied = pg.store.run_migrations().await.unwrap();
    assert_eq!(applied.len(), 4);
    assert_eq!(tables(&client).await, before);
}

#[tokio::test]
async fn sqlite_migrations_up_down_up() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path().join("m.db")).await.unwrap();
    assert_eq!(s.revert_all_migrations().await.unwrap().len(), 3);
    assert_eq!(s.run_migrations().await.unwrap().len(), 3);
    // and it works afterwards
    s.append_audit(NewAuditEntry {
        actor: "a".into(),
        action: "b".into(),
        target: None,
        detail: None,
        request_id: None,
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn session_settings_on_every_connection() {
    let pg = fresh_postgres().await;
    let config = PgConfig::new(pg.url()).application_name("store-settings-test");
    let store = PgStore::new(config).unwrap();
    use diesel::QueryableByName;
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        app: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        timeout: String,
    }
    let mut conn = store.conn().await.unwrap();
    let row: Row = diesel::sql_query(
        "SELECT current_setting('application_name') AS app,
                current_setting('statement_timeout') AS timeout",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(row.app, "store-settings-test");
    assert_eq!(row.timeout, "30s");
}

#[tokio::test]
async fn terminated_connections_are_replaced() {
    // a connection used a moment ago is handed out without a test query: one the server closed
    // since must still be noticed and replaced, not handed to the next caller
    let pg = fresh_postgres().await;
    let store =
        PgStore::new(PgConfig::new(pg.url()).application_name("store-terminate-test")).unwrap();
    let entry = || NewAuditEntry {
        actor: "a".into(),
        action: "b".into(),
        target: None,
        detail: None,
        request_id: None,
    };
    store.append_audit(entry()).await.unwrap();
    let (open, _, _) = store.pool_status();
    assert!(open >= 1);
    let admin = raw_client(pg.url()).await;
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'store-terminate-test'",
            &[],
        )
        .await
        .unwrap();
    assert!(!killed.is_empty());
    tokio::time::sleep(Duration::from_millis(200)).await;
    store.append_audit(entry()).await.unwrap();
    store
        .insert_delivery(wedsync_webhooks::store::conformance::sample(
            "evt_after_kill",
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn unreachable_database_is_a_clear_error() {
    let mut config = PgConfig::new("postgres://postgres:hunter2@127.0.0.1:1/nothing");
    config.connect_timeout = Duration::from_secs(1);
    config.wait_timeout = Duration::from_secs(1);
    let store = PgStore::new(config).unwrap();
    let err = store.append_audit(NewAuditEntry {
        actor: "a".into(),
        action: "b".into(),
        target: None,
        detail: None,
        request_id: None,
    });
    let err = err.await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let h = store.health(Duration::from_secs(3)).await;
    assert!(!h.ok);
    assert!(h.error.is_some());
    // the hot path reports the failure too: nothing is dropped silently
    let rec = store
        .insert_delivery(wedsync_webhooks::store::conformance::sample("evt_x"))
        .await;
    let err = rec.unwrap_err();
    assert!(err.to_string().contains("database unavailable"), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    // a bad config is refused up front
    assert!(PgStore::new(PgConfig::new("postgres://x").pool_size(0)).is_err());
}

#[tokio::test]
async fn row_level_security_needs_the_permission() {
    let pg = fresh_postgres().await;
    let client = raw_client(pg.url()).await;
    client
        .batch_execute(
            "INSERT INTO service_health_metrics
                 (service, status, latency_ms, http_status, checked_at)
             VALUES ('stripe', 'healthy', 5, 200, now())",
        )
        .await
        .unwrap();
    let role = format!("{}_role", pg.db.name());
    client
        .batch_execute(&format!(
            "CREATE ROLE \"{role}\" NOLOGIN;
             GRANT SELECT, INSERT ON service_health_metrics, api_keys TO \"{role}\";"
        ))
        .await
        .unwrap();
    let result = async {
        let count = |claims: &'static str| {
            let client = &client;
            let role = role.clone();
            async move {
                client
                    .batch_execute(&format!(
                        "SET ROLE \"{role}\"; SELECT set_config('request.jwt.claims', '{claims}', false);"
                    ))
                    .await
                    .unwrap();
                let n: i64 = client
                    .query_one("SELECT count(*) FROM service_health_metrics", &[])
                    .await
                    .unwrap()
                    .get(0);
                n
            }
        };
        // no claims at all, and claims without the permission: nothing visible
        assert_eq!(count("").await, 0);
        assert_eq!(count(r#"{"permissions": ["other:read"]}"#).await, 0);
        // monitoring:read sees the rows (top level or in app_metadata)
        assert_eq!(count(r#"{"permissions": ["monitoring:read"]}"#).await, 1);
        assert_eq!(
            count(r#"{"app_metadata": {"permissions": ["monitoring:read"]}}"#).await,
            1
        );
        // ... but may not write
        let insert = "INSERT INTO service_health_metrics (service, status, checked_at)
                      VALUES ('x', 'healthy', now())";
        assert!(client.batch_execute(insert).await.is_err());
        // key hashes are for administrators only
        let keys: i64 = client
            .query_one("SELECT count(*) FROM api_keys", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(keys, 0);
        // monitoring:admin writes
        assert_eq!(count(r#"{"permissions": ["monitoring:admin"]}"#).await, 1);
        client.batch_execute(insert).await.unwrap();
        assert_eq!(count(r#"{"permissions": ["monitoring:admin"]}"#).await, 2);
    };
    result.await;
    client
        .batch_execute(&format!(
            "RESET ROLE; DROP OWNED BY \"{role}\"; DROP ROLE \"{role}\";"
        ))
        .await
        .unwrap();
}

/// Migration 4 on a database that already holds results: the periods without a rollup get one
/// (a period the retention job rolled up before keeps its row), and later inserts add to them.
#[tokio::test]
async fn migration_4_backfills_the_rollups_of_earlier_results() {
    let pg = fresh_postgres().await;
    let client = raw_client(pg.url()).await;
    // back to migration 3, with results recorded then
    client
        .batch_execute(include_str!(
            "../../../migrations/postgres/2026-11-29-000004_rollups_on_insert/down.sql"
        ))
        .await
        .unwrap();
    client
        .batch_execute(
            "DELETE FROM __diesel_schema_migrations WHERE version = '20261129000004';
             INSERT INTO service_health_metrics (service, status, latency_ms, checked_at) VALUES
                 ('a', 'healthy', 10, '2026-01-01 10:05+00'),
                 ('a', 'unhealthy', 30, '2026-01-01 10:55+00'),
                 ('a', 'healthy', 20, '2026-01-01 11:05+00'),
                 ('b', 'healthy', 5, '2026-01-01 10:10+00');
             -- b's hour was rolled up by retention before (and some of its results deleted)
             INSERT INTO service_health_rollups_hourly
                 (service, bucket, checks, healthy, degraded, down, latency_sum_ms, latency_max_ms)
                 VALUES ('b', '2026-01-01 10:00+00', 9, 9, 0, 0, 45, 5);",
        )
        .await
        .unwrap();
    let rows = |service: &'static str| {
        let client = &client;
        async move {
            client
                .query(
                    "SELECT checks, healthy, down, latency_sum_ms, latency_max_ms
                     FROM service_health_rollups_hourly WHERE service = $1 ORDER BY bucket",
                    &[&service],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r.get::<_, i64>(0),
                        r.get::<_, i64>(1),
                        r.get::<_, i64>(2),
                        r.get::<_, i64>(3),
                        r.get::<_, Option<i32>>(4),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert!(rows("a").await.is_empty());
    assert_eq!(pg.store.run_migrations().await.unwrap().len(), 1);
    assert_eq!(
        rows("a").await,
        [(2, 1, 1, 40, Some(30)), (1, 1, 0, 20, Some(20))]
    );
    assert_eq!(rows("b").await, [(9, 9, 0, 45, Some(5))], "kept as it was");
    // and the trigger adds from now on
    client
        .batch_execute(
            "INSERT INTO service_health_metrics (service, status, latency_ms, checked_at)
             VALUES ('a', 'degraded', 50, '2026-01-01 11:30+00')",
        )
        .await
        .unwrap();
    assert_eq!(
        rows("a").await,
        [(2, 1, 1, 40, Some(30)), (2, 1, 0, 70, Some(50))]
    );
}
