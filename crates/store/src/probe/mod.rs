//! `wedsync-probe`'s storage traits ([`ResultStore`], [`IncidentStore`], [`OutboxStore`]) on
//! PostgreSQL and SQLite (feature `probe`). Both pass `wedsync_probe::conformance::run_all`
//! (`tests/probe.rs`).
//!
//! Results go to `service_health_metrics` (the full result as JSON in `result`), incidents to
//! `service_alerts` (a partial unique index keeps one open incident per service across processes),
//! notifications to `notification_outbox` (claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL).
// without a backend compiled in, the shared helpers are unused
#![cfg_attr(
    not(any(feature = "postgres", feature = "sqlite")),
    allow(dead_code, unused_imports, unused_macros)
)]

use std::str::FromStr;

use wedsync_probe::store::{
    ChangeOutcome, HourlyHealth, Incident, IncidentChange, IncidentState, IncidentStore,
    Notification, NotificationKind, OpenOutcome, OutboxState, OutboxStore, ResultStore,
    StoreError as ProbeError,
};
use wedsync_probe::{ProbeResult, ProbeStatus};

fn backend(e: impl std::fmt::Display) -> ProbeError {
    ProbeError::Backend(e.to_string())
}

/// [`ResultStore::hourly_history`] and [`ResultStore::daily_history`] on either backend: the
/// hourly or daily rollups table, which a trigger on `service_health_metrics` keeps current
/// (migration 4).
async fn rollup_history<S: crate::MetricsStore + ?Sized>(
    store: &S,
    service: &str,
    since_ms: i64,
    period: crate::RollupPeriod,
) -> Result<Vec<HourlyHealth>, ProbeError> {
    let nanos = |ms: i64| i128::from(ms) * 1_000_000;
    let start = match period {
        crate::RollupPeriod::Hourly => HourlyHealth::hour_of(since_ms),
        crate::RollupPeriod::Daily => HourlyHealth::day_of(since_ms),
    };
    let from = time::OffsetDateTime::from_unix_timestamp_nanos(nanos(start)).map_err(backend)?;
    // no upper bound in practice (results stamped in the future by a skewed clock included)
    let to = from + time::Duration::days(36_500);
    let rows = store
        .rollups(service, period, from, to)
        .await
        .map_err(backend)?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(rows
        .into_iter()
        .map(|r| HourlyHealth {
            hour_start_ms: i64::try_from(r.bucket.unix_timestamp_nanos() / 1_000_000)
                .unwrap_or(i64::MAX),
            checks: count(r.checks),
            healthy: count(r.healthy),
            degraded: count(r.degraded),
            unhealthy: count(r.down),
            latency_sum_ms: count(r.latency_sum_ms),
            latency_max_ms: r.latency_max_ms.map(|m| count(i64::from(m))),
        })
        .collect())
}

/// The error of an operation on one connection: the database's, or the probe store's own (such as
/// `NotFound`). Either one rolls the surrounding transaction back.
#[derive(Debug)]
enum OpError {
    Db(diesel::result::Error),
    Probe(ProbeError),
}

impl From<diesel::result::Error> for OpError {
    fn from(e: diesel::result::Error) -> Self {
        OpError::Db(e)
    }
}

impl From<ProbeError> for OpError {
    fn from(e: ProbeError) -> Self {
        OpError::Probe(e)
    }
}

impl From<OpError> for ProbeError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Db(e) => backend(e),
            OpError::Probe(e) => e,
        }
    }
}

fn result_from_columns(
    service: String,
    status: &str,
    checked_at_ms: i64,
    latency_ms: Option<i32>,
    http_status: Option<i32>,
    detail: Option<String>,
    json: Option<&str>,
) -> Result<ProbeResult, ProbeError> {
    if let Some(json) = json {
        return serde_json::from_str(json).map_err(backend);
    }
    let status = ProbeStatus::from_str(status).map_err(backend)?;
    let mut r = ProbeResult::new(service, status, detail.unwrap_or_default());
    r.checked_at_ms = checked_at_ms;
    r.latency = std::time::Duration::from_millis(latency_ms.unwrap_or(0).max(0) as u64);
    r.http_status = http_status.and_then(|s| u16::try_from(s).ok());
    Ok(r)
}

fn parse<T: FromStr>(s: &str) -> Result<T, ProbeError>
where
    T::Err: std::fmt::Display,
{
    T::from_str(s).map_err(backend)
}

fn latency_ms(r: &ProbeResult) -> i32 {
    i32::try_from(r.latency.as_millis()).unwrap_or(i32::MAX)
}

