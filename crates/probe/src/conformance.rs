//! A conformance suite for implementations of the storage traits (feature `conformance`).
//!
//! Every function takes a store and panics (with a message) when the store breaks a rule of the
//! [`crate::store`] contract. They use their own service names and keys, so they can run one after
//! another against one store, but the store should start empty of those names.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let store = wedsync_probe::store::MemoryStore::new();
//! wedsync_probe::conformance::run_all(&store).await;
//! # }
//! ```

use std::time::Duration;

use crate::store::Notification;
use crate::store::{
    ChangeOutcome, DueClaim, HourlyHealth, Incident, IncidentChange, IncidentState,
    NotificationKind, OpenOutcome, OutboxState, ProbeStore, SendFailure, StoreError, HOUR_MS,
};
use crate::{PhaseTimings, ProbeResult, ProbeStatus};

/// Runs every check below, in order.
pub async fn run_all<S: ProbeStore + ?Sized>(store: &S) {
    results_latest_and_history(store).await;
    results_prune(store).await;
    results_hourly_history(store).await;
    incidents_open_once_per_service(store).await;
    incidents_update_and_resolve(store).await;
    outbox_enqueue_is_idempotent(store).await;
    outbox_claim_lease_and_retry(store).await;
    outbox_concurrent_claims_never_share(store).await;
    incident_changes_enqueue_atomically(store).await;
}

fn result(service: &str, status: ProbeStatus, at: i64) -> ProbeResult {
    ProbeResult {
        service: service.to_owned(),
        status,
        checked_at_ms: at,
        latency: Duration::from_millis(42),
        http_status: Some(200),
        detail: format!("detail {at}"),
        request_id: Some(format!("req_{at}")),
        timings: PhaseTimings {
            connect: Some(Duration::from_millis(3)),
            first_byte: Some(Duration::from_millis(30)),
            body: None,
        },
        retry_after: Some(Duration::from_secs(7)),
    }
}

/// Results round-trip, `latest_results` returns the newest per service, `history` filters,
/// orders newest first and limits.
pub async fn results_latest_and_history<S: ProbeStore + ?Sized>(store: &S) {
    let a = "conf-res-a";
    let b = "conf-res-b";
    for (svc, st, at) in [
        (a, ProbeStatus::Healthy, 1_000),
        (a, ProbeStatus::Unhealthy, 3_000),
        (a, ProbeStatus::Degraded, 2_000),
        (b, ProbeStatus::AuthFailed, 1_500),
    ] {
        store
            .insert_result(&result(svc, st, at))
            .await
            .expect("insert_result");
    }
    let latest: Vec<ProbeResult> = store
        .latest_results()
        .await
        .expect("latest_results")
        .into_iter()
        .filter(|r| r.service.starts_with("conf-res-"))
        .collect();
    assert_eq!(latest.len(), 2, "one latest result per service");
    assert_eq!(
        latest[0],
        result(a, ProbeStatus::Unhealthy, 3_000),
        "newest of a, all fields"
    );
    assert_eq!(latest[1], result(b, ProbeStatus::AuthFailed, 1_500));
    let h = store.history(a, 2_000, 10).await.expect("history");
    let times: Vec<i64> = h.iter().map(|r| r.checked_at_ms).collect();
    assert_eq!(
        times,
        vec![3_000, 2_000],
        "history: since filter, newest first"
    );
    let h = store.history(a, 0, 1).await.expect("history");
    assert_eq!(h.len(), 1, "history: limit");
    assert!(store
        .history("conf-res-none", 0, 10)
        .await
        .expect("history")
        .is_empty());
}

