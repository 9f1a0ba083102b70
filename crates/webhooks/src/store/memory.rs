//! The in-memory [`WebhookStore`]: for tests, tools and single-process embedding.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    AttemptRecord, AttemptTrigger, Claim, ClaimToken, Claimed, Delivery, DeliveryCount,
    DeliveryQuery, DeliveryStatus, EncryptedBody, ErrorKind, InsertOutcome, KeyUsage, NewDelivery,
    ReplayJob, ReplayRequest, SealedBody, StoreError, Verdict, WebhookStore,
};
use crate::provider::Provider;

#[derive(Default)]
struct Inner {
    deliveries: HashMap<Uuid, Delivery>,
    /// `(provider, dedupe_key)` → owning delivery.
    dedupe: HashMap<(Provider, String), Uuid>,
    attempts: HashMap<Uuid, BTreeMap<u32, AttemptRecord>>,
    jobs: HashMap<Uuid, ReplayJob>,
}

/// A [`WebhookStore`] in a mutex. Every operation is atomic; nothing survives the process.
///
/// ```
/// use wedsync_webhooks::store::{InMemoryStore, WebhookStore};
/// let store: &dyn WebhookStore = &InMemoryStore::new();
/// # let _ = store;
/// ```
#[derive(Default)]
pub struct InMemoryStore {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for InMemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.lock().deliveries.len();
        f.debug_struct("InMemoryStore")
            .field("deliveries", &n)
            .finish()
    }
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every operation validates
        // before it writes), so poisoning is ignored.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn add(now: OffsetDateTime, d: Duration) -> OffsetDateTime {
    now + time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}

fn check_token(d: &Delivery, token: &ClaimToken) -> Result<(), StoreError> {
    if d.lease_token == Some(token.lease_token) && d.attempt_count == token.attempt {
        Ok(())
    } else {
        Err(StoreError::LeaseLost)
    }
}

fn finish(d: &mut Delivery, attempt: &AttemptRecord) {
    d.lease_token = None;
    d.lease_owner = None;
    d.lease_expires_at = None;
    d.last_error = attempt.error_kind;
    d.last_status = attempt.response_status;
    d.updated_at = attempt.started_at + time::Duration::milliseconds(attempt.duration_ms as i64);
}

impl InMemoryStore {
    /// Ends the attempt `token` holds (same lease check as the trait's `complete`/`fail`):
    /// releases the lease, applies `outcome` to the delivery and records `attempt`.
    fn settle(
        &self,
        token: &ClaimToken,
        attempt: AttemptRecord,
        outcome: impl FnOnce(&mut Delivery),
    ) -> Result<(), StoreError> {
        let mut g = self.lock();
        let d = g
            .deliveries
            .get_mut(&token.delivery_id)
            .ok_or(StoreError::NotFound)?;
        check_token(d, token)?;
        finish(d, &attempt);
        outcome(d);
        g.attempts
            .entry(token.delivery_id)
            .or_default()
            .insert(attempt.attempt, attempt);
        Ok(())
    }
}

#[async_trait]
impl WebhookStore for InMemoryStore {
    async fn insert_delivery(&self, new: NewDelivery) -> Result<InsertOutcome, StoreError> {
        let mut g = self.lock();
        let id = new.id;
        let status = Delivery::initial_status(&new);
        let key = (new.provider, new.dedupe_key.clone());
        if new.verdict == Verdict::Verified {
            if let Some(&original) = g.dedupe.get(&key) {
                let d = Delivery::from_new(new, DeliveryStatus::Duplicate, Some(original));
                g.deliveries.insert(id, d);
                return Ok(InsertOutcome::Duplicate { id, original });
            }
            g.dedupe.insert(key, id);
        }
        g.deliveries
            .insert(id, Delivery::from_new(new, status, None));
        Ok(InsertOutcome::Inserted { id, status })
    }

    async fn get_delivery(&self, id: Uuid) -> Result<Option<Delivery>, StoreError> {
        Ok(self.lock().deliveries.get(&id).cloned())
    }

    async fn find_by_dedupe_key(
        &self,
        provider: Provider,
        dedupe_key: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        let g = self.lock();
        Ok(g.dedupe
            .get(&(provider, dedupe_key.to_owned()))
            .and_then(|id| g.deliveries.get(id))
            .cloned())
    }

