//! The store's traits on PostgreSQL.

use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use diesel::sql_types::{
    Array, BigInt, Bool, Bytea, Integer, Jsonb, Nullable, SmallInt, Text, Timestamptz,
};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use tokio::sync::{mpsc, Semaphore};

use super::{BatchItem, Inner, PgStore};
use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::*;

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn status(s: &str) -> Result<HealthStatus> {
    HealthStatus::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown status {s:?}")))
}

// ------------------------------------------------------------------------------------------------
// probe results
// ------------------------------------------------------------------------------------------------

#[derive(QueryableByName)]
struct ProbeRow {
    #[diesel(sql_type = Text)]
    service: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Integer>)]
    latency_ms: Option<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    http_status: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    detail: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    checked_at: OffsetDateTime,
}

impl ProbeRow {
    fn into_record(self) -> Result<ProbeRecord> {
        Ok(ProbeRecord {
            status: status(&self.status)?,
            service: self.service,
            latency_ms: self.latency_ms,
            http_status: self.http_status,
            detail: self.detail,
            checked_at: self.checked_at,
        })
    }
}

#[derive(QueryableByName)]
struct OverviewRow {
    #[diesel(embed)]
    latest: ProbeRow,
    #[diesel(sql_type = BigInt)]
    checks: i64,
    #[diesel(sql_type = BigInt)]
    up: i64,
}

#[derive(QueryableByName)]
struct RollupRow {
    #[diesel(sql_type = Text)]
    service: String,
    #[diesel(sql_type = Timestamptz)]
    bucket: OffsetDateTime,
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

/// All services with their latest result and 24-hour uptime in one statement: a loose index scan
/// over `(service, checked_at)` finds the services, then two index-only lookups per service.
pub(crate) const OVERVIEW_SQL: &str = "\
WITH RECURSIVE services(service) AS (
    (SELECT service FROM service_health_metrics ORDER BY service LIMIT 1)
    UNION ALL
    SELECT (SELECT m.service FROM service_health_metrics m
            WHERE m.service > s.service ORDER BY m.service LIMIT 1)
    FROM services s WHERE s.service IS NOT NULL
)
SELECT s.service, l.status, l.latency_ms, l.http_status, l.detail, l.checked_at, u.checks, u.up
FROM services s
CROSS JOIN LATERAL (
    SELECT status, latency_ms, http_status, detail, checked_at FROM service_health_metrics m
    WHERE m.service = s.service ORDER BY m.checked_at DESC LIMIT 1
) l
CROSS JOIN LATERAL (
    SELECT count(*) AS checks,
           count(*) FILTER (WHERE m.status IN ('healthy', 'degraded')) AS up
    FROM service_health_metrics m
    WHERE m.service = s.service AND m.checked_at > $1 - interval '24 hours' AND m.checked_at <= $1
) u
WHERE s.service IS NOT NULL
ORDER BY s.service";