/// `hourly_history` aggregates per hour as results arrive (the current hour included), counts
/// each status, sums and maxes latencies, starts at the hour containing `since_ms`, orders oldest
/// first, keeps other services apart, and outlives pruning of the raw results.
pub async fn results_hourly_history<S: ProbeStore + ?Sized>(store: &S) {
    let a = "conf-hourly-a";
    let b = "conf-hourly-b";
    // an hour boundary well after the other checks' timestamps (and the Unix epoch)
    let h0 = 500_000 * HOUR_MS;
    let with_latency = |svc: &str, st, at, ms| ProbeResult {
        latency: Duration::from_millis(ms),
        ..result(svc, st, at)
    };
    for r in [
        with_latency(a, ProbeStatus::Healthy, h0 + 10, 40),
        with_latency(a, ProbeStatus::Unhealthy, h0 + 20, 900),
        with_latency(a, ProbeStatus::Degraded, h0 + HOUR_MS - 1, 60),
        with_latency(a, ProbeStatus::RateLimited, h0 + 2 * HOUR_MS, 5),
        with_latency(a, ProbeStatus::Healthy, h0 + 2 * HOUR_MS + 30_000, 15),
        with_latency(b, ProbeStatus::Healthy, h0 + 5, 7),
    ] {
        store.insert_result(&r).await.expect("insert_result");
    }
    let h = store
        .hourly_history(a, h0 + 1234)
        .await
        .expect("hourly_history");
    assert_eq!(
        h,
        vec![
            HourlyHealth {
                hour_start_ms: h0,
                checks: 3,
                healthy: 1,
                degraded: 1,
                unhealthy: 1,
                latency_sum_ms: 1_000,
                latency_max_ms: Some(900),
            },
            HourlyHealth {
                hour_start_ms: h0 + 2 * HOUR_MS,
                checks: 2,
                healthy: 1,
                degraded: 0,
                unhealthy: 0,
                latency_sum_ms: 20,
                latency_max_ms: Some(15),
            },
        ],
        "hourly_history of {a}: buckets from the hour containing since_ms, oldest first"
    );
    let later = store
        .hourly_history(a, h0 + HOUR_MS)
        .await
        .expect("hourly_history");
    assert_eq!(
        later.len(),
        1,
        "since_ms in an empty hour: later buckets only"
    );
    let other = store.hourly_history(b, 0).await.expect("hourly_history");
    assert_eq!(other.len(), 1, "services are kept apart");
    assert_eq!((other[0].checks, other[0].healthy), (1, 1));
    // one more result lands in an existing hour
    store
        .insert_result(&with_latency(a, ProbeStatus::Unhealthy, h0 + 30, 1_200))
        .await
        .expect("insert_result");
    let h = store.hourly_history(a, h0).await.expect("hourly_history");
    assert_eq!(
        (
            h[0].checks,
            h[0].unhealthy,
            h[0].latency_sum_ms,
            h[0].latency_max_ms
        ),
        (4, 2, 2_200, Some(1_200)),
        "a result added to an hour already aggregated"
    );
    // the raw results go; the hourly figures stay
    store
        .prune_results(h0 + 3 * HOUR_MS)
        .await
        .expect("prune_results");
    let kept = store.hourly_history(a, h0).await.expect("hourly_history");
    assert_eq!(kept, h, "rollups outlive the raw results");
    assert!(store
        .hourly_history("conf-hourly-none", 0)
        .await
        .expect("hourly_history")
        .is_empty());
    // the same results per UTC day: the sums of its hours, from the day containing since_ms
    let days = store
        .daily_history(a, h0 + 5 * HOUR_MS)
        .await
        .expect("daily_history");
    assert_eq!(
        days,
        HourlyHealth::per_day(&kept),
        "daily_history of {a}: one bucket per UTC day, the sum of its hours"
    );
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].hour_start_ms, HourlyHealth::day_of(h0));
    assert_eq!(days[0].checks, kept.iter().map(|x| x.checks).sum::<u64>());
    assert!(store
        .daily_history(a, h0 + 2 * crate::store::DAY_MS)
        .await
        .expect("daily_history")
        .is_empty());
}

/// `prune_results` deletes exactly the results older than the bound.
pub async fn results_prune<S: ProbeStore + ?Sized>(store: &S) {
    let s = "conf-prune";
    for at in [10, 20, 30] {
        store
            .insert_result(&result(s, ProbeStatus::Healthy, at))
            .await
            .expect("insert_result");
    }
    let n = store.prune_results(25).await.expect("prune_results");
    assert!(
        n >= 2,
        "pruned at least this test's two old results, got {n}"
    );
    let h = store.history(s, 0, 10).await.expect("history");
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].checked_at_ms, 30);
}

/// An open incident of `service`, unhealthy since `at` (ms): the suite's fixture, also for a
/// backend's own tests.
pub fn open_incident(service: &str, at: i64, wedding_day: bool) -> Incident {
    Incident {
        dedup_key: Incident::dedup_key_for(service, at),
        service: service.to_owned(),
        state: IncidentState::Open,
        status: ProbeStatus::Unhealthy,
        opened_at_ms: at,
        updated_at_ms: at,
        resolved_at_ms: None,
        last_notified_at_ms: None,
        wedding_day,
        summary: "HTTP 503".to_owned(),
    }
}

