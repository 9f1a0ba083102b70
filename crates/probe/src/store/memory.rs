//! [`MemoryStore`]: the in-memory implementation of every storage trait.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;

use super::*;

/// An in-memory [`ProbeStore`] for tests and single-process embedding. Keeps at most
/// `max_results_per_service` results per service (default 1,000).
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    max_results_per_service: usize,
}

#[derive(Debug, Default)]
struct Inner {
    results: HashMap<String, Series>,
    incidents: BTreeMap<String, Incident>,
    outbox: BTreeMap<String, (u64, Notification)>,
    seq: u64,
}

/// One service's results in a [`MemoryStore`].
#[derive(Debug)]
struct Series {
    /// Oldest first; never longer than `max_results_per_service`.
    ring: VecDeque<ProbeResult>,
    /// Ascending by hour; the last [`MEMORY_HOURS_KEPT`] hours before the newest.
    hours: VecDeque<PackedHour>,
}

/// A [`HourlyHealth`] in 32 bytes (half): a day of them per service stays small in a large fleet.
#[derive(Debug, Clone, Copy)]
struct PackedHour {
    /// Hours since the Unix epoch.
    hour: i32,
    checks: u32,
    healthy: u32,
    degraded: u32,
    unhealthy: u32,
    /// `u32::MAX`: none.
    latency_max_ms: u32,
    latency_sum_ms: u64,
}

impl PackedHour {
    fn new(hour: i32) -> Self {
        Self {
            hour,
            checks: 0,
            healthy: 0,
            degraded: 0,
            unhealthy: 0,
            latency_max_ms: u32::MAX,
            latency_sum_ms: 0,
        }
    }

    fn add(&mut self, r: &ProbeResult) {
        let mut h = self.unpack();
        h.add(r);
        let small = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        self.checks = small(h.checks);
        self.healthy = small(h.healthy);
        self.degraded = small(h.degraded);
        self.unhealthy = small(h.unhealthy);
        self.latency_sum_ms = h.latency_sum_ms;
        // u32::MAX - 1 ms (49 days) caps a latency; u32::MAX means none
        self.latency_max_ms = h
            .latency_max_ms
            .map_or(u32::MAX, |m| small(m).min(u32::MAX - 1));
    }

    fn unpack(&self) -> HourlyHealth {
        HourlyHealth {
            hour_start_ms: i64::from(self.hour) * HOUR_MS,
            checks: u64::from(self.checks),
            healthy: u64::from(self.healthy),
            degraded: u64::from(self.degraded),
            unhealthy: u64::from(self.unhealthy),
            latency_sum_ms: self.latency_sum_ms,
            latency_max_ms: (self.latency_max_ms != u32::MAX)
                .then_some(u64::from(self.latency_max_ms)),
        }
    }
}

