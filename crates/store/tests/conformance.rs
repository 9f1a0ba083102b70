//! One conformance suite, run against both backends: PostgreSQL (a fresh database per test, from
//! `DATABASE_URL` or 127.0.0.1:5432) and SQLite (a temporary file).

use std::collections::HashSet;
use std::time::Duration;

use time::OffsetDateTime;
use wedsync_store::testing::fresh_postgres;
use wedsync_store::*;

/// Everything both backends implement.
trait Store:
    ApiKeyStore + AuditLog + JobQueue + MetricsStore + DeliveryLog + Retention + StoreHealthCheck
{
}
impl<T> Store for T where
    T: ApiKeyStore
        + AuditLog
        + JobQueue
        + MetricsStore
        + DeliveryLog
        + Retention
        + StoreHealthCheck
{
}

fn t(secs: i64) -> OffsetDateTime {
    // a fixed, whole-hour base keeps bucket arithmetic readable
    OffsetDateTime::from_unix_timestamp(1_790_000_000 - 1_790_000_000 % 86_400 + secs).unwrap()
}

fn probe(service: &str, status: HealthStatus, at: OffsetDateTime, latency: i32) -> ProbeRecord {
    ProbeRecord {
        service: service.into(),
        status,
        latency_ms: Some(latency),
        http_status: Some(200),
        detail: None,
        checked_at: at,
    }
}

fn delivery(id: &str, event: &str, at: OffsetDateTime) -> NewDelivery {
    NewDelivery {
        id: id.into(),
        provider: "stripe".into(),
        event_id: event.into(),
        event_type: "payment_intent.succeeded".into(),
        signature_valid: true,
        raw_body: Some(b"{\"id\":\"evt\"}".to_vec()),
        sanitized_body: Some("{\"id\":\"evt\"}".into()),
        received_at: at,
    }
}

async fn api_keys(s: &impl Store) {
    let created = s
        .create_api_key(NewApiKey {
            name: "grafana".into(),
            scopes: vec!["monitoring:read".into(), "monitoring:admin".into()],
            expires_at: None,
        })
        .await
        .unwrap();
    assert!(created.secret.expose().starts_with("wsk_"));
    assert!(!format!("{created:?}").contains(created.secret.expose()));
    let v = s.verify_api_key(&created.secret).await.unwrap().unwrap();
    assert_eq!(v.id, created.info.id);
    assert!(v.has_scope("monitoring:admin"));
    // a wrong key does not verify
    let wrong = ApiKeySecret::new(format!("{}0", &created.secret.expose()[..67]));
    assert!(s.verify_api_key(&wrong).await.unwrap().is_none());
    // expired keys do not verify
    let expired = s
        .create_api_key(NewApiKey {
            name: "old".into(),
            scopes: vec!["monitoring:read".into()],
            expires_at: Some(OffsetDateTime::now_utc() - time::Duration::hours(1)),
        })
        .await
        .unwrap();
    assert!(s.verify_api_key(&expired.secret).await.unwrap().is_none());
    let list = s.list_api_keys().await.unwrap();
    assert_eq!(list.len(), 2);
    let info = list.iter().find(|k| k.id == created.info.id).unwrap();
    assert_eq!(info.prefix, &created.secret.expose()[..12]);
    assert!(info.last_used_at.is_some(), "verify records last use");
    assert!(s.revoke_api_key(&created.info.id).await.unwrap());
    assert!(!s.revoke_api_key(&created.info.id).await.unwrap());
    assert!(s.verify_api_key(&created.secret).await.unwrap().is_none());
}

async fn audit(s: &impl Store) {
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            s.append_audit(NewAuditEntry {
                actor: "key-1".into(),
                action: "breaker.force_open".into(),
                target: Some(format!("stripe-{i}")),
                detail: Some(serde_json::json!({ "i": i })),
                request_id: Some("req-1".into()),
            })
            .await
            .unwrap(),
        );
    }
    let page = s.list_audit(3, None).await.unwrap();
    assert_eq!(page.len(), 3);
    assert_eq!(page[0].id, ids[4]);
    assert_eq!(page[0].entry.detail, Some(serde_json::json!({ "i": 4 })));
    let rest = s.list_audit(10, Some(page[2].id)).await.unwrap();
    assert_eq!(
        rest.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![ids[1], ids[0]]
    );
}

