//! The probe domain's statements, each written once for a [`Dialect`], and the macro that
//! declares its rows and binds and runs its operations on either backend's connection.

use crate::dialect::{batch_sql, placeholders, Dialect};

/// Rows deleted per `prune_results` statement.
pub(crate) const PRUNE_BATCH: usize = 5000;

/// Runs `batch` (one prune of at most [`PRUNE_BATCH`] rows, answering how many it deleted) until a
/// batch comes back short; the total deleted.
pub(crate) async fn prune_in_batches<E, F, Fut>(mut batch: F) -> Result<u64, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<usize, E>>,
{
    let mut total = 0u64;
    loop {
        let n = batch().await?;
        total += n as u64;
        if n < PRUNE_BATCH {
            return Ok(total);
        }
    }
}

/// The columns of a probe result (`m` is `service_health_metrics`' alias).
const RESULT_COLUMNS: &str = "m.service, m.status, m.checked_at, m.latency_ms, m.http_status, \
     m.detail, CAST(m.result AS TEXT) AS result";

/// The columns of an incident.
pub(crate) const INCIDENT_COLUMNS: &str = "dedup_key, service, state, status, opened_at, \
     updated_at, resolved_at, last_notified_at, wedding_day, summary";

/// The columns of a notification.
pub(crate) const NOTIFICATION_COLUMNS: &str = "id, sink, kind, incident_key, service, payload, \
     state, attempts, next_attempt_at, created_at, lease_owner, lease_until, last_error, seq";

/// A probe result. Binds: service, status, latency_ms, http_status, detail, checked_at, result
/// (JSON text).
pub(crate) fn insert_result<D: Dialect>() -> String {
    format!(
        "INSERT INTO service_health_metrics \
             (service, status, latency_ms, http_status, detail, checked_at, result) \
         VALUES ({}, {})",
        placeholders::<D>(1, 6),
        D::json(7)
    )
}

/// Every service's latest result, by service: a loose index scan over `(service, checked_at)`
/// finds the services (each step one index lookup), then one index lookup per service.
pub(crate) fn latest_results<D: Dialect>() -> String {
    let latest = D::join_first(
        "service_health_metrics",
        "l",
        "WHERE m.service = s.service ORDER BY m.checked_at DESC, m.id DESC",
    );
    format!(
        "WITH RECURSIVE services(service) AS ( \
             SELECT (SELECT service FROM service_health_metrics ORDER BY service LIMIT 1) \
             UNION ALL \
             SELECT (SELECT m.service FROM service_health_metrics m \
                     WHERE m.service > s.service ORDER BY m.service LIMIT 1) \
             FROM services s WHERE s.service IS NOT NULL) \
         SELECT {cols} FROM services s {latest} \
         WHERE s.service IS NOT NULL ORDER BY s.service",
        cols = RESULT_COLUMNS.replace("m.", "l.")
    )
}

/// A service's results since a time, newest first. Binds: service, since, limit.
pub(crate) fn history<D: Dialect>() -> String {
    format!(
        "SELECT {RESULT_COLUMNS} FROM service_health_metrics m \
         WHERE m.service = {} AND m.checked_at >= {} \
         ORDER BY m.checked_at DESC, m.id DESC LIMIT {}",
        D::p(1),
        D::p(2),
        D::p(3)
    )
}

/// Deletes a batch of results older than a time. Binds: before.
pub(crate) fn prune_results<D: Dialect>() -> String {
    batch_sql::<D>(
        "DELETE FROM service_health_metrics",
        "service_health_metrics",
        "id",
        &format!("checked_at < {}", D::p(1)),
        &PRUNE_BATCH.to_string(),
    )
}

/// A service's rollups (`table`: hourly or daily) from a bucket on, oldest first. Binds:
/// service, from.
pub(crate) fn rollups<D: Dialect>(table: &str) -> String {
    format!(
        "SELECT bucket, checks, healthy, degraded, down, latency_sum_ms, latency_max_ms \
         FROM {table} WHERE service = {} AND bucket >= {} ORDER BY bucket",
        D::p(1),
        D::p(2)
    )
}

