//! Retention on both backends: one list of steps, one SQL builder, one batching loop. Each step
//! touches at most `batch_size` rows per statement, and each statement commits on its own; on
//! PostgreSQL the rows are picked with `FOR UPDATE SKIP LOCKED`, so a cleanup never waits on (or
//! blocks) the hot path for long.

use std::future::Future;

use time::OffsetDateTime;

use super::{RetentionPolicy, RetentionReport};
use crate::dialect::{batch_sql, Dialect};
use crate::error::Result;

/// Which policy age applies to a step, and which report counter it adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    RawBodies,
    Deliveries,
    ProbeResults,
    Rollups,
    Other,
    Audit,
}

/// One retention step: `{action} WHERE {key} IN (SELECT {key} FROM {table} WHERE {cond} …)`,
/// where `{cutoff}` in `cond` is the cutoff parameter.
struct Step {
    kind: Kind,
    table: &'static str,
    /// What to do with the chosen rows (`DELETE FROM t` or `UPDATE t SET …`).
    action: &'static str,
    cond: &'static str,
    /// The row key ([`Dialect::row_key`]: `id`, or `ctid` for tables keyed by several columns,
    /// on PostgreSQL; SQLite always uses `rowid`).
    pg_key: &'static str,
}

const STEPS: &[Step] = &[
    Step {
        kind: Kind::RawBodies,
        table: "webhook_delivery_log",
        action: "UPDATE webhook_delivery_log \
                 SET raw_body = NULL, raw_body_nonce = NULL, raw_body_key_id = NULL",
        cond: "raw_body IS NOT NULL AND received_at < {cutoff}",
        pg_key: "id",
    },
    Step {
        kind: Kind::Deliveries,
        table: "webhook_delivery_log",
        action: "DELETE FROM webhook_delivery_log",
        // deliveries still queued are kept
        cond: "received_at < {cutoff} AND status NOT IN ('pending', 'retrying')",
        pg_key: "id",
    },
    Step {
        kind: Kind::ProbeResults,
        table: "service_health_metrics",
        action: "DELETE FROM service_health_metrics",
        cond: "checked_at < {cutoff}",
        pg_key: "id",
    },
    Step {
        kind: Kind::Rollups,
        table: "service_health_rollups_hourly",
        action: "DELETE FROM service_health_rollups_hourly",
        cond: "bucket < {cutoff}",
        pg_key: "ctid",
    },
    Step {
        kind: Kind::Rollups,
        table: "service_health_rollups_daily",
        action: "DELETE FROM service_health_rollups_daily",
        cond: "bucket < {cutoff}",
        pg_key: "ctid",
    },
    Step {
        kind: Kind::Other,
        table: "notification_outbox",
        action: "DELETE FROM notification_outbox",
        cond: "state <> 'pending' AND created_at < {cutoff}",
        pg_key: "id",
    },
    Step {
        kind: Kind::Other,
        table: "service_alerts",
        action: "DELETE FROM service_alerts",
        cond: "resolved_at < {cutoff}",
        pg_key: "id",
    },
    Step {
        kind: Kind::Audit,
        table: "audit_log",
        action: "DELETE FROM audit_log",
        cond: "at < {cutoff}",
        pg_key: "id",
    },
];

impl Step {
    /// The statement; binds: cutoff, batch size.
    fn sql<D: Dialect>(&self) -> String {
        batch_sql::<D>(
            self.action,
            self.table,
            self.pg_key,
            &self.cond.replace("{cutoff}", &D::p(1)),
            &D::p(2),
        )
    }
}

/// Runs every step in bounded batches. `exec(sql, cutoff, batch_size)` runs one statement and
/// returns how many rows it touched.
///
/// No recomputation of rollups: they already count every result (migration 4's trigger), and
/// recomputing an hour whose first results an earlier run deleted would undercount it.
pub(crate) async fn run<D, F, Fut>(
    policy: &RetentionPolicy,
    now: OffsetDateTime,
    mut exec: F,
) -> Result<RetentionReport>
where
    D: Dialect,
    F: FnMut(String, OffsetDateTime, i64) -> Fut,
    Fut: Future<Output = Result<u64>>,
{
    let mut report = RetentionReport::default();
    for step in STEPS {
        let age = match step.kind {
            Kind::RawBodies => policy.raw_webhook_bodies,
            Kind::Deliveries | Kind::Other => policy.sanitized_logs,
            Kind::ProbeResults => policy.probe_results,
            Kind::Rollups => policy.rollups,
            Kind::Audit => policy.audit_log,
        };
        let sql = step.sql::<D>();
        let cutoff = now - age;
        let mut total = 0u64;
        let mut batches = 0u32;
        loop {
            if batches >= policy.max_batches {
                report.incomplete = true;
                break;
            }
            let n = exec(sql.clone(), cutoff, policy.batch_size).await?;
            total += n;
            batches += 1;
            if (n as i64) < policy.batch_size {
                break;
            }
        }
        match step.kind {
            Kind::RawBodies => report.raw_bodies_cleared += total,
            Kind::Deliveries => report.deliveries_deleted += total,
            Kind::ProbeResults => report.probe_results_deleted += total,
            Kind::Rollups => report.rollups_deleted += total,
            Kind::Other | Kind::Audit => report.other_deleted += total,
        }
    }
    Ok(report)
}
