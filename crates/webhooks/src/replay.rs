//! Replays: one delivery by id (a single manual attempt), or many by filter as a tracked job.

use std::time::Duration;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::provider::Provider;
use crate::store::{
    AttemptTrigger, Delivery, DeliveryQuery, DeliveryStatus, ReplayJob, ReplayJobState,
    ReplayRequest, StoreError, WebhookStore,
};

/// Longest time window of a bulk replay.
pub const MAX_BULK_WINDOW: Duration = Duration::from_secs(14 * 86_400);
/// Most deliveries one bulk replay may select.
pub const MAX_BULK_DELIVERIES: usize = 10_000;

/// Replay errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// No such delivery or job.
    #[error("not found")]
    NotFound,
    /// The raw body was deleted after the retention period (or never kept).
    #[error("cannot replay: the raw body expired (deleted after the retention period)")]
    RawBodyExpired,
    /// Delivered already; pass `force` to replay anyway.
    #[error("already delivered; use force to replay anyway")]
    AlreadyDelivered,
    /// A worker is sending it right now.
    #[error("a delivery attempt is in flight; try again shortly")]
    InFlight,
    /// Rejected and duplicate deliveries are never forwarded.
    #[error("{0} deliveries cannot be replayed")]
    NotReplayable(DeliveryStatus),
    /// The bulk window is empty or longer than 14 days.
    #[error("the time window must be non-empty and at most 14 days")]
    InvalidWindow,
    /// The filter selects more than 10,000 deliveries.
    #[error("the filter selects more than {MAX_BULK_DELIVERIES} deliveries; narrow it")]
    TooMany,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ReplayError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ReplayError::NotFound,
            StoreError::RawBodyExpired => ReplayError::RawBodyExpired,
            StoreError::AlreadyDelivered => ReplayError::AlreadyDelivered,
            StoreError::InFlight => ReplayError::InFlight,
            StoreError::NotReplayable(s) => ReplayError::NotReplayable(s),
            other => ReplayError::Store(other),
        }
    }
}

/// Replay one delivery now, as a single manual attempt (not retried). `force` replays a delivered
/// one too.
pub async fn replay_one(
    store: &dyn WebhookStore,
    id: Uuid,
    force: bool,
    now: OffsetDateTime,
) -> Result<Delivery, ReplayError> {
    Ok(store
        .schedule_replay(
            id,
            ReplayRequest {
                at: now,
                trigger: AttemptTrigger::Manual,
                single_attempt: true,
                force,
                now,
            },
        )
        .await?)
}

/// Which deliveries a bulk replay selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkFilter {
    /// Only this provider.
    pub provider: Option<Provider>,
    /// Only this event type.
    pub event_type: Option<String>,
    /// Only these statuses (empty: `failed` only).
    pub statuses: Vec<DeliveryStatus>,
    /// Received at or after.
    pub from: OffsetDateTime,
    /// Received before.
    pub to: OffsetDateTime,
}

impl BulkFilter {
    fn query(&self, limit: usize) -> DeliveryQuery {
        DeliveryQuery {
            provider: self.provider,
            event_type: self.event_type.clone(),
            statuses: if self.statuses.is_empty() {
                vec![DeliveryStatus::Failed]
            } else {
                self.statuses.clone()
            },
            received_from: Some(self.from),
            received_to: Some(self.to),
            limit: Some(limit),
        }
    }
}

/// Validate `filter` and record a queued job (run it with [`run_bulk`]).
pub async fn start_bulk(
    store: &dyn WebhookStore,
    filter: &BulkFilter,
    requested_by: &str,
    now: OffsetDateTime,
) -> Result<ReplayJob, ReplayError> {
    let window = filter.to - filter.from;
    if !window.is_positive() || window > MAX_BULK_WINDOW {
        return Err(ReplayError::InvalidWindow);
    }
    let query = filter.query(MAX_BULK_DELIVERIES + 1);
    let selected = store.list_deliveries(&query).await?;
    if selected.len() > MAX_BULK_DELIVERIES {
        return Err(ReplayError::TooMany);
    }
    let job = ReplayJob {
        id: Uuid::new_v4(),
        filter: DeliveryQuery {
            limit: Some(MAX_BULK_DELIVERIES),
            ..query
        },
        requested_by: requested_by.to_owned(),
        state: ReplayJobState::Queued,
        total: selected.len() as u64,
        scheduled: 0,
        skipped: 0,
        error: None,
        created_at: now,
        updated_at: now,
    };
    store.insert_replay_job(job.clone()).await?;
    Ok(job)
}

/// Run a queued job: every selected delivery is re-enqueued for a fresh run of its retry schedule
/// (trigger `bulk`); ones that cannot be (raw body expired, in flight, delivered meanwhile) are
/// counted as skipped. Progress is saved every 100 deliveries.
pub async fn run_bulk(
    store: &dyn WebhookStore,
    job_id: Uuid,
    now: OffsetDateTime,
) -> Result<ReplayJob, ReplayError> {
    let mut job = store
        .get_replay_job(job_id)
        .await?
        .ok_or(ReplayError::NotFound)?;
    job.state = ReplayJobState::Running;
    job.updated_at = now;
    store.update_replay_job(&job).await?;
    let selected = match store.list_deliveries(&job.filter).await {
        Ok(s) => s,
        Err(e) => {
            job.state = ReplayJobState::Failed;
            job.error = Some(e.to_string());
            store.update_replay_job(&job).await?;
            return Err(e.into());
        }
    };
    job.total = selected.len() as u64;
    for (i, d) in selected.iter().enumerate() {
        let req = ReplayRequest {
            at: now,
            trigger: AttemptTrigger::Bulk,
            single_attempt: false,
            force: false,
            now,
        };
        match store.schedule_replay(d.id, req).await {
            Ok(_) => job.scheduled += 1,
            Err(StoreError::Backend(e)) => {
                job.state = ReplayJobState::Failed;
                job.error = Some(format!("storage backend: {e}"));
                store.update_replay_job(&job).await?;
                return Ok(job);
            }
            Err(_) => job.skipped += 1,
        }
        if (i + 1) % 100 == 0 {
            store.update_replay_job(&job).await?;
        }
    }
    job.state = ReplayJobState::Completed;
    job.updated_at = now;
    store.update_replay_job(&job).await?;
    Ok(job)
}