/// One incident by a condition on one bound value (`cond` uses placeholder 1).
pub(crate) fn incident_where(cond: &str) -> String {
    format!("SELECT {INCIDENT_COLUMNS} FROM service_alerts WHERE {cond} LIMIT 1")
}

/// The incident with a dedup key. Binds: dedup key.
pub(crate) fn incident_by_key<D: Dialect>() -> String {
    incident_where(&format!("dedup_key = {}", D::p(1)))
}

/// A service's open incident. Binds: service.
pub(crate) fn open_incident_of<D: Dialect>() -> String {
    incident_where(&format!("service = {} AND state = 'open'", D::p(1)))
}

/// Opens an incident unless one conflicts (the partial unique index: one open incident per
/// service). Binds: dedup_key, service, status, opened_at, updated_at, last_notified_at,
/// wedding_day, summary.
pub(crate) fn open_incident<D: Dialect>() -> String {
    format!(
        "INSERT INTO service_alerts (dedup_key, service, state, status, opened_at, updated_at, \
             last_notified_at, wedding_day, summary) \
         VALUES ({}, 'open', {}) \
         ON CONFLICT DO NOTHING RETURNING {INCIDENT_COLUMNS}",
        placeholders::<D>(1, 2),
        placeholders::<D>(3, 8)
    )
}

/// Updates an incident. Binds: dedup_key, status, updated_at, last_notified_at, summary.
pub(crate) fn update_incident<D: Dialect>() -> String {
    format!(
        "UPDATE service_alerts SET status = {}, updated_at = {}, last_notified_at = {}, \
             summary = {} \
         WHERE dedup_key = {}",
        D::p(2),
        D::p(3),
        D::p(4),
        D::p(5),
        D::p(1)
    )
}

/// Resolves an open incident. Binds: dedup_key, resolved_at.
pub(crate) fn resolve_incident<D: Dialect>() -> String {
    format!(
        "UPDATE service_alerts SET state = 'resolved', resolved_at = {at}, updated_at = {at} \
         WHERE dedup_key = {key} AND state = 'open' RETURNING {INCIDENT_COLUMNS}",
        key = D::p(1),
        at = D::p(2)
    )
}

/// The open incidents, oldest first.
pub(crate) fn open_incidents() -> String {
    format!(
        "SELECT {INCIDENT_COLUMNS} FROM service_alerts WHERE state = 'open' ORDER BY opened_at, id"
    )
}

/// Enqueues a notification unless its id exists. Binds: id, incident_key, service, sink, kind,
/// payload, attempts, next_attempt_at, last_error, created_at.
pub(crate) fn enqueue<D: Dialect>() -> String {
    format!(
        "INSERT INTO notification_outbox (id, incident_key, service, sink, kind, payload, state, \
             attempts, next_attempt_at, last_error, created_at) \
         VALUES ({}, 'pending', {}) \
         ON CONFLICT (id) DO NOTHING",
        placeholders::<D>(1, 6),
        placeholders::<D>(7, 10)
    )
}

/// Leases due notifications, oldest due first (another worker's locked rows skipped on
/// PostgreSQL). Binds: owner, now, lease_until, limit.
pub(crate) fn claim_due<D: Dialect>() -> String {
    format!(
        "UPDATE notification_outbox \
         SET lease_owner = {owner}, lease_until = {until}, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM notification_outbox \
                      WHERE state = 'pending' AND next_attempt_at <= {now} \
                        AND (lease_until IS NULL OR lease_until <= {now}) \
                      ORDER BY next_attempt_at, seq LIMIT {limit}{lock}) \
         RETURNING {NOTIFICATION_COLUMNS}",
        owner = D::p(1),
        now = D::p(2),
        until = D::p(3),
        limit = D::p(4),
        lock = D::SKIP_LOCKED
    )
}