async fn queue(s: &impl Store) {
    let now = OffsetDateTime::now_utc();
    let job = |d: &str, p: i16, run_at| NewJob {
        queue: "webhooks".into(),
        delivery_id: d.into(),
        priority: p,
        run_at,
    };
    let ids = s
        .enqueue(&[
            job("low-old", 0, now - time::Duration::minutes(5)),
            job("high-new", 5, now - time::Duration::seconds(1)),
            job("high-old", 5, now - time::Duration::minutes(1)),
            job("future", 9, now + time::Duration::hours(1)),
        ])
        .await
        .unwrap();
    assert_eq!(ids.len(), 4);
    assert_eq!(s.queue_len("webhooks").await.unwrap(), 4);
    // priority first, then due time; future jobs wait
    let claimed = s
        .claim("webhooks", "w1", 10, Duration::from_secs(30))
        .await
        .unwrap();
    let order: Vec<_> = claimed.iter().map(|j| j.delivery_id.as_str()).collect();
    assert_eq!(order, ["high-old", "high-new", "low-old"]);
    assert!(claimed.iter().all(|j| j.attempts == 1));
    // leased jobs are not claimed again
    assert!(s
        .claim("webhooks", "w2", 10, Duration::from_secs(30))
        .await
        .unwrap()
        .is_empty());
    // only the lease holder completes
    assert_eq!(s.complete("w2", &[claimed[0].id]).await.unwrap(), 0);
    assert_eq!(s.complete("w1", &[claimed[0].id]).await.unwrap(), 1);
    // retry puts a job back
    assert!(s
        .retry("w1", claimed[1].id, now - time::Duration::seconds(1))
        .await
        .unwrap());
    let again = s
        .claim("webhooks", "w2", 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery_id, "high-new");
    assert_eq!(again[0].attempts, 2);
    // an expired lease is reclaimed and claimable again
    let short = s
        .enqueue(&[job("short", 1, now - time::Duration::seconds(1))])
        .await
        .unwrap();
    let got = s
        .claim("webhooks", "w3", 1, Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(got[0].id, short[0]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(s.reclaim_expired().await.unwrap() >= 1);
    let re = s
        .claim("webhooks", "w4", 1, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(re[0].id, short[0]);
    // the old holder can no longer complete it
    assert_eq!(s.complete("w3", &[short[0]]).await.unwrap(), 0);
    assert_eq!(s.complete("w4", &[short[0]]).await.unwrap(), 1);
    // wait_for_jobs times out without work (polling backstop) ...
    let started = std::time::Instant::now();
    let _ = s.wait_for_jobs(Duration::from_millis(50)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
}

async fn wake_up<S: Store + Clone + 'static>(s: &S) {
    // prime the listener, then check an enqueue wakes a waiter well before the timeout
    let _ = s.wait_for_jobs(Duration::from_millis(300)).await.unwrap();
    let waiter = {
        let s = s.clone();
        tokio::spawn(async move { s.wait_for_jobs(Duration::from_secs(20)).await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.enqueue(&[NewJob {
        queue: "wake".into(),
        delivery_id: "d".into(),
        priority: 0,
        run_at: OffsetDateTime::now_utc(),
    }])
    .await
    .unwrap();
    let woke = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the waiter was not woken")
        .unwrap();
    assert!(woke);
}

async fn deliveries(s: &impl Store) {
    let at = OffsetDateTime::now_utc();
    let out = s
        .record_delivery(delivery("d1", "evt_1", at), Some(("webhooks", 3)))
        .await
        .unwrap();
    assert_eq!(out, RecordOutcome::Recorded);
    // the provider retried: nothing new is written or enqueued
    let dup = s
        .record_delivery(delivery("d2", "evt_1", at), Some(("webhooks", 3)))
        .await
        .unwrap();
    assert_eq!(dup, RecordOutcome::Duplicate);
    assert_eq!(s.queue_len("webhooks").await.unwrap(), 1);
    assert_eq!(
        s.delivery_status("d1").await.unwrap().as_deref(),
        Some("pending")
    );
    assert_eq!(s.delivery_status("d2").await.unwrap(), None);
    let jobs = s
        .claim("webhooks", "w", 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].delivery_id, "d1");
    assert_eq!(jobs[0].priority, 3);
    assert!(s
        .set_delivery_status("d1", "delivered", None)
        .await
        .unwrap());
    assert_eq!(
        s.delivery_status("d1").await.unwrap().as_deref(),
        Some("delivered")
    );
    // concurrent writers: every one recorded exactly once
    let mut set = Vec::new();
    for i in 0..64 {
        set.push(s.record_delivery(delivery(&format!("c{i}"), &format!("evt_c{i}"), at), None));
    }
    let results = futures_join_all(set).await;
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(RecordOutcome::Recorded))));
}

async fn futures_join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    // a tiny join_all: poll them all concurrently on this task
    let mut pinned: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.unwrap()).collect()
}

