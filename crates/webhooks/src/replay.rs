//! Replays: one delivery by id (a single manual attempt), or many by filter as a tracked job.

use std::time::Duration;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::ingest::Refusal;
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

impl ReplayError {
    /// What an API answers: 404 for a missing delivery or job, 410 for an expired raw body, 409
    /// for a delivered, in-flight (retry after 5 s) or never-forwarded one, 400 for a bulk filter
    /// out of bounds, 503 when the store failed (log the error); `None` for anything else (an
    /// internal error: answer a bare 500).
    pub fn refusal(&self) -> Option<Refusal> {
        let (status, code, message, retry_after) = match self {
            ReplayError::NotFound => (404, "not_found", "no such delivery or job".into(), None),
            ReplayError::RawBodyExpired => (
                410,
                "raw_body_expired",
                "cannot replay: the raw body was deleted after the retention period".into(),
                None,
            ),
            ReplayError::AlreadyDelivered => (
                409,
                "already_delivered",
                "already delivered; pass \"force\": true to replay anyway".into(),
                None,
            ),
            ReplayError::InFlight => (409, "in_flight", self.to_string(), Some(5)),
            ReplayError::NotReplayable(s) => (
                409,
                "not_replayable",
                format!("{s} deliveries are never forwarded"),
                None,
            ),
            ReplayError::InvalidWindow | ReplayError::TooMany => {
                (400, "bad_request", self.to_string(), None)
            }
            ReplayError::Store(_) => return Some(Refusal::store_unavailable()),
        };
        Some(Refusal {
            status,
            code,
            message,
            retry_after,
        })
    }
}

/// Why a bulk replay's `filter` object was refused; the message names the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// `provider` names no provider.
    #[error("`filter.provider` is unknown")]
    Provider,
    /// `status` names no delivery status.
    #[error("`filter.status` is not a delivery status")]
    Status,
    /// `since` or `until` is not an RFC 3339 time.
    #[error("`filter.{0}` must be an RFC 3339 time")]
    Time(&'static str),
}

/// What a replay API request's JSON body asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayCommand {
    /// `{"webhook_id": "…", "force": bool}`: replay one delivery now ([`replay_one`]); `id` is
    /// `None` when the given id is not a UUID (there is no such delivery).
    One {
        /// The delivery.
        id: Option<Uuid>,
        /// Replay a delivered one too.
        force: bool,
    },
    /// `{"filter": {…}}`: a bulk job ([`start_bulk`]; see [`BulkFilter::from_json`]).
    Bulk(BulkFilter),
}

/// Why a replay request's body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// Neither `webhook_id` nor `filter`.
    #[error("give `webhook_id` (one delivery) or `filter` (bulk)")]
    Neither,
    /// The filter is wrong.
    #[error(transparent)]
    Filter(#[from] FilterError),
}

impl ReplayCommand {
    /// The command in `body` (`webhook_id` wins over `filter`); a bulk window ends at `now` by
    /// default.
    pub fn from_json(body: &serde_json::Value, now: OffsetDateTime) -> Result<Self, CommandError> {
        if let Some(id) = body.get("webhook_id") {
            return Ok(ReplayCommand::One {
                id: id.as_str().and_then(|s| Uuid::parse_str(s).ok()),
                force: body.get("force").and_then(serde_json::Value::as_bool) == Some(true),
            });
        }
        let filter = body.get("filter").ok_or(CommandError::Neither)?;
        Ok(ReplayCommand::Bulk(BulkFilter::from_json(filter, now)?))
    }

