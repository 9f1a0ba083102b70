//! A conformance suite every [`WebhookStore`] backend must pass (feature `conformance`).
//!
//! `wedsync-store` runs it on PostgreSQL and SQLite; this crate runs it on [`InMemoryStore`](super::InMemoryStore).
//! Each check takes a *fresh, empty* store. Checks panic (with a message) on the first violation.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use wedsync_webhooks::store::{conformance, InMemoryStore};
//! conformance::run_all(|| async { InMemoryStore::new() }).await;
//! # }
//! ```

use std::future::Future;
use std::time::Duration;

use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    AttemptRecord, AttemptTrigger, Claim, Claimed, Delivery, DeliveryCount, DeliveryQuery,
    DeliveryStatus, EncryptedBody, ErrorKind, InsertOutcome, KeyUsage, NewDelivery, Priority,
    ReplayJob, ReplayJobState, ReplayRequest, SealedBody, StoreError, Verdict, WebhookStore,
};
use crate::provider::Provider;

/// Run every check, each on a store from `fresh()`.
pub async fn run_all<F, Fut, S>(mut fresh: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
    S: WebhookStore,
{
    insert_and_get(&fresh().await).await;
    dedupe(&fresh().await).await;
    claim_order(&fresh().await).await;
    lease_is_exclusive(&fresh().await).await;
    fail_then_retry(&fresh().await).await;
    reclaim_expired(&fresh().await).await;
    replay_rules(&fresh().await).await;
    purge_raw_bodies(&fresh().await).await;
    renew_leases(&fresh().await).await;
    raw_body_keys(&fresh().await).await;
    sealed_bodies(&fresh().await).await;
    replace_raw_body(&fresh().await).await;
    list_filters(&fresh().await).await;
    count_deliveries(&fresh().await).await;
    replay_jobs(&fresh().await).await;
    concurrent_claims(&fresh().await).await;
    random_interleavings(&mut fresh, 0x5eed, 20, 60).await;
}

/// A fixed base time all checks count from (2030-06-01 12:00 UTC).
pub fn t0() -> OffsetDateTime {
    time::macros::datetime!(2030-06-01 12:00 UTC)
}

fn secs(s: i64) -> time::Duration {
    time::Duration::seconds(s)
}

/// A verified Stripe delivery, due at `t0()`, with a raw body kept for 7 days.
pub fn sample(dedupe_key: &str) -> NewDelivery {
    NewDelivery {
        id: Uuid::new_v4(),
        provider: Provider::Stripe,
        event_id: Some(dedupe_key.to_owned()),
        dedupe_key: dedupe_key.to_owned(),
        event_type: Some("invoice.paid".to_owned()),
        received_at: t0(),
        verdict: Verdict::Verified,
        verdict_reason: None,
        sanitized_headers: vec![("stripe-signature".into(), "[REDACTED]".into())],
        sanitized_body: r#"{"id":"evt_1","type":"invoice.paid"}"#.into(),
        content_type: Some("application/json".into()),
        raw_body: Some(EncryptedBody {
            key_id: "k1".into(),
            nonce: vec![7; 24],
            ciphertext: vec![1, 2, 3, 4],
        }),
        raw_body_expires_at: Some(t0() + time::Duration::days(7)),
        priority: Priority::Normal,
        next_attempt_at: Some(t0()),
    }
}

/// What `worker` claims at `at` (at most `limit`, leased for [`LEASE`]).
async fn claim(
    s: &dyn WebhookStore,
    worker: &str,
    at: OffsetDateTime,
    limit: usize,
) -> Vec<Claimed> {
    s.claim(Claim::new(worker, at, LEASE, limit)).await.unwrap()
}

/// Inserts `d`; its id.
async fn insert(s: &dyn WebhookStore, d: NewDelivery) -> Uuid {
    let id = d.id;
    s.insert_delivery(d).await.unwrap();
    id
}

/// The stored delivery `id`, which must exist.
async fn stored(s: &dyn WebhookStore, id: Uuid) -> Delivery {
    s.get_delivery(id)
        .await
        .unwrap()
        .expect("the delivery is stored")
}

fn attempt(token: &super::ClaimToken, at: OffsetDateTime, status: Option<u16>) -> AttemptRecord {
    AttemptRecord {
        delivery_id: token.delivery_id,
        attempt: token.attempt,
        trigger: AttemptTrigger::Scheduled,
        worker: "w".into(),
        started_at: at,
        duration_ms: 120,
        response_status: status,
        error_kind: status.and_then(ErrorKind::from_status),
        response_excerpt: Some("ok".into()),
    }
}

const LEASE: Duration = Duration::from_secs(30);

/// Inserted rows read back field for field.
pub async fn insert_and_get(s: &dyn WebhookStore) {
    let new = sample("evt_a");
    let id = new.id;
    let out = s.insert_delivery(new.clone()).await.unwrap();
    assert_eq!(
        out,
        InsertOutcome::Inserted {
            id,
            status: DeliveryStatus::Pending
        }
    );
    let d = s
        .get_delivery(id)
        .await
        .unwrap()
        .expect("inserted delivery readable");
    assert_eq!(d.provider, new.provider);
    assert_eq!(d.event_id, new.event_id);
    assert_eq!(d.dedupe_key, new.dedupe_key);
    assert_eq!(d.event_type, new.event_type);
    assert_eq!(d.received_at, new.received_at);
    assert_eq!(d.verdict, Verdict::Verified);
    assert_eq!(d.sanitized_headers, new.sanitized_headers);
    assert_eq!(d.sanitized_body, new.sanitized_body);
    assert_eq!(d.content_type, new.content_type);
    assert_eq!(d.raw_body, new.raw_body);
    assert_eq!(d.raw_body_expires_at, new.raw_body_expires_at);
    assert_eq!(d.status, DeliveryStatus::Pending);
    assert_eq!(d.attempt_count, 0);
    assert_eq!(d.next_attempt_at, Some(t0()));
    assert!(s.get_delivery(Uuid::new_v4()).await.unwrap().is_none());

    let mut unqueued = sample("evt_b");
    unqueued.next_attempt_at = None;
    let out = s.insert_delivery(unqueued).await.unwrap();
    assert!(matches!(
        out,
        InsertOutcome::Inserted {
            status: DeliveryStatus::Received,
            ..
        }
    ));
}

/// Dedupe: only verified deliveries own a key; duplicates keep no raw body and are not queued.
pub async fn dedupe(s: &dyn WebhookStore) {
    // A forged (rejected) request first must not reserve the key.
    let mut forged = sample("evt_dup");
    forged.verdict = Verdict::Rejected;
    forged.verdict_reason = Some("no_matching_signature".into());
    let f = s.insert_delivery(forged).await.unwrap();
    assert!(matches!(
        f,
        InsertOutcome::Inserted {
            status: DeliveryStatus::Rejected,
            ..
        }
    ));
    let fd = stored(s, f.id()).await;
    assert!(
        fd.raw_body.is_none(),
        "rejected deliveries keep no raw body"
    );
    assert!(fd.next_attempt_at.is_none());

    let first = sample("evt_dup");
    let first_id = first.id;
    assert!(matches!(
        s.insert_delivery(first).await.unwrap(),
        InsertOutcome::Inserted {
            status: DeliveryStatus::Pending,
            ..
        }
    ));
    let second = sample("evt_dup");
    let second_id = second.id;
    assert_eq!(
        s.insert_delivery(second).await.unwrap(),
        InsertOutcome::Duplicate {
            id: second_id,
            original: first_id
        }
    );
    let dup = stored(s, second_id).await;
    assert_eq!(dup.status, DeliveryStatus::Duplicate);
    assert_eq!(dup.duplicate_of, Some(first_id));
    assert!(dup.raw_body.is_none());
    assert!(dup.next_attempt_at.is_none());

    // Same key, other provider: not a duplicate.
    let mut other = sample("evt_dup");
    other.provider = Provider::Resend;
    assert!(matches!(
        s.insert_delivery(other).await.unwrap(),
        InsertOutcome::Inserted { .. }
    ));

    let owner = s
        .find_by_dedupe_key(Provider::Stripe, "evt_dup")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.id, first_id);
    assert!(s
        .find_by_dedupe_key(Provider::Twilio, "evt_dup")
        .await
        .unwrap()
        .is_none());

    // Only the original is ever claimed.
    let claimed = claim(s, "w", t0(), 10).await;
    let ids: Vec<Uuid> = claimed.iter().map(|c| c.delivery.id).collect();
    assert!(ids.contains(&first_id));
    assert!(!ids.contains(&second_id));
    assert!(!ids.contains(&f.id()));
}

