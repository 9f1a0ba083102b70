//! The probe domain on SQLite: the store's connection (on the blocking pool, in an immediate
//! transaction where the trait asks for one) for each operation of `probe_ops!`.

use async_trait::async_trait;
use diesel::sql_types::BigInt as Ts;
use diesel::RunQueryDsl;
use wedsync_probe::store::{IncidentStore, OutboxStore, ResultStore};

use crate::dialect::SqliteDialect as D;
use crate::sqlite::{stmt, SqliteStore};

type Conn = diesel::SqliteConnection;
type TsRs = i64;

/// Milliseconds as SQLite stores time (microseconds).
fn ts(ms: i64) -> TsRs {
    ms.saturating_mul(1000)
}

super::sql::probe_ops!(;);

/// Runs `f` on the store's connection.
async fn run<T, F>(s: &SqliteStore, f: F) -> Result<T, ProbeError>
where
    T: Send + 'static,
    F: FnOnce(&mut Conn) -> Result<T, OpError> + Send + 'static,
{
    Ok(s.with_conn(move |c| Ok(f(c))).await.map_err(backend)??)
}

#[async_trait]
impl ResultStore for SqliteStore {
    async fn insert_result(&self, r: &ProbeResult) -> Result<(), ProbeError> {
        let r = r.clone();
        run(self, move |c| insert_result_on(c, &r)).await
    }

    async fn latest_results(&self) -> Result<Vec<ProbeResult>, ProbeError> {
        run(self, latest_results_on).await
    }

    async fn history(
        &self,
        service: &str,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<ProbeResult>, ProbeError> {
        let service = service.to_owned();
        run(self, move |c| history_on(c, &service, since_ms, limit)).await
    }

    async fn prune_results(&self, before_ms: i64) -> Result<u64, ProbeError> {
        sql::prune_in_batches(|| run(self, move |c| prune_batch_on(c, before_ms))).await
    }

    async fn hourly_history(
        &self,
        service: &str,
        since_ms: i64,
    ) -> Result<Vec<HourlyHealth>, ProbeError> {
        let service = service.to_owned();
        run(self, move |c| rollups_on(c, false, &service, since_ms)).await
    }

    async fn daily_history(
        &self,
        service: &str,
        since_ms: i64,
    ) -> Result<Vec<HourlyHealth>, ProbeError> {
        let service = service.to_owned();
        run(self, move |c| rollups_on(c, true, &service, since_ms)).await
    }
}

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
        run(self, open_incidents_on).await
    }

    async fn get_incident(&self, dedup_key: &str) -> Result<Option<Incident>, ProbeError> {
        let key = dedup_key.to_owned();
        run(self, move |c| incident_by_key_on(c, &key)).await
    }
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn enqueue(&self, n: Notification) -> Result<bool, ProbeError> {
        run(self, move |c| enqueue_on(c, &n)).await
    }

    async fn claim_due(&self, claim: DueClaim<'_>) -> Result<Vec<Notification>, ProbeError> {
        let (now_ms, lease_ms, limit) = (claim.now_ms, claim.lease_ms, claim.limit);
        let owner = claim.owner.to_owned();
        run(self, move |c| {
            claim_due_on(c, DueClaim::new(&owner, now_ms, lease_ms, limit))
        })
        .await
    }

    async fn mark_sent(&self, id: &str, owner: &str, now_ms: i64) -> Result<bool, ProbeError> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        run(self, move |c| mark_sent_on(c, &id, &owner, now_ms)).await
    }

    async fn mark_failed(
        &self,
        id: &str,
        owner: &str,
        fail: SendFailure<'_>,
    ) -> Result<bool, ProbeError> {
        let (id, owner, error) = (id.to_owned(), owner.to_owned(), fail.error.to_owned());
        let retry_at_ms = fail.retry_at_ms;
        run(self, move |c| {
            mark_failed_on(c, &id, &owner, &error, retry_at_ms)
        })
        .await
    }

    async fn get_notification(&self, id: &str) -> Result<Option<Notification>, ProbeError> {
        let id = id.to_owned();
        run(self, move |c| notification_on(c, &id)).await
    }

    async fn notifications_for(&self, incident_key: &str) -> Result<Vec<Notification>, ProbeError> {
        let key = incident_key.to_owned();
        run(self, move |c| notifications_for_on(c, &key)).await
    }
}
