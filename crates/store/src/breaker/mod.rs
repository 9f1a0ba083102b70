//! Breaker state shared across server processes through PostgreSQL (feature `breaker`).
//!
//! [`PgBreakerSync`] implements `wedsync_breaker::StateSync`: `publish` only `try_send`s the change
//! into a bounded channel (it never blocks the request that tripped a breaker); a background task
//! upserts it into `circuit_breaker_status` (one row per breaker, with a global sequence number).
//! A trigger sends `NOTIFY wedsync_breaker`; [`PgBreakerSync::follow`] starts a task that, on every
//! notification and at least every `poll` (the backstop), reads the rows changed since the last
//! sequence number it saw and hands each change made by another instance to your `apply` callback
//! — normally `Registry::apply_remote`. A reset or forced open in one instance thus reaches every
//! instance within milliseconds, and within `poll` when notifications are lost.
//!
//! ```no_run
//! # async fn demo(store: wedsync_store::PgStore) {
//! use std::sync::Arc;
//! use wedsync_breaker::{BreakerConfig, Registry};
//! use wedsync_store::breaker_sync::PgBreakerSync;
//!
//! let sync = PgBreakerSync::start(store);
//! let registry = Arc::new(
//!     Registry::builder()
//!         .default_config(BreakerConfig::default())
//!         .state_sync(sync.clone())
//!         .instance("host-a-1234")
//!         .build(),
//! );
//! let r = Arc::clone(&registry);
//! let _follower = sync.follow("host-a-1234", std::time::Duration::from_secs(2), move |change| {
//!     r.apply_remote(change);
//! });
//! # }
//! ```

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wedsync_breaker::{SharedChange, SharedChangeKind, State, StateSync};

use crate::pg::cached::fixed;

use crate::error::{Result, StoreError};
use crate::pg::PgStore;

/// Changes waiting to be written at most; beyond that `publish` drops (and counts) them, as the
/// breaker's contract allows: the next change supersedes a dropped one.
pub const QUEUE_CAPACITY: usize = 1024;

/// Shares breaker state through `circuit_breaker_status`.
#[derive(Debug)]
pub struct PgBreakerSync {
    store: PgStore,
    tx: mpsc::Sender<SharedChange>,
    dropped: AtomicU64,
}

fn to_dt(t: SystemTime) -> OffsetDateTime {
    OffsetDateTime::from(t)
}

/// `(state, open_until, wedding_day)` a change leaves behind (`None` state: keep the stored one).
fn effect(kind: &SharedChangeKind) -> (Option<State>, Option<SystemTime>, Option<bool>) {
    match *kind {
        SharedChangeKind::Transition { to, .. } => (Some(to), None, None),
        SharedChangeKind::ForcedOpen { until: None } => (Some(State::ForcedOpen), None, None),
        SharedChangeKind::ForcedOpen { until: Some(t) } => (Some(State::Open), Some(t), None),
        SharedChangeKind::Reset | SharedChangeKind::Close => (Some(State::Closed), None, None),
        SharedChangeKind::Disable => (Some(State::Disabled), None, None),
        SharedChangeKind::MetricsOnly => (Some(State::MetricsOnly), None, None),
        SharedChangeKind::WeddingDay { on } => (None, None, Some(on)),
        // a kind added to the breaker crate later: record it without changing the state
        _ => (None, None, None),
    }
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    open_until: Option<OffsetDateTime>,
    #[diesel(sql_type = Nullable<Bool>)]
    wedding_day: Option<bool>,
    #[diesel(sql_type = Text)]
    last_change: String,
    #[diesel(sql_type = Nullable<Text>)]
    changed_from: Option<String>,
    #[diesel(sql_type = Text)]
    changed_by: String,
    #[diesel(sql_type = Timestamptz)]
    changed_at: OffsetDateTime,
    #[diesel(sql_type = BigInt)]
    seq: i64,
}

impl Row {
    /// The change this row records, or `None` for a kind this version does not know.
    fn change(&self) -> Option<SharedChange> {
        let state = State::from_str(&self.state).ok()?;
        let kind = match self.last_change.as_str() {
            "transition" => SharedChangeKind::Transition {
                from: State::from_str(self.changed_from.as_deref()?).ok()?,
                to: state,
            },
            "forced_open" => SharedChangeKind::ForcedOpen {
                until: self.open_until.map(SystemTime::from),
            },
            "reset" => SharedChangeKind::Reset,
            "close" => SharedChangeKind::Close,
            "disable" => SharedChangeKind::Disable,
            "metrics_only" => SharedChangeKind::MetricsOnly,
            "wedding_day" => SharedChangeKind::WeddingDay {
                on: self.wedding_day.unwrap_or(false),
            },
            _ => return None,
        };
        Some(SharedChange {
            breaker: self.name.clone(),
            kind,
            at: SystemTime::from(self.changed_at),
            instance: self.changed_by.clone(),
        })
    }
}

const UPSERT_SQL: &str = "\
INSERT INTO circuit_breaker_status
    (name, state, open_until, wedding_day, last_change, changed_from, changed_by, changed_at)