/// Hours since the Unix epoch of the hour containing `at_ms` (saturating).
fn hour_index(at_ms: i64) -> i32 {
    let h = at_ms.div_euclid(HOUR_MS);
    i32::try_from(h).unwrap_or(if h < 0 { i32::MIN } else { i32::MAX })
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::with_capacity(1_000)
    }

    /// An empty store keeping at most `max_results_per_service` results per service.
    pub fn with_capacity(max_results_per_service: usize) -> Self {
        MemoryStore {
            inner: Mutex::new(Inner::default()),
            max_results_per_service: max_results_per_service.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl ResultStore for MemoryStore {
    async fn insert_result(&self, result: &ProbeResult) -> Result<(), StoreError> {
        let max = self.max_results_per_service;
        let mut g = self.lock();
        // Look up before inserting: no key copied per result once the service is known.
        let v = match g.results.get_mut(&result.service) {
            Some(v) => v,
            None => g
                .results
                .entry(result.service.clone())
                .or_insert_with(|| Series {
                    // exact for a small bound (a 2-result store holds 2, not 4); grows up to `max`
                    ring: VecDeque::with_capacity(max.min(4)),
                    hours: VecDeque::with_capacity(1),
                }),
        };
        if v.ring.len() >= max {
            v.ring.pop_front();
        }
        v.ring.push_back(result.clone());
        let hour = hour_index(result.checked_at_ms);
        let hours = &mut v.hours;
        match hours.binary_search_by_key(&hour, |h| h.hour) {
            Ok(i) => hours[i].add(result),
            Err(i) => {
                let mut h = PackedHour::new(hour);
                h.add(result);
                hours.insert(i, h);
            }
        }
        let keep_from = hours.back().map_or(i32::MIN, |h| {
            h.hour.saturating_sub(MEMORY_HOURS_KEPT as i32 - 1)
        });
        while hours.front().is_some_and(|h| h.hour < keep_from) {
            hours.pop_front();
        }
        Ok(())
    }

    async fn latest_results(&self) -> Result<Vec<ProbeResult>, StoreError> {
        let g = self.lock();
        let mut out: Vec<ProbeResult> = g
            .results
            .values()
            .filter_map(|v| v.ring.iter().max_by_key(|r| r.checked_at_ms).cloned())
            .collect();
        out.sort_by(|a, b| a.service.cmp(&b.service));
        Ok(out)
    }

    async fn history(
        &self,
        service: &str,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<ProbeResult>, StoreError> {
        let g = self.lock();
        let mut out: Vec<ProbeResult> = g
            .results
            .get(service)
            .map(|v| {
                v.ring
                    .iter()
                    .filter(|r| r.checked_at_ms >= since_ms)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by_key(|r| std::cmp::Reverse(r.checked_at_ms));
        out.truncate(limit);
        Ok(out)
    }

    async fn hourly_history(
        &self,
        service: &str,
        since_ms: i64,
    ) -> Result<Vec<HourlyHealth>, StoreError> {
        let from = hour_index(since_ms);
        Ok(self
            .lock()
            .results
            .get(service)
            .map(|v| {
                v.hours
                    .iter()
                    .filter(|h| h.hour >= from)
                    .map(PackedHour::unpack)
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn prune_results(&self, before_ms: i64) -> Result<u64, StoreError> {
        let mut g = self.lock();
        let mut n = 0u64;
        for v in g.results.values_mut() {
            let before = v.ring.len();
            v.ring.retain(|r| r.checked_at_ms >= before_ms);
            n += (before - v.ring.len()) as u64;
        }
        Ok(n)
    }
}

impl Inner {
    fn open(&mut self, mut incident: Incident) -> OpenOutcome {
        if let Some(open) = self
            .incidents
            .values()
            .find(|i| i.service == incident.service && i.state == IncidentState::Open)
        {
            return OpenOutcome::AlreadyOpen(open.clone());
        }
        if let Some(existing) = self.incidents.get(&incident.dedup_key) {
            return OpenOutcome::AlreadyOpen(existing.clone());
        }
        incident.state = IncidentState::Open;
        incident.resolved_at_ms = None;
        self.incidents
            .insert(incident.dedup_key.clone(), incident.clone());
        OpenOutcome::Created(incident)
    }

    fn update(&mut self, incident: &Incident) -> Result<(), StoreError> {
        let cur = self
            .incidents
            .get_mut(&incident.dedup_key)
            .ok_or(StoreError::NotFound)?;
        cur.status = incident.status;
        cur.updated_at_ms = incident.updated_at_ms;
        cur.last_notified_at_ms = incident.last_notified_at_ms;
        cur.summary.clone_from(&incident.summary);
        Ok(())
    }

    fn resolve(&mut self, dedup_key: &str, resolved_at_ms: i64) -> Option<Incident> {
        match self.incidents.get_mut(dedup_key) {
            Some(i) if i.state == IncidentState::Open => {
                i.state = IncidentState::Resolved;
                i.resolved_at_ms = Some(resolved_at_ms);
                i.updated_at_ms = resolved_at_ms;
                Some(i.clone())
            }
            _ => None,
        }
    }

    fn enqueue(&mut self, mut n: Notification) -> bool {
        if self.outbox.contains_key(&n.id) {
            return false;
        }
        n.state = OutboxState::Pending;
        n.lease_owner = None;
        n.lease_until_ms = None;
        self.seq += 1;
        let seq = self.seq;
        self.outbox.insert(n.id.clone(), (seq, n));
        true
    }
}

#[async_trait]
impl IncidentStore for MemoryStore {
    async fn open_incident(&self, incident: Incident) -> Result<OpenOutcome, StoreError> {
        Ok(self.lock().open(incident))
    }

    async fn update_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        self.lock().update(incident)
    }

    async fn resolve_incident(
        &self,
        dedup_key: &str,
        resolved_at_ms: i64,
    ) -> Result<Option<Incident>, StoreError> {
        Ok(self.lock().resolve(dedup_key, resolved_at_ms))
    }

    async fn list_open_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        let g = self.lock();
        let mut v: Vec<Incident> = g
            .incidents
            .values()
            .filter(|i| i.state == IncidentState::Open)
            .cloned()
            .collect();
        v.sort_by_key(|i| i.opened_at_ms);
        Ok(v)
    }

    async fn get_incident(&self, dedup_key: &str) -> Result<Option<Incident>, StoreError> {
        Ok(self.lock().incidents.get(dedup_key).cloned())
    }

    /// Atomic: both happen under the store's one lock.
    async fn change_incident_and_enqueue(
        &self,
        change: &IncidentChange,
        notifications: &[Notification],
    ) -> Result<Option<ChangeOutcome>, StoreError> {
        let mut g = self.lock();
        let outcome = match change {
            IncidentChange::Open(i) => ChangeOutcome::Opened(g.open(i.clone())),
            IncidentChange::Update(i) => {
                g.update(i)?;
                ChangeOutcome::Updated
            }
            IncidentChange::Resolve {
                dedup_key,
                resolved_at_ms,
            } => ChangeOutcome::Resolved(g.resolve(dedup_key, *resolved_at_ms)),
        };
        if outcome.took() {
            for n in notifications {
                g.enqueue(n.clone());
            }
        }
        Ok(Some(outcome))
    }
}

#[async_trait]
impl OutboxStore for MemoryStore {
    async fn enqueue(&self, n: Notification) -> Result<bool, StoreError> {
        Ok(self.lock().enqueue(n))
    }

    async fn claim_due(&self, claim: DueClaim<'_>) -> Result<Vec<Notification>, StoreError> {
        let now_ms = claim.now_ms;
        let mut g = self.lock();
        let mut due: Vec<(i64, u64, String)> = g
            .outbox
            .values()
            .filter(|(_, n)| {
                n.state == OutboxState::Pending
                    && n.next_attempt_at_ms <= now_ms
                    && n.lease_until_ms.is_none_or(|l| l <= now_ms)
            })
            .map(|(seq, n)| (n.next_attempt_at_ms, *seq, n.id.clone()))
            .collect();
        due.sort();
        due.truncate(claim.limit);
        let mut out = Vec::with_capacity(due.len());
        for (_, _, id) in due {
            if let Some((_, n)) = g.outbox.get_mut(&id) {
                n.lease_owner = Some(claim.owner.to_owned());
                n.lease_until_ms = Some(now_ms + claim.lease_ms);
                n.attempts += 1;
                out.push(n.clone());
            }
        }
        Ok(out)
    }

    async fn mark_sent(&self, id: &str, owner: &str, _now_ms: i64) -> Result<bool, StoreError> {
        let mut g = self.lock();
        match g.outbox.get_mut(id) {
            Some((_, n))
                if n.state == OutboxState::Pending && n.lease_owner.as_deref() == Some(owner) =>
            {
                n.state = OutboxState::Sent;
                n.lease_owner = None;
                n.lease_until_ms = None;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn mark_failed(
        &self,
        id: &str,
        owner: &str,
        fail: SendFailure<'_>,
    ) -> Result<bool, StoreError> {
        let mut g = self.lock();
        match g.outbox.get_mut(id) {
            Some((_, n))
                if n.state == OutboxState::Pending && n.lease_owner.as_deref() == Some(owner) =>
            {
                n.lease_owner = None;
                n.lease_until_ms = None;
                n.last_error = Some(fail.error.to_owned());
                match fail.retry_at_ms {
                    Some(t) => n.next_attempt_at_ms = t,
                    None => n.state = OutboxState::Dead,
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn get_notification(&self, id: &str) -> Result<Option<Notification>, StoreError> {
        Ok(self.lock().outbox.get(id).map(|(_, n)| n.clone()))
    }

    async fn notifications_for(&self, incident_key: &str) -> Result<Vec<Notification>, StoreError> {
        let g = self.lock();
        let mut v: Vec<(u64, Notification)> = g
            .outbox
            .values()
            .filter(|(_, n)| n.incident_key == incident_key)
            .cloned()
            .collect();
        v.sort_by_key(|(s, _)| *s);
        Ok(v.into_iter().map(|(_, n)| n).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_keeps_a_day_of_hours_in_order() {
        let store = MemoryStore::with_capacity(2);
        let at = |h: i64| 400_000 * HOUR_MS + h * HOUR_MS + 17;
        // hour 3 arrives late, after hours 4..30
        for h in (0..30).filter(|h| *h != 3).chain([3]) {
            let r = ProbeResult::new("svc", ProbeStatus::Healthy, "").at(at(h));
            store.insert_result(&r).await.unwrap();
        }
        let hours = store.hourly_history("svc", 0).await.unwrap();
        assert_eq!(hours.len() as i64, MEMORY_HOURS_KEPT);
        assert_eq!(hours[0].hour_start_ms, HourlyHealth::hour_of(at(5)));
        assert!(hours
            .windows(2)
            .all(|w| w[1].hour_start_ms == w[0].hour_start_ms + HOUR_MS));
        assert!(hours.iter().all(|h| h.checks == 1 && h.healthy == 1));
        assert_eq!(hours[0].latency_max_ms, Some(0));
        // a late result inside the kept day lands in its hour
        let late = ProbeResult::new("svc", ProbeStatus::Unhealthy, "").at(at(10));
        store.insert_result(&late).await.unwrap();
        let hours = store.hourly_history("svc", at(10)).await.unwrap();
        assert_eq!((hours[0].checks, hours[0].unhealthy), (2, 1));
        assert_eq!(hours.len(), 20, "hours 10..=29");
    }

    #[test]
    fn enums_round_trip() {
        for k in [
            NotificationKind::Trigger,
            NotificationKind::Resolve,
            NotificationKind::Reminder,
            NotificationKind::Flapping,
        ] {
            assert_eq!(k.as_str().parse::<NotificationKind>(), Ok(k));
        }
        for s in [OutboxState::Pending, OutboxState::Sent, OutboxState::Dead] {
            assert_eq!(s.as_str().parse::<OutboxState>(), Ok(s));
        }
        for s in [IncidentState::Open, IncidentState::Resolved] {
            assert_eq!(s.as_str().parse::<IncidentState>(), Ok(s));
        }
        assert!("nope".parse::<IncidentState>().is_err());
    }

    #[tokio::test]
    async fn memory_store_passes_conformance() {
        let store = MemoryStore::new();
        crate::conformance::run_all(&store).await;
    }
}