/// Critical first, then earliest due; future deliveries wait; `limit` holds (`0` claims nothing).
pub async fn claim_order(s: &dyn WebhookStore) {
    let mut late_normal = sample("n1");
    late_normal.next_attempt_at = Some(t0() - secs(100));
    let mut early_normal = sample("n2");
    early_normal.next_attempt_at = Some(t0() - secs(200));
    let mut critical = sample("c1");
    critical.priority = Priority::Critical;
    critical.next_attempt_at = Some(t0() - secs(10));
    let mut future = sample("f1");
    future.priority = Priority::Critical;
    future.next_attempt_at = Some(t0() + secs(60));
    let ids = [critical.id, early_normal.id, late_normal.id];
    let future_id = future.id;
    for d in [late_normal, early_normal, critical, future] {
        s.insert_delivery(d).await.unwrap();
    }
    let hour = Duration::from_secs(3600);
    let none = s.claim(Claim::new("w", t0(), hour, 0)).await.unwrap();
    assert!(none.is_empty(), "a limit of 0 claims nothing");
    let first = s.claim(Claim::new("w", t0(), hour, 2)).await.unwrap();
    assert_eq!(
        first.iter().map(|c| c.delivery.id).collect::<Vec<_>>(),
        ids[..2].to_vec()
    );
    let rest = s.claim(Claim::new("w", t0(), hour, 10)).await.unwrap();
    assert_eq!(
        rest.iter().map(|c| c.delivery.id).collect::<Vec<_>>(),
        vec![ids[2]]
    );
    let later = claim(s, "w", t0() + secs(60), 10).await;
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].delivery.id, future_id);
}

/// A held lease blocks other claims; an expired one is re-claimed with the next attempt number and
/// the first holder's report is refused.
pub async fn lease_is_exclusive(s: &dyn WebhookStore) {
    let id = insert(s, sample("evt_lease")).await;
    let a = claim(s, "a", t0(), 10).await;
    assert_eq!(a.len(), 1);
    let a = a[0].clone();
    assert_eq!(a.token.attempt, 1);
    assert_eq!(a.trigger, AttemptTrigger::Scheduled);
    assert_eq!(a.delivery.lease_owner.as_deref(), Some("a"));
    assert!(claim(s, "b", t0() + secs(29), 10).await.is_empty());

    let b = claim(s, "b", t0() + secs(30), 10).await;
    assert_eq!(b.len(), 1, "an expired lease is claimable");
    let b = b[0].clone();
    assert_eq!(b.token.attempt, 2);
    assert_ne!(a.token.lease_token, b.token.lease_token);

    let late = s
        .complete(&a.token, attempt(&a.token, t0() + secs(31), Some(200)))
        .await;
    assert!(
        matches!(late, Err(StoreError::LeaseLost)),
        "stale claim must be refused: {late:?}"
    );
    let late = s
        .fail(
            &a.token,
            attempt(&a.token, t0() + secs(31), Some(500)),
            None,
        )
        .await;
    assert!(matches!(late, Err(StoreError::LeaseLost)));
    assert_eq!(stored(s, id).await.status, DeliveryStatus::Pending);

    s.complete(&b.token, attempt(&b.token, t0() + secs(31), Some(204)))
        .await
        .unwrap();
    let d = stored(s, id).await;
    assert_eq!(d.status, DeliveryStatus::Delivered);
    assert!(d.delivered_at.is_some());
    assert!(d.lease_token.is_none());
    assert_eq!(d.last_status, Some(204));
    let again = s
        .complete(&b.token, attempt(&b.token, t0() + secs(32), Some(200)))
        .await;
    assert!(
        matches!(again, Err(StoreError::LeaseLost)),
        "a claim reports once"
    );
    let attempts = s.list_attempts(id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].attempt, 2);
    assert_eq!(attempts[0].response_status, Some(204));
    assert!(claim(s, "c", t0() + secs(100), 10).await.is_empty());
}