VALUES ($1, coalesce($2, 'closed'), $3, $4, $5, $6, $7, $8)
ON CONFLICT (name) DO UPDATE SET
    state = coalesce($2, circuit_breaker_status.state),
    open_until = CASE WHEN $2 IS NULL THEN circuit_breaker_status.open_until ELSE $3 END,
    wedding_day = coalesce($4, circuit_breaker_status.wedding_day),
    last_change = $5, changed_from = $6, changed_by = $7, changed_at = $8,
    seq = nextval('circuit_breaker_status_seq'),
    version = circuit_breaker_status.version + 1,
    updated_at = now()";

impl PgBreakerSync {
    /// Starts the writer task (inside a tokio runtime) and returns the sync to hand to the
    /// breaker registry.
    pub fn start(store: PgStore) -> Arc<Self> {
        let (tx, mut rx) = mpsc::channel::<SharedChange>(QUEUE_CAPACITY);
        let writer_store = store.clone();
        tokio::spawn(async move {
            while let Some(change) = rx.recv().await {
                if let Err(e) = write(&writer_store, &change).await {
                    // the local breaker still protects this instance; the next change supersedes
                    tracing::warn!(breaker = %change.breaker, error = %e,
                        "could not share a breaker change");
                }
            }
        });
        Arc::new(Self {
            store,
            tx,
            dropped: AtomicU64::new(0),
        })
    }

    /// Changes dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        AtomicU64::load(&self.dropped, Ordering::Relaxed)
    }

    /// The stored state of every breaker: `(name, state, changed_by)`.
    pub async fn stored_states(&self) -> Result<Vec<(String, String, String)>> {
        let mut conn = self.store.conn().await?;
        let rows: Vec<Row> = fixed!(
            "SELECT name, state, open_until, wedding_day, last_change, changed_from, changed_by,
                    changed_at, seq FROM circuit_breaker_status ORDER BY name",
        )
        .load(&mut conn)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.name, r.state, r.changed_by))
            .collect())
    }

    /// Starts following other instances' changes: `apply` gets every change written by an
    /// instance other than `instance`, in order, on a notification or at least every `poll`.
    /// Changes made before the call are not replayed. Abort the handle to stop.
    pub fn follow<F>(&self, instance: impl Into<String>, poll: Duration, apply: F) -> JoinHandle<()>
    where
        F: Fn(&SharedChange) + Send + Sync + 'static,
    {
        let store = self.store.clone();
        let me = instance.into();
        let mut wake = store.inner.listener.subscribe_breakers();
        tokio::spawn(async move {
            let mut last_seq: Option<i64> = None;
            loop {
                match poll_changes(&store, last_seq).await {
                    Ok((rows, max)) => {
                        if last_seq.is_some() {
                            for row in rows.iter().filter(|r| r.changed_by != me) {
                                if let Some(change) = row.change() {
                                    apply(&change);
                                }
                            }
                        }
                        last_seq = Some(max.max(last_seq.unwrap_or(0)));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read shared breaker changes");
                    }
                }
                tokio::select! {
                    r = wake.recv() => {
                        if let Err(tokio::sync::broadcast::error::RecvError::Closed) = r {
                            tokio::time::sleep(poll).await;
                        }
                    }
                    _ = tokio::time::sleep(poll) => {}
                }
            }
        })
    }
}

async fn poll_changes(store: &PgStore, after: Option<i64>) -> Result<(Vec<Row>, i64)> {
    let mut conn = store.conn().await?;
    let rows: Vec<Row> = fixed!(
        "SELECT name, state, open_until, wedding_day, last_change, changed_from, changed_by,
                changed_at, seq
         FROM circuit_breaker_status WHERE seq > $1 ORDER BY seq",
    )
    .bind::<BigInt, _>(after.unwrap_or(-1))
    .load(&mut conn)
    .await?;
    let max = rows.iter().map(|r| r.seq).max().unwrap_or(-1);
    Ok((rows, max))
}

async fn write(store: &PgStore, change: &SharedChange) -> Result<()> {
    let (state, until, wedding_day) = effect(&change.kind);
    let from = match change.kind {
        SharedChangeKind::Transition { from, .. } => Some(from.as_str()),
        _ => None,
    };
    let mut conn = store.conn().await?;
    fixed!(UPSERT_SQL)
        .bind::<Text, _>(&change.breaker)
        .bind::<Nullable<Text>, _>(state.map(State::as_str))
        .bind::<Nullable<Timestamptz>, _>(until.map(to_dt))
        .bind::<Nullable<Bool>, _>(wedding_day)
        .bind::<Text, _>(change.kind.as_str())
        .bind::<Nullable<Text>, _>(from)
        .bind::<Text, _>(&change.instance)
        .bind::<Timestamptz, _>(to_dt(change.at))
        .execute(&mut conn)
        .await
        .map_err(StoreError::from)?;
    Ok(())
}

impl StateSync for PgBreakerSync {
    fn publish(&self, change: &SharedChange) {
        if self.tx.try_send(change.clone()).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
