//! The webhooks domain: `wedsync_webhooks::store::WebhookStore` on PostgreSQL and SQLite (feature
//! `webhooks`).
//!
//! The delivery queue lives in the delivery row: a delivery is queued while its status is
//! `pending` or `retrying`, and the partial index `webhook_delivery_log_queue` is the queue.
//! Dedupe is enforced by the partial unique index `webhook_delivery_log_dedupe` on
//! `(provider, dedupe_key)`, so two processes can never both record an owner for one key.
//!
//! What both backends share lives here: the row mapping (one field list, instantiated per
//! backend by `rows!`), the SQL that reads the same on both dialects (`Dialect`), the
//! list filter builder, and the error conversion.
// with one backend (or none) compiled in, part of what they share is unused
#![cfg_attr(
    not(all(feature = "postgres", feature = "sqlite")),
    allow(dead_code, unused_imports, unused_macros)
)]

#[cfg(feature = "postgres")]
pub(crate) mod pg;
#[cfg(feature = "sqlite")]
mod sqlite;

use time::OffsetDateTime;
use uuid::Uuid;
use wedsync_webhooks::store::{
    AttemptRecord, AttemptTrigger, Claimed, Delivery, DeliveryCount, DeliveryQuery, DeliveryStatus,
    EncryptedBody, ErrorKind, KeyUsage, Priority, ReplayRequest, SealedBody,
    StoreError as WebhookError,
};

pub(crate) use crate::dialect::Dialect;
use crate::error::StoreError;

impl From<StoreError> for WebhookError {
    fn from(e: StoreError) -> Self {
        WebhookError::Backend(Box::new(e))
    }
}

pub(crate) type WResult<T> = std::result::Result<T, WebhookError>;

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} {value:?}"))
}

pub(crate) fn parse<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, StoreError> {
    s.parse().map_err(|_| corrupt(what, s))
}

pub(crate) fn parse_uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|_| corrupt("uuid", s))
}

pub(crate) fn count(what: &str, v: i32) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| corrupt(what, &v.to_string()))
}

/// The columns every delivery query selects or returns. Identical on both dialects: the casts
/// turn PostgreSQL's `uuid`/`jsonb`/`smallint` into what SQLite stores. Unqualified, as SQLite's
/// `RETURNING` takes no table names (statements that join name the other side's columns apart).
pub(crate) const DELIVERY_COLUMNS: &str = "\
CAST(id AS TEXT) AS id, provider, event_id, dedupe_key, event_type, received_at, verdict, \
verdict_reason, CAST(sanitized_headers AS TEXT) AS sanitized_headers, sanitized_body, \
content_type, raw_body_key_id, raw_body_nonce, raw_body, raw_body_expires_at, \
CAST(priority AS INTEGER) AS priority, status, CAST(duplicate_of AS TEXT) AS duplicate_of, \
attempt_count, run_attempts, next_attempt_at, next_trigger, single_attempt, \
CAST(lease_token AS TEXT) AS lease_token, lease_owner, lease_expires_at, delivered_at, \
last_error, last_status, updated_at";

/// The columns of an attempt.
pub(crate) const ATTEMPT_COLUMNS: &str = "\
CAST(delivery_id AS TEXT) AS delivery_id, attempt, trigger, worker, started_at, duration_ms, \
response_status, error_kind, response_excerpt";

/// The columns of a replay job.
pub(crate) const JOB_COLUMNS: &str = "\
CAST(id AS TEXT) AS id, CAST(filter AS TEXT) AS filter, requested_by, state, total, scheduled, \
skipped, error, created_at, updated_at";

