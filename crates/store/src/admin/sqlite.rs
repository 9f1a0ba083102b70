//! The admin domain on SQLite: the store's connection (on the blocking pool) for each operation
//! of [`admin_ops!`](super::sql::admin_ops).

use async_trait::async_trait;
use diesel::sql_types::BigInt as Ts;
use diesel::RunQueryDsl;

use super::{
    ApiKeySecret, ApiKeyStore, AuditLog, CreatedApiKey, NewApiKey, Retention, RetentionPolicy,
    RetentionReport,
};
use crate::dialect::SqliteDialect as D;
use crate::sqlite::{stmt, us as ts, SqliteStore};

type Conn = diesel::SqliteConnection;
type TsRs = i64;

super::sql::admin_ops!(;);

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn create_api_key(&self, new: NewApiKey) -> Result<CreatedApiKey> {
        let (row, secret) = sql::KeyInsert::generate(new)?;
        let info = self.with_conn(move |c| create_key_on(c, &row)).await?;
        Ok(CreatedApiKey { info, secret })
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>> {
        self.with_conn(list_keys_on).await
    }

    async fn revoke_api_key(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.with_conn(move |c| revoke_key_on(c, &id, OffsetDateTime::now_utc()))
            .await
    }

    async fn verify_api_key(&self, key: &ApiKeySecret) -> Result<Option<VerifiedKey>> {
        let hash = super::keys::hash_key(key);
        self.with_conn(move |c| verify_key_on(c, &hash, OffsetDateTime::now_utc()))
            .await
    }

    async fn live_api_key(&self, id: &str) -> Result<Option<VerifiedKey>> {
        let id = id.to_owned();
        self.with_conn(move |c| live_key_on(c, &id, OffsetDateTime::now_utc()))
            .await
    }
}

#[async_trait]
impl AuditLog for SqliteStore {
    async fn append_audit(&self, entry: NewAuditEntry) -> Result<i64> {
        self.with_conn(move |c| append_audit_on(c, &entry, OffsetDateTime::now_utc()))
            .await
    }

    async fn list_audit(&self, limit: i64, before_id: Option<i64>) -> Result<Vec<AuditEntry>> {
        self.with_conn(move |c| list_audit_on(c, limit, before_id))
            .await
    }
}

#[async_trait]
impl Retention for SqliteStore {
    async fn run_retention(
        &self,
        policy: &RetentionPolicy,
        now: OffsetDateTime,
    ) -> Result<RetentionReport> {
        super::retention::run::<D, _, _>(policy, now, |sql, cutoff, batch| {
            self.with_conn(move |c| retention_batch_on(c, &sql, cutoff, batch))
        })
        .await
    }
}

/// `SELECT 1` on the store's connection.
pub(crate) async fn ping(store: &SqliteStore) -> Result<()> {
    store.with_conn(health_on).await
}