/// `fail` with a next time retries then; without one the delivery is failed.
pub async fn fail_then_retry(s: &dyn WebhookStore) {
    let id = insert(s, sample("evt_retry")).await;
    let c = claim(s, "w", t0(), 1).await.remove(0);
    s.fail(
        &c.token,
        attempt(&c.token, t0(), Some(503)),
        Some(t0() + secs(5)),
    )
    .await
    .unwrap();
    let d = stored(s, id).await;
    assert_eq!(d.status, DeliveryStatus::Retrying);
    assert_eq!(d.next_attempt_at, Some(t0() + secs(5)));
    assert_eq!(d.last_error, Some(ErrorKind::Http5xx));
    assert!(claim(s, "w", t0() + secs(4), 1).await.is_empty());
    let c2 = claim(s, "w", t0() + secs(5), 1).await.remove(0);
    assert_eq!(c2.token.attempt, 2);
    assert_eq!(c2.delivery.run_attempts, 2);
    s.fail(&c2.token, attempt(&c2.token, t0() + secs(5), None), None)
        .await
        .unwrap();
    let d = stored(s, id).await;
    assert_eq!(d.status, DeliveryStatus::Failed);
    assert!(d.next_attempt_at.is_none());
    assert_eq!(s.list_attempts(id).await.unwrap().len(), 2);
    assert!(claim(s, "w", t0() + secs(3600), 1).await.is_empty());
}

/// `reclaim_expired` releases exactly the expired leases and records `lease_expired`.
pub async fn reclaim_expired(s: &dyn WebhookStore) {
    let mut a = sample("r1");
    a.next_attempt_at = Some(t0() - secs(1));
    let a_id = insert(s, a).await;
    insert(s, sample("r2")).await;
    let short = s
        .claim(Claim::new("w", t0(), Duration::from_secs(10), 1))
        .await
        .unwrap();
    assert_eq!(short[0].delivery.id, a_id);
    s.claim(Claim::new("w", t0(), Duration::from_secs(100), 1))
        .await
        .unwrap();
    assert_eq!(s.reclaim_expired(t0() + secs(9)).await.unwrap(), 0);
    assert_eq!(s.reclaim_expired(t0() + secs(10)).await.unwrap(), 1);
    let d = stored(s, a_id).await;
    assert!(d.lease_token.is_none());
    assert_eq!(d.status, DeliveryStatus::Retrying);
    assert_eq!(d.last_error, Some(ErrorKind::LeaseExpired));
    let att = s.list_attempts(a_id).await.unwrap();
    assert_eq!(att.len(), 1);
    assert_eq!(att[0].error_kind, Some(ErrorKind::LeaseExpired));
    let stale = s
        .complete(&short[0].token, attempt(&short[0].token, t0(), Some(200)))
        .await;
    assert!(matches!(stale, Err(StoreError::LeaseLost)));
    let again = claim(s, "w2", t0() + secs(10), 10).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].token.attempt, 2);
}

/// Replay preconditions and effects.
pub async fn replay_rules(s: &dyn WebhookStore) {
    let id = insert(s, sample("evt_replay")).await;
    let req = |force| ReplayRequest {
        at: t0() + secs(60),
        trigger: AttemptTrigger::Manual,
        single_attempt: true,
        force,
        now: t0() + secs(60),
    };
    let c = claim(s, "w", t0(), 1).await.remove(0);
    let r = s
        .schedule_replay(
            id,
            ReplayRequest {
                now: t0(),
                ..req(true)
            },
        )
        .await;
    assert!(matches!(r, Err(StoreError::InFlight)), "{r:?}");
    s.complete(&c.token, attempt(&c.token, t0(), Some(200)))
        .await
        .unwrap();
    assert!(matches!(
        s.schedule_replay(id, req(false)).await,
        Err(StoreError::AlreadyDelivered)
    ));
    let d = s.schedule_replay(id, req(true)).await.unwrap();
    assert_eq!(d.status, DeliveryStatus::Pending);
    assert_eq!(d.run_attempts, 0);
    assert!(d.single_attempt);
    assert_eq!(d.next_trigger, AttemptTrigger::Manual);
    let c = claim(s, "w", t0() + secs(60), 1).await.remove(0);
    assert_eq!(c.trigger, AttemptTrigger::Manual);
    assert_eq!(c.token.attempt, 2);
    assert_eq!(c.delivery.run_attempts, 1);
    assert!(c.delivery.single_attempt);
    s.fail(
        &c.token,
        attempt(&c.token, t0() + secs(60), Some(500)),
        None,
    )
    .await
    .unwrap();

    assert!(matches!(
        s.schedule_replay(Uuid::new_v4(), req(true)).await,
        Err(StoreError::NotFound)
    ));
    let mut forged = sample("evt_forged");
    forged.verdict = Verdict::Rejected;
    let fid = s.insert_delivery(forged).await.unwrap().id();
    assert!(matches!(
        s.schedule_replay(fid, req(true)).await,
        Err(StoreError::NotReplayable(DeliveryStatus::Rejected))
    ));
    let expired = ReplayRequest {
        now: t0() + time::Duration::days(8),
        ..req(true)
    };
    assert!(matches!(
        s.schedule_replay(id, expired).await,
        Err(StoreError::RawBodyExpired)
    ));
    assert_eq!(
        s.purge_raw_bodies(t0() + time::Duration::days(8))
            .await
            .unwrap(),
        1
    );
    assert!(matches!(
        s.schedule_replay(id, req(true)).await,
        Err(StoreError::RawBodyExpired)
    ));
}

/// Retention deletes raw bodies at their expiry and nothing else.
pub async fn purge_raw_bodies(s: &dyn WebhookStore) {
    let mut a = sample("p1");
    a.raw_body_expires_at = Some(t0() + secs(10));
    let a_id = insert(s, a).await;
    let b_id = insert(s, sample("p2")).await;
    assert_eq!(s.purge_raw_bodies(t0() + secs(9)).await.unwrap(), 0);
    assert_eq!(s.purge_raw_bodies(t0() + secs(10)).await.unwrap(), 1);
    assert!(stored(s, a_id).await.raw_body.is_none());
    assert!(stored(s, b_id).await.raw_body.is_some());
    assert_eq!(s.purge_raw_bodies(t0() + secs(10)).await.unwrap(), 0);
}