/// Declares the row types of one backend. Expects `Ts` (the timestamp SQL type) and `TsRs` (its
/// Rust type, a `crate::dialect::RowTime`) in scope, so both backends map rows with one field list.
macro_rules! rows {
    () => {
        use diesel::sql_types::{BigInt, Binary, Bool, Integer, Nullable, Text};
        use $crate::dialect::RowTime as IntoTime;

        #[derive(diesel::QueryableByName)]
        pub(crate) struct DeliveryRow {
            #[diesel(sql_type = Text)]
            id: String,
            #[diesel(sql_type = Text)]
            provider: String,
            #[diesel(sql_type = Nullable<Text>)]
            event_id: Option<String>,
            #[diesel(sql_type = Text)]
            dedupe_key: String,
            #[diesel(sql_type = Nullable<Text>)]
            event_type: Option<String>,
            #[diesel(sql_type = Ts)]
            received_at: TsRs,
            #[diesel(sql_type = Text)]
            verdict: String,
            #[diesel(sql_type = Nullable<Text>)]
            verdict_reason: Option<String>,
            #[diesel(sql_type = Text)]
            sanitized_headers: String,
            #[diesel(sql_type = Text)]
            sanitized_body: String,
            #[diesel(sql_type = Nullable<Text>)]
            content_type: Option<String>,
            #[diesel(sql_type = Nullable<Text>)]
            raw_body_key_id: Option<String>,
            #[diesel(sql_type = Nullable<Binary>)]
            raw_body_nonce: Option<Vec<u8>>,
            #[diesel(sql_type = Nullable<Binary>)]
            raw_body: Option<Vec<u8>>,
            #[diesel(sql_type = Nullable<Ts>)]
            raw_body_expires_at: Option<TsRs>,
            #[diesel(sql_type = Integer)]
            priority: i32,
            #[diesel(sql_type = Text)]
            status: String,
            #[diesel(sql_type = Nullable<Text>)]
            duplicate_of: Option<String>,
            #[diesel(sql_type = Integer)]
            attempt_count: i32,
            #[diesel(sql_type = Integer)]
            run_attempts: i32,
            #[diesel(sql_type = Nullable<Ts>)]
            next_attempt_at: Option<TsRs>,
            #[diesel(sql_type = Text)]
            next_trigger: String,
            #[diesel(sql_type = Bool)]
            single_attempt: bool,
            #[diesel(sql_type = Nullable<Text>)]
            lease_token: Option<String>,
            #[diesel(sql_type = Nullable<Text>)]
            lease_owner: Option<String>,
            #[diesel(sql_type = Nullable<Ts>)]
            lease_expires_at: Option<TsRs>,
            #[diesel(sql_type = Nullable<Ts>)]
            delivered_at: Option<TsRs>,
            #[diesel(sql_type = Nullable<Text>)]
            last_error: Option<String>,
            #[diesel(sql_type = Nullable<Integer>)]
            last_status: Option<i32>,
            #[diesel(sql_type = Ts)]
            updated_at: TsRs,
        }

        impl DeliveryRow {
            pub(crate) fn into_delivery(
                self,
            ) -> ::std::result::Result<
                wedsync_webhooks::store::Delivery,
                $crate::error::StoreError,
            > {
                use $crate::webhooks::{count, parse, parse_uuid, status_code};
                let headers: Vec<(String, String)> =
                    serde_json::from_str(&self.sanitized_headers).map_err(|e| {
                        $crate::error::StoreError::Corrupt(format!("sanitized_headers: {e}"))
                    })?;
                let (key_id, nonce) = (self.raw_body_key_id, self.raw_body_nonce);
                Ok(wedsync_webhooks::store::Delivery {
                    id: parse_uuid(&self.id)?,
                    provider: parse("provider", &self.provider)?,
                    event_id: self.event_id,
                    dedupe_key: self.dedupe_key,
                    event_type: self.event_type,
                    received_at: self.received_at.into_time(),
                    verdict: parse("verdict", &self.verdict)?,
                    verdict_reason: self.verdict_reason,
                    sanitized_headers: headers,
                    sanitized_body: self.sanitized_body,
                    content_type: self.content_type,
                    raw_body: self.raw_body.map(|ciphertext| {
                        wedsync_webhooks::store::EncryptedBody {
                            key_id: key_id.unwrap_or_default(),
                            nonce: nonce.unwrap_or_default(),
                            ciphertext,
                        }
                    }),
                    raw_body_expires_at: self.raw_body_expires_at.map(IntoTime::into_time),
                    priority: $crate::webhooks::priority(self.priority),
                    status: parse("delivery status", &self.status)?,
                    duplicate_of: self.duplicate_of.as_deref().map(parse_uuid).transpose()?,
                    attempt_count: count("attempt_count", self.attempt_count)?,
                    run_attempts: count("run_attempts", self.run_attempts)?,
                    next_attempt_at: self.next_attempt_at.map(IntoTime::into_time),
                    next_trigger: parse("attempt trigger", &self.next_trigger)?,
                    single_attempt: self.single_attempt,
                    lease_token: self.lease_token.as_deref().map(parse_uuid).transpose()?,
                    lease_owner: self.lease_owner,
                    lease_expires_at: self.lease_expires_at.map(IntoTime::into_time),
                    delivered_at: self.delivered_at.map(IntoTime::into_time),
                    last_error: self
                        .last_error
                        .as_deref()
                        .map(|e| parse("error kind", e))
                        .transpose()?,
                    last_status: self.last_status.map(status_code).transpose()?,
                    updated_at: self.updated_at.into_time(),
                })
            }
        }

        #[derive(diesel::QueryableByName)]
        pub(crate) struct AttemptRow {
            #[diesel(sql_type = Text)]
            delivery_id: String,
            #[diesel(sql_type = Integer)]
            attempt: i32,
            #[diesel(sql_type = Text)]
            trigger: String,
            #[diesel(sql_type = Text)]
            worker: String,
            #[diesel(sql_type = Ts)]
            started_at: TsRs,
            #[diesel(sql_type = BigInt)]
            duration_ms: i64,
            #[diesel(sql_type = Nullable<Integer>)]
            response_status: Option<i32>,
            #[diesel(sql_type = Nullable<Text>)]
            error_kind: Option<String>,
            #[diesel(sql_type = Nullable<Text>)]
            response_excerpt: Option<String>,
        }

        impl AttemptRow {
            pub(crate) fn into_attempt(
                self,
            ) -> ::std::result::Result<
                wedsync_webhooks::store::AttemptRecord,
                $crate::error::StoreError,
            > {
                use $crate::webhooks::{count, parse, parse_uuid, status_code};
                Ok(wedsync_webhooks::store::AttemptRecord {
                    delivery_id: parse_uuid(&self.delivery_id)?,
                    attempt: count("attempt", self.attempt)?,
                    trigger: parse("attempt trigger", &self.trigger)?,
                    worker: self.worker,
                    started_at: self.started_at.into_time(),
                    duration_ms: u64::try_from(self.duration_ms).unwrap_or(0),
                    response_status: self.response_status.map(status_code).transpose()?,
                    error_kind: self
                        .error_kind
                        .as_deref()
                        .map(|e| parse("error kind", e))
                        .transpose()?,
                    response_excerpt: self.response_excerpt,
                })
            }
        }

        #[derive(diesel::QueryableByName)]
        pub(crate) struct JobRow {
            #[diesel(sql_type = Text)]
            id: String,
            #[diesel(sql_type = Text)]
            filter: String,
            #[diesel(sql_type = Text)]
            requested_by: String,
            #[diesel(sql_type = Text)]
            state: String,
            #[diesel(sql_type = BigInt)]
            total: i64,
            #[diesel(sql_type = BigInt)]
            scheduled: i64,
            #[diesel(sql_type = BigInt)]
            skipped: i64,
            #[diesel(sql_type = Nullable<Text>)]
            error: Option<String>,
            #[diesel(sql_type = Ts)]
            created_at: TsRs,
            #[diesel(sql_type = Ts)]
            updated_at: TsRs,
        }

        impl JobRow {
            pub(crate) fn into_job(
                self,
            ) -> ::std::result::Result<
                wedsync_webhooks::store::ReplayJob,
                $crate::error::StoreError,
            > {
                use $crate::webhooks::{parse, parse_uuid};
                let n = |v: i64| u64::try_from(v).unwrap_or(0);
                Ok(wedsync_webhooks::store::ReplayJob {
                    id: parse_uuid(&self.id)?,
                    filter: serde_json::from_str(&self.filter).map_err(|e| {
                        $crate::error::StoreError::Corrupt(format!("replay job filter: {e}"))
                    })?,
                    requested_by: self.requested_by,
                    state: parse("replay job state", &self.state)?,
                    total: n(self.total),
                    scheduled: n(self.scheduled),
                    skipped: n(self.skipped),
                    error: self.error,
                    created_at: self.created_at.into_time(),
                    updated_at: self.updated_at.into_time(),
                })
            }
        }
    };
}
pub(crate) use rows;

