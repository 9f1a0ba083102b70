//! The admin domain's statements, each written once for a [`Dialect`], and the macros that
//! declare its rows and run its operations on either backend's connection.
// with one backend compiled in, part of what they share is unused
#![cfg_attr(
    not(all(feature = "postgres", feature = "sqlite")),
    allow(dead_code, unused_imports, unused_macros)
)]

use crate::dialect::{placeholders, Dialect};

/// A trivial query, for health checks.
pub(crate) const HEALTH_SQL: &str = "SELECT 1";

/// The columns of an API key, without its hash.
fn key_columns<D: Dialect>() -> String {
    format!(
        "id, name, key_prefix, {}, created_at, expires_at, revoked_at, last_used_at",
        D::words_out("scopes")
    )
}

/// A new key. Binds: id, name, prefix, hash, scopes (space-separated), created_at, expires_at.
pub(crate) fn create_key<D: Dialect>() -> String {
    format!(
        "INSERT INTO api_keys (id, name, key_prefix, key_hash, scopes, created_at, expires_at) \
         VALUES ({}, {}, {}) RETURNING {}",
        placeholders::<D>(1, 4),
        D::words_in(5),
        placeholders::<D>(6, 7),
        key_columns::<D>()
    )
}

/// Every key, newest first.
pub(crate) fn list_keys<D: Dialect>() -> String {
    format!(
        "SELECT {} FROM api_keys ORDER BY created_at DESC, id",
        key_columns::<D>()
    )
}

/// Revokes an unrevoked key. Binds: now, id.
pub(crate) fn revoke_key<D: Dialect>() -> String {
    format!(
        "UPDATE api_keys SET revoked_at = {} WHERE id = {} AND revoked_at IS NULL",
        D::p(1),
        D::p(2)
    )
}

/// The live key (unrevoked, unexpired) whose `column` equals the first bind. Binds: the
/// looked-up value, now.
fn live_key_by<D: Dialect>(column: &str) -> String {
    format!(
        "SELECT id, key_hash, {}, last_used_at FROM api_keys \
         WHERE {column} = {} AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > {})",
        D::words_out("scopes"),
        D::p(1),
        D::p(2)
    )
}

/// The live key with a hash. Binds: hash, now.
pub(crate) fn verify_key<D: Dialect>() -> String {
    live_key_by::<D>("key_hash")
}

/// The live key with an id. Binds: id, now.
pub(crate) fn live_key<D: Dialect>() -> String {
    live_key_by::<D>("id")
}

/// Records a key's use. Binds: now, id.
pub(crate) fn touch_key<D: Dialect>() -> String {
    format!(
        "UPDATE api_keys SET last_used_at = {} WHERE id = {}",
        D::p(1),
        D::p(2)
    )
}

/// Appends to the audit log. Binds: at, actor, action, target, detail (JSON text), request_id.
pub(crate) fn append_audit<D: Dialect>() -> String {
    format!(
        "INSERT INTO audit_log (at, actor, action, target, detail, request_id) \
         VALUES ({}, {}, {}) RETURNING id",
        placeholders::<D>(1, 4),
        D::json(5),
        D::p(6)
    )
}

/// A page of the audit log, newest first. Binds: before id, limit.
pub(crate) fn list_audit<D: Dialect>() -> String {
    format!(
        "SELECT id, at, actor, action, target, CAST(detail AS TEXT) AS detail, request_id \
         FROM audit_log WHERE id < {} ORDER BY id DESC LIMIT {}",
        D::p(1),
        D::p(2)
    )
}

/// A key is marked used at most once per this many microseconds.
pub(crate) const TOUCH_EVERY_US: i64 = 60_000_000;