/// The row types of `service_health_metrics`, `service_alerts` and `notification_outbox`, declared
/// once; each backend instantiates them with its timestamp types `Ts`/`TsRs` in scope.
macro_rules! probe_rows {
    () => {
        use $crate::rows::RowTime as _;

        #[derive(diesel::QueryableByName)]
        struct ResultRow {
            #[diesel(sql_type = diesel::sql_types::Text)]
            service: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            status: String,
            #[diesel(sql_type = Ts)]
            checked_at: TsRs,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
            latency_ms: Option<i32>,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
            http_status: Option<i32>,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            detail: Option<String>,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
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
        struct IncidentRow {
            #[diesel(sql_type = diesel::sql_types::Text)]
            dedup_key: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            service: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            state: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            status: String,
            #[diesel(sql_type = Ts)]
            opened_at: TsRs,
            #[diesel(sql_type = Ts)]
            updated_at: TsRs,
            #[diesel(sql_type = diesel::sql_types::Nullable<Ts>)]
            resolved_at: Option<TsRs>,
            #[diesel(sql_type = diesel::sql_types::Nullable<Ts>)]
            last_notified_at: Option<TsRs>,
            #[diesel(sql_type = diesel::sql_types::Bool)]
            wedding_day: bool,
            #[diesel(sql_type = diesel::sql_types::Text)]
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

        const INCIDENT_COLUMNS: &str = "dedup_key, service, state, status, opened_at, \
            updated_at, resolved_at, last_notified_at, wedding_day, summary";

        #[derive(diesel::QueryableByName)]
        struct NotificationRow {
            #[diesel(sql_type = diesel::sql_types::Text)]
            id: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            sink: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            kind: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            incident_key: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            service: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            payload: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            state: String,
            #[diesel(sql_type = diesel::sql_types::Integer)]
            attempts: i32,
            #[diesel(sql_type = Ts)]
            next_attempt_at: TsRs,
            #[diesel(sql_type = Ts)]
            created_at: TsRs,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            lease_owner: Option<String>,
            #[diesel(sql_type = diesel::sql_types::Nullable<Ts>)]
            lease_until: Option<TsRs>,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            last_error: Option<String>,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            #[allow(dead_code)]
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

        const NOTIFICATION_COLUMNS: &str = "id, sink, kind, incident_key, service, payload, \
            state, attempts, next_attempt_at, created_at, lease_owner, lease_until, last_error, seq";
    };
}

/// `change_and_enqueue_on(c, change, notifications)` for one backend, over its `*_on` incident and
/// outbox functions: applies the change and, when it took, enqueues the notifications. The
/// trailing tokens are `.await` on PostgreSQL and nothing on SQLite. The caller wraps the call in
/// a transaction.
macro_rules! change_and_enqueue_on {
    ($($async_kw:ident)?; $($aw:tt)*) => {
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
    };
}

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use async_trait::async_trait;
    use diesel::sql_types::{BigInt, Bool, Integer, Jsonb, Nullable, Text, Timestamptz};
    use diesel_async::RunQueryDsl;
    use time::OffsetDateTime;

    use crate::pg::cached::fixed;
    use crate::pg::PgStore;

    fn dt(ms: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    async fn conn(s: &PgStore) -> Result<crate::pg::PooledConnection, ProbeError> {
        s.conn().await.map_err(backend)
    }

    type Ts = Timestamptz;
    type TsRs = OffsetDateTime;
    probe_rows!();

    const RESULT_COLUMNS: &str =
        "service, status, checked_at, latency_ms, http_status, detail, result::text AS result";

    #[async_trait]
    impl ResultStore for PgStore {
        async fn insert_result(&self, r: &ProbeResult) -> Result<(), ProbeError> {
            let json = serde_json::to_value(r).map_err(backend)?;
            let mut c = conn(self).await?;
            fixed!(
                "INSERT INTO service_health_metrics
                     (service, status, latency_ms, http_status, detail, checked_at, result)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind::<Text, _>(&r.service)
            .bind::<Text, _>(r.status.as_str())
            .bind::<Integer, _>(latency_ms(r))
            .bind::<Nullable<Integer>, _>(r.http_status.map(i32::from))
            .bind::<Text, _>(&r.detail)
            .bind::<Timestamptz, _>(dt(r.checked_at_ms))
            .bind::<Jsonb, _>(json)
            .execute(&mut c)
            .await
            .map_err(backend)?;
            Ok(())
        }

        async fn latest_results(&self) -> Result<Vec<ProbeResult>, ProbeError> {
            let mut c = conn(self).await?;
            let rows: Vec<ResultRow> = fixed!(
                "WITH RECURSIVE services(service) AS (
                     (SELECT service FROM service_health_metrics ORDER BY service LIMIT 1)
                     UNION ALL
                     SELECT (SELECT m.service FROM service_health_metrics m
                             WHERE m.service > s.service ORDER BY m.service LIMIT 1)
                     FROM services s WHERE s.service IS NOT NULL)
                 SELECT l.service, l.status, l.checked_at, l.latency_ms, l.http_status, l.detail,
                        l.result::text AS result
                 FROM services s CROSS JOIN LATERAL (
                     SELECT * FROM service_health_metrics m WHERE m.service = s.service
                     ORDER BY m.checked_at DESC, m.id DESC LIMIT 1) l
                 WHERE s.service IS NOT NULL ORDER BY s.service",
            )
            .load(&mut c)
            .await
            .map_err(backend)?;
            rows.into_iter().map(ResultRow::into_result).collect()
        }

        async fn history(
            &self,
            service: &str,
            since_ms: i64,
            limit: usize,
        ) -> Result<Vec<ProbeResult>, ProbeError> {
            let mut c = conn(self).await?;
            let rows: Vec<ResultRow> = diesel::sql_query(format!(
                "SELECT {RESULT_COLUMNS} FROM service_health_metrics
                 WHERE service = $1 AND checked_at >= $2
                 ORDER BY checked_at DESC, id DESC LIMIT $3"
            ))
            .bind::<Text, _>(service)
            .bind::<Timestamptz, _>(dt(since_ms))
            .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
            .load(&mut c)
            .await
            .map_err(backend)?;
            rows.into_iter().map(ResultRow::into_result).collect()
        }

        async fn prune_results(&self, before_ms: i64) -> Result<u64, ProbeError> {
            let mut total = 0u64;
            loop {
                let mut c = conn(self).await?;
                let n = fixed!(
                    "DELETE FROM service_health_metrics WHERE id IN (
                         SELECT id FROM service_health_metrics WHERE checked_at < $1
                         LIMIT 5000 FOR UPDATE SKIP LOCKED)",
                )
                .bind::<Timestamptz, _>(dt(before_ms))
                .execute(&mut c)
                .await
                .map_err(backend)?;
                total += n as u64;
                if n < 5000 {
                    return Ok(total);
                }
            }
        }

        async fn hourly_history(
            &self,
            service: &str,
            since_ms: i64,
        ) -> Result<Vec<HourlyHealth>, ProbeError> {
            super::rollup_history(self, service, since_ms, crate::RollupPeriod::Hourly).await
        }

        async fn daily_history(
            &self,
            service: &str,
            since_ms: i64,
        ) -> Result<Vec<HourlyHealth>, ProbeError> {
            super::rollup_history(self, service, since_ms, crate::RollupPeriod::Daily).await
        }
    }

    type Conn = diesel_async::AsyncPgConnection;

    async fn incident_where(
        c: &mut Conn,
        cond: &str,
        key: &str,
    ) -> Result<Option<Incident>, OpError> {
        let rows: Vec<IncidentRow> = diesel::sql_query(format!(
            "SELECT {INCIDENT_COLUMNS} FROM service_alerts WHERE {cond} LIMIT 1"
        ))
        .bind::<Text, _>(key)
        .load(c)
        .await?;
        Ok(rows
            .into_iter()
            .next()
            .map(IncidentRow::into_incident)
            .transpose()?)
    }

    async fn open_incident_on(c: &mut Conn, i: &Incident) -> Result<OpenOutcome, OpError> {
        for _ in 0..3 {
            let rows: Vec<IncidentRow> = diesel::sql_query(format!(
                "INSERT INTO service_alerts (dedup_key, service, state, status, opened_at,
                     updated_at, last_notified_at, wedding_day, summary)
                 VALUES ($1, $2, 'open', $3, $4, $5, $6, $7, $8)
                 ON CONFLICT DO NOTHING RETURNING {INCIDENT_COLUMNS}"
            ))
            .bind::<Text, _>(&i.dedup_key)
            .bind::<Text, _>(&i.service)
            .bind::<Text, _>(i.status.as_str())
            .bind::<Timestamptz, _>(dt(i.opened_at_ms))
            .bind::<Timestamptz, _>(dt(i.updated_at_ms))
            .bind::<Nullable<Timestamptz>, _>(i.last_notified_at_ms.map(dt))
            .bind::<Bool, _>(i.wedding_day)
            .bind::<Text, _>(&i.summary)
            .load(c)
            .await?;
            if let Some(row) = rows.into_iter().next() {
                return Ok(OpenOutcome::Created(row.into_incident()?));
            }
            if let Some(open) =
                incident_where(c, "service = $1 AND state = 'open'", &i.service).await?
            {
                return Ok(OpenOutcome::AlreadyOpen(open));
            }
            if let Some(same) = incident_where(c, "dedup_key = $1", &i.dedup_key).await? {
                return Ok(OpenOutcome::AlreadyOpen(same));
            }
            // the conflicting incident was resolved meanwhile: try again
        }
        Err(ProbeError::Backend("open_incident kept conflicting".into()).into())
    }

    async fn update_incident_on(c: &mut Conn, i: &Incident) -> Result<(), OpError> {
        let n = fixed!(
            "UPDATE service_alerts SET status = $2, updated_at = $3, last_notified_at = $4,
                 summary = $5
             WHERE dedup_key = $1",
        )
        .bind::<Text, _>(&i.dedup_key)
        .bind::<Text, _>(i.status.as_str())
        .bind::<Timestamptz, _>(dt(i.updated_at_ms))
        .bind::<Nullable<Timestamptz>, _>(i.last_notified_at_ms.map(dt))
        .bind::<Text, _>(&i.summary)
        .execute(c)
        .await?;
        if n == 0 {
            Err(ProbeError::NotFound.into())
        } else {
            Ok(())
        }
    }

    async fn resolve_incident_on(
        c: &mut Conn,
        dedup_key: &str,
        resolved_at_ms: i64,
    ) -> Result<Option<Incident>, OpError> {
        let rows: Vec<IncidentRow> = diesel::sql_query(format!(
            "UPDATE service_alerts SET state = 'resolved', resolved_at = $2, updated_at = $2
             WHERE dedup_key = $1 AND state = 'open' RETURNING {INCIDENT_COLUMNS}"
        ))
        .bind::<Text, _>(dedup_key)
        .bind::<Timestamptz, _>(dt(resolved_at_ms))
        .load(c)
        .await?;
        Ok(rows
            .into_iter()
            .next()
            .map(IncidentRow::into_incident)
            .transpose()?)
    }

    async fn enqueue_on(c: &mut Conn, n: &Notification) -> Result<bool, OpError> {
        let inserted = fixed!(
            "INSERT INTO notification_outbox (id, incident_key, service, sink, kind, payload,
                 state, attempts, next_attempt_at, last_error, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $10)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind::<Text, _>(&n.id)
        .bind::<Text, _>(&n.incident_key)
        .bind::<Text, _>(&n.service)
        .bind::<Text, _>(&n.sink)
        .bind::<Text, _>(n.kind.as_str())
        .bind::<Text, _>(&n.payload)
        .bind::<Integer, _>(i32::try_from(n.attempts).unwrap_or(i32::MAX))
        .bind::<Timestamptz, _>(dt(n.next_attempt_at_ms))
        .bind::<Nullable<Text>, _>(&n.last_error)
        .bind::<Timestamptz, _>(dt(n.created_at_ms))
        .execute(c)
        .await?;
        Ok(inserted > 0)
    }

    change_and_enqueue_on!(async; .await);

    #[async_trait]
    impl IncidentStore for PgStore {
        async fn open_incident(&self, i: Incident) -> Result<OpenOutcome, ProbeError> {
            let mut c = conn(self).await?;
            Ok(open_incident_on(&mut c, &i).await?)
        }

        async fn update_incident(&self, i: &Incident) -> Result<(), ProbeError> {
            let mut c = conn(self).await?;
            Ok(update_incident_on(&mut c, i).await?)
        }

        async fn resolve_incident(
            &self,
            dedup_key: &str,
            resolved_at_ms: i64,
        ) -> Result<Option<Incident>, ProbeError> {
            let mut c = conn(self).await?;
            Ok(resolve_incident_on(&mut c, dedup_key, resolved_at_ms).await?)
        }

        async fn change_incident_and_enqueue(
            &self,
            change: &IncidentChange,
            notifications: &[Notification],
        ) -> Result<Option<ChangeOutcome>, ProbeError> {
            use diesel_async::scoped_futures::ScopedFutureExt;
            use diesel_async::AsyncConnection;
            let mut c = conn(self).await?;
            let outcome = c
                .transaction::<_, OpError, _>(|c| {
                    async move { change_and_enqueue_on(c, change, notifications).await }
                        .scope_boxed()
                })
                .await?;
            Ok(Some(outcome))
        }

        async fn list_open_incidents(&self) -> Result<Vec<Incident>, ProbeError> {
            let mut c = conn(self).await?;
            let rows: Vec<IncidentRow> = diesel::sql_query(format!(
                "SELECT {INCIDENT_COLUMNS} FROM service_alerts WHERE state = 'open'
                 ORDER BY opened_at, id"
            ))
            .load(&mut c)
            .await
            .map_err(backend)?;
            rows.into_iter().map(IncidentRow::into_incident).collect()
        }

        async fn get_incident(&self, dedup_key: &str) -> Result<Option<Incident>, ProbeError> {
            let mut c = conn(self).await?;
            Ok(incident_where(&mut c, "dedup_key = $1", dedup_key).await?)
        }
    }

    #[async_trait]
    impl OutboxStore for PgStore {
        async fn enqueue(&self, n: Notification) -> Result<bool, ProbeError> {
            let mut c = conn(self).await?;
            Ok(enqueue_on(&mut c, &n).await?)
        }

        async fn claim_due(
            &self,
            owner: &str,
            now_ms: i64,
            lease_ms: i64,
            limit: usize,
        ) -> Result<Vec<Notification>, ProbeError> {
            let mut c = conn(self).await?;
            let rows: Vec<NotificationRow> = diesel::sql_query(format!(
                "UPDATE notification_outbox o
                 SET lease_owner = $1, lease_until = $3, attempts = o.attempts + 1
                 FROM (SELECT id FROM notification_outbox
                       WHERE state = 'pending' AND next_attempt_at <= $2
                         AND (lease_until IS NULL OR lease_until <= $2)
                       ORDER BY next_attempt_at, seq LIMIT $4
                       FOR UPDATE SKIP LOCKED) c
                 WHERE o.id = c.id
                 RETURNING {}",
                NOTIFICATION_COLUMNS
                    .split(", ")
                    .map(|col| format!("o.{col}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .bind::<Text, _>(owner)
            .bind::<Timestamptz, _>(dt(now_ms))
            .bind::<Timestamptz, _>(dt(now_ms.saturating_add(lease_ms)))
            .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
            .load(&mut c)
            .await
            .map_err(backend)?;
            let mut rows = rows;
            rows.sort_by_key(|r| (r.next_attempt_at, r.seq));
            rows.into_iter()
                .map(NotificationRow::into_notification)
                .collect()
        }

        async fn mark_sent(&self, id: &str, owner: &str, now_ms: i64) -> Result<bool, ProbeError> {
            let mut c = conn(self).await?;
            let n = fixed!(
                "UPDATE notification_outbox
                 SET state = 'sent', sent_at = $3, lease_owner = NULL, lease_until = NULL
                 WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
            )
            .bind::<Text, _>(id)
            .bind::<Text, _>(owner)
            .bind::<Timestamptz, _>(dt(now_ms))
            .execute(&mut c)
            .await
            .map_err(backend)?;
            Ok(n > 0)
        }

        async fn mark_failed(
            &self,
            id: &str,
            owner: &str,
            error: &str,
            next_attempt_at_ms: Option<i64>,
        ) -> Result<bool, ProbeError> {
            let mut c = conn(self).await?;
            let n = fixed!(
                "UPDATE notification_outbox
                 SET lease_owner = NULL, lease_until = NULL, last_error = $3,
                     state = CASE WHEN $4::timestamptz IS NULL THEN 'dead' ELSE 'pending' END,
                     next_attempt_at = coalesce($4, next_attempt_at)
                 WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
            )
            .bind::<Text, _>(id)
            .bind::<Text, _>(owner)
            .bind::<Text, _>(error)
            .bind::<Nullable<Timestamptz>, _>(next_attempt_at_ms.map(dt))
            .execute(&mut c)
            .await
            .map_err(backend)?;
            Ok(n > 0)
        }

        async fn get_notification(&self, id: &str) -> Result<Option<Notification>, ProbeError> {
            let mut c = conn(self).await?;
            let rows: Vec<NotificationRow> = diesel::sql_query(format!(
                "SELECT {NOTIFICATION_COLUMNS} FROM notification_outbox WHERE id = $1"
            ))
            .bind::<Text, _>(id)
            .load(&mut c)
            .await
            .map_err(backend)?;
            rows.into_iter()
                .next()
                .map(NotificationRow::into_notification)
                .transpose()
        }

        async fn notifications_for(
            &self,
            incident_key: &str,
        ) -> Result<Vec<Notification>, ProbeError> {
            let mut c = conn(self).await?;
            let rows: Vec<NotificationRow> = diesel::sql_query(format!(
                "SELECT {NOTIFICATION_COLUMNS} FROM notification_outbox WHERE incident_key = $1
                 ORDER BY seq"
            ))
            .bind::<Text, _>(incident_key)
            .load(&mut c)
            .await
            .map_err(backend)?;
            rows.into_iter()
                .map(NotificationRow::into_notification)
                .collect()
        }
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use async_trait::async_trait;
    use diesel::sql_types::{BigInt, Integer, Nullable, Text};
    use diesel::{RunQueryDsl, SqliteConnection};

    use crate::sqlite::SqliteStore;

    /// Runs `f` on the store's connection (a diesel error or an [`OpError`]).
    async fn run<T, E, F>(s: &SqliteStore, f: F) -> Result<T, ProbeError>
    where
        T: Send + 'static,
        E: Send + 'static,
        OpError: From<E>,
        F: FnOnce(&mut SqliteConnection) -> Result<T, E> + Send + 'static,
    {
        s.with_conn(move |c| Ok(f(c)))
            .await
            .map_err(backend)?
            .map_err(|e| OpError::from(e).into())
    }

    type Ts = BigInt;
    type TsRs = i64;
    probe_rows!();

    const RESULT_COLUMNS: &str =
        "service, status, checked_at, latency_ms, http_status, detail, result";

    #[async_trait]
    impl ResultStore for SqliteStore {
        async fn insert_result(&self, r: &ProbeResult) -> Result<(), ProbeError> {
            let json = serde_json::to_string(r).map_err(backend)?;
            let r = r.clone();
            run(self, move |c| {
                diesel::sql_query(
                    "INSERT INTO service_health_metrics
                         (service, status, latency_ms, http_status, detail, checked_at, result)
                     VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind::<Text, _>(&r.service)
                .bind::<Text, _>(r.status.as_str())
                .bind::<Integer, _>(latency_ms(&r))
                .bind::<Nullable<Integer>, _>(r.http_status.map(i32::from))
                .bind::<Text, _>(&r.detail)
                .bind::<BigInt, _>(r.checked_at_ms.saturating_mul(1000))
                .bind::<Text, _>(&json)
                .execute(c)
            })
            .await?;
            Ok(())
        }

        async fn latest_results(&self) -> Result<Vec<ProbeResult>, ProbeError> {
            let rows: Vec<ResultRow> = run(self, |c| {
                diesel::sql_query(format!(
                    "WITH RECURSIVE services(service) AS (
                         SELECT min(service) FROM service_health_metrics
                         UNION ALL
                         SELECT (SELECT min(m.service) FROM service_health_metrics m
                                 WHERE m.service > s.service)
                         FROM services s WHERE s.service IS NOT NULL)
                     SELECT {RESULT_COLUMNS} FROM service_health_metrics
                     WHERE id IN (SELECT (SELECT id FROM service_health_metrics m
                                          WHERE m.service = s.service
                                          ORDER BY m.checked_at DESC, m.id DESC LIMIT 1)
                                  FROM services s WHERE s.service IS NOT NULL)
                     ORDER BY service"
                ))
                .load(c)
            })
            .await?;
            rows.into_iter().map(ResultRow::into_result).collect()
        }

        async fn history(
            &self,
            service: &str,
            since_ms: i64,
            limit: usize,
        ) -> Result<Vec<ProbeResult>, ProbeError> {
            let service = service.to_owned();
            let rows: Vec<ResultRow> = run(self, move |c| {
                diesel::sql_query(format!(
                    "SELECT {RESULT_COLUMNS} FROM service_health_metrics
                     WHERE service = ? AND checked_at >= ?
                     ORDER BY checked_at DESC, id DESC LIMIT ?"
                ))
                .bind::<Text, _>(&service)
                .bind::<BigInt, _>(since_ms.saturating_mul(1000))
                .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
                .load(c)
            })
            .await?;
            rows.into_iter().map(ResultRow::into_result).collect()
        }

        async fn prune_results(&self, before_ms: i64) -> Result<u64, ProbeError> {
            let mut total = 0u64;
            loop {
                let n = run(self, move |c| {
                    diesel::sql_query(
                        "DELETE FROM service_health_metrics WHERE rowid IN (
                             SELECT rowid FROM service_health_metrics WHERE checked_at < ?
                             LIMIT 5000)",
                    )
                    .bind::<BigInt, _>(before_ms.saturating_mul(1000))
                    .execute(c)
                })
                .await?;
                total += n as u64;
                if n < 5000 {
                    return Ok(total);
                }
            }
        }

        async fn hourly_history(
            &self,
            service: &str,
            since_ms: i64,
        ) -> Result<Vec<HourlyHealth>, ProbeError> {
            super::rollup_history(self, service, since_ms, crate::RollupPeriod::Hourly).await
        }

        async fn daily_history(
            &self,
            service: &str,
            since_ms: i64,
        ) -> Result<Vec<HourlyHealth>, ProbeError> {
            super::rollup_history(self, service, since_ms, crate::RollupPeriod::Daily).await
        }
    }

    type Conn = SqliteConnection;

    fn incident_where(c: &mut Conn, cond: &str, key: &str) -> Result<Option<Incident>, OpError> {
        let rows: Vec<IncidentRow> = diesel::sql_query(format!(
            "SELECT {INCIDENT_COLUMNS} FROM service_alerts WHERE {cond} LIMIT 1"
        ))
        .bind::<Text, _>(key)
        .load(c)?;
        Ok(rows
            .into_iter()
            .next()
            .map(IncidentRow::into_incident)
            .transpose()?)
    }

    fn us(ms: i64) -> i64 {
        ms.saturating_mul(1000)
    }

    fn open_incident_on(c: &mut Conn, i: &Incident) -> Result<OpenOutcome, OpError> {
        let n = diesel::sql_query(
            "INSERT INTO service_alerts (dedup_key, service, state, status, opened_at,
                 updated_at, last_notified_at, wedding_day, summary)
             VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind::<Text, _>(&i.dedup_key)
        .bind::<Text, _>(&i.service)
        .bind::<Text, _>(i.status.as_str())
        .bind::<BigInt, _>(us(i.opened_at_ms))
        .bind::<BigInt, _>(us(i.updated_at_ms))
        .bind::<Nullable<BigInt>, _>(i.last_notified_at_ms.map(us))
        .bind::<Integer, _>(i32::from(i.wedding_day))
        .bind::<Text, _>(&i.summary)
        .execute(c)?;
        let vanished = || ProbeError::Backend("incident vanished".into());
        if n > 0 {
            let created = incident_where(c, "dedup_key = ?", &i.dedup_key)?;
            return Ok(OpenOutcome::Created(created.ok_or_else(vanished)?));
        }
        let existing = match incident_where(c, "service = ? AND state = 'open'", &i.service)? {
            Some(open) => open,
            None => incident_where(c, "dedup_key = ?", &i.dedup_key)?.ok_or_else(vanished)?,
        };
        Ok(OpenOutcome::AlreadyOpen(existing))
    }

    fn update_incident_on(c: &mut Conn, i: &Incident) -> Result<(), OpError> {
        let n = diesel::sql_query(
            "UPDATE service_alerts SET status = ?, updated_at = ?, last_notified_at = ?,
                 summary = ?
             WHERE dedup_key = ?",
        )
        .bind::<Text, _>(i.status.as_str())
        .bind::<BigInt, _>(us(i.updated_at_ms))
        .bind::<Nullable<BigInt>, _>(i.last_notified_at_ms.map(us))
        .bind::<Text, _>(&i.summary)
        .bind::<Text, _>(&i.dedup_key)
        .execute(c)?;
        if n == 0 {
            Err(ProbeError::NotFound.into())
        } else {
            Ok(())
        }
    }

    fn resolve_incident_on(
        c: &mut Conn,
        dedup_key: &str,
        resolved_at_ms: i64,
    ) -> Result<Option<Incident>, OpError> {
        let rows: Vec<IncidentRow> = diesel::sql_query(format!(
            "UPDATE service_alerts SET state = 'resolved', resolved_at = ?1, updated_at = ?1
             WHERE dedup_key = ?2 AND state = 'open' RETURNING {INCIDENT_COLUMNS}"
        ))
        .bind::<BigInt, _>(us(resolved_at_ms))
        .bind::<Text, _>(dedup_key)
        .load(c)?;
        Ok(rows
            .into_iter()
            .next()
            .map(IncidentRow::into_incident)
            .transpose()?)
    }

    fn enqueue_on(c: &mut Conn, n: &Notification) -> Result<bool, OpError> {
        let inserted = diesel::sql_query(
            "INSERT INTO notification_outbox (id, incident_key, service, sink, kind,
                 payload, state, attempts, next_attempt_at, last_error, created_at)
             VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind::<Text, _>(&n.id)
        .bind::<Text, _>(&n.incident_key)
        .bind::<Text, _>(&n.service)
        .bind::<Text, _>(&n.sink)
        .bind::<Text, _>(n.kind.as_str())
        .bind::<Text, _>(&n.payload)
        .bind::<Integer, _>(i32::try_from(n.attempts).unwrap_or(i32::MAX))
        .bind::<BigInt, _>(us(n.next_attempt_at_ms))
        .bind::<Nullable<Text>, _>(&n.last_error)
        .bind::<BigInt, _>(us(n.created_at_ms))
        .execute(c)?;
        Ok(inserted > 0)
    }

    change_and_enqueue_on!(;);

    #[async_trait]
    impl IncidentStore for SqliteStore {
        async fn open_incident(&self, i: Incident) -> Result<OpenOutcome, ProbeError> {
            run(self, move |c| open_incident_on(c, &i)).await
        }

        async fn update_incident(&self, i: &Incident) -> Result<(), ProbeError> {
            let i = i.clone();
            run(self, move |c| update_incident_on(c, &i)).await
        }

        async fn resolve_incident(
            &self,
            dedup_key: &str,
            resolved_at_ms: i64,
        ) -> Result<Option<Incident>, ProbeError> {
            let key = dedup_key.to_owned();
            run(self, move |c| resolve_incident_on(c, &key, resolved_at_ms)).await
        }

        async fn change_incident_and_enqueue(
            &self,
            change: &IncidentChange,
            notifications: &[Notification],
        ) -> Result<Option<ChangeOutcome>, ProbeError> {
            let (change, notifications) = (change.clone(), notifications.to_vec());
            // BEGIN IMMEDIATE: the write lock from the start, so no other process can make the
            // transaction fail half-way when it upgrades from reading to writing
            let outcome = run(self, move |c| {
                c.immediate_transaction::<_, OpError, _>(|c| {
                    change_and_enqueue_on(c, &change, &notifications)
                })
            })
            .await?;
            Ok(Some(outcome))
        }

        async fn list_open_incidents(&self) -> Result<Vec<Incident>, ProbeError> {
            let rows: Vec<IncidentRow> = run(self, |c| {
                diesel::sql_query(format!(
                    "SELECT {INCIDENT_COLUMNS} FROM service_alerts WHERE state = 'open'
                     ORDER BY opened_at, id"
                ))
                .load(c)
            })
            .await?;
            rows.into_iter().map(IncidentRow::into_incident).collect()
        }

        async fn get_incident(&self, dedup_key: &str) -> Result<Option<Incident>, ProbeError> {
            let key = dedup_key.to_owned();
            run(self, move |c| incident_where(c, "dedup_key = ?", &key)).await
        }
    }

    fn rows_to_notifications(rows: Vec<NotificationRow>) -> Result<Vec<Notification>, ProbeError> {
        rows.into_iter()
            .map(NotificationRow::into_notification)
            .collect()
    }

    #[async_trait]
    impl OutboxStore for SqliteStore {
        async fn enqueue(&self, n: Notification) -> Result<bool, ProbeError> {
            run(self, move |c| enqueue_on(c, &n)).await
        }

        async fn claim_due(
            &self,
            owner: &str,
            now_ms: i64,
            lease_ms: i64,
            limit: usize,
        ) -> Result<Vec<Notification>, ProbeError> {
            let owner = owner.to_owned();
            let mut rows: Vec<NotificationRow> = run(self, move |c| {
                diesel::sql_query(format!(
                    "UPDATE notification_outbox
                     SET lease_owner = ?1, lease_until = ?3, attempts = attempts + 1
                     WHERE seq IN (SELECT seq FROM notification_outbox
                                   WHERE state = 'pending' AND next_attempt_at <= ?2
                                     AND (lease_until IS NULL OR lease_until <= ?2)
                                   ORDER BY next_attempt_at, seq LIMIT ?4)
                     RETURNING {NOTIFICATION_COLUMNS}"
                ))
                .bind::<Text, _>(&owner)
                .bind::<BigInt, _>(us(now_ms))
                .bind::<BigInt, _>(us(now_ms.saturating_add(lease_ms)))
                .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
                .load(c)
            })
            .await?;
            rows.sort_by_key(|r| (r.next_attempt_at, r.seq));
            rows_to_notifications(rows)
        }

        async fn mark_sent(&self, id: &str, owner: &str, now_ms: i64) -> Result<bool, ProbeError> {
            let (id, owner) = (id.to_owned(), owner.to_owned());
            let n = run(self, move |c| {
                diesel::sql_query(
                    "UPDATE notification_outbox
                     SET state = 'sent', sent_at = ?, lease_owner = NULL, lease_until = NULL
                     WHERE id = ? AND lease_owner = ? AND state = 'pending'",
                )
                .bind::<BigInt, _>(us(now_ms))
                .bind::<Text, _>(&id)
                .bind::<Text, _>(&owner)
                .execute(c)
            })
            .await?;
            Ok(n > 0)
        }

        async fn mark_failed(
            &self,
            id: &str,
            owner: &str,
            error: &str,
            next_attempt_at_ms: Option<i64>,
        ) -> Result<bool, ProbeError> {
            let (id, owner, error) = (id.to_owned(), owner.to_owned(), error.to_owned());
            let n = run(self, move |c| {
                diesel::sql_query(
                    "UPDATE notification_outbox
                     SET lease_owner = NULL, lease_until = NULL, last_error = ?1,
                         state = CASE WHEN ?2 IS NULL THEN 'dead' ELSE 'pending' END,
                         next_attempt_at = coalesce(?2, next_attempt_at)
                     WHERE id = ?3 AND lease_owner = ?4 AND state = 'pending'",
                )
                .bind::<Text, _>(&error)
                .bind::<Nullable<BigInt>, _>(next_attempt_at_ms.map(us))
                .bind::<Text, _>(&id)
                .bind::<Text, _>(&owner)
                .execute(c)
            })
            .await?;
            Ok(n > 0)
        }

        async fn get_notification(&self, id: &str) -> Result<Option<Notification>, ProbeError> {
            let id = id.to_owned();
            let rows: Vec<NotificationRow> = run(self, move |c| {
                diesel::sql_query(format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM notification_outbox WHERE id = ?"
                ))
                .bind::<Text, _>(&id)
                .load(c)
            })
            .await?;
            Ok(rows_to_notifications(rows)?.into_iter().next())
        }

        async fn notifications_for(
            &self,
            incident_key: &str,
        ) -> Result<Vec<Notification>, ProbeError> {
            let key = incident_key.to_owned();
            let rows: Vec<NotificationRow> = run(self, move |c| {
                diesel::sql_query(format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM notification_outbox
                     WHERE incident_key = ? ORDER BY seq"
                ))
                .bind::<Text, _>(&key)
                .load(c)
            })
            .await?;
            rows_to_notifications(rows)
        }
    }
}