#[async_trait]
impl MetricsStore for PgStore {
    async fn record_probe_results(&self, records: &[ProbeRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        diesel::sql_query(
            "INSERT INTO service_health_metrics
                 (service, status, latency_ms, http_status, detail, checked_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::int4[], $4::int4[], $5::text[],
                                  $6::timestamptz[])",
        )
        .bind::<Array<Text>, _>(
            records
                .iter()
                .map(|r| r.service.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            records
                .iter()
                .map(|r| r.status.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Integer>>, _>(
            records.iter().map(|r| r.latency_ms).collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Integer>>, _>(
            records.iter().map(|r| r.http_status).collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            records
                .iter()
                .map(|r| r.detail.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Timestamptz>, _>(records.iter().map(|r| r.checked_at).collect::<Vec<_>>())
        .execute(&mut conn)
        .await?;
        Ok(())
    }

    async fn services_overview(&self, now: OffsetDateTime) -> Result<Vec<ServiceOverview>> {
        let mut conn = self.conn().await?;
        let rows: Vec<OverviewRow> = diesel::sql_query(OVERVIEW_SQL)
            .bind::<Timestamptz, _>(now)
            .load(&mut conn)
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(ServiceOverview {
                    service: r.latest.service.clone(),
                    latest: r.latest.into_record()?,
                    checks_24h: r.checks,
                    up_24h: r.up,
                })
            })
            .collect()
    }

    async fn probe_history(
        &self,
        service: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<ProbeRecord>> {
        let mut conn = self.conn().await?;
        let rows: Vec<ProbeRow> = diesel::sql_query(
            "SELECT service, status, latency_ms, http_status, detail, checked_at
             FROM service_health_metrics
             WHERE service = $1 AND checked_at >= $2 AND checked_at < $3
             ORDER BY checked_at DESC LIMIT $4",
        )
        .bind::<Text, _>(service)
        .bind::<Timestamptz, _>(from)
        .bind::<Timestamptz, _>(to)
        .bind::<BigInt, _>(limit)
        .load(&mut conn)
        .await?;
        rows.into_iter().map(ProbeRow::into_record).collect()
    }

    async fn compute_rollups(&self, from: OffsetDateTime, to: OffsetDateTime) -> Result<()> {
        let mut conn = self.conn().await?;
        diesel::sql_query(
            "INSERT INTO service_health_rollups_hourly AS r
                 (service, bucket, checks, healthy, degraded, down, latency_sum_ms, latency_max_ms)
             SELECT service, date_trunc('hour', checked_at), count(*),
                    count(*) FILTER (WHERE status = 'healthy'),
                    count(*) FILTER (WHERE status = 'degraded'),
                    count(*) FILTER (WHERE status = 'unhealthy'),
                    coalesce(sum(latency_ms), 0), max(latency_ms)
             FROM service_health_metrics
             WHERE checked_at >= date_trunc('hour', $1::timestamptz)
               AND checked_at < date_trunc('hour', $2::timestamptz - interval '1 microsecond')
                                + interval '1 hour'
             GROUP BY 1, 2
             ON CONFLICT (service, bucket) DO UPDATE SET
                 checks = EXCLUDED.checks, healthy = EXCLUDED.healthy,
                 degraded = EXCLUDED.degraded, down = EXCLUDED.down,
                 latency_sum_ms = EXCLUDED.latency_sum_ms, latency_max_ms = EXCLUDED.latency_max_ms",
        )
        .bind::<Timestamptz, _>(from)
        .bind::<Timestamptz, _>(to)
        .execute(&mut conn)
        .await?;
        diesel::sql_query(
            "INSERT INTO service_health_rollups_daily AS r
                 (service, bucket, checks, healthy, degraded, down, latency_sum_ms, latency_max_ms)
             SELECT service, date_trunc('day', bucket), sum(checks), sum(healthy), sum(degraded),
                    sum(down), sum(latency_sum_ms), max(latency_max_ms)
             FROM service_health_rollups_hourly
             WHERE bucket >= date_trunc('day', $1::timestamptz)
               AND bucket < date_trunc('day', $2::timestamptz - interval '1 microsecond')
                            + interval '1 day'
             GROUP BY 1, 2
             ON CONFLICT (service, bucket) DO UPDATE SET
                 checks = EXCLUDED.checks, healthy = EXCLUDED.healthy,
                 degraded = EXCLUDED.degraded, down = EXCLUDED.down,
                 latency_sum_ms = EXCLUDED.latency_sum_ms, latency_max_ms = EXCLUDED.latency_max_ms",
        )
        .bind::<Timestamptz, _>(from)
        .bind::<Timestamptz, _>(to)
        .execute(&mut conn)
        .await?;
        Ok(())
    }

    async fn rollups(
        &self,
        service: &str,
        period: RollupPeriod,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Rollup>> {
        let table = match period {
            RollupPeriod::Hourly => "service_health_rollups_hourly",
            RollupPeriod::Daily => "service_health_rollups_daily",
        };
        let mut conn = self.conn().await?;
        let rows: Vec<RollupRow> = diesel::sql_query(format!(
            "SELECT service, bucket, checks, healthy, degraded, down, latency_sum_ms, latency_max_ms
             FROM {table} WHERE service = $1 AND bucket >= $2 AND bucket < $3 ORDER BY bucket"
        ))
        .bind::<Text, _>(service)
        .bind::<Timestamptz, _>(from)
        .bind::<Timestamptz, _>(to)
        .load(&mut conn)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Rollup {
                service: r.service,
                bucket: r.bucket,
                checks: r.checks,
                healthy: r.healthy,
                degraded: r.degraded,
                down: r.down,
                latency_sum_ms: r.latency_sum_ms,
                latency_max_ms: r.latency_max_ms,
            })
            .collect())
    }
}

// ------------------------------------------------------------------------------------------------
// API keys and audit log
// ------------------------------------------------------------------------------------------------

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    key_prefix: String,
    #[diesel(sql_type = Array<Text>)]
    scopes: Vec<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: OffsetDateTime,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    expires_at: Option<OffsetDateTime>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    revoked_at: Option<OffsetDateTime>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_used_at: Option<OffsetDateTime>,
}

impl From<KeyRow> for ApiKeyInfo {
    fn from(r: KeyRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            prefix: r.key_prefix,
            scopes: r.scopes,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
        }
    }
}

#[derive(QueryableByName)]
struct VerifyRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Bytea)]
    key_hash: Vec<u8>,
    #[diesel(sql_type = Array<Text>)]
    scopes: Vec<String>,
    #[diesel(sql_type = Bool)]
    stale: bool,
}

