//! The admin domain's conformance suite (API keys, the audit log, retention, health), run
//! against both backends: PostgreSQL (a fresh database per test, from `DATABASE_URL` or
//! 127.0.0.1:5432) and SQLite (a temporary file). Every behaviour the two backends once differed
//! in has a case here. (The probe and webhooks domains run their crates' own conformance suites:
//! `tests/probe.rs`, `tests/webhooks.rs`.)

use std::time::Duration;

use time::OffsetDateTime;
use wedsync_probe::store::ResultStore;
use wedsync_probe::{ProbeResult, ProbeStatus};
use wedsync_store::testing::fresh_postgres;
use wedsync_store::*;
use wedsync_webhooks::store::WebhookStore;

/// Everything both backends implement.
trait Store:
    ApiKeyStore + AuditLog + ResultStore + WebhookStore + Retention + StoreHealthCheck
{
}
impl<T> Store for T where
    T: ApiKeyStore + AuditLog + ResultStore + WebhookStore + Retention + StoreHealthCheck
{
}

fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap()
}

fn probe(service: &str, status: ProbeStatus, at: OffsetDateTime, latency: u64) -> ProbeResult {
    let mut r = ProbeResult::new(service, status, "");
    r.checked_at_ms = ms(at);
    r.latency = Duration::from_millis(latency);
    r.http_status = Some(200);
    r
}

/// Records probe results one by one.
async fn record(s: &impl Store, results: &[ProbeResult]) {
    for r in results {
        s.insert_result(r).await.unwrap();
    }
}

/// The checks counted by a service's rollups (`daily` or hourly) from `since` on.
async fn rollup_checks(s: &impl Store, service: &str, daily: bool, since: OffsetDateTime) -> u64 {
    let rows = if daily {
        s.daily_history(service, ms(since)).await.unwrap()
    } else {
        s.hourly_history(service, ms(since)).await.unwrap()
    };
    rows.iter().map(|r| r.checks).sum()
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
    // by id: live keys only, the same rule as verifying
    let live = s.live_api_key(&created.info.id).await.unwrap().unwrap();
    assert_eq!(live, v);
    assert!(s.live_api_key(&expired.info.id).await.unwrap().is_none());
    assert!(s.live_api_key("no-such-key").await.unwrap().is_none());
    let list = s.list_api_keys().await.unwrap();
    assert_eq!(list.len(), 2);
    let info = list.iter().find(|k| k.id == created.info.id).unwrap();
    assert_eq!(info.prefix, &created.secret.expose()[..12]);
    assert!(info.last_used_at.is_some(), "verify records last use");
    assert!(s.revoke_api_key(&created.info.id).await.unwrap());
    assert!(!s.revoke_api_key(&created.info.id).await.unwrap());
    assert!(s.verify_api_key(&created.secret).await.unwrap().is_none());
    assert!(s.live_api_key(&created.info.id).await.unwrap().is_none());
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
                ProbeStatus::Healthy,
                days(31) - time::Duration::seconds(i),
                1,
            )
        })
        .collect();
    old.push(probe("stripe", ProbeStatus::Healthy, days(1), 1));
    record(s, &old).await;
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
    let left = s.history("stripe", ms(days(400)), 10_000).await.unwrap();
    assert_eq!(left.len(), 1);
    // the deleted results survive in the rollups
    assert!(rollup_checks(s, "stripe", true, days(40)).await >= 2500);
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
    record(
        s,
        &[
            probe(
                svc,
                ProbeStatus::Healthy,
                cutoff - time::Duration::minutes(20),
                5,
            ),
            probe(
                svc,
                ProbeStatus::Unhealthy,
                cutoff + time::Duration::minutes(20),
                7,
            ),
        ],
    )
    .await;
    let checks = || async {
        s.hourly_history(svc, ms(hour(cutoff)))
            .await
            .unwrap()
            .iter()
            .filter(|r| r.hour_start_ms == ms(hour(cutoff)))
            .map(|r| (r.checks, r.healthy, r.unhealthy))
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

/// Scopes are trimmed and deduplicated on every backend, and a scope that is empty or has
/// whitespace inside is refused on every backend (SQLite once refused what PostgreSQL stored).
async fn api_key_scopes_are_normalised_alike(s: &impl Store) {
    let created = s
        .create_api_key(NewApiKey {
            name: "padded".into(),
            scopes: vec![
                " monitoring:read\t".into(),
                "monitoring:read".into(),
                "monitoring:admin ".into(),
            ],
            expires_at: None,
        })
        .await
        .unwrap();
    let want = vec!["monitoring:read".to_owned(), "monitoring:admin".to_owned()];
    assert_eq!(created.info.scopes, want);
    let v = s.verify_api_key(&created.secret).await.unwrap().unwrap();
    assert_eq!(v.scopes, want);
    assert_eq!(s.list_api_keys().await.unwrap()[0].scopes, want);
    for bad in ["monitoring read", "", "   ", "a\nb"] {
        let err = s
            .create_api_key(NewApiKey {
                name: "bad".into(),
                scopes: vec!["monitoring:read".into(), bad.into()],
                expires_at: None,
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{bad:?}: {err:?}");
    }
    assert_eq!(
        s.list_api_keys().await.unwrap().len(),
        1,
        "nothing refused was stored"
    );
    // no scopes at all is a key that holds none
    let none = s
        .create_api_key(NewApiKey {
            name: "none".into(),
            scopes: Vec::new(),
            expires_at: None,
        })
        .await
        .unwrap();
    assert!(none.info.scopes.is_empty());
    let v = s.verify_api_key(&none.secret).await.unwrap().unwrap();
    assert!(v.scopes.is_empty() && !v.has_scope("monitoring:read"));
}

/// Ids that are not a stored key, and keys that are not well-formed, are answered alike.
async fn unknown_keys_are_answered_alike(s: &impl Store) {
    assert!(!s.revoke_api_key("no-such-key").await.unwrap());
    assert!(!s
        .revoke_api_key("00000000-0000-0000-0000-000000000000")
        .await
        .unwrap());
    for presented in ["", "wsk_", "not a key at all", "wsk_00"] {
        assert!(!keys::is_well_formed(presented));
        assert!(s
            .verify_api_key(&ApiKeySecret::new(presented))
            .await
            .unwrap()
            .is_none());
    }
}

/// The audit log reads back what was appended (no detail, nested detail) and treats a negative
/// limit as 0 on every backend (SQLite once read it as "no limit", PostgreSQL refused it).
async fn audit_edges_are_alike(s: &impl Store) {
    let bare = NewAuditEntry {
        actor: "system".into(),
        action: "retention.run".into(),
        target: None,
        detail: None,
        request_id: None,
    };
    let nested = NewAuditEntry {
        detail: Some(serde_json::json!({ "b": [1, 2.5, null], "a": { "z": "ü", "y": true } })),
        ..bare.clone()
    };
    let first = s.append_audit(bare.clone()).await.unwrap();
    let second = s.append_audit(nested.clone()).await.unwrap();
    assert!(second > first);
    let all = s.list_audit(10, None).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].entry, nested);
    assert_eq!(all[1].entry, bare);
    assert!(all[0].at >= all[1].at);
    assert!(s.list_audit(-1, None).await.unwrap().is_empty());
    assert!(s.list_audit(0, None).await.unwrap().is_empty());
    assert!(s.list_audit(10, Some(first)).await.unwrap().is_empty());
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
    api_key_scopes_are_normalised_alike,
    unknown_keys_are_answered_alike,
    audit_edges_are_alike,
    retention,
    retention_keeps_an_hour_whole_across_runs,
    health
);