    /// What an audit log records as the request's target: the `webhook_id` as given (at most 64
    /// characters; `?` when it is not a string), `bulk` for a bulk request, else `?`.
    pub fn audit_target(body: &serde_json::Value) -> String {
        match (body.get("webhook_id"), body.get("filter")) {
            (Some(id), _) => id.as_str().unwrap_or("?").chars().take(64).collect(),
            (None, Some(_)) => "bulk".to_owned(),
            (None, None) => "?".to_owned(),
        }
    }
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
    /// A filter from an API request's `filter` object: optional `provider`, `status` (one
    /// delivery status; default `failed`), `event_type`, and the window `since`..`until` (RFC 3339;
    /// `until` defaults to `now`, `since` to a day before `until`). Fields that are not strings
    /// are ignored.
    pub fn from_json(filter: &serde_json::Value, now: OffsetDateTime) -> Result<Self, FilterError> {
        let field = |key: &str| filter.get(key).and_then(serde_json::Value::as_str);
        let time = |key: &'static str| {
            field(key)
                .map(|s| {
                    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                        .map_err(|_| FilterError::Time(key))
                })
                .transpose()
        };
        let provider = field("provider")
            .map(|p| p.parse::<Provider>().map_err(|_| FilterError::Provider))
            .transpose()?;
        let statuses = field("status")
            .map(|s| s.parse::<DeliveryStatus>().map_err(|_| FilterError::Status))
            .transpose()?
            .into_iter()
            .collect();
        let to = time("until")?.unwrap_or(now);
        let from = time("since")?.unwrap_or(to - time::Duration::days(1));
        Ok(BulkFilter {
            provider,
            event_type: field("event_type").map(str::to_owned),
            statuses,
            from,
            to,
        })
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_from_json_name_the_bad_field() {
        let now = OffsetDateTime::from_unix_timestamp(1_764_000_000).unwrap();
        let f = BulkFilter::from_json(
            &serde_json::json!({"provider": "stripe", "status": "retrying", "event_type": "x",
                "since": "2025-11-24T15:00:00Z"}),
            now,
        )
        .unwrap();
        assert_eq!(f.provider, Some(Provider::Stripe));
        assert_eq!(f.statuses, vec![DeliveryStatus::Retrying]);
        assert_eq!((f.to - f.from).whole_hours(), 1);
        let f = BulkFilter::from_json(&serde_json::json!({"provider": 7}), now).unwrap();
        assert_eq!((f.provider, f.to - f.from), (None, time::Duration::days(1)));
        let bad = |v: serde_json::Value| BulkFilter::from_json(&v, now).unwrap_err().to_string();
        assert_eq!(
            bad(serde_json::json!({"provider": "paypal"})),
            "`filter.provider` is unknown"
        );
        assert_eq!(
            bad(serde_json::json!({"status": "lost"})),
            "`filter.status` is not a delivery status"
        );
        assert_eq!(
            bad(serde_json::json!({"until": "yesterday"})),
            "`filter.until` must be an RFC 3339 time"
        );
    }

    #[test]
    fn replay_commands_and_their_audit_targets() {
        let now = OffsetDateTime::from_unix_timestamp(1_764_000_000).unwrap();
        let id = Uuid::new_v4();
        let one = serde_json::json!({"webhook_id": id.to_string(), "force": true, "filter": {}});
        assert_eq!(
            ReplayCommand::from_json(&one, now).unwrap(),
            ReplayCommand::One {
                id: Some(id),
                force: true
            }
        );
        assert_eq!(ReplayCommand::audit_target(&one), id.to_string());
        let junk = serde_json::json!({"webhook_id": "x".repeat(100)});
        assert_eq!(
            ReplayCommand::from_json(&junk, now).unwrap(),
            ReplayCommand::One {
                id: None,
                force: false
            }
        );
        assert_eq!(ReplayCommand::audit_target(&junk).len(), 64);
        let bulk = serde_json::json!({"filter": {"status": "lost"}});
        assert_eq!(
            ReplayCommand::from_json(&bulk, now),
            Err(CommandError::Filter(FilterError::Status))
        );
        assert_eq!(ReplayCommand::audit_target(&bulk), "bulk");
        let neither = serde_json::json!({});
        assert_eq!(
            ReplayCommand::from_json(&neither, now)
                .unwrap_err()
                .to_string(),
            "give `webhook_id` (one delivery) or `filter` (bulk)"
        );
        assert_eq!(ReplayCommand::audit_target(&neither), "?");
    }

    #[test]
    fn replay_errors_map_to_answers() {
        let r = ReplayError::InFlight.refusal().unwrap();
        assert_eq!(
            (r.status, r.code, r.retry_after),
            (409, "in_flight", Some(5))
        );
        let r = ReplayError::RawBodyExpired.refusal().unwrap();
        assert_eq!(r.status, 410);
        let r = ReplayError::TooMany.refusal().unwrap();
        assert_eq!(
            r.message,
            "the filter selects more than 10000 deliveries; narrow it"
        );
        let r = ReplayError::Store(StoreError::LeaseLost).refusal().unwrap();
        assert_eq!((r.status, r.retry_after), (503, Some(5)));
    }
}