async fn overview_and_rollups(s: &impl Store) {
    let now = t(48 * 3600);
    let mut records = Vec::new();
    // stripe: 4 results in the last 24 h, one down; plus an old one outside the window
    records.push(probe(
        "stripe",
        HealthStatus::Unhealthy,
        now - time::Duration::hours(30),
        10,
    ));
    for (i, st) in [
        HealthStatus::Healthy,
        HealthStatus::Unhealthy,
        HealthStatus::Degraded,
        HealthStatus::Healthy,
    ]
    .into_iter()
    .enumerate()
    {
        records.push(probe(
            "stripe",
            st,
            now - time::Duration::hours(4 - i as i64),
            100 + i as i32,
        ));
    }
    records.push(probe(
        "twilio",
        HealthStatus::Unhealthy,
        now - time::Duration::minutes(5),
        900,
    ));
    records.push(probe(
        "resend",
        HealthStatus::Healthy,
        now - time::Duration::hours(26),
        50,
    ));
    s.record_probe_results(&records).await.unwrap();

    let overview = s.services_overview(now).await.unwrap();
    let names: Vec<_> = overview.iter().map(|o| o.service.as_str()).collect();
    assert_eq!(names, ["resend", "stripe", "twilio"]);
    let stripe = &overview[1];
    assert_eq!(stripe.latest.status, HealthStatus::Healthy);
    assert_eq!(stripe.latest.latency_ms, Some(103));
    assert_eq!(stripe.checks_24h, 4);
    assert_eq!(stripe.up_24h, 3);
    assert_eq!(stripe.uptime_24h(), Some(0.75));
    assert_eq!(
        overview[0].checks_24h, 0,
        "resend's only result is older than 24 h"
    );
    assert_eq!(overview[0].uptime_24h(), None);
    assert_eq!(overview[2].latest.status, HealthStatus::Unhealthy);

    let history = s
        .probe_history("stripe", now - time::Duration::days(3), now, 2)
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    assert!(history[0].checked_at > history[1].checked_at);

    s.compute_rollups(now - time::Duration::days(3), now)
        .await
        .unwrap();
    s.compute_rollups(now - time::Duration::days(3), now)
        .await
        .unwrap(); // idempotent
    let hourly = s
        .rollups(
            "stripe",
            RollupPeriod::Hourly,
            now - time::Duration::days(3),
            now,
        )
        .await
        .unwrap();
    assert_eq!(hourly.len(), 5);
    assert_eq!(hourly.iter().map(|r| r.checks).sum::<i64>(), 5);
    let daily = s
        .rollups(
            "stripe",
            RollupPeriod::Daily,
            now - time::Duration::days(3),
            now,
        )
        .await
        .unwrap();
    assert_eq!(daily.iter().map(|r| r.checks).sum::<i64>(), 5);
    assert_eq!(daily.iter().map(|r| r.down).sum::<i64>(), 2);
    assert_eq!(
        daily.iter().map(|r| r.latency_max_ms.unwrap_or(0)).max(),
        Some(103)
    );
}

