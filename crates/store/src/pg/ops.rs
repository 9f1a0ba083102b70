//! The store's traits on PostgreSQL.

use async_trait::async_trait;
use diesel::sql_types::{Array, BigInt, Bool, Bytea, Integer, Jsonb, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;

use super::PgStore;
use crate::error::Result;
use crate::keys;
use crate::model::*;
use crate::pg::cached::fixed;

// ------------------------------------------------------------------------------------------------
// probe results
// ------------------------------------------------------------------------------------------------

type Ts = Timestamptz;
type TsRs = OffsetDateTime;
crate::rows::metrics_rows!();

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
        fixed!(
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
        let rows: Vec<OverviewRow> = fixed!(OVERVIEW_SQL)
            .bind::<Timestamptz, _>(now)
            .load(&mut conn)
            .await?;
        rows.into_iter().map(OverviewRow::into_overview).collect()
    }

    async fn probe_history(
        &self,
        service: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<ProbeRecord>> {
        let mut conn = self.conn().await?;
        let rows: Vec<ProbeRow> = fixed!(
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
        fixed!(
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
        fixed!(
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
        Ok(rows.into_iter().map(Rollup::from).collect())
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
        let n =
            fixed!("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",)
                .bind::<Text, _>(id)
                .execute(&mut conn)
                .await?;
        Ok(n > 0)
    }

    async fn verify_api_key(&self, key: &ApiKeySecret) -> Result<Option<VerifiedKey>> {
        let hash = keys::hash_key(key);
        let mut conn = self.conn().await?;
        let row: Option<VerifyRow> = fixed!(
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
            fixed!("UPDATE api_keys SET last_used_at = now() WHERE id = $1")
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
        let row: IdRow = fixed!(
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
        let rows: Vec<AuditRow> = fixed!(
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
// retention
// ------------------------------------------------------------------------------------------------

#[async_trait]
impl Retention for PgStore {
    async fn run_retention(
        &self,
        policy: &RetentionPolicy,
        now: OffsetDateTime,
    ) -> Result<RetentionReport> {
        // No recomputation: the rollups already count every result (migration 4's trigger), and
        // recomputing an hour whose first results an earlier run deleted would undercount it.
        crate::retention::run(policy, now, true, |sql, cutoff, batch| async move {
            let mut conn = self.conn().await?;
            let n = diesel::sql_query(sql)
                .bind::<Timestamptz, _>(cutoff)
                .bind::<BigInt, _>(batch)
                .execute(&mut conn)
                .await?;
            Ok(n as u64)
        })
        .await
    }
}