/// `renew_leases` extends exactly the current claims: not a reported one, not one superseded by a
/// re-claim, not a token whose lease token or attempt number is off. A renewed lease outlives its
/// old expiry (neither reclaimed nor claimable then) and is reclaimed after the new one.
pub async fn renew_leases(s: &dyn WebhookStore) {
    assert_eq!(s.renew_leases(&[], t0() + secs(100)).await.unwrap(), 0);
    let mut ids = Vec::new();
    for (i, due) in [3, 2, 1].into_iter().enumerate() {
        let mut d = sample(&format!("renew{i}"));
        d.next_attempt_at = Some(t0() - secs(due));
        ids.push(d.id);
        s.insert_delivery(d).await.unwrap();
    }
    let (a_id, b_id, c_id) = (ids[0], ids[1], ids[2]);
    let claim_one = |lease: u64| async move {
        let c = s
            .claim(Claim::new("w", t0(), Duration::from_secs(lease), 1))
            .await
            .unwrap();
        assert_eq!(c.len(), 1);
        c[0].token
    };
    let a = claim_one(30).await;
    let b = claim_one(30).await;
    let c_stale = claim_one(10).await;
    assert_eq!(
        [a.delivery_id, b.delivery_id, c_stale.delivery_id],
        [a_id, b_id, c_id]
    );
    // b is reported; c's lease runs out and another worker re-claims it
    s.complete(&b, attempt(&b, t0() + secs(5), Some(200)))
        .await
        .unwrap();
    let again = claim(s, "w2", t0() + secs(10), 10).await;
    assert_eq!(again.len(), 1);
    let c = again[0].token;
    assert_eq!((c.delivery_id, c.attempt), (c_id, 2));

    let wrong_lease = super::ClaimToken {
        lease_token: Uuid::new_v4(),
        ..a
    };
    let wrong_attempt = super::ClaimToken {
        attempt: a.attempt + 1,
        ..a
    };
    let missing = super::ClaimToken {
        delivery_id: Uuid::new_v4(),
        ..a
    };
    let until = t0() + secs(100);
    for bad in [b, c_stale, wrong_lease, wrong_attempt, missing] {
        assert_eq!(s.renew_leases(&[bad], until).await.unwrap(), 0, "{bad:?}");
    }
    let unchanged = stored(s, a_id).await;
    assert_eq!(unchanged.lease_expires_at, Some(t0() + secs(30)));
    let tokens = [b, wrong_lease, c_stale, a, wrong_attempt, missing];
    assert_eq!(
        s.renew_leases(&tokens, until).await.unwrap(),
        1,
        "only the current claim of a is renewed"
    );
    let d = stored(s, a_id).await;
    assert_eq!(d.lease_expires_at, Some(until));
    assert_eq!(d.lease_token, Some(a.lease_token));
    assert_eq!(d.lease_owner.as_deref(), Some("w"));
    assert_eq!(d.attempt_count, 1);
    assert_eq!(d.status, DeliveryStatus::Pending);
    let d = stored(s, b_id).await;
    assert_eq!(d.status, DeliveryStatus::Delivered);
    assert!(d.lease_token.is_none() && d.lease_expires_at.is_none());
    let d = stored(s, c_id).await;
    assert_eq!(
        d.lease_expires_at,
        Some(t0() + secs(10) + secs(30)),
        "the re-claimed lease is untouched"
    );
    assert_eq!(d.lease_token, Some(c.lease_token));

    // a's old expiry (t0 + 30) passes: nothing is reclaimed and nobody else can claim it
    assert_eq!(s.reclaim_expired(t0() + secs(30)).await.unwrap(), 0);
    assert!(claim(s, "w3", t0() + secs(30), 10).await.is_empty());
    // c (not renewed) expires at t0 + 40
    assert_eq!(s.reclaim_expired(t0() + secs(40)).await.unwrap(), 1);
    assert!(stored(s, c_id).await.lease_token.is_none());
    assert_eq!(stored(s, a_id).await.lease_token, Some(a.lease_token));
    // renewing the current claims again, with c's now released: only a
    assert_eq!(s.renew_leases(&[c, a], t0() + secs(120)).await.unwrap(), 1);
    assert_eq!(s.reclaim_expired(t0() + secs(119)).await.unwrap(), 0);
    assert_eq!(s.reclaim_expired(t0() + secs(120)).await.unwrap(), 1);
    let d = stored(s, a_id).await;
    assert!(d.lease_token.is_none());
    assert_eq!(d.status, DeliveryStatus::Retrying);
    assert_eq!(d.last_error, Some(ErrorKind::LeaseExpired));
    assert_eq!(s.renew_leases(&[a], t0() + secs(500)).await.unwrap(), 0);
    assert!(stored(s, a_id).await.lease_expires_at.is_none());
    let late = s
        .complete(&a, attempt(&a, t0() + secs(121), Some(200)))
        .await;
    assert!(matches!(late, Err(StoreError::LeaseLost)), "{late:?}");
}

/// A raw body sealed with `key_id`, its bytes marked with `n`.
fn sealed(key_id: &str, n: u8) -> EncryptedBody {
    EncryptedBody {
        key_id: key_id.to_owned(),
        nonce: vec![n; 24],
        ciphertext: vec![n, n.wrapping_add(1), 0, 255],
    }
}