const KEY_COLUMNS: &str =
    "id, name, key_prefix, scopes, created_at, expires_at, revoked_at, last_used_at";

#[async_trait]
impl ApiKeyStore for PgStore {
    async fn create_api_key(&self, new: NewApiKey) -> Result<CreatedApiKey> {
        let secret = keys::generate_key();
        let id = uuid::Uuid::new_v4().to_string();
        let mut conn = self.conn().await?;
        let row: KeyRow = diesel::sql_query(format!(
            "INSERT INTO api_keys (id, name, key_prefix, key_hash, scopes, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {KEY_COLUMNS}"
        ))
        .bind::<Text, _>(&id)
        .bind::<Text, _>(&new.name)
        .bind::<Text, _>(keys::display_prefix(&secret))
        .bind::<Bytea, _>(keys::hash_key(&secret))
        .bind::<Array<Text>, _>(&new.scopes)
        .bind::<Nullable<Timestamptz>, _>(new.expires_at)
        .get_result(&mut conn)
        .await?;
        Ok(CreatedApiKey {
            info: row.into(),
            secret,
        })
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>> {
        let mut conn = self.conn().await?;
        let rows: Vec<KeyRow> = diesel::sql_query(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at DESC, id"
        ))
        .load(&mut conn)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn revoke_api_key(&self, id: &str) -> Result<bool> {
        let mut conn = self.conn().await?;
        let n = diesel::sql_query(
            "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind::<Text, _>(id)
        .execute(&mut conn)
        .await?;
        Ok(n > 0)
    }

    async fn verify_api_key(&self, key: &ApiKeySecret) -> Result<Option<VerifiedKey>> {
        let hash = keys::hash_key(key);
        let mut conn = self.conn().await?;
        let row: Option<VerifyRow> = diesel::sql_query(
            "SELECT id, key_hash, scopes,
                    (last_used_at IS NULL OR last_used_at < now() - interval '1 minute') AS stale
             FROM api_keys
             WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
        )
        .bind::<Bytea, _>(&hash)
        .get_result(&mut conn)
        .await
        .map(Some)
        .or_else(|e| match e {
            diesel::result::Error::NotFound => Ok(None),
            e => Err(e),
        })?;
        let Some(row) = row.filter(|r| keys::hashes_equal(&r.key_hash, &hash)) else {
            return Ok(None);
        };
        if row.stale {
            diesel::sql_query("UPDATE api_keys SET last_used_at = now() WHERE id = $1")
                .bind::<Text, _>(&row.id)
                .execute(&mut conn)
                .await?;
        }
        Ok(Some(VerifiedKey {
            id: row.id,
            scopes: row.scopes,
        }))
    }
}

#[derive(QueryableByName)]
struct AuditRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Timestamptz)]
    at: OffsetDateTime,
    #[diesel(sql_type = Text)]
    actor: String,
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = Nullable<Text>)]
    target: Option<String>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    detail: Option<serde_json::Value>,
    #[diesel(sql_type = Nullable<Text>)]
    request_id: Option<String>,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[async_trait]