/// A stored priority rank as a [`Priority`].
pub(crate) fn priority(rank: i32) -> Priority {
    if rank >= i32::from(Priority::Critical.rank()) {
        Priority::Critical
    } else {
        Priority::Normal
    }
}

/// A stored HTTP status.
pub(crate) fn status_code(s: i32) -> Result<u16, StoreError> {
    u16::try_from(s).map_err(|_| corrupt("HTTP status", &s.to_string()))
}

/// Claimed rows (lease set) as [`Claimed`]s, in claim order.
pub(crate) fn into_claims(mut claimed: Vec<Delivery>) -> WResult<Vec<Claimed>> {
    claimed.sort_by(claim_order);
    let claims = claimed
        .into_iter()
        .map(|delivery| {
            let lease_token = delivery.lease_token.ok_or_else(|| {
                StoreError::Corrupt("a claimed delivery has no lease token".into())
            })?;
            Ok(Claimed {
                token: wedsync_webhooks::store::ClaimToken {
                    delivery_id: delivery.id,
                    attempt: delivery.attempt_count,
                    lease_token,
                },
                trigger: delivery.next_trigger,
                delivery,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(claims)
}

/// Sanitised headers as the JSON text the store keeps (`[[name, value], ...]`).
pub(crate) fn headers_json(h: &[wedsync_webhooks::store::Header]) -> Result<String, StoreError> {
    serde_json::to_string(h).map_err(|e| StoreError::Corrupt(format!("headers: {e}")))
}

/// A replay job's filter as JSON text.
pub(crate) fn filter_json(q: &DeliveryQuery) -> Result<String, StoreError> {
    serde_json::to_string(q).map_err(|e| StoreError::Corrupt(format!("replay filter: {e}")))
}

/// `now + lease`, saturating.
pub(crate) fn lease_until(now: OffsetDateTime, lease: std::time::Duration) -> OffsetDateTime {
    now.checked_add(time::Duration::try_from(lease).unwrap_or(time::Duration::MAX))
        .unwrap_or(now + time::Duration::days(365 * 100))
}

/// When a reported attempt finished (`started_at + duration`).
pub(crate) fn finished_at(a: &AttemptRecord) -> OffsetDateTime {
    a.started_at + time::Duration::milliseconds(i64::try_from(a.duration_ms).unwrap_or(i64::MAX))
}

/// How a reported attempt leaves its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 2xx: `delivered`.
    Delivered,
    /// Failed, retry at the time given.
    Retry(OffsetDateTime),
    /// Failed for good.
    Failed,
}

impl Outcome {
    pub(crate) fn from_fail(next: Option<OffsetDateTime>) -> Self {
        next.map_or(Outcome::Failed, Outcome::Retry)
    }

    /// The delivery's new status.
    pub(crate) fn status(self) -> DeliveryStatus {
        match self {
            Outcome::Delivered => DeliveryStatus::Delivered,
            Outcome::Retry(_) => DeliveryStatus::Retrying,
            Outcome::Failed => DeliveryStatus::Failed,
        }
    }

    /// The delivery's new `next_attempt_at`.
    pub(crate) fn next_attempt_at(self) -> Option<OffsetDateTime> {
        match self {
            Outcome::Retry(t) => Some(t),
            _ => None,
        }
    }
}

/// One attempt report waiting to be written.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub(crate) token: wedsync_webhooks::store::ClaimToken,
    pub(crate) attempt: AttemptRecord,
    pub(crate) outcome: Outcome,
}

/// The "not queued-and-leased, replayable" conditions of [`wedsync_webhooks::store::validate_replay`]
/// as SQL: `$force` and `$now` are placeholders. A row passes iff `validate_replay` is `Ok`.
fn replay_conditions(force: &str, now: &str) -> String {
    format!(
        "d.status NOT IN ('rejected', 'duplicate') \
         AND (d.status <> 'delivered' OR {force}) \
         AND (d.lease_token IS NULL OR d.lease_expires_at IS NULL OR d.lease_expires_at <= {now}) \
         AND d.raw_body IS NOT NULL \
         AND (d.raw_body_expires_at IS NULL OR d.raw_body_expires_at > {now})"
    )
}

/// Re-enqueue for a replay, only when the preconditions hold; returns the row. Binds: id, at,
/// trigger, single_attempt, now, force.
pub(crate) fn replay_update_sql<D: Dialect>() -> String {
    format!(
        "UPDATE webhook_delivery_log AS d SET status = 'pending', run_attempts = 0, \
             next_attempt_at = {at}, next_trigger = {trigger}, single_attempt = {single}, \
             lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = {now} \
         WHERE d.id = {id} AND {conds} RETURNING {DELIVERY_COLUMNS}",
        id = D::uuid(1),
        at = D::p(2),
        trigger = D::p(3),
        single = D::p(4),
        now = D::p(5),
        conds = replay_conditions(&D::p(6), &D::p(5)),
    )
}

/// Lease renewal, each row found by its primary key (and, as a change of no indexed column, a
/// HOT update on PostgreSQL). Binds: delivery ids, lease tokens, attempts — arrays on PostgreSQL
/// (every token in one statement), one token per statement on SQLite ([`Dialect::rows_of`]) —
/// and the new expiry.
pub(crate) fn renew_sql<D: Dialect>() -> String {
    format!(
        "UPDATE webhook_delivery_log AS d SET lease_expires_at = {until} FROM {rows} \
         WHERE d.id = t.id AND d.lease_token = t.token AND d.attempt_count = t.attempt",
        until = D::p(4),
        rows = D::rows_of(
            "t",
            &[("id", "uuid"), ("token", "uuid"), ("attempt", "int4")]
        ),
    )
}

/// Raw bodies whose retention ran out, in bounded batches. Binds: now, batch size.
pub(crate) fn purge_sql<D: Dialect>() -> String {
    let key = D::row_key("id");
    format!(
        "UPDATE webhook_delivery_log SET raw_body = NULL, raw_body_nonce = NULL, \
             raw_body_key_id = NULL \
         WHERE {key} IN (SELECT {key} FROM webhook_delivery_log \
             WHERE raw_body IS NOT NULL AND raw_body_expires_at <= {now} LIMIT {n})",
        now = D::p(1),
        n = D::p(2)
    )
}

/// The columns of new delivery rows as [`Dialect::rows_of`] takes them; binds follow this
/// order (one array each on PostgreSQL, one value each on SQLite).
pub(crate) const NEW_ROWS: &[(&str, &str)] = &[
    ("id", "uuid"),
    ("provider", "text"),
    ("event_id", "text"),
    ("dedupe_key", "text"),
    ("event_type", "text"),
    ("received_at", "timestamptz"),
    ("verdict", "text"),
    ("verdict_reason", "text"),
    ("headers", "text"),
    ("body", "text"),
    ("content_type", "text"),
    ("key_id", "text"),
    ("nonce", "bytea"),
    ("ct", "bytea"),
    ("expires", "timestamptz"),
    ("priority", "int2"),
    ("status", "text"),
    ("next_at", "timestamptz"),
];

/// Inserts new deliveries ([`NEW_ROWS`]), returning the ids written.
///
/// Without `duplicates`: new owners of their dedupe key, rejected and unqueued rows; a row whose
/// key already has an owner is skipped (`ON CONFLICT … DO NOTHING`, so concurrent writers of one
/// key never both own it). With `duplicates`: the skipped rows again, each stored as a duplicate
/// of the key's owner (committed by then, so visible), returning `id, duplicate_of`; a row whose
/// owner was deleted in between returns nothing and goes round again.
pub(crate) fn insert_sql<D: Dialect>(duplicates: bool) -> String {
    let columns = "id, provider, event_id, dedupe_key, event_type, received_at, verdict, \
        verdict_reason, sanitized_headers, sanitized_body, content_type, raw_body_key_id, \
        raw_body_nonce, raw_body, raw_body_expires_at, priority, status, next_attempt_at, \
        updated_at";
    let values = format!(
        "i.id, i.provider, i.event_id, i.dedupe_key, i.event_type, i.received_at, i.verdict, \
         i.verdict_reason, {headers}, i.body, i.content_type, i.key_id, i.nonce, i.ct, \
         i.expires, i.priority, i.status, i.next_at, i.received_at",
        headers = D::json_of("i.headers")
    );
    let rows = D::rows_of("i", NEW_ROWS);
    if duplicates {
        format!(
            "INSERT INTO webhook_delivery_log ({columns}, duplicate_of) \
             SELECT {values}, o.id FROM {rows} \
             JOIN webhook_delivery_log o ON o.provider = i.provider \
                 AND o.dedupe_key = i.dedupe_key AND o.status NOT IN ('duplicate', 'rejected') \
             RETURNING CAST(id AS TEXT) AS id, CAST(duplicate_of AS TEXT) AS duplicate_of"
        )
    } else {
        // `WHERE true`: SQLite reads `ON` after a bare `FROM` as a join's
        format!(
            "INSERT INTO webhook_delivery_log ({columns}) SELECT {values} FROM {rows} WHERE true \
             ON CONFLICT (provider, dedupe_key) WHERE status NOT IN ('duplicate', 'rejected') \
             DO NOTHING RETURNING CAST(id AS TEXT) AS id"
        )
    }
}

/// Claims due deliveries in claim order and leases them, returning the rows. Binds: worker,
/// now, lease expiry, limit. Rows another worker is locking are skipped on PostgreSQL
/// ([`Dialect::SKIP_LOCKED`]); each row gets its own fresh lease token.
pub(crate) fn claim_sql<D: Dialect>() -> String {
    format!(
        "UPDATE webhook_delivery_log AS d SET attempt_count = d.attempt_count + 1, \
             run_attempts = d.run_attempts + 1, lease_token = {token}, lease_owner = {worker}, \
             lease_expires_at = {until}, updated_at = {now} \
         FROM (SELECT id AS pick FROM webhook_delivery_log \
               WHERE status IN ('pending', 'retrying') AND next_attempt_at <= {now} \
                 AND (lease_token IS NULL OR lease_expires_at IS NULL OR lease_expires_at <= {now}) \
               ORDER BY priority DESC, next_attempt_at, received_at, id \
               LIMIT {limit}{lock}) AS c \
         WHERE d.id = c.pick RETURNING {DELIVERY_COLUMNS}",
        token = D::NEW_UUID,
        worker = D::p(1),
        now = D::p(2),
        until = D::p(3),
        limit = D::p(4),
        lock = D::SKIP_LOCKED,
    )
}

/// The columns of attempt reports as [`Dialect::rows_of`] takes them (binds in this order).
pub(crate) const REPORT_ROWS: &[(&str, &str)] = &[
    ("delivery", "uuid"),
    ("token", "uuid"),
    ("attempt", "int4"),
    ("status", "text"),
    ("next_at", "timestamptz"),
    ("finished", "timestamptz"),
    ("err", "text"),
    ("st", "int4"),
];

/// Ends attempts ([`REPORT_ROWS`]) whose lease still holds: the new status, the next attempt
/// time, the lease released. Returns the ids updated; their attempts are recorded with
/// [`attempt_insert_sql`] in the same transaction (SQLite) or the same statement
/// ([`report_and_record_sql`], PostgreSQL).
pub(crate) fn report_sql<D: Dialect>() -> String {
    format!(
        "UPDATE webhook_delivery_log AS d SET status = r.status, next_attempt_at = r.next_at, \
             next_trigger = CASE WHEN r.status = 'retrying' THEN 'scheduled' \
                 ELSE d.next_trigger END, \
             delivered_at = CASE WHEN r.status = 'delivered' THEN r.finished \
                 ELSE d.delivered_at END, \
             lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, \
             last_error = r.err, last_status = r.st, updated_at = r.finished \
         FROM {rows} \
         WHERE d.id = r.delivery AND d.lease_token = r.token AND d.attempt_count = r.attempt \
         RETURNING CAST(id AS TEXT) AS id",
        rows = D::rows_of("r", REPORT_ROWS)
    )
}

/// [`report_sql`] and [`attempt_insert_sql`] as one statement (data-modifying `WITH`, which
/// PostgreSQL has and SQLite has not): a batch of reports is one round trip. Binds the reports,
/// then their attempts; returns the ids updated, and records only their attempts.
pub(crate) fn report_and_record_sql<D: Dialect>() -> String {
    format!(
        "WITH u AS ({report}), w AS ({record}) SELECT id FROM u",
        report = report_sql::<D>(),
        record = attempt_insert_sql::<D>(true, Some("u"))
    )
}

/// The columns of attempt records as [`Dialect::rows_of`] takes them (binds in this order).
pub(crate) const ATTEMPT_ROWS: &[(&str, &str)] = &[
    ("delivery", "uuid"),
    ("attempt", "int4"),
    ("trig", "text"),
    ("worker", "text"),
    ("started", "timestamptz"),
    ("dur", "int8"),
    ("st", "int4"),
    ("err", "text"),
    ("excerpt", "text"),
];

/// Records attempts ([`ATTEMPT_ROWS`]); an attempt already recorded is overwritten (a report)
/// or kept (a reclaimed lease: the worker's own report wins). With `updated`, the name of a
/// `WITH` query of [`report_sql`] before it, the attempts are bound after the reports and only
/// those of the deliveries it updated are written.
pub(crate) fn attempt_insert_sql<D: Dialect>(overwrite: bool, updated: Option<&str>) -> String {
    let conflict = if overwrite {
        "UPDATE SET trigger = excluded.trigger, worker = excluded.worker, \
         started_at = excluded.started_at, duration_ms = excluded.duration_ms, \
         response_status = excluded.response_status, error_kind = excluded.error_kind, \
         response_excerpt = excluded.response_excerpt"
    } else {
        "NOTHING"
    };
    let (first, only) = match updated {
        Some(cte) => (
            REPORT_ROWS.len() + 1,
            format!("CAST(a.delivery AS TEXT) IN (SELECT id FROM {cte})"),
        ),
        None => (1, "true".to_owned()),
    };
    format!(
        "INSERT INTO webhook_delivery_attempts (delivery_id, attempt, trigger, worker, \
             started_at, duration_ms, response_status, error_kind, response_excerpt) \
         SELECT a.delivery, a.attempt, a.trig, a.worker, a.started, a.dur, a.st, a.err, \
             a.excerpt FROM {rows} WHERE {only} \
         ON CONFLICT (delivery_id, attempt) DO {conflict}",
        rows = D::rows_from("a", first, ATTEMPT_ROWS)
    )
}

/// Which of the given deliveries exist (a refused report: lease lost, or the row deleted).
/// Binds: the ids ([`Dialect::rows_of`]).
pub(crate) fn existing_sql<D: Dialect>() -> String {
    format!(
        "SELECT CAST(id AS TEXT) AS id FROM webhook_delivery_log \
         WHERE id IN (SELECT e.delivery FROM {rows})",
        rows = D::rows_of("e", &[("delivery", "uuid")])
    )
}

/// Queued deliveries whose lease ran out, locked for [`release_sql`] in the same transaction
/// (rows another process is reclaiming are skipped on PostgreSQL). Binds: now.
pub(crate) fn expired_sql<D: Dialect>() -> String {
    format!(
        "SELECT CAST(id AS TEXT) AS id, attempt_count, next_trigger, lease_owner \
         FROM webhook_delivery_log \
         WHERE status IN ('pending', 'retrying') AND lease_token IS NOT NULL \
           AND lease_expires_at <= {now}{lock}",
        now = D::p(1),
        lock = D::SKIP_LOCKED
    )
}

/// Releases expired leases ([`expired_sql`]'s rows): due again now, as a retry. Binds: the ids
/// ([`Dialect::rows_of`]), now.
pub(crate) fn release_sql<D: Dialect>() -> String {
    format!(
        "UPDATE webhook_delivery_log AS d SET lease_token = NULL, lease_owner = NULL, \
             lease_expires_at = NULL, last_error = 'lease_expired', last_status = NULL, \
             updated_at = {now}, \
             status = CASE WHEN d.status IN ('pending', 'retrying') THEN 'retrying' \
                 ELSE d.status END, \
             next_attempt_at = CASE WHEN d.status IN ('pending', 'retrying') THEN {now} \
                 ELSE d.next_attempt_at END \
         FROM {rows} WHERE d.id = e.delivery",
        rows = D::rows_of("e", &[("delivery", "uuid")]),
        now = D::p(2)
    )
}

/// The row stored for a duplicate of `d` ([`insert_sql`] with `duplicates` sets its
/// `duplicate_of`): never forwarded, so no raw body and no due time.
pub(crate) fn as_duplicate(d: &Delivery) -> Delivery {
    Delivery {
        status: DeliveryStatus::Duplicate,
        raw_body: None,
        next_attempt_at: None,
        ..d.clone()
    }
}

/// A row of [`expired_sql`]: what the `lease_expired` attempt of a reclaimed delivery
/// records (the attempt that ran out, its trigger, the worker that held the lease).
#[derive(diesel::QueryableByName)]
pub(crate) struct ExpiredRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub(crate) id: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub(crate) lease_owner: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub(crate) attempt_count: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub(crate) next_trigger: String,
}

/// A row of the statements that return delivery ids.
#[derive(diesel::QueryableByName)]
pub(crate) struct IdRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub(crate) id: String,
}

