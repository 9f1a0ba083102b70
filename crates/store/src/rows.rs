//! What both backends share when reading rows. PostgreSQL returns timestamps as `timestamptz`,
//! SQLite as INTEGER microseconds since the Unix epoch; everything else reads the same. So each
//! row type is declared once, in a macro that expects the backend's `Ts` (timestamp SQL type) and
//! `TsRs` (its Rust type, a [`RowTime`]) in scope, and is instantiated in both backends.
// with one backend compiled in, part of what they share is unused
#![cfg_attr(
    not(all(feature = "postgres", feature = "sqlite")),
    allow(dead_code, unused_imports, unused_macros)
)]

use time::OffsetDateTime;

use crate::error::{Result, StoreError};
use crate::model::HealthStatus;

/// A timestamp as a backend reads it.
pub(crate) trait RowTime: Copy {
    /// As a UTC date-time.
    fn into_time(self) -> OffsetDateTime;
    /// As milliseconds since the Unix epoch.
    fn into_ms(self) -> i64 {
        i64::try_from(self.into_time().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }
}

#[cfg(feature = "postgres")]
impl RowTime for OffsetDateTime {
    fn into_time(self) -> OffsetDateTime {
        self
    }
}

#[cfg(feature = "sqlite")]
impl RowTime for i64 {
    fn into_time(self) -> OffsetDateTime {
        crate::sqlite::from_us(self)
    }
    fn into_ms(self) -> i64 {
        self / 1000
    }
}

/// A stored probe status.
pub(crate) fn health_status(s: &str) -> Result<HealthStatus> {
    HealthStatus::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown status {s:?}")))
}

/// Probe-result history rows (`service_health_metrics`, the overview, the rollups), for
/// `MetricsStore` on both backends.
macro_rules! metrics_rows {
    () => {
        #[derive(diesel::QueryableByName)]
        struct ProbeRow {
            #[diesel(sql_type = diesel::sql_types::Text)]
            service: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            status: String,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
            latency_ms: Option<i32>,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
            http_status: Option<i32>,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            detail: Option<String>,
            #[diesel(sql_type = Ts)]
            checked_at: TsRs,
        }

        impl ProbeRow {
            fn into_record(self) -> $crate::error::Result<$crate::model::ProbeRecord> {
                Ok($crate::model::ProbeRecord {
                    status: $crate::rows::health_status(&self.status)?,
                    service: self.service,
                    latency_ms: self.latency_ms,
                    http_status: self.http_status,
                    detail: self.detail,
                    checked_at: $crate::rows::RowTime::into_time(self.checked_at),
                })
            }
        }

        #[derive(diesel::QueryableByName)]
        struct OverviewRow {
            #[diesel(embed)]
            latest: ProbeRow,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            checks: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            up: i64,
        }

        impl OverviewRow {
            fn into_overview(self) -> $crate::error::Result<$crate::model::ServiceOverview> {
                Ok($crate::model::ServiceOverview {
                    service: self.latest.service.clone(),
                    latest: self.latest.into_record()?,
                    checks_24h: self.checks,
                    up_24h: self.up,
                })
            }
        }

        #[derive(diesel::QueryableByName)]
        struct RollupRow {
            #[diesel(sql_type = diesel::sql_types::Text)]
            service: String,
            #[diesel(sql_type = Ts)]
            bucket: TsRs,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            checks: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            healthy: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            degraded: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            down: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            latency_sum_ms: i64,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
            latency_max_ms: Option<i32>,
        }

        impl From<RollupRow> for $crate::model::Rollup {
            fn from(r: RollupRow) -> Self {
                Self {
                    service: r.service,
                    bucket: $crate::rows::RowTime::into_time(r.bucket),
                    checks: r.checks,
                    healthy: r.healthy,
                    degraded: r.degraded,
                    down: r.down,
                    latency_sum_ms: r.latency_sum_ms,
                    latency_max_ms: r.latency_max_ms,
                }
            }
        }
    };
}
pub(crate) use metrics_rows;