/// Marks a leased notification sent. Binds: id, owner, sent_at.
pub(crate) fn mark_sent<D: Dialect>() -> String {
    format!(
        "UPDATE notification_outbox \
         SET state = 'sent', sent_at = {}, lease_owner = NULL, lease_until = NULL \
         WHERE id = {} AND lease_owner = {} AND state = 'pending'",
        D::p(3),
        D::p(1),
        D::p(2)
    )
}

/// Marks a leased notification failed: retried at the time given, dead without one. Binds: id,
/// owner, error, next_attempt_at.
pub(crate) fn mark_failed<D: Dialect>() -> String {
    format!(
        "UPDATE notification_outbox \
         SET lease_owner = NULL, lease_until = NULL, last_error = {error}, \
             state = CASE WHEN {next_ts} IS NULL THEN 'dead' ELSE 'pending' END, \
             next_attempt_at = coalesce({next}, next_attempt_at) \
         WHERE id = {id} AND lease_owner = {owner} AND state = 'pending'",
        id = D::p(1),
        owner = D::p(2),
        error = D::p(3),
        next_ts = D::ts(4),
        next = D::p(4)
    )
}

/// One notification. Binds: id.
pub(crate) fn notification<D: Dialect>() -> String {
    format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notification_outbox WHERE id = {}",
        D::p(1)
    )
}

/// An incident's notifications, in enqueue order. Binds: incident key.
pub(crate) fn notifications_for<D: Dialect>() -> String {
    format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notification_outbox WHERE incident_key = {} \
         ORDER BY seq",
        D::p(1)
    )
}