/// A row of [`insert_sql`] with `duplicates`.
#[derive(diesel::QueryableByName)]
pub(crate) struct DupRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub(crate) id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub(crate) duplicate_of: String,
}

impl ExpiredRow {
    /// The `lease_expired` attempt recorded for this row.
    pub(crate) fn attempt(&self, now: OffsetDateTime) -> Result<AttemptRecord, StoreError> {
        Ok(lease_expired_attempt(
            parse_uuid(&self.id)?,
            u32::try_from(self.attempt_count).unwrap_or(0),
            parse("attempt trigger", &self.next_trigger)?,
            self.lease_owner.clone().unwrap_or_default(),
            now,
        ))
    }
}

/// One delivery by id. Binds: id.
pub(crate) fn get_sql<D: Dialect>() -> String {
    format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_delivery_log d WHERE d.id = {}",
        D::uuid(1)
    )
}

/// The owner of a dedupe key. Binds: provider, dedupe_key.
pub(crate) fn owner_sql<D: Dialect>() -> String {
    format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_delivery_log d \
         WHERE d.provider = {} AND d.dedupe_key = {} AND d.status NOT IN ('duplicate', 'rejected')",
        D::p(1),
        D::p(2)
    )
}

/// Attempts of one delivery. Binds: delivery id.
pub(crate) fn attempts_sql<D: Dialect>() -> String {
    format!(
        "SELECT {ATTEMPT_COLUMNS} FROM webhook_delivery_attempts WHERE delivery_id = {} \
         ORDER BY attempt",
        D::uuid(1)
    )
}