/// Only one incident per service can be open; a second open returns the first.
pub async fn incidents_open_once_per_service<S: ProbeStore + ?Sized>(store: &S) {
    let s = "conf-inc-once";
    let first = open_incident(s, 1_000, true);
    match store
        .open_incident(first.clone())
        .await
        .expect("open_incident")
    {
        OpenOutcome::Created(i) => assert_eq!(i, first),
        other => panic!("first open must create, got {other:?}"),
    }
    match store
        .open_incident(open_incident(s, 2_000, true))
        .await
        .expect("open_incident")
    {
        OpenOutcome::AlreadyOpen(i) => assert_eq!(i.dedup_key, first.dedup_key),
        other => panic!("second open must find the open one, got {other:?}"),
    }
    // concurrent opens from two "processes": exactly one creates
    let other_svc = "conf-inc-race";
    let (x, y) = tokio::join!(
        store.open_incident(open_incident(other_svc, 5_000, true)),
        store.open_incident(open_incident(other_svc, 5_001, true))
    );
    let created = [x.expect("open"), y.expect("open")]
        .iter()
        .filter(|o| matches!(o, OpenOutcome::Created(_)))
        .count();
    assert_eq!(created, 1, "exactly one concurrent open creates");
    let open: Vec<Incident> = store
        .list_open_incidents()
        .await
        .expect("list_open_incidents")
        .into_iter()
        .filter(|i| i.service.starts_with("conf-inc-"))
        .collect();
    assert_eq!(open.len(), 2);
    assert_eq!(open[0].dedup_key, first.dedup_key, "oldest first");
}

/// Updates change the mutable fields; resolve returns the incident once; a new one can open after.
pub async fn incidents_update_and_resolve<S: ProbeStore + ?Sized>(store: &S) {
    let s = "conf-inc-life";
    let mut i = open_incident(s, 10_000, true);
    store.open_incident(i.clone()).await.expect("open_incident");
    i.status = ProbeStatus::AuthFailed;
    i.updated_at_ms = 11_000;
    i.last_notified_at_ms = Some(10_500);
    i.summary = "HTTP 401".to_owned();
    store.update_incident(&i).await.expect("update_incident");
    let got = store
        .get_incident(&i.dedup_key)
        .await
        .expect("get_incident")
        .expect("incident exists");
    assert_eq!(got, i, "update persisted every mutable field");
    let mut missing = i.clone();
    missing.dedup_key = "conf/none".to_owned();
    assert!(
        store.update_incident(&missing).await.is_err(),
        "updating an unknown incident is an error"
    );
    let r = store
        .resolve_incident(&i.dedup_key, 12_000)
        .await
        .expect("resolve_incident")
        .expect("first resolve returns the incident");
    assert_eq!(r.state, IncidentState::Resolved);
    assert_eq!(r.resolved_at_ms, Some(12_000));
    assert!(
        store
            .resolve_incident(&i.dedup_key, 12_001)
            .await
            .expect("resolve_incident")
            .is_none(),
        "second resolve returns None"
    );
    assert!(store
        .get_incident("conf/none")
        .await
        .expect("get")
        .is_none());
    assert!(!store
        .list_open_incidents()
        .await
        .expect("list")
        .iter()
        .any(|x| x.service == s));
    assert!(matches!(
        store
            .open_incident(open_incident(s, 13_000, true))
            .await
            .expect("open"),
        OpenOutcome::Created(_)
    ));
}

fn notification(id: &str, key: &str, at: i64) -> Notification {
    Notification::pending(
        id,
        "slack",
        NotificationKind::Trigger,
        key,
        "conf",
        "{\"summary\":\"x\"}",
        at,
    )
}

/// Enqueue twice with one id stores one notification.
pub async fn outbox_enqueue_is_idempotent<S: ProbeStore + ?Sized>(store: &S) {
    let key = "conf/outbox/idem";
    // due far in the future, so the claim checks below never see it
    let far = 9_000_000_000_000_000i64;
    assert!(store
        .enqueue(notification("conf-n-idem", key, far))
        .await
        .expect("enqueue"));
    assert!(!store
        .enqueue(notification("conf-n-idem", key, far))
        .await
        .expect("enqueue"));
    let all = store
        .notifications_for(key)
        .await
        .expect("notifications_for");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0], notification("conf-n-idem", key, far));
}

/// What `owner` claims at `now_ms` (a 30 s lease) of the notifications of incident `key`.
async fn claim<S: ProbeStore + ?Sized>(
    store: &S,
    key: &str,
    owner: &str,
    now_ms: i64,
) -> Vec<Notification> {
    let claimed = store
        .claim_due(DueClaim::new(owner, now_ms, 30_000, 100))
        .await
        .expect("claim");
    claimed
        .into_iter()
        .filter(|n| n.incident_key == key)
        .collect()
}

