//! The probe domain: `wedsync-probe`'s storage traits ([`ResultStore`], [`IncidentStore`],
//! [`OutboxStore`]) on PostgreSQL and SQLite (feature `probe`). Both pass
//! `wedsync_probe::conformance::run_all` (`tests/probe.rs`).
//!
//! Each statement is written once in `sql.rs` for a `Dialect`, and
//! bound and run once in `probe_ops!` on either backend's connection; `pg.rs`
//! and `sqlite.rs` only hand the operations a connection (and a transaction).
//!
//! Results go to `service_health_metrics` (the full result as JSON in `result`), incidents to
//! `service_alerts` (a partial unique index keeps one open incident per service across processes),
//! notifications to `notification_outbox` (claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL).
// with one backend compiled in, part of what they share is unused
#![cfg_attr(
    not(all(feature = "postgres", feature = "sqlite")),
    allow(dead_code, unused_imports, unused_macros)
)]

#[cfg(feature = "postgres")]
mod pg;
pub(crate) mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::str::FromStr;

use wedsync_probe::store::StoreError as ProbeError;
#[cfg(doc)]
use wedsync_probe::store::{IncidentStore, OutboxStore, ResultStore};
use wedsync_probe::{ProbeResult, ProbeStatus};

pub(crate) fn backend(e: impl std::fmt::Display) -> ProbeError {
    ProbeError::Backend(e.to_string())
}

/// The error of an operation on one connection: the database's, or the probe store's own (such as
/// `NotFound`). Either one rolls the surrounding transaction back.
#[derive(Debug)]
pub(crate) enum OpError {
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

pub(crate) fn result_from_columns(
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

pub(crate) fn parse<T: FromStr>(s: &str) -> Result<T, ProbeError>
where
    T::Err: std::fmt::Display,
{
    T::from_str(s).map_err(backend)
}

pub(crate) fn latency_ms(r: &ProbeResult) -> i32 {
    i32::try_from(r.latency.as_millis()).unwrap_or(i32::MAX)
}
