//! The probe domain on PostgreSQL: a pooled connection (and a transaction where the trait asks
//! for one) for each operation of `probe_ops!`.

use async_trait::async_trait;
use diesel::sql_types::Timestamptz as Ts;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use wedsync_probe::store::{IncidentStore, OutboxStore, ResultStore};

use crate::dialect::{from_ms as ts, PgDialect as D};
use crate::pg::cached::stmt;
use crate::pg::{PgStore, PooledConnection};

type Conn = diesel_async::AsyncPgConnection;
type TsRs = OffsetDateTime;

super::sql::probe_ops!(async; .await);

async fn conn(s: &PgStore) -> Result<PooledConnection, ProbeError> {
    s.conn().await.map_err(backend)
}

#[async_trait]
impl ResultStore for PgStore {
    async fn insert_result(&self, r: &ProbeResult) -> Result<(), ProbeError> {
        Ok(insert_result_on(&mut *conn(self).await?, r).await?)
    }

    async fn latest_results(&self) -> Result<Vec<ProbeResult>, ProbeError> {
        Ok(latest_results_on(&mut *conn(self).await?).await?)
    }

    async fn history(
        &self,
        service: &str,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<ProbeResult>, ProbeError> {
        Ok(history_on(&mut *conn(self).await?, service, since_ms, limit).await?)
    }

    async fn prune_results(&self, before_ms: i64) -> Result<u64, ProbeError> {
        sql::prune_in_batches(|| async {
            Ok::<_, ProbeError>(prune_batch_on(&mut *conn(self).await?, before_ms).await?)
        })
        .await
    }

    async fn hourly_history(
        &self,
        service: &str,
        since_ms: i64,
    ) -> Result<Vec<HourlyHealth>, ProbeError> {
        Ok(rollups_on(&mut *conn(self).await?, false, service, since_ms).await?)
    }

    async fn daily_history(
        &self,
        service: &str,
        since_ms: i64,
    ) -> Result<Vec<HourlyHealth>, ProbeError> {
        Ok(rollups_on(&mut *conn(self).await?, true, service, since_ms).await?)
    }
}

#[async_trait]
impl IncidentStore for PgStore {
    async fn open_incident(&self, i: Incident) -> Result<OpenOutcome, ProbeError> {
        Ok(open_incident_on(&mut *conn(self).await?, &i).await?)
    }

    async fn update_incident(&self, i: &Incident) -> Result<(), ProbeError> {
        Ok(update_incident_on(&mut *conn(self).await?, i).await?)
    }

    async fn resolve_incident(
        &self,
        dedup_key: &str,
        resolved_at_ms: i64,
    ) -> Result<Option<Incident>, ProbeError> {
        Ok(resolve_incident_on(&mut *conn(self).await?, dedup_key, resolved_at_ms).await?)
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
                async move { change_and_enqueue_on(c, change, notifications).await }.scope_boxed()
            })
            .await?;
        Ok(Some(outcome))
    }

    async fn list_open_incidents(&self) -> Result<Vec<Incident>, ProbeError> {
        Ok(open_incidents_on(&mut *conn(self).await?).await?)
    }

    async fn get_incident(&self, dedup_key: &str) -> Result<Option<Incident>, ProbeError> {
        Ok(incident_by_key_on(&mut *conn(self).await?, dedup_key).await?)
    }
}

#[async_trait]
impl OutboxStore for PgStore {
    async fn enqueue(&self, n: Notification) -> Result<bool, ProbeError> {
        Ok(enqueue_on(&mut *conn(self).await?, &n).await?)
    }

    async fn claim_due(&self, claim: DueClaim<'_>) -> Result<Vec<Notification>, ProbeError> {
        Ok(claim_due_on(&mut *conn(self).await?, claim).await?)
    }

    async fn mark_sent(&self, id: &str, owner: &str, now_ms: i64) -> Result<bool, ProbeError> {
        Ok(mark_sent_on(&mut *conn(self).await?, id, owner, now_ms).await?)
    }

    async fn mark_failed(
        &self,
        id: &str,
        owner: &str,
        fail: SendFailure<'_>,
    ) -> Result<bool, ProbeError> {
        let mut c = conn(self).await?;
        Ok(mark_failed_on(&mut c, id, owner, fail.error, fail.retry_at_ms).await?)
    }

    async fn get_notification(&self, id: &str) -> Result<Option<Notification>, ProbeError> {
        Ok(notification_on(&mut *conn(self).await?, id).await?)
    }

    async fn notifications_for(&self, incident_key: &str) -> Result<Vec<Notification>, ProbeError> {
        Ok(notifications_for_on(&mut *conn(self).await?, incident_key).await?)
    }
}