/// The stored notification `id`, which must exist.
async fn stored<S: ProbeStore + ?Sized>(store: &S, id: &str) -> Notification {
    store
        .get_notification(id)
        .await
        .expect("get")
        .expect("exists")
}

/// Claims honour due time and leases (a `limit` of 0 claims nothing); only the lease holder may
/// complete; failures reschedule or kill; an expired lease can be re-claimed.
pub async fn outbox_claim_lease_and_retry<S: ProbeStore + ?Sized>(store: &S) {
    let key = "conf/outbox/claim";
    let base = 1_000_000_000_000i64;
    store
        .enqueue(notification("conf-n-1", key, base))
        .await
        .expect("enqueue");
    store
        .enqueue(notification("conf-n-2", key, base + 50_000))
        .await
        .expect("enqueue");
    let none = store
        .claim_due(DueClaim::new("p0", base, 30_000, 0))
        .await
        .expect("claim");
    assert!(none.is_empty(), "a limit of 0 claims nothing");
    let c = claim(store, key, "p1", base).await;
    assert_eq!(c.len(), 1, "only the due one");
    assert_eq!(c[0].id, "conf-n-1");
    assert_eq!(c[0].attempts, 1);
    assert_eq!(c[0].lease_owner.as_deref(), Some("p1"));
    assert_eq!(c[0].lease_until_ms, Some(base + 30_000));
    assert!(
        claim(store, key, "p2", base + 10).await.is_empty(),
        "leased notification is not claimed twice"
    );
    assert!(
        !store
            .mark_sent("conf-n-1", "p2", base)
            .await
            .expect("mark_sent"),
        "not the holder"
    );
    assert!(store
        .mark_failed(
            "conf-n-1",
            "p1",
            SendFailure::retry_at("HTTP 503", base + 5_000)
        )
        .await
        .expect("mark_failed"));
    let n = stored(store, "conf-n-1").await;
    assert_eq!(n.state, OutboxState::Pending);
    assert_eq!(n.next_attempt_at_ms, base + 5_000);
    assert_eq!(n.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(n.lease_owner, None);
    assert!(claim(store, key, "p1", base + 4_999).await.is_empty());
    let c = claim(store, key, "p1", base + 5_000).await;
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].attempts, 2);
    // p1 crashes; its lease expires; p2 takes over and p1's late completion is refused
    let c = claim(store, key, "p2", base + 35_000).await;
    assert_eq!(c.len(), 1, "expired lease is claimable");
    assert_eq!(c[0].attempts, 3);
    assert!(!store
        .mark_sent("conf-n-1", "p1", base + 35_001)
        .await
        .expect("mark_sent"));
    assert!(store
        .mark_sent("conf-n-1", "p2", base + 35_001)
        .await
        .expect("mark_sent"));
    let n = stored(store, "conf-n-1").await;
    assert_eq!(n.state, OutboxState::Sent);
    assert!(
        claim(store, key, "p3", base + 40_000)
            .await
            .iter()
            .all(|n| n.id != "conf-n-1"),
        "sent is never claimed again"
    );
    // the second one: permanent failure → dead
    let c = claim(store, key, "p1", base + 60_000).await;
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].id, "conf-n-2");
    assert!(store
        .mark_failed("conf-n-2", "p1", SendFailure::dead("HTTP 404"))
        .await
        .expect("mark_failed"));
    let n = stored(store, "conf-n-2").await;
    assert_eq!(n.state, OutboxState::Dead);
    assert!(
        claim(store, key, "p1", base + 10_000_000).await.is_empty(),
        "dead is never claimed"
    );
    let all = store
        .notifications_for(key)
        .await
        .expect("notifications_for");
    let ids: Vec<&str> = all.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, vec!["conf-n-1", "conf-n-2"], "enqueue order");
}

/// Several concurrent claimers never receive the same notification.
pub async fn outbox_concurrent_claims_never_share<S: ProbeStore + ?Sized>(store: &S) {
    let key = "conf/outbox/race";
    let base = 2_000_000_000_000i64;
    for i in 0..20 {
        store
            .enqueue(notification(&format!("conf-race-{i:02}"), key, base + i))
            .await
            .expect("enqueue");
    }
    let (a, b, c) = tokio::join!(
        store.claim_due(DueClaim::new("ra", base + 100, 60_000, 10)),
        store.claim_due(DueClaim::new("rb", base + 100, 60_000, 10)),
        store.claim_due(DueClaim::new("rc", base + 100, 60_000, 10)),
    );
    let mut ids: Vec<String> = [a.expect("claim"), b.expect("claim"), c.expect("claim")]
        .into_iter()
        .flatten()
        .filter(|n| n.incident_key == key)
        .map(|n| n.id)
        .collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total, "no notification claimed by two claimers");
    assert_eq!(
        total, 20,
        "all twenty due notifications claimed (3 × 10 ≥ 20)"
    );
}