async fn retention(s: &impl Store) {
    let now = OffsetDateTime::now_utc();
    let days = |d: i64| now - time::Duration::days(d);
    // raw bodies: 7 days; sanitised logs: 90 days
    for (i, age) in [1, 10, 100].into_iter().enumerate() {
        s.record_delivery(
            delivery(&format!("r{i}"), &format!("evt_r{i}"), days(age)),
            None,
        )
        .await
        .unwrap();
    }
    // probe results: 30 days (2500 rows older, to exercise several batches)
    let mut old: Vec<_> = (0..2500)
        .map(|i| {
            probe(
                "stripe",
                HealthStatus::Healthy,
                days(31) - time::Duration::seconds(i),
                1,
            )
        })
        .collect();
    old.push(probe("stripe", HealthStatus::Healthy, days(1), 1));
    s.record_probe_results(&old).await.unwrap();
    let policy = RetentionPolicy {
        batch_size: 1000,
        ..RetentionPolicy::default()
    };
    let report = s.run_retention(&policy, now).await.unwrap();
    assert_eq!(report.raw_bodies_cleared, 2);
    assert_eq!(report.deliveries_deleted, 1);
    assert_eq!(report.probe_results_deleted, 2500);
    assert!(!report.incomplete);
    assert_eq!(s.delivery_status("r2").await.unwrap(), None);
    assert!(s.delivery_status("r1").await.unwrap().is_some());
    let left = s
        .probe_history("stripe", days(400), now, 10_000)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    // the deleted results survive in the rollups
    let daily = s
        .rollups("stripe", RollupPeriod::Daily, days(40), now)
        .await
        .unwrap();
    assert!(daily.iter().map(|r| r.checks).sum::<i64>() >= 2500);
    // a second run finds nothing; a bounded run reports it is incomplete
    let again = s.run_retention(&policy, now).await.unwrap();
    assert_eq!(again, RetentionReport::default());
}

async fn health(s: &impl Store) {
    let h = s.health(Duration::from_secs(5)).await;
    assert!(h.ok, "{h:?}");
    assert!(h.error.is_none());
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let pg = fresh_postgres().await;
                    super::$name(&pg.store).await;
                }
            )*
        }
        mod sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let s = SqliteStore::open(dir.path().join("t.db")).await.unwrap();
                    super::$name(&s).await;
                }
            )*
        }
    };
}

both!(
    api_keys,
    audit,
    queue,
    deliveries,
    overview_and_rollups,
    retention,
    health
);

#[tokio::test]
async fn postgres_wake_up() {
    let pg = fresh_postgres().await;
    wake_up(&pg.store).await;
}

#[tokio::test]
async fn sqlite_wake_up() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path().join("t.db")).await.unwrap();
    wake_up(&s).await;
}

#[tokio::test]
async fn unique_claims_on_sqlite_under_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path().join("t.db")).await.unwrap();
    let jobs: Vec<_> = (0..200)
        .map(|i| NewJob {
            queue: "q".into(),
            delivery_id: format!("d{i}"),
            priority: 0,
            run_at: OffsetDateTime::now_utc(),
        })
        .collect();
    s.enqueue(&jobs).await.unwrap();
    let mut handles = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            let owner = format!("w{w}");
            let mut got = Vec::new();
            loop {
                let batch = s
                    .claim("q", &owner, 7, Duration::from_secs(60))
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break;
                }
                let ids: Vec<_> = batch.iter().map(|j| j.id).collect();
                assert_eq!(s.complete(&owner, &ids).await.unwrap(), ids.len() as u64);
                got.extend(batch.into_iter().map(|j| j.delivery_id));
            }
            got
        }));
    }
    let mut all = HashSet::new();
    let mut total = 0;
    for h in handles {
        for d in h.await.unwrap() {
            total += 1;
            all.insert(d);
        }
    }
    assert_eq!(total, 200);
    assert_eq!(all.len(), 200);
}