impl AuditLog for PgStore {
    async fn append_audit(&self, entry: NewAuditEntry) -> Result<i64> {
        let mut conn = self.conn().await?;
        let row: IdRow = diesel::sql_query(
            "INSERT INTO audit_log (actor, action, target, detail, request_id)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind::<Text, _>(&entry.actor)
        .bind::<Text, _>(&entry.action)
        .bind::<Nullable<Text>, _>(&entry.target)
        .bind::<Nullable<Jsonb>, _>(&entry.detail)
        .bind::<Nullable<Text>, _>(&entry.request_id)
        .get_result(&mut conn)
        .await?;
        Ok(row.id)
    }

    async fn list_audit(&self, limit: i64, before_id: Option<i64>) -> Result<Vec<AuditEntry>> {
        let mut conn = self.conn().await?;
        let rows: Vec<AuditRow> = diesel::sql_query(
            "SELECT id, at, actor, action, target, detail, request_id FROM audit_log
             WHERE ($1::int8 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
        )
        .bind::<Nullable<BigInt>, _>(before_id)
        .bind::<BigInt, _>(limit)
        .load(&mut conn)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                at: r.at,
                entry: NewAuditEntry {
                    actor: r.actor,
                    action: r.action,
                    target: r.target,
                    detail: r.detail,
                    request_id: r.request_id,
                },
            })
            .collect())
    }
}

// ------------------------------------------------------------------------------------------------
// the queue
// ------------------------------------------------------------------------------------------------

#[derive(QueryableByName)]
struct JobRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    queue: String,
    #[diesel(sql_type = Text)]
    delivery_id: String,
    #[diesel(sql_type = SmallInt)]
    priority: i16,
    #[diesel(sql_type = Timestamptz)]
    run_at: OffsetDateTime,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    lease_until: OffsetDateTime,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Claim: lock due, unleased jobs (highest priority, then earliest due), skipping rows other
/// claimers hold, and lease them in the same statement.
pub(crate) const CLAIM_SQL: &str = "\
UPDATE delivery_queue q
SET lease_owner = $2, lease_until = now() + $3 * interval '1 microsecond', attempts = q.attempts + 1
FROM (
    SELECT id FROM delivery_queue
    WHERE queue = $1 AND lease_until IS NULL AND run_at <= now()
    ORDER BY priority DESC, run_at, id
    LIMIT $4
    FOR UPDATE SKIP LOCKED
) c
WHERE q.id = c.id
RETURNING q.id, q.queue, q.delivery_id, q.priority, q.run_at, q.attempts, q.lease_until";