/// One replay job. Binds: id.
pub(crate) fn job_sql<D: Dialect>() -> String {
    format!(
        "SELECT {JOB_COLUMNS} FROM webhook_replay_jobs WHERE id = {}",
        D::uuid(1)
    )
}

/// A new replay job. Binds: id, state, total, scheduled, skipped, error, updated_at, filter,
/// requested_by, created_at.
pub(crate) fn job_insert_sql<D: Dialect>() -> String {
    format!(
        "INSERT INTO webhook_replay_jobs (id, state, total, scheduled, skipped, error, \
             updated_at, filter, requested_by, created_at) \
         VALUES ({}, {}, {}, {})",
        D::uuid(1),
        crate::dialect::placeholders::<D>(2, 7),
        D::json(8),
        crate::dialect::placeholders::<D>(9, 10)
    )
}

/// Progress update of a replay job. Binds: id, state, total, scheduled, skipped, error,
/// updated_at.
pub(crate) fn job_update_sql<D: Dialect>() -> String {
    format!(
        "UPDATE webhook_replay_jobs SET state = {}, total = {}, scheduled = {}, skipped = {}, \
         error = {}, updated_at = {} WHERE id = {}",
        D::p(2),
        D::p(3),
        D::p(4),
        D::p(5),
        D::p(6),
        D::p(7),
        D::uuid(1)
    )
}