/// The rows of the admin tables and the operations on them, declared once. A backend module
/// instantiates it with, in scope: `Conn` (its connection type), `D` (its dialect), `Ts`/`TsRs`
/// (its timestamp SQL and Rust types), `ts(OffsetDateTime) -> TsRs`, a `stmt!` macro turning a
/// statement `String` into a query, and the `RunQueryDsl` its connection runs. The arguments are
/// the `async` keyword and `.await` on PostgreSQL, nothing on SQLite.
macro_rules! admin_ops {
    ($($async_kw:ident)?; $($aw:tt)*) => {
        use diesel::sql_types::{BigInt, Binary, Nullable, Text};
        use time::OffsetDateTime;
        use $crate::admin::sql;
        use $crate::admin::{ApiKeyInfo, AuditEntry, NewAuditEntry, VerifiedKey};
        use $crate::dialect::RowTime;
        use $crate::error::{Result, StoreError};

        #[derive(diesel::QueryableByName)]
        struct KeyRow {
            #[diesel(sql_type = Text)]
            id: String,
            #[diesel(sql_type = Text)]
            name: String,
            #[diesel(sql_type = Text)]
            key_prefix: String,
            #[diesel(sql_type = Text)]
            scopes: String,
            #[diesel(sql_type = Ts)]
            created_at: TsRs,
            #[diesel(sql_type = Nullable<Ts>)]
            expires_at: Option<TsRs>,
            #[diesel(sql_type = Nullable<Ts>)]
            revoked_at: Option<TsRs>,
            #[diesel(sql_type = Nullable<Ts>)]
            last_used_at: Option<TsRs>,
        }

        impl From<KeyRow> for ApiKeyInfo {
            fn from(r: KeyRow) -> Self {
                Self {
                    id: r.id,
                    name: r.name,
                    prefix: r.key_prefix,
                    scopes: $crate::admin::sql::split_words(&r.scopes),
                    created_at: r.created_at.into_time(),
                    expires_at: r.expires_at.map(RowTime::into_time),
                    revoked_at: r.revoked_at.map(RowTime::into_time),
                    last_used_at: r.last_used_at.map(RowTime::into_time),
                }
            }
        }

        #[derive(diesel::QueryableByName)]
        struct VerifyRow {
            #[diesel(sql_type = Text)]
            id: String,
            #[diesel(sql_type = Binary)]
            key_hash: Vec<u8>,
            #[diesel(sql_type = Text)]
            scopes: String,
            #[diesel(sql_type = Nullable<Ts>)]
            last_used_at: Option<TsRs>,
        }

        impl From<VerifyRow> for VerifiedKey {
            fn from(row: VerifyRow) -> Self {
                VerifiedKey { id: row.id, scopes: $crate::admin::sql::split_words(&row.scopes) }
            }
        }

        #[derive(diesel::QueryableByName)]
        struct AuditRow {
            #[diesel(sql_type = BigInt)]
            id: i64,
            #[diesel(sql_type = Ts)]
            at: TsRs,
            #[diesel(sql_type = Text)]
            actor: String,
            #[diesel(sql_type = Text)]
            action: String,
            #[diesel(sql_type = Nullable<Text>)]
            target: Option<String>,
            #[diesel(sql_type = Nullable<Text>)]
            detail: Option<String>,
            #[diesel(sql_type = Nullable<Text>)]
            request_id: Option<String>,
        }

        impl AuditRow {
            fn into_entry(self) -> Result<AuditEntry> {
                let detail = self
                    .detail
                    .map(|d| serde_json::from_str(&d))
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?;
                Ok(AuditEntry {
                    id: self.id,
                    at: self.at.into_time(),
                    entry: NewAuditEntry {
                        actor: self.actor,
                        action: self.action,
                        target: self.target,
                        detail,
                        request_id: self.request_id,
                    },
                })
            }
        }

        #[derive(diesel::QueryableByName)]
        struct IdRow {
            #[diesel(sql_type = BigInt)]
            id: i64,
        }

        $($async_kw)? fn create_key_on(
            c: &mut Conn,
            k: &$crate::admin::sql::KeyInsert,
        ) -> Result<ApiKeyInfo> {
            let row: KeyRow = stmt!(sql::create_key::<D>())
                .bind::<Text, _>(&k.id)
                .bind::<Text, _>(&k.name)
                .bind::<Text, _>(&k.prefix)
                .bind::<Binary, _>(&k.hash)
                .bind::<Text, _>(&k.scopes)
                .bind::<Ts, _>(ts(k.now))
                .bind::<Nullable<Ts>, _>(k.expires_at.map(ts))
                .get_result(c)$($aw)*?;
            Ok(row.into())
        }

        $($async_kw)? fn list_keys_on(c: &mut Conn) -> Result<Vec<ApiKeyInfo>> {
            let rows: Vec<KeyRow> = stmt!(sql::list_keys::<D>()).load(c)$($aw)*?;
            Ok(rows.into_iter().map(Into::into).collect())
        }

        $($async_kw)? fn revoke_key_on(c: &mut Conn, id: &str, now: OffsetDateTime) -> Result<bool> {
            let n = stmt!(sql::revoke_key::<D>())
                .bind::<Ts, _>(ts(now))
                .bind::<Text, _>(id)
                .execute(c)$($aw)*?;
            Ok(n > 0)
        }

        $($async_kw)? fn verify_key_on(
            c: &mut Conn,
            hash: &[u8],
            now: OffsetDateTime,
        ) -> Result<Option<VerifiedKey>> {
            let rows: Vec<VerifyRow> = stmt!(sql::verify_key::<D>())
                .bind::<Binary, _>(hash)
                .bind::<Ts, _>(ts(now))
                .load(c)$($aw)*?;
            let Some(row) = rows
                .into_iter()
                .find(|r| $crate::admin::keys::hashes_equal(&r.key_hash, hash))
            else {
                return Ok(None);
            };
            let now_us = $crate::admin::sql::micros(now);
            if row
                .last_used_at
                .is_none_or(|t| $crate::admin::sql::micros(t.into_time()) < now_us - sql::TOUCH_EVERY_US)
            {
                stmt!(sql::touch_key::<D>())
                    .bind::<Ts, _>(ts(now))
                    .bind::<Text, _>(&row.id)
                    .execute(c)$($aw)*?;
            }
            Ok(Some(VerifiedKey::from(row)))
        }

        $($async_kw)? fn live_key_on(c: &mut Conn, id: &str, at: OffsetDateTime) -> Result<Option<VerifiedKey>> {
            let rows: Vec<VerifyRow> =
                stmt!(sql::live_key::<D>()).bind::<Text, _>(id).bind::<Ts, _>(ts(at)).load(c)$($aw)*?;
            Ok(rows.into_iter().next().map(VerifiedKey::from))
        }

        $($async_kw)? fn append_audit_on(
            c: &mut Conn,
            entry: &NewAuditEntry,
            now: OffsetDateTime,
        ) -> Result<i64> {
            let detail = entry.detail.as_ref().map(|d| d.to_string());
            let row: IdRow = stmt!(sql::append_audit::<D>())
                .bind::<Ts, _>(ts(now))
                .bind::<Text, _>(&entry.actor)
                .bind::<Text, _>(&entry.action)
                .bind::<Nullable<Text>, _>(&entry.target)
                .bind::<Nullable<Text>, _>(detail)
                .bind::<Nullable<Text>, _>(&entry.request_id)
                .get_result(c)$($aw)*?;
            Ok(row.id)
        }

        $($async_kw)? fn list_audit_on(
            c: &mut Conn,
            limit: i64,
            before_id: Option<i64>,
        ) -> Result<Vec<AuditEntry>> {
            let rows: Vec<AuditRow> = stmt!(sql::list_audit::<D>())
                .bind::<BigInt, _>(before_id.unwrap_or(i64::MAX))
                .bind::<BigInt, _>(limit.max(0))
                .load(c)$($aw)*?;
            rows.into_iter().map(AuditRow::into_entry).collect()
        }

        $($async_kw)? fn retention_batch_on(
            c: &mut Conn,
            sql: &str,
            cutoff: OffsetDateTime,
            batch: i64,
        ) -> Result<u64> {
            let n = diesel::sql_query(sql)
                .bind::<Ts, _>(ts(cutoff))
                .bind::<BigInt, _>(batch)
                .execute(c)$($aw)*?;
            Ok(n as u64)
        }

        $($async_kw)? fn health_on(c: &mut Conn) -> Result<()> {
            diesel::sql_query(sql::HEALTH_SQL).execute(c)$($aw)*?;
            Ok(())
        }
    };
}
pub(crate) use admin_ops;

/// A new key's row, ready to insert.
#[derive(Debug, Clone)]
pub(crate) struct KeyInsert {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) prefix: String,
    pub(crate) hash: Vec<u8>,
    /// Normalised scopes, space-separated.
    pub(crate) scopes: String,
    pub(crate) now: time::OffsetDateTime,
    pub(crate) expires_at: Option<time::OffsetDateTime>,
}

impl KeyInsert {
    /// A fresh key for `new` (scopes normalised) and its plaintext.
    pub(crate) fn generate(
        new: super::NewApiKey,
    ) -> crate::error::Result<(Self, super::ApiKeySecret)> {
        let scopes = super::normalize_scopes(&new.scopes)?.join(" ");
        let secret = super::keys::generate_key();
        let row = Self {
            id: uuid::Uuid::new_v4().to_string(),
            name: new.name,
            prefix: super::keys::display_prefix(&secret),
            hash: super::keys::hash_key(&secret),
            scopes,
            now: time::OffsetDateTime::now_utc(),
            expires_at: new.expires_at,
        };
        Ok((row, secret))
    }
}

/// Stored scopes (space-separated) as a list.
pub(crate) fn split_words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// Microseconds since the Unix epoch (how both databases' timestamps compare).
pub(crate) fn micros(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}
