//! PostgreSQL-specific tests: migrations up/down/up (and SQLite's), concurrent claimers on
//! separate connections, two claiming OS processes, Row Level Security, unreachable database.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use time::OffsetDateTime;
use wedsync_store::testing::fresh_postgres;
use wedsync_store::*;

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
        "delivery_queue",
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
    assert_eq!(reverted.len(), 2);
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
    assert_eq!(applied.len(), 2);
    assert_eq!(tables(&client).await, before);
}

#[tokio::test]
async fn sqlite_migrations_up_down_up() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path().join("m.db")).await.unwrap();
    assert_eq!(s.revert_all_migrations().await.unwrap().len(), 1);
    assert_eq!(s.run_migrations().await.unwrap().len(), 1);
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
        .record_delivery(
            NewDelivery {
                id: "x".into(),
                provider: "stripe".into(),
                event_id: "evt".into(),
                event_type: "t".into(),
                signature_valid: true,
                raw_body: None,
                sanitized_body: None,
                received_at: OffsetDateTime::now_utc(),
            },
            Some(("webhooks", 0)),
        )
        .await;
    assert!(rec.unwrap_err().is_unavailable());
    // a bad config is refused up front
    assert!(PgStore::new(PgConfig::new("postgres://x").pool_size(0)).is_err());
}

fn jobs(n: usize, queue: &str) -> Vec<NewJob> {
    (0..n)
        .map(|i| NewJob {
            queue: queue.into(),
            delivery_id: format!("d{i}"),
            priority: (i % 3) as i16,
            run_at: OffsetDateTime::now_utc() - time::Duration::seconds(1),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_on_separate_connections() {
    let pg = fresh_postgres().await;
    pg.store.enqueue(&jobs(1000, "q")).await.unwrap();
    let mut handles = Vec::new();
    for w in 0..6 {
        // each claimer has its own store, pool and connections
        let store = PgStore::new(PgConfig::new(pg.url()).pool_size(1)).unwrap();
        handles.push(tokio::spawn(async move {
            let owner = format!("worker-{w}");
            let mut got = Vec::new();
            loop {
                let batch = store
                    .claim("q", &owner, 10, Duration::from_secs(60))
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break;
                }
                let ids: Vec<i64> = batch.iter().map(|j| j.id).collect();
                assert_eq!(
                    store.complete(&owner, &ids).await.unwrap(),
                    ids.len() as u64
                );
                got.extend(ids);
            }
            got
        }));
    }
    let mut seen = HashSet::new();
    let mut per_worker = Vec::new();
    for h in handles {
        let got = h.await.unwrap();
        per_worker.push(got.len());
        for id in got {
            assert!(seen.insert(id), "job {id} was claimed twice");
        }
    }
    assert_eq!(seen.len(), 1000);
    assert!(
        per_worker.iter().filter(|n| **n > 0).count() >= 2,
        "{per_worker:?}"
    );
    assert_eq!(pg.store.queue_len("q").await.unwrap(), 0);
}

const CHILD_URL: &str = "WEDSYNC_STORE_TEST_CHILD_URL";

/// The worker half of `two_processes_share_the_queue` (runs only in the child processes).
#[tokio::test]
#[ignore = "entry point of the two-process queue test; run by it"]
async fn queue_worker_process() {
    let url = std::env::var(CHILD_URL).expect("run by two_processes_share_the_queue");
    let store = PgStore::new(PgConfig::new(url).pool_size(2)).unwrap();
    let owner = format!("pid-{}", std::process::id());
    let mut idle = 0;
    while idle < 3 {
        let batch = store
            .claim("procs", &owner, 5, Duration::from_secs(60))
            .await
            .unwrap();
        if batch.is_empty() {
            idle += 1;
            store
                .wait_for_jobs(Duration::from_millis(100))
                .await
                .unwrap();
            continue;
        }
        idle = 0;
        let ids: Vec<i64> = batch.iter().map(|j| j.id).collect();
        store.complete(&owner, &ids).await.unwrap();
        for j in batch {
            println!("CLAIMED {}", j.delivery_id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_the_queue() {
    let pg = fresh_postgres().await;
    pg.store.enqueue(&jobs(600, "procs")).await.unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "--ignored",
                    "--exact",
                    "queue_worker_process",
                    "--nocapture",
                ])
                .env(CHILD_URL, pg.url())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut per_process = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a worker process failed");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut n = 0;
        for line in text.lines().filter_map(|l| l.strip_prefix("CLAIMED ")) {
            *counts.entry(line.to_owned()).or_default() += 1;
            n += 1;
        }
        per_process.push(n);
    }
    assert_eq!(counts.len(), 600, "every job was processed");
    assert!(
        counts.values().all(|c| *c == 1),
        "a job was processed twice"
    );
    assert_eq!(pg.store.queue_len("procs").await.unwrap(), 0);
    eprintln!("jobs per process: {per_process:?}");
}

#[tokio::test]
async fn row_level_security_needs_the_permission() {
    let pg = fresh_postgres().await;
    pg.store
        .record_probe_results(&[ProbeRecord {
            service: "stripe".into(),
            status: HealthStatus::Healthy,
            latency_ms: Some(5),
            http_status: Some(200),
            detail: None,
            checked_at: OffsetDateTime::now_utc(),
        }])
        .await
        .unwrap();
    let client = raw_client(pg.url()).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_wakes_a_worker_of_another_store() {
    let pg = fresh_postgres().await;
    let other = PgStore::new(PgConfig::new(pg.url()).pool_size(1)).unwrap();
    // start the other store's LISTEN connection
    let _ = other
        .wait_for_jobs(Duration::from_millis(300))
        .await
        .unwrap();
    let waiter = tokio::spawn(async move { other.wait_for_jobs(Duration::from_secs(20)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    pg.store.enqueue(&jobs(1, "wake")).await.unwrap();
    let woke = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the other store's worker was not woken")
        .unwrap()
        .unwrap();
    assert!(woke, "woken by NOTIFY, not by the 20 s timeout");
    assert!(started.elapsed() < Duration::from_secs(10));
}