#[async_trait]
impl JobQueue for PgStore {
    async fn enqueue(&self, jobs: &[NewJob]) -> Result<Vec<i64>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let mut rows: Vec<IdRow> = diesel::sql_query(
            "INSERT INTO delivery_queue (queue, delivery_id, priority, run_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::int2[], $4::timestamptz[])
             RETURNING id",
        )
        .bind::<Array<Text>, _>(jobs.iter().map(|j| j.queue.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(
            jobs.iter()
                .map(|j| j.delivery_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<SmallInt>, _>(jobs.iter().map(|j| j.priority).collect::<Vec<_>>())
        .bind::<Array<Timestamptz>, _>(jobs.iter().map(|j| j.run_at).collect::<Vec<_>>())
        .load(&mut conn)
        .await?;
        drop(conn);
        super::wake_workers(&self.inner);
        // identity values follow insertion order, which follows the input order
        rows.sort_by_key(|r| r.id);
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    async fn claim(&self, queue: &str, owner: &str, max: i64, lease: Duration) -> Result<Vec<Job>> {
        let mut conn = self.conn().await?;
        let rows: Vec<JobRow> = diesel::sql_query(CLAIM_SQL)
            .bind::<Text, _>(queue)
            .bind::<Text, _>(owner)
            .bind::<BigInt, _>(micros(lease))
            .bind::<BigInt, _>(max)
            .load(&mut conn)
            .await?;
        let mut jobs: Vec<Job> = rows
            .into_iter()
            .map(|r| Job {
                id: r.id,
                queue: r.queue,
                delivery_id: r.delivery_id,
                priority: r.priority,
                run_at: r.run_at,
                attempts: r.attempts,
                lease_until: r.lease_until,
            })
            .collect();
        jobs.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(a.run_at.cmp(&b.run_at))
                .then(a.id.cmp(&b.id))
        });
        Ok(jobs)
    }

    async fn complete(&self, owner: &str, ids: &[i64]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut conn = self.conn().await?;
        let n =
            diesel::sql_query("DELETE FROM delivery_queue WHERE id = ANY($1) AND lease_owner = $2")
                .bind::<Array<BigInt>, _>(ids)
                .bind::<Text, _>(owner)
                .execute(&mut conn)
                .await?;
        Ok(n as u64)
    }

    async fn retry(&self, owner: &str, id: i64, run_at: OffsetDateTime) -> Result<bool> {
        let mut conn = self.conn().await?;
        let n = diesel::sql_query(
            "UPDATE delivery_queue SET lease_owner = NULL, lease_until = NULL, run_at = $3
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind::<BigInt, _>(id)
        .bind::<Text, _>(owner)
        .bind::<Timestamptz, _>(run_at)
        .execute(&mut conn)
        .await?;
        if n > 0 {
            super::wake_workers(&self.inner);
        }
        Ok(n > 0)
    }

    async fn reclaim_expired(&self) -> Result<u64> {
        let mut conn = self.conn().await?;
        let n = diesel::sql_query(
            "UPDATE delivery_queue SET lease_owner = NULL, lease_until = NULL
             WHERE id IN (SELECT id FROM delivery_queue WHERE lease_until < now()
                          ORDER BY lease_until LIMIT 1000 FOR UPDATE SKIP LOCKED)",
        )
        .execute(&mut conn)
        .await?;
        Ok(n as u64)
    }

    async fn queue_len(&self, queue: &str) -> Result<i64> {
        let mut conn = self.conn().await?;
        let row: CountRow =
            diesel::sql_query("SELECT count(*) AS n FROM delivery_queue WHERE queue = $1")
                .bind::<Text, _>(queue)
                .get_result(&mut conn)
                .await?;
        Ok(row.n)
    }

    async fn wait_for_jobs(&self, timeout: Duration) -> Result<bool> {
        Ok(self.inner.listener.wait_queue(timeout).await)
    }
}

// ------------------------------------------------------------------------------------------------
// deliveries: batched "record and enqueue"
// ------------------------------------------------------------------------------------------------

/// Records a batch of deliveries and enqueues the new ones in ONE statement (one round trip, one
/// commit). Duplicates (same provider and event id) are skipped.
pub(crate) const RECORD_BATCH_SQL: &str = "\
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::bytea[],
                         $7::text[], $8::timestamptz[], $9::text[], $10::int2[])
        AS t(id, provider, event_id, event_type, signature_valid, raw_body, sanitized_body,
             received_at, queue, priority)
), ins AS (
    INSERT INTO webhook_delivery_log
        (id, provider, event_id, event_type, status, signature_valid, raw_body, sanitized_body,
         received_at, updated_at)
    SELECT id, provider, event_id, event_type, 'pending', signature_valid, raw_body,
           sanitized_body, received_at, received_at
    FROM input
    ON CONFLICT (provider, event_id) DO NOTHING
    RETURNING id
), q AS (
    INSERT INTO delivery_queue (queue, delivery_id, priority, run_at)
    SELECT i.queue, i.id, i.priority, i.received_at
    FROM ins JOIN input i ON i.id = ins.id
    WHERE i.queue IS NOT NULL
)
SELECT id FROM ins";

#[derive(QueryableByName)]
struct TextIdRow {
    #[diesel(sql_type = Text)]
    id: String,
}

fn same_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        other => StoreError::Query(other.to_string()),
    }
}