/// `raw_body_keys` counts the kept bodies per key id (every status: delivered and unqueued rows
/// too) and, of them, those of queued deliveries; purged bodies, duplicates and rejected
/// deliveries (which keep none) are not counted. Ordered by key id, bytewise.
pub async fn raw_body_keys(s: &dyn WebhookStore) {
    assert_eq!(s.raw_body_keys().await.unwrap(), Vec::<KeyUsage>::new());
    assert_eq!(s.queue_depth().await.unwrap(), 0);
    // "key-B" sorts before "key-a" bytewise (not in a linguistic collation)
    let (a, big_b, gone) = ("key-a", "key-B", "key-gone");
    let with = |key: &str, n: u8, due: Option<i64>| {
        let mut d = sample(&format!("keys{n}"));
        d.raw_body = Some(sealed(key, n));
        d.next_attempt_at = due.map(|due| t0() + secs(due));
        d
    };
    // claimed in this order below (earliest due first)
    let delivered = with(a, 1, Some(-30));
    let leased = with(a, 2, Some(-20));
    let retrying = with(a, 3, Some(-10));
    let pending = with(a, 4, Some(60));
    let received = with(a, 5, None);
    let mut purged = with(big_b, 6, Some(60));
    let b_pending = with(big_b, 7, Some(60));
    let mut all_purged = with(gone, 8, None);
    for d in [&mut purged, &mut all_purged] {
        d.raw_body_expires_at = Some(t0() + secs(10));
    }
    for d in [
        delivered,
        leased,
        retrying,
        pending.clone(),
        received,
        purged,
        b_pending,
        all_purged,
    ] {
        s.insert_delivery(d).await.unwrap();
    }
    // a duplicate and a rejected request keep no body
    let mut dup = sample(&pending.dedupe_key);
    dup.raw_body = Some(sealed(a, 9));
    assert!(matches!(
        s.insert_delivery(dup).await.unwrap(),
        InsertOutcome::Duplicate { .. }
    ));
    let mut forged = sample("keys-forged");
    forged.verdict = Verdict::Rejected;
    forged.raw_body = Some(sealed(big_b, 10));
    s.insert_delivery(forged).await.unwrap();

    let usage = |key: &str, bodies, queued| KeyUsage {
        key_id: key.to_owned(),
        bodies,
        queued,
    };
    assert_eq!(
        s.raw_body_keys().await.unwrap(),
        vec![usage(big_b, 2, 2), usage(a, 5, 4), usage(gone, 1, 0)]
    );
    assert_eq!(
        s.queue_depth().await.unwrap(),
        6,
        "queue_depth counts pending and retrying (received, duplicate and rejected are not queued)"
    );

    let claims = claim(s, "w", t0(), 3).await;
    assert_eq!(claims.len(), 3);
    s.complete(&claims[0].token, attempt(&claims[0].token, t0(), Some(200)))
        .await
        .unwrap();
    s.fail(
        &claims[2].token,
        attempt(&claims[2].token, t0(), Some(503)),
        Some(t0() + secs(60)),
    )
    .await
    .unwrap();
    for (i, want) in [
        DeliveryStatus::Delivered,
        DeliveryStatus::Pending,
        DeliveryStatus::Retrying,
    ]
    .into_iter()
    .enumerate()
    {
        let d = s.get_delivery(claims[i].token.delivery_id).await.unwrap();
        assert_eq!(d.unwrap().status, want);
    }
    assert_eq!(
        s.raw_body_keys().await.unwrap(),
        vec![usage(big_b, 2, 2), usage(a, 5, 3), usage(gone, 1, 0)],
        "a delivered body counts, but not as queued; a leased one still counts as queued"
    );
    assert_eq!(
        s.queue_depth().await.unwrap(),
        5,
        "delivered leaves the queue"
    );
    // retention: one of key-B's bodies, and key-gone's only one (the key disappears)
    assert_eq!(s.purge_raw_bodies(t0() + secs(10)).await.unwrap(), 2);
    assert_eq!(
        s.raw_body_keys().await.unwrap(),
        vec![usage(big_b, 1, 1), usage(a, 5, 3)]
    );
}

/// Records a verified delivery `id` whose raw body is sealed with `key` and kept for
/// `expires_secs` after `t0()`; returns the body as `sealed_bodies` lists it.
async fn add_sealed(s: &dyn WebhookStore, id: Uuid, key: &str, expires_secs: i64) -> SealedBody {
    // the id's last byte marks the body
    let n = id.as_bytes()[15];
    let mut d = sample(&format!("sealed-{id}"));
    d.id = id;
    d.raw_body = Some(sealed(key, n));
    d.raw_body_expires_at = Some(t0() + secs(expires_secs));
    s.insert_delivery(d).await.unwrap();
    SealedBody {
        delivery_id: id,
        body: sealed(key, n),
    }
}

