//! One conformance suite, run against both backends: PostgreSQL (a fresh database per test, from
//! `DATABASE_URL` or 127.0.0.1:5432) and SQLite (a temporary file).

use std::time::Duration;

use time::OffsetDateTime;
use wedsync_store::testing::fresh_postgres;
use wedsync_store::*;
use wedsync_webhooks::store::WebhookStore;

/// Everything both backends implement.
trait Store:
    ApiKeyStore + AuditLog + MetricsStore + WebhookStore + Retention + StoreHealthCheck
{
}
impl<T> Store for T where
    T: ApiKeyStore + AuditLog + MetricsStore + WebhookStore + Retention + StoreHealthCheck
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

/// A verified delivery received at `at`, recorded but not queued.
fn delivery(key: &str, at: OffsetDateTime) -> wedsync_webhooks::store::NewDelivery {
    let mut d = wedsync_webhooks::store::conformance::sample(key);
    d.received_at = at;
    d.next_attempt_at = None;
    d
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
    // (the last character changed: to `0`, or to `1` when it already is `0`)
    let plain = created.secret.expose();
    let last = if plain.ends_with('0') { '1' } else { '0' };
    let wrong = ApiKeySecret::new(format!("{}{last}", &plain[..67]));
    assert_ne!(wrong.expose(), plain);
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

    let hourly_rollups = || async {
        s.rollups(
            "stripe",
            RollupPeriod::Hourly,
            now - time::Duration::days(3),
            now + time::Duration::hours(1),
        )
        .await
        .unwrap()
    };
    let daily_rollups = || async {
        s.rollups(
            "stripe",
            RollupPeriod::Daily,
            now - time::Duration::days(3),
            now + time::Duration::days(1),
        )
        .await
        .unwrap()
    };
    // kept current by the insert itself (the trigger of migration 4) ...
    let maintained = hourly_rollups().await;
    assert_eq!(maintained.len(), 5);
    let maintained_daily = daily_rollups().await;
    assert_eq!(maintained_daily.iter().map(|r| r.checks).sum::<i64>(), 5);
    s.compute_rollups(now - time::Duration::days(3), now)
        .await
        .unwrap();
    s.compute_rollups(now - time::Duration::days(3), now)
        .await
        .unwrap(); // idempotent
    let hourly = hourly_rollups().await;
    // ... with the figures a recomputation from the raw rows gives
    assert_eq!(hourly, maintained);
    assert_eq!(daily_rollups().await, maintained_daily);
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
    let mut ids = Vec::new();
    for (i, age) in [1, 10, 100].into_iter().enumerate() {
        let d = delivery(&format!("evt_r{i}"), days(age));
        ids.push(d.id);
        s.insert_delivery(d).await.unwrap();
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
    assert!(s.get_delivery(ids[2]).await.unwrap().is_none());
    let kept = s.get_delivery(ids[1]).await.unwrap().unwrap();
    assert!(kept.raw_body.is_none(), "the raw body went after 7 days");
    let fresh = s.get_delivery(ids[0]).await.unwrap().unwrap();
    assert!(fresh.raw_body.is_some());
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

/// Retention deletes raw results of an hour in two runs (the cutoff falls inside the hour): the
/// hour's rollup still counts every result. (Recomputing the hour from the raw rows left after
/// the first run would count only those.)
async fn retention_keeps_an_hour_whole_across_runs(s: &impl Store) {
    let policy = RetentionPolicy::default();
    let hour = |t: OffsetDateTime| {
        t.replace_minute(0)
            .unwrap()
            .replace_second(0)
            .unwrap()
            .replace_nanosecond(0)
            .unwrap()
    };
    // `now` at hh:30, so the first cutoff is at hh:30 of the same hour 30 days before
    let now = hour(OffsetDateTime::now_utc()) + time::Duration::minutes(30);
    let cutoff = now - policy.probe_results;
    let svc = "retention-boundary";
    s.record_probe_results(&[
        probe(
            svc,
            HealthStatus::Healthy,
            cutoff - time::Duration::minutes(20),
            5,
        ),
        probe(
            svc,
            HealthStatus::Unhealthy,
            cutoff + time::Duration::minutes(20),
            7,
        ),
    ])
    .await
    .unwrap();
    let checks = || async {
        s.rollups(
            svc,
            RollupPeriod::Hourly,
            hour(cutoff),
            hour(cutoff) + time::Duration::hours(1),
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.checks, r.healthy, r.down))
        .collect::<Vec<_>>()
    };
    assert_eq!(checks().await, [(2, 1, 1)]);
    let first = s.run_retention(&policy, now).await.unwrap();
    assert_eq!(
        first.probe_results_deleted, 1,
        "the result before the cutoff"
    );
    assert_eq!(checks().await, [(2, 1, 1)]);
    let second = s
        .run_retention(&policy, now + time::Duration::minutes(25))
        .await
        .unwrap();
    assert_eq!(second.probe_results_deleted, 1, "the other one");
    assert_eq!(checks().await, [(2, 1, 1)], "the hour still counts both");
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
    overview_and_rollups,
    retention,
    retention_keeps_an_hour_whole_across_runs,
    health
);