/// [`IncidentStore::change_incident_and_enqueue`](crate::store::IncidentStore::change_incident_and_enqueue):
/// the notifications are stored exactly when the change takes (created, updated, resolved by
/// this call) and not at all when it does not (already open, unknown, already resolved). A store
/// that does not offer the operation (`Ok(None)`) passes trivially.
pub async fn incident_changes_enqueue_atomically<S: ProbeStore + ?Sized>(store: &S) {
    let s = "conf-atomic";
    let first = open_incident(s, 5_000, true);
    let key = first.dedup_key.clone();
    let far = 9_000_000_000_000_000i64; // never due: the claim checks above never see these
    let n = |suffix: &str| notification(&format!("{key}/{suffix}"), &key, far);
    let opened = store
        .change_incident_and_enqueue(&IncidentChange::Open(first.clone()), &[n("t1"), n("t2")])
        .await
        .expect("open");
    let Some(opened) = opened else {
        return; // not offered: the caller falls back to two writes
    };
    assert!(
        matches!(&opened, ChangeOutcome::Opened(OpenOutcome::Created(i)) if i.dedup_key == key),
        "{opened:?}"
    );
    assert!(opened.took());
    let stored = |id: String| async move { store.get_notification(&id).await.expect("get") };
    assert!(stored(format!("{key}/t1")).await.is_some());
    assert!(stored(format!("{key}/t2")).await.is_some());

    // a second open of the service is not this caller's: nothing enqueued
    let second = open_incident(s, 6_000, true);
    let again = store
        .change_incident_and_enqueue(
            &IncidentChange::Open(second.clone()),
            &[notification(
                &format!("{}/t", second.dedup_key),
                &second.dedup_key,
                far,
            )],
        )
        .await
        .expect("open again");
    assert!(
        matches!(&again, Some(ChangeOutcome::Opened(OpenOutcome::AlreadyOpen(i))) if i.dedup_key == key),
        "{again:?}"
    );
    assert!(stored(format!("{}/t", second.dedup_key)).await.is_none());

    // updating an unknown incident fails and enqueues nothing
    let mut unknown = open_incident("conf-atomic-unknown", 7_000, true);
    unknown.summary = "never stored".to_owned();
    let err = store
        .change_incident_and_enqueue(
            &IncidentChange::Update(unknown.clone()),
            &[notification(
                &format!("{}/r", unknown.dedup_key),
                &unknown.dedup_key,
                far,
            )],
        )
        .await;
    assert!(matches!(err, Err(StoreError::NotFound)), "{err:?}");
    assert!(stored(format!("{}/r", unknown.dedup_key)).await.is_none());

    // an update takes with its reminder
    let mut updated = first.clone();
    updated.summary = "HTTP 502".to_owned();
    updated.updated_at_ms = 5_500;
    let up = store
        .change_incident_and_enqueue(&IncidentChange::Update(updated), &[n("reminder")])
        .await
        .expect("update");
    assert_eq!(up, Some(ChangeOutcome::Updated));
    assert!(stored(format!("{key}/reminder")).await.is_some());
    let got = store
        .get_incident(&key)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(got.summary, "HTTP 502");

    // resolve once: enqueued; resolve again: not resolved by this call, nothing enqueued
    let resolve = IncidentChange::Resolve {
        dedup_key: key.clone(),
        resolved_at_ms: 8_000,
    };
    let done = store
        .change_incident_and_enqueue(&resolve, &[n("resolve")])
        .await
        .expect("resolve");
    assert!(
        matches!(&done, Some(ChangeOutcome::Resolved(Some(i))) if i.state == IncidentState::Resolved),
        "{done:?}"
    );
    assert!(stored(format!("{key}/resolve")).await.is_some());
    let twice = store
        .change_incident_and_enqueue(&resolve, &[n("resolve-again")])
        .await
        .expect("resolve again");
    assert_eq!(twice, Some(ChangeOutcome::Resolved(None)));
    assert!(stored(format!("{key}/resolve-again")).await.is_none());
}