/// Kept raw bodies per key id, and how many of them belong to queued deliveries. No
/// placeholders: the same text on both dialects.
///
/// Every write sets or clears the three raw-body columns together, so a kept body always has a
/// key id; a NULL one would read as `""`, as the delivery rows read it (`sealed_sql` and
/// `replace_body_sql` match it the same way). Not ordered here: PostgreSQL orders text by the
/// database's collation, the trait by bytes ([`key_usage`] sorts).
pub(crate) const RAW_BODY_KEYS_SQL: &str = "\
SELECT COALESCE(raw_body_key_id, '') AS key_id, count(*) AS bodies,
    count(*) FILTER (WHERE status IN ('pending', 'retrying')) AS queued
FROM webhook_delivery_log WHERE raw_body IS NOT NULL
GROUP BY COALESCE(raw_body_key_id, '')";

/// [`WebhookStore::queue_depth`](wedsync_webhooks::store::WebhookStore::queue_depth): a count
/// over the partial queue index.
pub(crate) const QUEUE_DEPTH_SQL: &str =
    "SELECT count(*) AS n FROM webhook_delivery_log WHERE status IN ('pending', 'retrying')";

/// A row of `SELECT count(*) AS n`.
#[derive(diesel::QueryableByName)]
pub(crate) struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub(crate) n: i64,
}