async fn write_batch(inner: &Inner, items: &[BatchItem]) -> Result<HashSet<String>> {
    let mut conn = inner.pool.get().await.map_err(|e| {
        StoreError::Unavailable(format!("no PostgreSQL connection from the pool: {e}"))
    })?;
    let rows: Vec<TextIdRow> = diesel::sql_query(RECORD_BATCH_SQL)
        .bind::<Array<Text>, _>(
            items
                .iter()
                .map(|i| i.delivery.id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            items
                .iter()
                .map(|i| i.delivery.provider.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            items
                .iter()
                .map(|i| i.delivery.event_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            items
                .iter()
                .map(|i| i.delivery.event_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Bool>, _>(
            items
                .iter()
                .map(|i| i.delivery.signature_valid)
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Bytea>>, _>(
            items
                .iter()
                .map(|i| i.delivery.raw_body.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            items
                .iter()
                .map(|i| i.delivery.sanitized_body.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Timestamptz>, _>(
            items
                .iter()
                .map(|i| i.delivery.received_at)
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            items
                .iter()
                .map(|i| i.enqueue.as_ref().map(|q| q.0.as_str()))
                .collect::<Vec<_>>(),
        )
        .bind::<Array<SmallInt>, _>(
            items
                .iter()
                .map(|i| i.enqueue.as_ref().map_or(0, |q| q.1))
                .collect::<Vec<_>>(),
        )
        .load(&mut conn)
        .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

async fn flush(inner: Arc<Inner>, items: Vec<BatchItem>) {
    let queued = items.iter().any(|i| i.enqueue.is_some());
    let result = write_batch(&inner, &items).await;
    if queued && result.is_ok() {
        super::wake_workers(&inner);
    }
    match result {
        Ok(inserted) => {
            for item in items {
                let outcome = if inserted.contains(&item.delivery.id) {
                    RecordOutcome::Recorded
                } else {
                    RecordOutcome::Duplicate
                };
                let _ = item.reply.send(Ok(outcome));
            }
        }
        Err(e) if items.len() > 1 && !e.is_unavailable() => {
            // one bad row must not fail its neighbours: write them one by one
            for item in items {
                let result = write_batch(&inner, std::slice::from_ref(&item))
                    .await
                    .map(|ids| {
                        if ids.contains(&item.delivery.id) {
                            RecordOutcome::Recorded
                        } else {
                            RecordOutcome::Duplicate
                        }
                    });
                let _ = item.reply.send(result);
            }
        }
        Err(e) => {
            for item in items {
                let _ = item.reply.send(Err(same_error(&e)));
            }
        }
    }
}

/// Collects concurrent `record_delivery` calls into batches: while up to N batches are being
/// committed, new requests queue up and go out together in the next statement (group commit).
pub(crate) async fn run_batcher(
    inner: Weak<Inner>,
    mut rx: mpsc::Receiver<BatchItem>,
    in_flight: Arc<Semaphore>,
) {
    let max = inner.upgrade().map_or(256, |i| i.config.max_batch);
    while let Some(first) = rx.recv().await {
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < max {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let Some(inner) = inner.upgrade() else {
            return;
        };
        tokio::spawn(async move {
            flush(inner, batch).await;
            drop(permit);
        });
    }
}

#[async_trait]
impl DeliveryLog for PgStore {
    async fn record_delivery(
        &self,
        delivery: NewDelivery,
        enqueue: Option<(&str, i16)>,
    ) -> Result<RecordOutcome> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let item = BatchItem {
            delivery,
            enqueue: enqueue.map(|(q, p)| (q.to_owned(), p)),
            reply,
        };
        self.inner
            .batcher
            .send(item)
            .await
            .map_err(|_| StoreError::Task("the delivery batcher stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Task("the delivery batcher dropped a request".into()))?
    }

    async fn delivery_status(&self, id: &str) -> Result<Option<String>> {
        #[derive(QueryableByName)]
        struct StatusRow {
            #[diesel(sql_type = Text)]
            status: String,
        }
        let mut conn = self.conn().await?;
        let rows: Vec<StatusRow> =
            diesel::sql_query("SELECT status FROM webhook_delivery_log WHERE id = $1")
                .bind::<Text, _>(id)
                .load(&mut conn)
                .await?;
        Ok(rows.into_iter().next().map(|r| r.status))
    }

    async fn set_delivery_status(
        &self,
        id: &str,
        status: &str,
        error: Option<&str>,
    ) -> Result<bool> {
        let mut conn = self.conn().await?;
        let n = diesel::sql_query(
            "UPDATE webhook_delivery_log
             SET status = $2, last_error = $3, attempts = attempts + 1, updated_at = now(),
                 completed_at = CASE WHEN $2 IN ('delivered', 'failed', 'dead') THEN now() END
             WHERE id = $1",
        )
        .bind::<Text, _>(id)
        .bind::<Text, _>(status)
        .bind::<Nullable<Text>, _>(error)
        .execute(&mut conn)
        .await?;
        Ok(n > 0)
    }
}

// ------------------------------------------------------------------------------------------------
// retention
// ------------------------------------------------------------------------------------------------

/// Each statement handles one batch: `$1` the cutoff, `$2` the batch size. Rows are picked with
/// `FOR UPDATE SKIP LOCKED`, so a cleanup never waits on (or blocks) the hot path for long.
const RETENTION: &[(&str, &str)] = &[
    (
        "raw_bodies",
        "UPDATE webhook_delivery_log SET raw_body = NULL WHERE id IN (
             SELECT id FROM webhook_delivery_log WHERE raw_body IS NOT NULL AND received_at < $1
             LIMIT $2 FOR UPDATE SKIP LOCKED)",
    ),
    (
        "deliveries",
        "DELETE FROM webhook_delivery_log WHERE id IN (
             SELECT d.id FROM webhook_delivery_log d WHERE d.received_at < $1
               AND NOT EXISTS (SELECT 1 FROM delivery_queue q WHERE q.delivery_id = d.id)
             LIMIT $2 FOR UPDATE SKIP LOCKED)",
    ),
    (
        "probe_results",
        "DELETE FROM service_health_metrics WHERE id IN (
             SELECT id FROM service_health_metrics WHERE checked_at < $1
             LIMIT $2 FOR UPDATE SKIP LOCKED)",
    ),
    (
        "rollups",
        "DELETE FROM service_health_rollups_hourly WHERE ctid IN (
             SELECT ctid FROM service_health_rollups_hourly WHERE bucket < $1
             LIMIT $2 FOR UPDATE SKIP LOCKED)",
    ),
    (
        "rollups",
        "DELETE FROM service_health_rollups_daily WHERE ctid IN (
             SELECT ctid FROM service_health_rollups_daily WHERE bucket < $1
             LIMIT $2 FOR UPDATE SKIP LOCKED)",
    ),
    (
        "other",
        "DELETE FROM notification_outbox WHERE id IN (
             SELECT id FROM notification_outbox WHERE state <> 'pending' AND created_at < $1
             LIMIT $2 FOR UPDATE SKIP LOCKED)",
    ),
    (
        "other",
        "DELETE FROM service_alerts WHERE id IN (
             SELECT id FROM service_alerts WHERE resolved_at < $1
             LIMIT $2 FOR UPDATE SKIP LOCKED)",
    ),
    (
        "audit",
        "DELETE FROM audit_log WHERE id IN (
             SELECT id FROM audit_log WHERE at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
    ),
];

#[async_trait]
impl Retention for PgStore {
    async fn run_retention(
        &self,
        policy: &RetentionPolicy,
        now: OffsetDateTime,
    ) -> Result<RetentionReport> {
        // roll up the raw results about to go, so the history survives in the rollups
        let probe_cutoff = now - policy.probe_results;
        #[derive(QueryableByName)]
        struct Oldest {
            #[diesel(sql_type = Nullable<Timestamptz>)]
            t: Option<OffsetDateTime>,
        }
        let oldest: Oldest = {
            let mut conn = self.conn().await?;
            diesel::sql_query("SELECT min(checked_at) AS t FROM service_health_metrics")
                .get_result(&mut conn)
                .await?
        };
        if let Some(oldest) = oldest.t.filter(|t| *t < probe_cutoff) {
            self.compute_rollups(oldest, probe_cutoff).await?;
        }
        let mut report = RetentionReport::default();
        for (kind, sql) in RETENTION {
            let age = match *kind {
                "raw_bodies" => policy.raw_webhook_bodies,
                "deliveries" | "other" => policy.sanitized_logs,
                "probe_results" => policy.probe_results,
                "rollups" => policy.rollups,
                _ => policy.audit_log,
            };
            let cutoff = now - age;
            let mut total = 0u64;
            let mut batches = 0u32;
            loop {
                if batches >= policy.max_batches {
                    report.incomplete = true;
                    break;
                }
                let mut conn = self.conn().await?;
                let n = diesel::sql_query(*sql)
                    .bind::<Timestamptz, _>(cutoff)
                    .bind::<BigInt, _>(policy.batch_size)
                    .execute(&mut conn)
                    .await? as u64;
                total += n;
                batches += 1;
                if (n as i64) < policy.batch_size {
                    break;
                }
            }
            match *kind {
                "raw_bodies" => report.raw_bodies_cleared += total,
                "deliveries" => report.deliveries_deleted += total,
                "probe_results" => report.probe_results_deleted += total,
                "rollups" => report.rollups_deleted += total,
                _ => report.other_deleted += total,
            }
        }
        Ok(report)
    }
}