    async fn claim(&self, claim: Claim<'_>) -> Result<Vec<Claimed>, StoreError> {
        let now = claim.now;
        let mut g = self.lock();
        let mut due: Vec<&Delivery> = g
            .deliveries
            .values()
            .filter(|d| {
                d.status.is_queued()
                    && d.next_attempt_at.is_some_and(|t| t <= now)
                    && !d.is_leased(now)
            })
            .collect();
        due.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(a.next_attempt_at.cmp(&b.next_attempt_at))
                .then(a.received_at.cmp(&b.received_at))
                .then(a.id.cmp(&b.id))
        });
        let ids: Vec<Uuid> = due.iter().take(claim.limit).map(|d| d.id).collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(d) = g.deliveries.get_mut(&id) else {
                continue;
            };
            d.attempt_count += 1;
            d.run_attempts += 1;
            let token = ClaimToken {
                delivery_id: id,
                attempt: d.attempt_count,
                lease_token: Uuid::new_v4(),
            };
            d.lease_token = Some(token.lease_token);
            d.lease_owner = Some(claim.worker.to_owned());
            d.lease_expires_at = Some(add(now, claim.lease));
            d.updated_at = now;
            out.push(Claimed {
                delivery: d.clone(),
                token,
                trigger: d.next_trigger,
            });
        }
        Ok(out)
    }

    async fn complete(&self, token: &ClaimToken, attempt: AttemptRecord) -> Result<(), StoreError> {
        self.settle(token, attempt, |d| {
            d.status = DeliveryStatus::Delivered;
            d.delivered_at = Some(d.updated_at);
            d.next_attempt_at = None;
        })
    }

    async fn fail(
        &self,
        token: &ClaimToken,
        attempt: AttemptRecord,
        next_attempt_at: Option<OffsetDateTime>,
    ) -> Result<(), StoreError> {
        self.settle(token, attempt, |d| match next_attempt_at {
            Some(t) => {
                d.status = DeliveryStatus::Retrying;
                d.next_attempt_at = Some(t);
                d.next_trigger = AttemptTrigger::Scheduled;
            }
            None => {
                d.status = DeliveryStatus::Failed;
                d.next_attempt_at = None;
            }
        })
    }

    async fn reclaim_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let mut g = self.lock();
        let Inner {
            deliveries,
            attempts,
            ..
        } = &mut *g;
        let mut n = 0;
        for d in deliveries.values_mut() {
            if d.lease_token.is_some() && d.lease_expires_at.is_some_and(|t| t <= now) {
                let record = AttemptRecord {
                    delivery_id: d.id,
                    attempt: d.attempt_count,
                    trigger: d.next_trigger,
                    worker: d.lease_owner.clone().unwrap_or_default(),
                    started_at: now,
                    duration_ms: 0,
                    response_status: None,
                    error_kind: Some(ErrorKind::LeaseExpired),
                    response_excerpt: None,
                };
                finish(d, &record);
                if d.status.is_queued() {
                    d.status = DeliveryStatus::Retrying;
                    d.next_attempt_at = Some(now);
                }
                attempts
                    .entry(d.id)
                    .or_default()
                    .entry(record.attempt)
                    .or_insert(record);
                n += 1;
            }
        }
        Ok(n)
    }

    async fn renew_leases(
        &self,
        tokens: &[ClaimToken],
        until: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut g = self.lock();
        let mut n = 0;
        let mut seen = std::collections::HashSet::new();
        for token in tokens {
            if !seen.insert(*token) {
                continue;
            }
            if let Some(d) = g.deliveries.get_mut(&token.delivery_id) {
                if check_token(d, token).is_ok() {
                    d.lease_expires_at = Some(until);
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    async fn queue_depth(&self) -> Result<u64, StoreError> {
        let g = self.lock();
        Ok(g.deliveries
            .values()
            .filter(|d| d.status.is_queued())
            .count() as u64)
    }

    async fn count_deliveries(
        &self,
        query: &DeliveryQuery,
    ) -> Result<Vec<DeliveryCount>, StoreError> {
        let g = self.lock();
        Ok(super::count_by_provider_and_status(
            g.deliveries.values().filter(|d| query.matches(d)),
        ))
    }

    async fn raw_body_keys(&self) -> Result<Vec<KeyUsage>, StoreError> {
        let g = self.lock();
        let mut by_key: BTreeMap<&str, KeyUsage> = BTreeMap::new();
        for d in g.deliveries.values() {
            let Some(body) = &d.raw_body else { continue };
            let u = by_key.entry(&body.key_id).or_insert_with(|| KeyUsage {
                key_id: body.key_id.clone(),
                bodies: 0,
                queued: 0,
            });
            u.bodies += 1;
            u.queued += u64::from(d.status.is_queued());
        }
        Ok(by_key.into_values().collect())
    }

    async fn sealed_bodies(
        &self,
        key_id: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<SealedBody>, StoreError> {
        let g = self.lock();
        let mut out: Vec<SealedBody> = g
            .deliveries
            .values()
            .filter(|d| after.is_none_or(|a| d.id > a))
            .filter_map(|d| {
                let body = d.raw_body.as_ref().filter(|b| b.key_id == key_id)?;
                Some(SealedBody {
                    delivery_id: d.id,
                    body: body.clone(),
                })
            })
            .collect();
        out.sort_by_key(|b| b.delivery_id);
        out.truncate(limit);
        Ok(out)
    }

    async fn replace_raw_body(
        &self,
        id: Uuid,
        expected_key_id: &str,
        body: EncryptedBody,
    ) -> Result<bool, StoreError> {
        let mut g = self.lock();
        let Some(d) = g.deliveries.get_mut(&id) else {
            return Ok(false);
        };
        match &mut d.raw_body {
            Some(old) if old.key_id == expected_key_id => {
                *old = body;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn schedule_replay(&self, id: Uuid, req: ReplayRequest) -> Result<Delivery, StoreError> {
        let mut g = self.lock();
        let d = g.deliveries.get_mut(&id).ok_or(StoreError::NotFound)?;
        validate_replay(d, &req)?;
        d.status = DeliveryStatus::Pending;
        d.run_attempts = 0;
        d.next_attempt_at = Some(req.at);
        d.next_trigger = req.trigger;
        d.single_attempt = req.single_attempt;
        d.lease_token = None;
        d.lease_owner = None;
        d.lease_expires_at = None;
        d.updated_at = req.now;
        Ok(d.clone())
    }

    async fn list_attempts(&self, delivery_id: Uuid) -> Result<Vec<AttemptRecord>, StoreError> {
        Ok(self
            .lock()
            .attempts
            .get(&delivery_id)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn list_deliveries(&self, query: &DeliveryQuery) -> Result<Vec<Delivery>, StoreError> {
        let g = self.lock();
        let mut v: Vec<Delivery> = g
            .deliveries
            .values()
            .filter(|d| query.matches(d))
            .cloned()
            .collect();
        v.sort_by(|a, b| a.received_at.cmp(&b.received_at).then(a.id.cmp(&b.id)));
        if let Some(limit) = query.limit {
            v.truncate(limit);
        }
        Ok(v)
    }

    async fn purge_raw_bodies(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let mut g = self.lock();
        let mut n = 0;
        for d in g.deliveries.values_mut() {
            if d.raw_body.is_some() && d.raw_body_expires_at.is_some_and(|t| t <= now) {
                d.raw_body = None;
                n += 1;
            }
        }
        Ok(n)
    }

    async fn insert_replay_job(&self, job: ReplayJob) -> Result<(), StoreError> {
        self.lock().jobs.insert(job.id, job);
        Ok(())
    }

    async fn update_replay_job(&self, job: &ReplayJob) -> Result<(), StoreError> {
        let mut g = self.lock();
        let j = g.jobs.get_mut(&job.id).ok_or(StoreError::NotFound)?;
        j.state = job.state;
        j.total = job.total;
        j.scheduled = job.scheduled;
        j.skipped = job.skipped;
        j.error.clone_from(&job.error);
        j.updated_at = job.updated_at;
        Ok(())
    }

    async fn get_replay_job(&self, id: Uuid) -> Result<Option<ReplayJob>, StoreError> {
        Ok(self.lock().jobs.get(&id).cloned())
    }
}

/// The replay preconditions every backend checks, in this order (`NotReplayable`,
/// `AlreadyDelivered` unless forced, `InFlight`, `RawBodyExpired`). Backends may call it on the
/// locked row.
pub fn validate_replay(d: &Delivery, req: &ReplayRequest) -> Result<(), StoreError> {
    if matches!(
        d.status,
        DeliveryStatus::Rejected | DeliveryStatus::Duplicate
    ) {
        return Err(StoreError::NotReplayable(d.status));
    }
    if d.status == DeliveryStatus::Delivered && !req.force {
        return Err(StoreError::AlreadyDelivered);
    }
    if d.is_leased(req.now) {
        return Err(StoreError::InFlight);
    }
    if !d.raw_body_available(req.now) {
        return Err(StoreError::RawBodyExpired);
    }
    Ok(())
}