/// A row of [`RAW_BODY_KEYS_SQL`].
#[derive(diesel::QueryableByName)]
pub(crate) struct KeyRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    key_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    bodies: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    queued: i64,
}

/// [`RAW_BODY_KEYS_SQL`]'s rows as [`KeyUsage`]s, ordered by key id bytewise (as `str`s
/// compare, whatever the database's collation).
pub(crate) fn key_usage(rows: Vec<KeyRow>) -> Vec<KeyUsage> {
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    let mut out: Vec<KeyUsage> = rows
        .into_iter()
        .map(|r| KeyUsage {
            key_id: r.key_id,
            bodies: n(r.bodies),
            queued: n(r.queued),
        })
        .collect();
    out.sort_unstable_by(|a, b| a.key_id.cmp(&b.key_id));
    out
}

/// Up to a limit of kept raw bodies sealed with one key, by id; with `after`, only ids above it
/// (two texts rather than `$2 IS NULL OR id > $2`, so the primary key bounds the scan). Binds:
/// key id, `after` (only with it), limit. Ids are bound and read as stored: binary `uuid` on
/// PostgreSQL, lowercase hyphenated text on SQLite — both order like `Uuid` (bytewise; `0-9`
/// sort below `a-f`, and the hyphens stand at the same places in every id).
pub(crate) fn sealed_sql<D: Dialect>(after: bool) -> String {
    let (after, limit) = if after {
        (format!(" AND id > {}", D::p(2)), D::p(3))
    } else {
        (String::new(), D::p(2))
    };
    format!(
        "SELECT CAST(id AS TEXT) AS id, raw_body_nonce, raw_body FROM webhook_delivery_log \
         WHERE raw_body IS NOT NULL AND COALESCE(raw_body_key_id, '') = {key}{after} \
         ORDER BY webhook_delivery_log.id LIMIT {limit}",
        key = D::p(1)
    )
}

/// Rows per raw-body purge statement.
pub(crate) const PURGE_BATCH: i64 = 5_000;

/// A row of [`sealed_sql`] (the id as text: the order is the column's, `ORDER BY` names it).
#[derive(diesel::QueryableByName)]
pub(crate) struct SealedRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Binary>)]
    raw_body_nonce: Option<Vec<u8>>,
    #[diesel(sql_type = diesel::sql_types::Binary)]
    raw_body: Vec<u8>,
}

impl SealedRow {
    /// As a [`SealedBody`] sealed with `key_id` (the key asked for).
    pub(crate) fn into_sealed(self, key_id: &str) -> Result<SealedBody, StoreError> {
        Ok(SealedBody {
            delivery_id: parse_uuid(&self.id)?,
            body: EncryptedBody {
                key_id: key_id.to_owned(),
                nonce: self.raw_body_nonce.unwrap_or_default(),
                ciphertext: self.raw_body,
            },
        })
    }
}

