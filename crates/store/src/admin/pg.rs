//! The admin domain on PostgreSQL: a pooled connection for each operation of
//! [`admin_ops!`](super::sql::admin_ops).

use async_trait::async_trait;
use diesel::sql_types::Timestamptz as Ts;
use diesel_async::RunQueryDsl;

use super::{
    ApiKeySecret, ApiKeyStore, AuditLog, CreatedApiKey, NewApiKey, Retention, RetentionPolicy,
    RetentionReport,
};
use crate::dialect::PgDialect as D;
use crate::pg::cached::stmt;
use crate::pg::PgStore;

type Conn = diesel_async::AsyncPgConnection;
type TsRs = OffsetDateTime;

fn ts(t: OffsetDateTime) -> TsRs {
    t
}

super::sql::admin_ops!(async; .await);

#[async_trait]
impl ApiKeyStore for PgStore {
    async fn create_api_key(&self, new: NewApiKey) -> Result<CreatedApiKey> {
        let (row, secret) = sql::KeyInsert::generate(new)?;
        let info = create_key_on(&mut *self.conn().await?, &row).await?;
        Ok(CreatedApiKey { info, secret })
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>> {
        list_keys_on(&mut *self.conn().await?).await
    }

    async fn revoke_api_key(&self, id: &str) -> Result<bool> {
        revoke_key_on(&mut *self.conn().await?, id, OffsetDateTime::now_utc()).await
    }

    async fn verify_api_key(&self, key: &ApiKeySecret) -> Result<Option<VerifiedKey>> {
        let hash = super::keys::hash_key(key);
        verify_key_on(&mut *self.conn().await?, &hash, OffsetDateTime::now_utc()).await
    }

    async fn live_api_key(&self, id: &str) -> Result<Option<VerifiedKey>> {
        live_key_on(&mut *self.conn().await?, id, OffsetDateTime::now_utc()).await
    }
}

#[async_trait]
impl AuditLog for PgStore {
    async fn append_audit(&self, entry: NewAuditEntry) -> Result<i64> {
        append_audit_on(&mut *self.conn().await?, &entry, OffsetDateTime::now_utc()).await
    }

    async fn list_audit(&self, limit: i64, before_id: Option<i64>) -> Result<Vec<AuditEntry>> {
        list_audit_on(&mut *self.conn().await?, limit, before_id).await
    }
}

#[async_trait]
impl Retention for PgStore {
    async fn run_retention(
        &self,
        policy: &RetentionPolicy,
        now: OffsetDateTime,
    ) -> Result<RetentionReport> {
        super::retention::run::<D, _, _>(policy, now, |sql, cutoff, batch| async move {
            retention_batch_on(&mut *self.conn().await?, &sql, cutoff, batch).await
        })
        .await
    }
}

/// `SELECT 1` on a pooled connection.
pub(crate) async fn ping(store: &PgStore) -> Result<()> {
    health_on(&mut *store.conn().await?).await
}
