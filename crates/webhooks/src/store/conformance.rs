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
    AttemptRecord, AttemptTrigger, DeliveryQuery, DeliveryStatus, EncryptedBody, ErrorKind,
    InsertOutcome, NewDelivery, Priority, ReplayJob, ReplayJobState, ReplayRequest, StoreError,
    Verdict, WebhookStore,
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
    list_filters(&fresh().await).await;
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
    let fd = s.get_delivery(f.id()).await.unwrap().unwrap();
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
    let dup = s.get_delivery(second_id).await.unwrap().unwrap();
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
    let claimed = s.claim("w", t0(), LEASE, 10).await.unwrap();
    let ids: Vec<Uuid> = claimed.iter().map(|c| c.delivery.id).collect();
    assert!(ids.contains(&first_id));
    assert!(!ids.contains(&second_id));
    assert!(!ids.contains(&f.id()));
}

/// Critical first, then earliest due; future deliveries wait; `limit` holds.
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
    let first = s.claim("w", t0(), hour, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|c| c.delivery.id).collect::<Vec<_>>(),
        ids[..2].to_vec()
    );
    let rest = s.claim("w", t0(), hour, 10).await.unwrap();
    assert_eq!(
        rest.iter().map(|c| c.delivery.id).collect::<Vec<_>>(),
        vec![ids[2]]
    );
    let later = s.claim("w", t0() + secs(60), LEASE, 10).await.unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].delivery.id, future_id);
}

/// A held lease blocks other claims; an expired one is re-claimed with the next attempt number and
/// the first holder's report is refused.
pub async fn lease_is_exclusive(s: &dyn WebhookStore) {
    let new = sample("evt_lease");
    let id = new.id;
    s.insert_delivery(new).await.unwrap();
    let a = s.claim("a", t0(), LEASE, 10).await.unwrap();
    assert_eq!(a.len(), 1);
    let a = a[0].clone();
    assert_eq!(a.token.attempt, 1);
    assert_eq!(a.trigger, AttemptTrigger::Scheduled);
    assert_eq!(a.delivery.lease_owner.as_deref(), Some("a"));
    assert!(s
        .claim("b", t0() + secs(29), LEASE, 10)
        .await
        .unwrap()
        .is_empty());

    let b = s.claim("b", t0() + secs(30), LEASE, 10).await.unwrap();
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
    assert_eq!(
        s.get_delivery(id).await.unwrap().unwrap().status,
        DeliveryStatus::Pending
    );

    s.complete(&b.token, attempt(&b.token, t0() + secs(31), Some(204)))
        .await
        .unwrap();
    let d = s.get_delivery(id).await.unwrap().unwrap();
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
    assert!(s
        .claim("c", t0() + secs(100), LEASE, 10)
        .await
        .unwrap()
        .is_empty());
}

/// `fail` with a next time retries then; without one the delivery is failed.
pub async fn fail_then_retry(s: &dyn WebhookStore) {
    let new = sample("evt_retry");
    let id = new.id;
    s.insert_delivery(new).await.unwrap();
    let c = s.claim("w", t0(), LEASE, 1).await.unwrap().remove(0);
    s.fail(
        &c.token,
        attempt(&c.token, t0(), Some(503)),
        Some(t0() + secs(5)),
    )
    .await
    .unwrap();
    let d = s.get_delivery(id).await.unwrap().unwrap();
    assert_eq!(d.status, DeliveryStatus::Retrying);
    assert_eq!(d.next_attempt_at, Some(t0() + secs(5)));
    assert_eq!(d.last_error, Some(ErrorKind::Http5xx));
    assert!(s
        .claim("w", t0() + secs(4), LEASE, 1)
        .await
        .unwrap()
        .is_empty());
    let c2 = s
        .claim("w", t0() + secs(5), LEASE, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(c2.token.attempt, 2);
    assert_eq!(c2.delivery.run_attempts, 2);
    s.fail(&c2.token, attempt(&c2.token, t0() + secs(5), None), None)
        .await
        .unwrap();
    let d = s.get_delivery(id).await.unwrap().unwrap();
    assert_eq!(d.status, DeliveryStatus::Failed);
    assert!(d.next_attempt_at.is_none());
    assert_eq!(s.list_attempts(id).await.unwrap().len(), 2);
    assert!(s
        .claim("w", t0() + secs(3600), LEASE, 1)
        .await
        .unwrap()
        .is_empty());
}

/// `reclaim_expired` releases exactly the expired leases and records `lease_expired`.
pub async fn reclaim_expired(s: &dyn WebhookStore) {
    let mut a = sample("r1");
    a.next_attempt_at = Some(t0() - secs(1));
    let b = sample("r2");
    let a_id = a.id;
    s.insert_delivery(a).await.unwrap();
    s.insert_delivery(b).await.unwrap();
    let short = s
        .claim("w", t0(), Duration::from_secs(10), 1)
        .await
        .unwrap();
    assert_eq!(short[0].delivery.id, a_id);
    s.claim("w", t0(), Duration::from_secs(100), 1)
        .await
        .unwrap();
    assert_eq!(s.reclaim_expired(t0() + secs(9)).await.unwrap(), 0);
    assert_eq!(s.reclaim_expired(t0() + secs(10)).await.unwrap(), 1);
    let d = s.get_delivery(a_id).await.unwrap().unwrap();
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
    let again = s.claim("w2", t0() + secs(10), LEASE, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].token.attempt, 2);
}

/// Replay preconditions and effects.
pub async fn replay_rules(s: &dyn WebhookStore) {
    let new = sample("evt_replay");
    let id = new.id;
    s.insert_delivery(new).await.unwrap();
    let req = |force| ReplayRequest {
        at: t0() + secs(60),
        trigger: AttemptTrigger::Manual,
        single_attempt: true,
        force,
        now: t0() + secs(60),
    };
    let c = s.claim("w", t0(), LEASE, 1).await.unwrap().remove(0);
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
    let c = s
        .claim("w", t0() + secs(60), LEASE, 1)
        .await
        .unwrap()
        .remove(0);
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
    let b = sample("p2");
    let (a_id, b_id) = (a.id, b.id);
    s.insert_delivery(a).await.unwrap();
    s.insert_delivery(b).await.unwrap();
    assert_eq!(s.purge_raw_bodies(t0() + secs(9)).await.unwrap(), 0);
    assert_eq!(s.purge_raw_bodies(t0() + secs(10)).await.unwrap(), 1);
    assert!(s
        .get_delivery(a_id)
        .await
        .unwrap()
        .unwrap()
        .raw_body
        .is_none());
    assert!(s
        .get_delivery(b_id)
        .await
        .unwrap()
        .unwrap()
        .raw_body
        .is_some());
    assert_eq!(s.purge_raw_bodies(t0() + secs(10)).await.unwrap(), 0);
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
    let claims =
        futures_util::future::join_all(workers.iter().map(|w| s.claim(w, t0(), LEASE, 7))).await;
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
                    .claim(&format!("w{worker}"), now, lease, limit as usize)
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
        let claims = s.claim("drain", now, lease, 64).await.unwrap();
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
        let d = s.get_delivery(*id).await.unwrap().unwrap();
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