/// `sealed_bodies` pages through one key's kept bodies in delivery-id order (`Uuid`'s, i.e.
/// bytewise): `after` is exclusive, `limit` holds, other keys, purged bodies and duplicates are
/// left out.
pub async fn sealed_bodies(s: &dyn WebhookStore) {
    assert!(s.sealed_bodies("k1", None, 10).await.unwrap().is_empty());
    // ids chosen to catch an order that is not bytewise: digits against letters in the text
    // form, high bits (signed bytes), differences in every hyphen-separated group
    let crafted: [u128; 9] = [
        0xffff_ffff_ffff_4fff_bfff_ffff_ffff_fffe,
        0x0000_0000_0000_4000_8000_0000_0000_000a,
        0x8000_0000_0000_4000_8000_0000_0000_0000,
        0x0000_0000_0000_4000_8000_0000_0000_0009,
        0x09ff_ffff_ffff_4fff_bfff_ffff_ffff_ffff,
        0x7fff_ffff_ffff_4fff_bfff_ffff_ffff_ffff,
        0x0a00_0000_0000_4000_8000_0000_0000_0000,
        0x0000_0000_0001_4000_8000_0000_0000_0000,
        0x0000_0000_0000_4000_9000_0000_0000_0000,
    ];
    let mut want: Vec<SealedBody> = Vec::new();
    for (i, &id) in crafted.iter().enumerate() {
        // every third id is sealed with another key
        let key = if i % 3 == 2 { "k2" } else { "k1" };
        let body = add_sealed(s, Uuid::from_u128(id), key, 3600).await;
        if key == "k1" {
            want.push(body);
        }
    }
    for _ in 0..4 {
        want.push(add_sealed(s, Uuid::new_v4(), "k1", 3600).await);
    }
    // purged before the listing
    add_sealed(
        s,
        Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_000b),
        "k1",
        10,
    )
    .await;
    add_sealed(s, Uuid::new_v4(), "k1", 10).await;
    assert_eq!(s.purge_raw_bodies(t0() + secs(10)).await.unwrap(), 2);
    // a duplicate keeps no body
    let first = Uuid::from_u128(crafted[0]);
    let mut dup = sample(&format!("sealed-{first}"));
    dup.id = Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0001);
    assert!(matches!(
        s.insert_delivery(dup).await.unwrap(),
        InsertOutcome::Duplicate { .. }
    ));
    want.sort_by_key(|b| b.delivery_id);
    assert_eq!(want.len(), 10);

    assert_eq!(s.sealed_bodies("k1", None, 100).await.unwrap(), want);
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = s.sealed_bodies("k1", after, 3).await.unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(last.delivery_id);
        pages.push(page);
    }
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![3, 3, 3, 1]
    );
    assert_eq!(pages.concat(), want, "pages in id order, each body once");
    assert!(s.sealed_bodies("k1", None, 0).await.unwrap().is_empty());
    // `after` need not be one of the key's bodies: a k2 id, or no delivery at all
    let k2 = s.sealed_bodies("k2", None, 100).await.unwrap();
    assert_eq!(k2.len(), 3);
    assert!(k2.iter().all(|b| b.body.key_id == "k2"));
    let pivot = k2[1].delivery_id;
    let later: Vec<SealedBody> = want
        .iter()
        .filter(|b| b.delivery_id > pivot)
        .cloned()
        .collect();
    assert_eq!(
        s.sealed_bodies("k1", Some(pivot), 100).await.unwrap(),
        later
    );
    let between = Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_000b);
    assert_eq!(
        s.sealed_bodies("k1", Some(between), 100).await.unwrap(),
        want.iter()
            .filter(|b| b.delivery_id > between)
            .cloned()
            .collect::<Vec<_>>()
    );
    assert!(s
        .sealed_bodies("k1", Some(Uuid::max()), 100)
        .await
        .unwrap()
        .is_empty());
    assert!(s.sealed_bodies("k3", None, 100).await.unwrap().is_empty());
    assert!(s.sealed_bodies("K1", None, 100).await.unwrap().is_empty());
}

/// `id` has no raw body to replace (whatever key id is expected) and keeps none.
async fn assert_no_body_to_replace(s: &dyn WebhookStore, id: Uuid, n: u8) {
    for expected in ["k1", ""] {
        assert!(!s
            .replace_raw_body(id, expected, sealed("k2", n))
            .await
            .unwrap());
    }
    assert!(stored(s, id).await.raw_body.is_none());
}

/// `replace_raw_body` re-seals a kept body only while it is still sealed with the expected key:
/// not with another key id, not after it was re-sealed or purged (a purged body stays gone), not
/// for a duplicate or an unknown id. Nothing else of the delivery changes.
pub async fn replace_raw_body(s: &dyn WebhookStore) {
    let mut short = sample("replace-short");
    short.raw_body_expires_at = Some(t0() + secs(10));
    let id = insert(s, sample("replace")).await;
    let short_id = insert(s, short).await;
    let before = stored(s, id).await;
    let resealed = sealed("k2", 42);

    assert!(!s.replace_raw_body(id, "k2", sealed("k3", 1)).await.unwrap());
    assert!(!s.replace_raw_body(id, "K1", sealed("k3", 1)).await.unwrap());
    assert_eq!(stored(s, id).await, before);

    assert!(s
        .replace_raw_body(id, "k1", resealed.clone())
        .await
        .unwrap());
    let after = stored(s, id).await;
    assert_eq!(after.raw_body.as_ref(), Some(&resealed));
    assert_eq!(
        after,
        super::Delivery {
            raw_body: Some(resealed.clone()),
            ..before.clone()
        },
        "only the raw body changes"
    );
    assert_eq!(
        s.sealed_bodies("k2", None, 10).await.unwrap(),
        vec![SealedBody {
            delivery_id: id,
            body: resealed.clone()
        }]
    );
    assert!(!s
        .sealed_bodies("k1", None, 10)
        .await
        .unwrap()
        .iter()
        .any(|b| b.delivery_id == id));
    // re-sealed meanwhile: the old key id no longer matches
    assert!(!s.replace_raw_body(id, "k1", sealed("k3", 1)).await.unwrap());
    assert_eq!(stored(s, id).await.raw_body, Some(resealed.clone()));

    // purged: nothing to replace, and nothing comes back
    assert_eq!(s.purge_raw_bodies(t0() + secs(10)).await.unwrap(), 1);
    assert_no_body_to_replace(s, short_id, 2).await;

    // a duplicate keeps no body; an unknown id has none
    let dup = sample("replace");
    let dup_id = dup.id;
    assert!(matches!(
        s.insert_delivery(dup).await.unwrap(),
        InsertOutcome::Duplicate { .. }
    ));
    assert_no_body_to_replace(s, dup_id, 3).await;
    assert!(!s
        .replace_raw_body(Uuid::new_v4(), "k1", sealed("k2", 4))
        .await
        .unwrap());
    assert_eq!(
        s.raw_body_keys().await.unwrap(),
        vec![KeyUsage {
            key_id: "k2".into(),
            bodies: 1,
            queued: 1
        }]
    );
}