/// Re-seals one kept raw body, only while it is still sealed with the expected key (a purged
/// body is never brought back). Binds: id (binary `uuid` on PostgreSQL), expected key id, key
/// id, nonce, ciphertext.
pub(crate) fn replace_body_sql<D: Dialect>() -> String {
    format!(
        "UPDATE webhook_delivery_log SET raw_body_key_id = {key}, raw_body_nonce = {nonce}, \
             raw_body = {ct} \
         WHERE id = {id} AND raw_body IS NOT NULL AND COALESCE(raw_body_key_id, '') = {expected}",
        id = D::p(1),
        expected = D::p(2),
        key = D::p(3),
        nonce = D::p(4),
        ct = D::p(5),
    )
}

/// A bind value of a dynamically built query.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Text(String),
    Time(OffsetDateTime),
}

/// `list_deliveries` as SQL and its bind values, in placeholder order.
pub(crate) fn list_sql<D: Dialect>(q: &DeliveryQuery) -> (String, Vec<Param>) {
    let (filter, params) = filter_sql::<D>(q);
    let mut sql = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_delivery_log d{filter}");
    sql.push_str(" ORDER BY d.received_at, d.id");
    if let Some(limit) = q.limit {
        sql.push_str(&format!(
            " LIMIT {}",
            i64::try_from(limit).unwrap_or(i64::MAX)
        ));
    }
    (sql, params)
}

/// `count_deliveries` as SQL (the same filter as [`list_sql`], no limit) and its bind values.
pub(crate) fn count_sql<D: Dialect>(q: &DeliveryQuery) -> (String, Vec<Param>) {
    let (filter, params) = filter_sql::<D>(q);
    let sql = format!(
        "SELECT d.provider AS provider, d.status AS status, count(*) AS n \
         FROM webhook_delivery_log d{filter} GROUP BY d.provider, d.status"
    );
    (sql, params)
}

/// A row of [`count_sql`].
#[derive(diesel::QueryableByName)]
pub(crate) struct CountRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    provider: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

impl CountRow {
    pub(crate) fn into_count(self) -> Result<DeliveryCount, StoreError> {
        Ok(DeliveryCount {
            provider: parse("provider", &self.provider)?,
            status: parse("delivery status", &self.status)?,
            count: u64::try_from(self.n).unwrap_or(0),
        })
    }
}

/// A query's conditions (` WHERE …`, or nothing) and their bind values, in placeholder order.
fn filter_sql<D: Dialect>(q: &DeliveryQuery) -> (String, Vec<Param>) {
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    let push = |params: &mut Vec<Param>, p: Param| {
        params.push(p);
        D::p(params.len())
    };
    if let Some(p) = q.provider {
        let ph = push(&mut params, Param::Text(p.as_str().to_owned()));
        conds.push(format!("d.provider = {ph}"));
    }
    if let Some(t) = &q.event_type {
        let ph = push(&mut params, Param::Text(t.clone()));
        conds.push(format!("d.event_type = {ph}"));
    }
    if !q.statuses.is_empty() {
        let phs: Vec<String> = q
            .statuses
            .iter()
            .map(|s| push(&mut params, Param::Text(s.as_str().to_owned())))
            .collect();
        conds.push(format!("d.status IN ({})", phs.join(", ")));
    }
    if let Some(t) = q.received_from {
        let ph = push(&mut params, Param::Time(t));
        conds.push(format!("d.received_at >= {ph}"));
    }
    if let Some(t) = q.received_to {
        let ph = push(&mut params, Param::Time(t));
        conds.push(format!("d.received_at < {ph}"));
    }
    let filter = match conds.is_empty() {
        true => String::new(),
        false => format!(" WHERE {}", conds.join(" AND ")),
    };
    (filter, params)
}

/// The claim order (critical first, then due time, then arrival, then id), for sorting what a
/// claim statement returned.
pub(crate) fn claim_order(a: &Delivery, b: &Delivery) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then(a.next_attempt_at.cmp(&b.next_attempt_at))
        .then(a.received_at.cmp(&b.received_at))
        .then(a.id.cmp(&b.id))
}

/// The `lease_expired` attempt recorded when a lease is reclaimed.
pub(crate) fn lease_expired_attempt(
    delivery_id: Uuid,
    attempt: u32,
    trigger: AttemptTrigger,
    worker: String,
    now: OffsetDateTime,
) -> AttemptRecord {
    AttemptRecord {
        delivery_id,
        attempt,
        trigger,
        worker,
        started_at: now,
        duration_ms: 0,
        response_status: None,
        error_kind: Some(ErrorKind::LeaseExpired),
        response_excerpt: None,
    }
}

/// What a failed conditional replay update means: re-read the row and let
/// `validate_replay` name the reason.
pub(crate) fn replay_refusal(d: Option<Delivery>, req: &ReplayRequest) -> WebhookError {
    match d {
        None => WebhookError::NotFound,
        Some(d) => match wedsync_webhooks::store::validate_replay(&d, req) {
            Err(e) => e,
            // changed between the update and the read: a worker took it
            Ok(()) => WebhookError::InFlight,
        },
    }
}