/// The rows of `service_health_metrics`, the rollups, `service_alerts` and
/// `notification_outbox`, and every operation on them, declared once. A backend module
/// instantiates it with, in scope: `Conn` (its connection type), `D` (its dialect), `Ts`/`TsRs`
/// (its timestamp SQL and Rust types), `ts(ms: i64) -> TsRs`, a `stmt!` macro turning a
/// statement `String` into a query, and the `RunQueryDsl` its connection runs. The arguments are
/// the `async` keyword and `.await` on PostgreSQL, nothing on SQLite.
macro_rules! probe_ops {
    ($($async_kw:ident)?; $($aw:tt)*) => {
        use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};
        use wedsync_probe::store::{
            ChangeOutcome, DueClaim, SendFailure, HourlyHealth, Incident, IncidentChange, IncidentState, Notification,
            NotificationKind, OpenOutcome, OutboxState, StoreError as ProbeError,
        };
        use wedsync_probe::{ProbeResult, ProbeStatus};
        use $crate::dialect::RowTime as _;
        use $crate::probe::sql;
        use $crate::probe::{backend, latency_ms, parse, result_from_columns, OpError};

        #[derive(diesel::QueryableByName)]
        struct ResultRow {
            #[diesel(sql_type = Text)]
            service: String,
            #[diesel(sql_type = Text)]
            status: String,
            #[diesel(sql_type = Ts)]
            checked_at: TsRs,
            #[diesel(sql_type = Nullable<Integer>)]
            latency_ms: Option<i32>,
            #[diesel(sql_type = Nullable<Integer>)]
            http_status: Option<i32>,
            #[diesel(sql_type = Nullable<Text>)]
            detail: Option<String>,
            #[diesel(sql_type = Nullable<Text>)]
            result: Option<String>,
        }

        impl ResultRow {
            fn into_result(self) -> Result<ProbeResult, ProbeError> {
                result_from_columns(
                    self.service,
                    &self.status,
                    self.checked_at.into_ms(),
                    self.latency_ms,
                    self.http_status,
                    self.detail,
                    self.result.as_deref(),
                )
            }
        }

        #[derive(diesel::QueryableByName)]
        struct RollupRow {
            #[diesel(sql_type = Ts)]
            bucket: TsRs,
            #[diesel(sql_type = BigInt)]
            checks: i64,
            #[diesel(sql_type = BigInt)]
            healthy: i64,
            #[diesel(sql_type = BigInt)]
            degraded: i64,
            #[diesel(sql_type = BigInt)]
            down: i64,
            #[diesel(sql_type = BigInt)]
            latency_sum_ms: i64,
            #[diesel(sql_type = Nullable<Integer>)]
            latency_max_ms: Option<i32>,
        }

        impl From<RollupRow> for HourlyHealth {
            fn from(r: RollupRow) -> Self {
                let count = |n: i64| u64::try_from(n).unwrap_or(0);
                HourlyHealth {
                    hour_start_ms: r.bucket.into_ms(),
                    checks: count(r.checks),
                    healthy: count(r.healthy),
                    degraded: count(r.degraded),
                    unhealthy: count(r.down),
                    latency_sum_ms: count(r.latency_sum_ms),
                    latency_max_ms: r.latency_max_ms.map(|m| count(i64::from(m))),
                }
            }
        }

        #[derive(diesel::QueryableByName)]
        struct IncidentRow {
            #[diesel(sql_type = Text)]
            dedup_key: String,
            #[diesel(sql_type = Text)]
            service: String,
            #[diesel(sql_type = Text)]
            state: String,
            #[diesel(sql_type = Text)]
            status: String,
            #[diesel(sql_type = Ts)]
            opened_at: TsRs,
            #[diesel(sql_type = Ts)]
            updated_at: TsRs,
            #[diesel(sql_type = Nullable<Ts>)]
            resolved_at: Option<TsRs>,
            #[diesel(sql_type = Nullable<Ts>)]
            last_notified_at: Option<TsRs>,
            #[diesel(sql_type = Bool)]
            wedding_day: bool,
            #[diesel(sql_type = Text)]
            summary: String,
        }

        impl IncidentRow {
            fn into_incident(self) -> Result<Incident, ProbeError> {
                Ok(Incident {
                    dedup_key: self.dedup_key,
                    service: self.service,
                    state: parse::<IncidentState>(&self.state)?,
                    status: parse::<ProbeStatus>(&self.status)?,
                    opened_at_ms: self.opened_at.into_ms(),
                    updated_at_ms: self.updated_at.into_ms(),
                    resolved_at_ms: self.resolved_at.map(|t| t.into_ms()),
                    last_notified_at_ms: self.last_notified_at.map(|t| t.into_ms()),
                    wedding_day: self.wedding_day,
                    summary: self.summary,
                })
            }
        }

        /// The first row as an incident.
        fn first_incident(rows: Vec<IncidentRow>) -> Result<Option<Incident>, OpError> {
            Ok(rows.into_iter().next().map(IncidentRow::into_incident).transpose()?)
        }

        #[derive(diesel::QueryableByName)]
        struct NotificationRow {
            #[diesel(sql_type = Text)]
            id: String,
            #[diesel(sql_type = Text)]
            sink: String,
            #[diesel(sql_type = Text)]
            kind: String,
            #[diesel(sql_type = Text)]
            incident_key: String,
            #[diesel(sql_type = Text)]
            service: String,
            #[diesel(sql_type = Text)]
            payload: String,
            #[diesel(sql_type = Text)]
            state: String,
            #[diesel(sql_type = Integer)]
            attempts: i32,
            #[diesel(sql_type = Ts)]
            next_attempt_at: TsRs,
            #[diesel(sql_type = Ts)]
            created_at: TsRs,
            #[diesel(sql_type = Nullable<Text>)]
            lease_owner: Option<String>,
            #[diesel(sql_type = Nullable<Ts>)]
            lease_until: Option<TsRs>,
            #[diesel(sql_type = Nullable<Text>)]
            last_error: Option<String>,
            #[diesel(sql_type = BigInt)]
            seq: i64,
        }

        impl NotificationRow {
            fn into_notification(self) -> Result<Notification, ProbeError> {
                Ok(Notification {
                    id: self.id,
                    sink: self.sink,
                    kind: parse::<NotificationKind>(&self.kind)?,
                    incident_key: self.incident_key,
                    service: self.service,
                    payload: self.payload,
                    state: parse::<OutboxState>(&self.state)?,
                    attempts: u32::try_from(self.attempts).unwrap_or(0),
                    next_attempt_at_ms: self.next_attempt_at.into_ms(),
                    created_at_ms: self.created_at.into_ms(),
                    lease_owner: self.lease_owner,
                    lease_until_ms: self.lease_until.map(|t| t.into_ms()),
                    last_error: self.last_error,
                })
            }
        }

        /// Rows as notifications, in the order given.
        fn notifications(rows: Vec<NotificationRow>) -> Result<Vec<Notification>, ProbeError> {
            rows.into_iter().map(NotificationRow::into_notification).collect()
        }

        $($async_kw)? fn insert_result_on(c: &mut Conn, r: &ProbeResult) -> Result<(), OpError> {
            let json = serde_json::to_string(r).map_err(backend)?;
            stmt!(sql::insert_result::<D>())
                .bind::<Text, _>(&r.service)
                .bind::<Text, _>(r.status.as_str())
                .bind::<Integer, _>(latency_ms(r))
                .bind::<Nullable<Integer>, _>(r.http_status.map(i32::from))
                .bind::<Text, _>(&r.detail)
                .bind::<Ts, _>(ts(r.checked_at_ms))
                .bind::<Text, _>(json)
                .execute(c)$($aw)*?;
            Ok(())
        }

        $($async_kw)? fn latest_results_on(c: &mut Conn) -> Result<Vec<ProbeResult>, OpError> {
            let rows: Vec<ResultRow> = stmt!(sql::latest_results::<D>()).load(c)$($aw)*?;
            Ok(rows.into_iter().map(ResultRow::into_result).collect::<Result<_, _>>()?)
        }

        $($async_kw)? fn history_on(
            c: &mut Conn,
            service: &str,
            since_ms: i64,
            limit: usize,
        ) -> Result<Vec<ProbeResult>, OpError> {
            let rows: Vec<ResultRow> = stmt!(sql::history::<D>())
                .bind::<Text, _>(service)
                .bind::<Ts, _>(ts(since_ms))
                .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
                .load(c)$($aw)*?;
            Ok(rows.into_iter().map(ResultRow::into_result).collect::<Result<_, _>>()?)
        }

        /// One batch of `prune_results`: how many rows it deleted.
        $($async_kw)? fn prune_batch_on(c: &mut Conn, before_ms: i64) -> Result<usize, OpError> {
            Ok(stmt!(sql::prune_results::<D>())
                .bind::<Ts, _>(ts(before_ms))
                .execute(c)$($aw)*?)
        }

        /// A service's hourly (or `daily`) rollups from the bucket holding `since_ms` on.
        $($async_kw)? fn rollups_on(
            c: &mut Conn,
            daily: bool,
            service: &str,
            since_ms: i64,
        ) -> Result<Vec<HourlyHealth>, OpError> {
            let (query, from) = if daily {
                (
                    stmt!(sql::rollups::<D>("service_health_rollups_daily")),
                    HourlyHealth::day_of(since_ms),
                )
            } else {
                (
                    stmt!(sql::rollups::<D>("service_health_rollups_hourly")),
                    HourlyHealth::hour_of(since_ms),
                )
            };
            let rows: Vec<RollupRow> = query
                .bind::<Text, _>(service)
                .bind::<Ts, _>(ts(from))
                .load(c)$($aw)*?;
            Ok(rows.into_iter().map(HourlyHealth::from).collect())
        }

        $($async_kw)? fn incident_by_key_on(
            c: &mut Conn,
            key: &str,
        ) -> Result<Option<Incident>, OpError> {
            let rows = stmt!(sql::incident_by_key::<D>())
                .bind::<Text, _>(key)
                .load(c)$($aw)*?;
            first_incident(rows)
        }

        $($async_kw)? fn open_incident_of_on(
            c: &mut Conn,
            service: &str,
        ) -> Result<Option<Incident>, OpError> {
            let rows = stmt!(sql::open_incident_of::<D>())
                .bind::<Text, _>(service)
                .load(c)$($aw)*?;
            first_incident(rows)
        }

        $($async_kw)? fn open_incident_on(c: &mut Conn, i: &Incident) -> Result<OpenOutcome, OpError> {
            for _ in 0..3 {
                let rows = stmt!(sql::open_incident::<D>())
                    .bind::<Text, _>(&i.dedup_key)
                    .bind::<Text, _>(&i.service)
                    .bind::<Text, _>(i.status.as_str())
                    .bind::<Ts, _>(ts(i.opened_at_ms))
                    .bind::<Ts, _>(ts(i.updated_at_ms))
                    .bind::<Nullable<Ts>, _>(i.last_notified_at_ms.map(ts))
                    .bind::<Bool, _>(i.wedding_day)
                    .bind::<Text, _>(&i.summary)
                    .load(c)$($aw)*?;
                if let Some(created) = first_incident(rows)? {
                    return Ok(OpenOutcome::Created(created));
                }
                if let Some(open) = open_incident_of_on(c, &i.service)$($aw)*? {
                    return Ok(OpenOutcome::AlreadyOpen(open));
                }
                if let Some(same) = incident_by_key_on(c, &i.dedup_key)$($aw)*? {
                    return Ok(OpenOutcome::AlreadyOpen(same));
                }
                // the conflicting incident was resolved meanwhile: try again
            }
            Err(ProbeError::Backend("open_incident kept conflicting".into()).into())
        }

        $($async_kw)? fn update_incident_on(c: &mut Conn, i: &Incident) -> Result<(), OpError> {
            let n = stmt!(sql::update_incident::<D>())
                .bind::<Text, _>(&i.dedup_key)
                .bind::<Text, _>(i.status.as_str())
                .bind::<Ts, _>(ts(i.updated_at_ms))
                .bind::<Nullable<Ts>, _>(i.last_notified_at_ms.map(ts))
                .bind::<Text, _>(&i.summary)
                .execute(c)$($aw)*?;
            if n == 0 {
                Err(ProbeError::NotFound.into())
            } else {
                Ok(())
            }
        }

        $($async_kw)? fn resolve_incident_on(
            c: &mut Conn,
            dedup_key: &str,
            resolved_at_ms: i64,
        ) -> Result<Option<Incident>, OpError> {
            let rows = stmt!(sql::resolve_incident::<D>())
                .bind::<Text, _>(dedup_key)
                .bind::<Ts, _>(ts(resolved_at_ms))
                .load(c)$($aw)*?;
            first_incident(rows)
        }

        $($async_kw)? fn open_incidents_on(c: &mut Conn) -> Result<Vec<Incident>, OpError> {
            let rows: Vec<IncidentRow> = stmt!(sql::open_incidents()).load(c)$($aw)*?;
            Ok(rows.into_iter().map(IncidentRow::into_incident).collect::<Result<_, _>>()?)
        }

        $($async_kw)? fn enqueue_on(c: &mut Conn, n: &Notification) -> Result<bool, OpError> {
            let inserted = stmt!(sql::enqueue::<D>())
                .bind::<Text, _>(&n.id)
                .bind::<Text, _>(&n.incident_key)
                .bind::<Text, _>(&n.service)
                .bind::<Text, _>(&n.sink)
                .bind::<Text, _>(n.kind.as_str())
                .bind::<Text, _>(&n.payload)
                .bind::<Integer, _>(i32::try_from(n.attempts).unwrap_or(i32::MAX))
                .bind::<Ts, _>(ts(n.next_attempt_at_ms))
                .bind::<Nullable<Text>, _>(&n.last_error)
                .bind::<Ts, _>(ts(n.created_at_ms))
                .execute(c)$($aw)*?;
            Ok(inserted > 0)
        }

        /// Applies `change` and, when it took, enqueues `notifications`, on `c` (the caller wraps
        /// this in a transaction).
        $($async_kw)? fn change_and_enqueue_on(
            c: &mut Conn,
            change: &IncidentChange,
            notifications: &[Notification],
        ) -> Result<ChangeOutcome, OpError> {
            let outcome = match change {
                IncidentChange::Open(i) => ChangeOutcome::Opened(open_incident_on(c, i)$($aw)*?),
                IncidentChange::Update(i) => {
                    update_incident_on(c, i)$($aw)*?;
                    ChangeOutcome::Updated
                }
                IncidentChange::Resolve {
                    dedup_key,
                    resolved_at_ms,
                } => ChangeOutcome::Resolved(
                    resolve_incident_on(c, dedup_key, *resolved_at_ms)$($aw)*?,
                ),
                _ => return Err(ProbeError::Backend("unsupported incident change".into()).into()),
            };
            if outcome.took() {
                for n in notifications {
                    enqueue_on(c, n)$($aw)*?;
                }
            }
            Ok(outcome)
        }

        $($async_kw)? fn claim_due_on(
            c: &mut Conn,
            claim: DueClaim<'_>,
        ) -> Result<Vec<Notification>, OpError> {
            let mut rows: Vec<NotificationRow> = stmt!(sql::claim_due::<D>())
                .bind::<Text, _>(claim.owner)
                .bind::<Ts, _>(ts(claim.now_ms))
                .bind::<Ts, _>(ts(claim.now_ms.saturating_add(claim.lease_ms)))
                .bind::<BigInt, _>(i64::try_from(claim.limit).unwrap_or(i64::MAX))
                .load(c)$($aw)*?;
            rows.sort_by_key(|r| (r.next_attempt_at, r.seq));
            Ok(notifications(rows)?)
        }

        $($async_kw)? fn mark_sent_on(
            c: &mut Conn,
            id: &str,
            owner: &str,
            now_ms: i64,
        ) -> Result<bool, OpError> {
            let n = stmt!(sql::mark_sent::<D>())
                .bind::<Text, _>(id)
                .bind::<Text, _>(owner)
                .bind::<Ts, _>(ts(now_ms))
                .execute(c)$($aw)*?;
            Ok(n > 0)
        }

        $($async_kw)? fn mark_failed_on(
            c: &mut Conn,
            id: &str,
            owner: &str,
            error: &str,
            next_attempt_at_ms: Option<i64>,
        ) -> Result<bool, OpError> {
            let n = stmt!(sql::mark_failed::<D>())
                .bind::<Text, _>(id)
                .bind::<Text, _>(owner)
                .bind::<Text, _>(error)
                .bind::<Nullable<Ts>, _>(next_attempt_at_ms.map(ts))
                .execute(c)$($aw)*?;
            Ok(n > 0)
        }

        $($async_kw)? fn notification_on(
            c: &mut Conn,
            id: &str,
        ) -> Result<Option<Notification>, OpError> {
            let rows: Vec<NotificationRow> = stmt!(sql::notification::<D>())
                .bind::<Text, _>(id)
                .load(c)$($aw)*?;
            Ok(notifications(rows)?.into_iter().next())
        }

        $($async_kw)? fn notifications_for_on(
            c: &mut Conn,
            incident_key: &str,
        ) -> Result<Vec<Notification>, OpError> {
            let rows: Vec<NotificationRow> = stmt!(sql::notifications_for::<D>())
                .bind::<Text, _>(incident_key)
                .load(c)$($aw)*?;
            Ok(notifications(rows)?)
        }
    };
}
pub(crate) use probe_ops;