/// `list_deliveries` filters, orders by `received_at` and limits.
pub async fn list_filters(s: &dyn WebhookStore) {
    let mut ids = Vec::new();
    for i in 0..5i64 {
        let mut d = sample(&format!("l{i}"));
        d.received_at = t0() + secs(i);
        if i % 2 == 1 {
            d.provider = Provider::Twilio;
            d.event_type = Some("undelivered".into());
        }
        ids.push(d.id);
        s.insert_delivery(d).await.unwrap();
    }
    let all = s.list_deliveries(&DeliveryQuery::default()).await.unwrap();
    assert_eq!(all.iter().map(|d| d.id).collect::<Vec<_>>(), ids);
    let tw = s
        .list_deliveries(&DeliveryQuery {
            provider: Some(Provider::Twilio),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        tw.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![ids[1], ids[3]]
    );
    let window = DeliveryQuery {
        received_from: Some(t0() + secs(1)),
        received_to: Some(t0() + secs(4)),
        event_type: Some("invoice.paid".into()),
        statuses: vec![DeliveryStatus::Pending],
        limit: Some(10),
        ..Default::default()
    };
    let w = s.list_deliveries(&window).await.unwrap();
    assert_eq!(w.iter().map(|d| d.id).collect::<Vec<_>>(), vec![ids[2]]);
    let limited = s
        .list_deliveries(&DeliveryQuery {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(limited.len(), 2);
    let none = s
        .list_deliveries(&DeliveryQuery {
            statuses: vec![DeliveryStatus::Failed],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
}

/// `count_deliveries` agrees with counting what `list_deliveries` returns for the same filter
/// (its limit ignored), across providers, statuses and a time window.
pub async fn count_deliveries(s: &dyn WebhookStore) {
    assert!(s
        .count_deliveries(&DeliveryQuery::default())
        .await
        .unwrap()
        .is_empty());
    for i in 0..9i64 {
        let mut d = sample(&format!("c{i}"));
        d.received_at = t0() + secs(i);
        d.provider = [Provider::Stripe, Provider::Twilio, Provider::Resend][(i % 3) as usize];
        if i % 4 == 0 {
            d.next_attempt_at = None;
        }
        if i == 5 {
            d.verdict = Verdict::Rejected;
        }
        s.insert_delivery(d).await.unwrap();
    }
    let claims = claim(s, "w", t0() + secs(60), 2).await;
    let done = attempt(&claims[0].token, t0() + secs(60), Some(200));
    s.complete(&claims[0].token, done).await.unwrap();
    let failed = attempt(&claims[1].token, t0() + secs(60), Some(500));
    s.fail(&claims[1].token, failed, None).await.unwrap();
    let sorted = |mut v: Vec<DeliveryCount>| {
        v.sort_by_key(|c| (c.provider.as_str(), c.status.as_str()));
        v
    };
    for q in [
        DeliveryQuery::default(),
        DeliveryQuery {
            received_from: Some(t0() + secs(2)),
            received_to: Some(t0() + secs(7)),
            limit: Some(1),
            ..Default::default()
        },
        DeliveryQuery {
            provider: Some(Provider::Twilio),
            statuses: vec![DeliveryStatus::Pending, DeliveryStatus::Delivered],
            ..Default::default()
        },
    ] {
        let listed = s
            .list_deliveries(&DeliveryQuery {
                limit: None,
                ..q.clone()
            })
            .await
            .unwrap();
        let want = super::count_by_provider_and_status(&listed);
        let got = sorted(s.count_deliveries(&q).await.unwrap());
        assert_eq!(got, want, "count_deliveries({q:?})");
        let total: u64 = got.iter().map(|c| c.count).sum();
        assert_eq!(total, listed.len() as u64);
    }
    let all = s.count_deliveries(&DeliveryQuery::default()).await.unwrap();
    assert!(all.len() >= 4, "several providers and statuses: {all:?}");
}

/// Replay jobs round-trip and update.
pub async fn replay_jobs(s: &dyn WebhookStore) {
    let mut job = ReplayJob {
        id: Uuid::new_v4(),
        filter: DeliveryQuery {
            provider: Some(Provider::Stripe),
            statuses: vec![DeliveryStatus::Failed],
            received_from: Some(t0()),
            received_to: Some(t0() + time::Duration::days(1)),
            ..Default::default()
        },
        requested_by: "ops".into(),
        state: ReplayJobState::Queued,
        total: 0,
        scheduled: 0,
        skipped: 0,
        error: None,
        created_at: t0(),
        updated_at: t0(),
    };
    s.insert_replay_job(job.clone()).await.unwrap();
    assert_eq!(s.get_replay_job(job.id).await.unwrap().as_ref(), Some(&job));
    job.state = ReplayJobState::Completed;
    job.total = 3;
    job.scheduled = 2;
    job.skipped = 1;
    job.updated_at = t0() + secs(5);
    s.update_replay_job(&job).await.unwrap();
    assert_eq!(s.get_replay_job(job.id).await.unwrap().as_ref(), Some(&job));
    let missing = ReplayJob {
        id: Uuid::new_v4(),
        ..job
    };
    assert!(matches!(
        s.update_replay_job(&missing).await,
        Err(StoreError::NotFound)
    ));
    assert!(s.get_replay_job(missing.id).await.unwrap().is_none());
}

/// Many claims in flight at once never hand one delivery to two workers.
pub async fn concurrent_claims(s: &dyn WebhookStore) {
    let n = 40;
    for i in 0..n {
        s.insert_delivery(sample(&format!("cc{i}"))).await.unwrap();
    }
    let workers: Vec<String> = (0..8).map(|i| format!("w{i}")).collect();
    let claims = futures_util::future::join_all(
        workers
            .iter()
            .map(|w| s.claim(Claim::new(w, t0(), LEASE, 7))),
    )
    .await;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    for c in claims {
        for c in c.unwrap() {
            total += 1;
            assert!(
                seen.insert(c.delivery.id),
                "delivery {} claimed twice",
                c.delivery.id
            );
            assert_eq!(c.token.attempt, 1);
        }
    }
    assert_eq!(total, n.min(8 * 7));
}

/// One step of a random interleaving (see [`interleaving`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Receive a verified delivery with dedupe key `k{0}` (repeats are duplicates).
    Receive(u8),
    /// Worker `worker` claims up to `limit` deliveries.
    Claim {
        /// Worker index.
        worker: u8,
        /// Claim limit.
        limit: u8,
    },
    /// Worker `worker` completes its `pick`-th held claim (modulo how many it holds).
    Complete {
        /// Worker index.
        worker: u8,
        /// Which held claim.
        pick: u8,
    },
    /// Worker `worker` fails its `pick`-th held claim, retrying after `retry_secs` (or giving up
    /// when `None`).
    Fail {
        /// Worker index.
        worker: u8,
        /// Which held claim.
        pick: u8,
        /// Retry delay.
        retry_secs: Option<u16>,
    },
    /// Time passes (leases of 30 s may expire).
    Advance(u16),
    /// Release expired leases.
    Reclaim,
}

impl Op {
    /// A pseudo-random op from a seeded generator (used by [`run_all`] without proptest).
    pub fn random(rng: &mut fastrand::Rng, workers: u8) -> Op {
        let w = rng.u8(..workers);
        match rng.u8(..12) {
            0..=2 => Op::Receive(rng.u8(..12)),
            3..=4 => Op::Claim {
                worker: w,
                limit: rng.u8(1..4),
            },
            5..=6 => Op::Complete {
                worker: w,
                pick: rng.u8(..),
            },
            7..=8 => Op::Fail {
                worker: w,
                pick: rng.u8(..),
                retry_secs: if rng.u8(..4) == 0 {
                    None
                } else {
                    Some(rng.u16(..90))
                },
            },
            9..=10 => Op::Advance(rng.u16(..40)),
            _ => Op::Reclaim,
        }
    }
}

/// Run `ops` against a fresh store and check, after every step, that no attempt is ever held by
/// two workers (a claim never returns a delivery under another unexpired lease, and every
/// `(delivery, attempt)` is claimed once), that reports succeed exactly for the current claim, and
/// at the end that no delivery was lost: draining the queue leaves every original delivery
/// `delivered` or (if some worker gave up on it) `failed`.
pub async fn interleaving(s: &dyn WebhookStore, ops: &[Op]) {
    use std::collections::{HashMap, HashSet};
    let lease = Duration::from_secs(30);
    let mut now = t0();
    let mut originals: HashMap<String, Uuid> = HashMap::new();
    let mut gave_up: HashSet<Uuid> = HashSet::new();
    let mut held: HashMap<u8, Vec<super::ClaimToken>> = HashMap::new();
    // delivery → (current token, lease expiry); removed when reported or reclaimed.
    let mut current: HashMap<Uuid, (super::ClaimToken, OffsetDateTime)> = HashMap::new();
    let mut seen_attempts: HashSet<(Uuid, u32)> = HashSet::new();
    let report = |at: OffsetDateTime, t: &super::ClaimToken, status| AttemptRecord {
        delivery_id: t.delivery_id,
        attempt: t.attempt,
        trigger: AttemptTrigger::Scheduled,
        worker: "model".into(),
        started_at: at,
        duration_ms: 1,
        response_status: Some(status),
        error_kind: ErrorKind::from_status(status),
        response_excerpt: None,
    };
    for op in ops {
        match *op {
            Op::Receive(k) => {
                let key = format!("k{k}");
                let mut d = sample(&key);
                d.received_at = now;
                d.next_attempt_at = Some(now);
                let out = s.insert_delivery(d).await.unwrap();
                match originals.get(&key) {
                    Some(&orig) => assert_eq!(
                        out,
                        InsertOutcome::Duplicate {
                            id: out.id(),
                            original: orig
                        }
                    ),
                    None => {
                        assert!(matches!(out, InsertOutcome::Inserted { .. }));
                        originals.insert(key, out.id());
                    }
                }
            }
            Op::Claim { worker, limit } => {
                for c in s
                    .claim(Claim::new(
                        &format!("w{worker}"),
                        now,
                        lease,
                        limit as usize,
                    ))
                    .await
                    .unwrap()
                {
                    let id = c.delivery.id;
                    assert!(!gave_up.contains(&id), "a failed delivery was claimed");
                    if let Some((_, exp)) = current.get(&id) {
                        assert!(
                            *exp <= now,
                            "delivery {id} claimed while another lease was live"
                        );
                    }
                    assert!(
                        seen_attempts.insert((id, c.token.attempt)),
                        "attempt claimed twice"
                    );
                    current.insert(id, (c.token, now + lease));
                    held.entry(worker).or_default().push(c.token);
                }
            }
            Op::Complete { worker, pick } | Op::Fail { worker, pick, .. } => {
                let list = held.entry(worker).or_default();
                if list.is_empty() {
                    continue;
                }
                let t = list.remove(pick as usize % list.len());
                let is_current = current.get(&t.delivery_id).is_some_and(|(c, _)| *c == t);
                let result = match *op {
                    Op::Complete { .. } => s.complete(&t, report(now, &t, 200)).await,
                    Op::Fail { retry_secs, .. } => {
                        let next = retry_secs.map(|r| now + secs(i64::from(r)));
                        let r = s.fail(&t, report(now, &t, 500), next).await;
                        if r.is_ok() && next.is_none() {
                            gave_up.insert(t.delivery_id);
                        }
                        r
                    }
                    _ => unreachable!(),
                };
                if is_current {
                    assert!(result.is_ok(), "current claim refused: {result:?}");
                    current.remove(&t.delivery_id);
                } else {
                    assert!(
                        matches!(result, Err(StoreError::LeaseLost)),
                        "stale claim accepted: {result:?}"
                    );
                }
            }
            Op::Advance(sec) => now += secs(i64::from(sec)),
            Op::Reclaim => {
                let expired: Vec<Uuid> = current
                    .iter()
                    .filter(|(_, (_, exp))| *exp <= now)
                    .map(|(id, _)| *id)
                    .collect();
                let n = s.reclaim_expired(now).await.unwrap();
                assert_eq!(n, expired.len() as u64);
                for id in expired {
                    current.remove(&id);
                }
            }
        }
    }
    // Drain: nothing may be stuck.
    for _ in 0..1000 {
        now += secs(3600);
        let claims = s.claim(Claim::new("drain", now, lease, 64)).await.unwrap();
        if claims.is_empty() {
            break;
        }
        for c in claims {
            s.complete(&c.token, report(now, &c.token, 200))
                .await
                .unwrap();
        }
    }
    for (key, id) in &originals {
        let d = stored(s, *id).await;
        let want = if gave_up.contains(id) {
            DeliveryStatus::Failed
        } else {
            DeliveryStatus::Delivered
        };
        assert_eq!(d.status, want, "delivery {key} lost (status {})", d.status);
    }
}

/// [`interleaving`] over `runs` pseudo-random sequences of `len` ops with 3 workers.
pub async fn random_interleavings<F, Fut, S>(mut fresh: F, seed: u64, runs: usize, len: usize)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
    S: WebhookStore,
{
    let mut rng = fastrand::Rng::with_seed(seed);
    for _ in 0..runs {
        let ops: Vec<Op> = (0..len).map(|_| Op::random(&mut rng, 3)).collect();
        interleaving(&fresh().await, &ops).await;
    }
}
