//! `wedsync_webhooks::store::WebhookStore` on both backends: the webhooks crate's conformance
//! suite on PostgreSQL (127.0.0.1:5432 or `DATABASE_URL`) and on a SQLite file, then the queue
//! under real concurrency: claimers on separate connections, two OS processes, two stores
//! racing to record one event, and NOTIFY wake-ups across stores.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;
use wedsync_store::testing::fresh_postgres;
use wedsync_store::{PgConfig, PgStore, SqliteStore};
use wedsync_webhooks::store::conformance::{self, sample};
use wedsync_webhooks::store::{
    AttemptRecord, AttemptTrigger, Claim, ClaimToken, DeliveryStatus, InsertOutcome, WebhookStore,
};

const LEASE: Duration = Duration::from_secs(60);

fn done(token: &ClaimToken, worker: &str) -> AttemptRecord {
    AttemptRecord {
        delivery_id: token.delivery_id,
        attempt: token.attempt,
        trigger: AttemptTrigger::Scheduled,
        worker: worker.to_owned(),
        started_at: OffsetDateTime::now_utc(),
        duration_ms: 3,
        response_status: Some(200),
        error_kind: None,
        response_excerpt: None,
    }
}

/// `n` verified deliveries, due now.
fn due(n: usize, prefix: &str) -> Vec<wedsync_webhooks::store::NewDelivery> {
    let now = OffsetDateTime::now_utc();
    (0..n)
        .map(|i| {
            let mut d = sample(&format!("{prefix}{i}"));
            d.received_at = now;
            d.next_attempt_at = Some(now - time::Duration::seconds(1));
            d
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_postgres() {
    let pg = fresh_postgres().await;
    let store = pg.store.clone();
    // every check gets an empty store: the same database, emptied
    conformance::run_all(|| {
        let store = store.clone();
        async move {
            let mut conn = store.conn().await.unwrap();
            diesel::sql_query(
                "TRUNCATE webhook_delivery_attempts, webhook_delivery_log, webhook_replay_jobs",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            store
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicUsize::new(0);
    conformance::run_all(|| {
        let path = dir
            .path()
            .join(format!("s{}.db", n.fetch_add(1, Ordering::Relaxed)));
        async move { SqliteStore::open(path).await.unwrap() }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_on_separate_connections() {
    let pg = fresh_postgres().await;
    for d in due(600, "cc") {
        pg.store.insert_delivery(d).await.unwrap();
    }
    let mut handles = Vec::new();
    for w in 0..6 {
        // each claimer has its own store, pool and connection
        let store = PgStore::new(PgConfig::new(pg.url()).pool_size(1)).unwrap();
        handles.push(tokio::spawn(async move {
            let worker = format!("worker-{w}");
            let mut got = Vec::new();
            loop {
                let now = OffsetDateTime::now_utc();
                let batch = store
                    .claim(Claim::new(&worker, now, LEASE, 10))
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break;
                }
                for c in batch {
                    assert_eq!(c.token.attempt, 1, "an attempt was claimed twice");
                    store
                        .complete(&c.token, done(&c.token, &worker))
                        .await
                        .unwrap();
                    got.push(c.delivery.id);
                }
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
            assert!(seen.insert(id), "delivery {id} was claimed twice");
        }
    }
    assert_eq!(seen.len(), 600);
    assert!(
        per_worker.iter().filter(|n| **n > 0).count() >= 2,
        "{per_worker:?}"
    );
    let delivered = pg
        .store
        .list_deliveries(&wedsync_webhooks::store::DeliveryQuery {
            statuses: vec![DeliveryStatus::Delivered],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(delivered.len(), 600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_racing_on_one_event_record_one_owner() {
    let pg = fresh_postgres().await;
    let stores: Vec<PgStore> = (0..2)
        .map(|_| PgStore::new(PgConfig::new(pg.url()).pool_size(4)).unwrap())
        .collect();
    let mut handles = Vec::new();
    for round in 0..20 {
        for s in &stores {
            for _ in 0..4 {
                let s = s.clone();
                handles.push(tokio::spawn(async move {
                    s.insert_delivery(sample(&format!("evt_race_{round}")))
                        .await
                        .unwrap()
                }));
            }
        }
    }
    let mut owners: HashMap<String, Uuid> = HashMap::new();
    let mut outcomes = Vec::new();
    for h in handles {
        outcomes.push(h.await.unwrap());
    }
    for out in &outcomes {
        if let InsertOutcome::Inserted { id, .. } = out {
            let d = pg.store.get_delivery(*id).await.unwrap().unwrap();
            assert!(
                owners.insert(d.dedupe_key.clone(), *id).is_none(),
                "two owners for {}",
                d.dedupe_key
            );
        }
    }
    assert_eq!(owners.len(), 20, "every event has exactly one owner");
    for out in &outcomes {
        if let InsertOutcome::Duplicate { id, original } = out {
            let d = pg.store.get_delivery(*id).await.unwrap().unwrap();
            assert_eq!(owners.get(&d.dedupe_key), Some(original));
            assert_eq!(d.status, DeliveryStatus::Duplicate);
        }
    }
    // only the owners are queued
    let claimed = pg
        .store
        .claim(Claim::new("w", conformance::t0(), LEASE, 1000))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 20);
}

const CHILD_URL: &str = "WEDSYNC_STORE_TEST_CHILD_URL";

/// The worker half of `two_processes_share_the_queue` (runs only in the child processes).
#[tokio::test]
#[ignore = "entry point of the two-process queue test; run by it"]
async fn queue_worker_process() {
    let url = std::env::var(CHILD_URL).expect("run by two_processes_share_the_queue");
    let store = PgStore::new(PgConfig::new(url).pool_size(2)).unwrap();
    let worker = format!("pid-{}", std::process::id());
    let mut idle = 0;
    while idle < 3 {
        let batch = store
            .claim(Claim::new(&worker, OffsetDateTime::now_utc(), LEASE, 5))
            .await
            .unwrap();
        if batch.is_empty() {
            idle += 1;
            store.wait_for_deliveries(Duration::from_millis(100)).await;
            continue;
        }
        idle = 0;
        for c in batch {
            store
                .complete(&c.token, done(&c.token, &worker))
                .await
                .unwrap();
            println!("CLAIMED {} {}", c.delivery.id, c.token.attempt);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_the_queue() {
    let pg = fresh_postgres().await;
    for d in due(300, "procs") {
        pg.store.insert_delivery(d).await.unwrap();
    }
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
    assert_eq!(counts.len(), 300, "every delivery was processed");
    assert!(
        counts.values().all(|c| *c == 1),
        "a delivery was processed twice"
    );
    assert!(counts.keys().all(|k| k.ends_with(" 1")), "one attempt each");
    eprintln!("deliveries per process: {per_process:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_wakes_a_worker_of_another_store() {
    let pg = fresh_postgres().await;
    let other = PgStore::new(PgConfig::new(pg.url()).pool_size(1)).unwrap();
    // start the other store's LISTEN connection
    let _ = other.wait_for_deliveries(Duration::from_millis(300)).await;
    let waiter =
        tokio::spawn(async move { other.wait_for_deliveries(Duration::from_secs(20)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    pg.store
        .insert_delivery(due(1, "wake").remove(0))
        .await
        .unwrap();
    let woke = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the other store's worker was not woken")
        .unwrap();
    assert!(woke, "woken by NOTIFY, not by the 20 s timeout");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wakes_a_waiting_worker() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(SqliteStore::open(dir.path().join("w.db")).await.unwrap());
    let waiter = {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.wait_for_deliveries(Duration::from_secs(20)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.insert_delivery(due(1, "wake").remove(0)).await.unwrap();
    let woke = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the waiter was not woken")
        .unwrap();
    assert!(woke);
    // and the polling backstop returns without work
    assert!(!s.wait_for_deliveries(Duration::from_millis(20)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_claimers_never_share_a_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path().join("c.db")).await.unwrap();
    for d in due(200, "sc") {
        s.insert_delivery(d).await.unwrap();
    }
    let mut handles = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            let worker = format!("w{w}");
            let mut got = Vec::new();
            loop {
                let batch = s
                    .claim(Claim::new(&worker, OffsetDateTime::now_utc(), LEASE, 7))
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break;
                }
                for c in batch {
                    s.complete(&c.token, done(&c.token, &worker)).await.unwrap();
                    got.push(c.delivery.id);
                }
            }
            got
        }));
    }
    let mut all = HashSet::new();
    for h in handles {
        for id in h.await.unwrap() {
            assert!(all.insert(id), "claimed twice");
        }
    }
    assert_eq!(all.len(), 200);
}
