//! `WebhookStore` on SQLite: the same semantics for one process. Every operation is one
//! `BEGIN IMMEDIATE` transaction on the store's single connection.

use std::time::Duration;

use async_trait::async_trait;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sqlite::Sqlite;
use diesel::{RunQueryDsl, SqliteConnection};
use time::OffsetDateTime;
use uuid::Uuid;
use wedsync_webhooks::provider::Provider;
use wedsync_webhooks::store::{
    AttemptRecord, Claim, ClaimToken, Claimed, Delivery, DeliveryCount, DeliveryQuery,
    DeliveryStatus, EncryptedBody, InsertOutcome, KeyUsage, NewDelivery, ReplayJob, ReplayRequest,
    SealedBody, StoreError as WebhookError, Verdict, WebhookStore,
};

use super::{
    as_duplicate, attempt_insert_sql, attempts_sql, claim_sql, count_sql, existing_sql,
    expired_sql, filter_json, finished_at, get_sql, headers_json, insert_sql, into_claims,
    job_insert_sql, job_sql, job_update_sql, key_usage, lease_until, list_sql, owner_sql,
    parse_uuid, purge_sql, release_sql, replace_body_sql, replay_refusal, replay_update_sql,
    report_sql, sealed_sql, Count, CountRow, DupRow, ExpiredRow, IdRow, KeyRow, Outcome, Param,
    SealedRow, WResult, PURGE_BATCH, QUEUE_DEPTH_SQL, RAW_BODY_KEYS_SQL,
};
use crate::dialect::SqliteDialect;
use crate::error::{Result, StoreError};
use crate::sqlite::{stmt, us, SqliteStore};

type Ts = BigInt;
type TsRs = i64;
super::rows!();

fn load_deliveries(
    c: &mut SqliteConnection,
    q: BoxedSqlQuery<'_, Sqlite, SqlQuery>,
) -> Result<Vec<Delivery>> {
    let rows: Vec<DeliveryRow> = q.load(c)?;
    rows.into_iter().map(DeliveryRow::into_delivery).collect()
}

fn get(c: &mut SqliteConnection, id: Uuid) -> Result<Option<Delivery>> {
    let q = stmt!(get_sql::<SqliteDialect>())
        .into_boxed()
        .bind::<Text, _>(id.to_string());
    Ok(load_deliveries(c, q)?.pop())
}

/// Runs `q` ([`super::insert_sql`]) for `d` ([`super::NEW_ROWS`] as one row of values).
fn insert_row<R: diesel::QueryableByName<Sqlite> + 'static>(
    c: &mut SqliteConnection,
    q: SqlQuery,
    d: &Delivery,
) -> Result<Vec<R>> {
    let body = d.raw_body.as_ref();
    Ok(q.bind::<Text, _>(d.id.to_string())
        .bind::<Text, _>(d.provider.as_str())
        .bind::<Nullable<Text>, _>(d.event_id.as_deref())
        .bind::<Text, _>(&d.dedupe_key)
        .bind::<Nullable<Text>, _>(d.event_type.as_deref())
        .bind::<BigInt, _>(us(d.received_at))
        .bind::<Text, _>(d.verdict.as_str())
        .bind::<Nullable<Text>, _>(d.verdict_reason.as_deref())
        .bind::<Text, _>(headers_json(&d.sanitized_headers)?)
        .bind::<Text, _>(&d.sanitized_body)
        .bind::<Nullable<Text>, _>(d.content_type.as_deref())
        .bind::<Nullable<Text>, _>(body.map(|b| b.key_id.as_str()))
        .bind::<Nullable<Binary>, _>(body.map(|b| b.nonce.as_slice()))
        .bind::<Nullable<Binary>, _>(body.map(|b| b.ciphertext.as_slice()))
        .bind::<Nullable<BigInt>, _>(d.raw_body_expires_at.map(us))
        .bind::<Integer, _>(i32::from(d.priority.rank()))
        .bind::<Text, _>(d.status.as_str())
        .bind::<Nullable<BigInt>, _>(d.next_attempt_at.map(us))
        .load(c)?)
}

/// Records `a` ([`super::attempt_insert_sql`]).
fn insert_attempt(c: &mut SqliteConnection, a: &AttemptRecord, overwrite: bool) -> Result<()> {
    let q = if overwrite {
        stmt!(attempt_insert_sql::<SqliteDialect>(true, None))
    } else {
        stmt!(attempt_insert_sql::<SqliteDialect>(false, None))
    };
    q.bind::<Text, _>(a.delivery_id.to_string())
        .bind::<Integer, _>(i32::try_from(a.attempt).unwrap_or(i32::MAX))
        .bind::<Text, _>(a.trigger.as_str())
        .bind::<Text, _>(&a.worker)
        .bind::<BigInt, _>(us(a.started_at))
        .bind::<BigInt, _>(i64::try_from(a.duration_ms).unwrap_or(i64::MAX))
        .bind::<Nullable<Integer>, _>(a.response_status.map(i32::from))
        .bind::<Nullable<Text>, _>(a.error_kind.map(|e| e.as_str()))
        .bind::<Nullable<Text>, _>(a.response_excerpt.as_deref())
        .execute(c)?;
    Ok(())
}

/// One report ([`super::report_sql`], then the attempt recorded), in the caller's transaction.
fn report(
    c: &mut SqliteConnection,
    token: &ClaimToken,
    attempt: &AttemptRecord,
    outcome: Outcome,
) -> Result<WResult<()>> {
    let id = token.delivery_id.to_string();
    let updated: Vec<IdRow> = stmt!(report_sql::<SqliteDialect>())
        .bind::<Text, _>(&id)
        .bind::<Text, _>(token.lease_token.to_string())
        .bind::<Integer, _>(i32::try_from(token.attempt).unwrap_or(i32::MAX))
        .bind::<Text, _>(outcome.status().as_str())
        .bind::<Nullable<BigInt>, _>(outcome.next_attempt_at().map(us))
        .bind::<BigInt, _>(us(finished_at(attempt)))
        .bind::<Nullable<Text>, _>(attempt.error_kind.map(|e| e.as_str()))
        .bind::<Nullable<Integer>, _>(attempt.response_status.map(i32::from))
        .load(c)?;
    if updated.is_empty() {
        let existing: Vec<IdRow> = stmt!(existing_sql::<SqliteDialect>())
            .bind::<Text, _>(&id)
            .load(c)?;
        return Ok(Err(if existing.is_empty() {
            WebhookError::NotFound
        } else {
            WebhookError::LeaseLost
        }));
    }
    insert_attempt(c, attempt, true)?;
    Ok(Ok(()))
}

fn bind_job<'a>(
    q: BoxedSqlQuery<'a, Sqlite, SqlQuery>,
    job: &ReplayJob,
    insert: bool,
) -> Result<BoxedSqlQuery<'a, Sqlite, SqlQuery>> {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let q = q
        .bind::<Text, _>(job.id.to_string())
        .bind::<Text, _>(job.state.as_str())
        .bind::<BigInt, _>(n(job.total))
        .bind::<BigInt, _>(n(job.scheduled))
        .bind::<BigInt, _>(n(job.skipped))
        .bind::<Nullable<Text>, _>(job.error.clone())
        .bind::<BigInt, _>(us(job.updated_at));
    if !insert {
        return Ok(q);
    }
    Ok(q.bind::<Text, _>(filter_json(&job.filter)?)
        .bind::<Text, _>(job.requested_by.clone())
        .bind::<BigInt, _>(us(job.created_at)))
}

impl SqliteStore {
    /// Waits until deliveries may be due (this store enqueued or re-enqueued one) or `timeout`
    /// passes (the polling backstop). Returns `true` on a wake-up.
    pub async fn wait_for_deliveries(&self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.wake.notified())
            .await
            .is_ok()
    }

    /// The rows of a statement built per filter ([`bound`]), each turned into `T` by `into`.
    async fn load_filtered<R, T>(
        &self,
        (sql, params): (String, Vec<Param>),
        into: fn(R) -> Result<T>,
    ) -> Result<Vec<T>>
    where
        R: diesel::QueryableByName<Sqlite> + 'static,
        T: Send + 'static,
    {
        self.with_conn(move |c| {
            let rows: Vec<R> = bound(sql, params).load(c)?;
            rows.into_iter().map(into).collect()
        })
        .await
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction.
    async fn tx<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteConnection) -> Result<T> + Send + 'static,
    {
        self.with_conn(|c| c.immediate_transaction(f)).await
    }
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn insert_delivery(&self, new: NewDelivery) -> WResult<InsertOutcome> {
        let out = self
            .tx(move |c| {
                let status = Delivery::initial_status(&new);
                let d = Delivery::from_new(new, status, None);
                let fresh = stmt!(insert_sql::<SqliteDialect>(false));
                if !insert_row::<IdRow>(c, fresh, &d)?.is_empty() {
                    return Ok(Ok(InsertOutcome::Inserted { id: d.id, status }));
                }
                if d.verdict != Verdict::Verified {
                    return Ok(Err(WebhookError::Backend(Box::new(StoreError::Query(
                        "the delivery was not inserted".into(),
                    )))));
                }
                // the key has an owner (this is the only writer): a duplicate of it
                let dup = as_duplicate(&d);
                let as_dup = stmt!(insert_sql::<SqliteDialect>(true));
                let written = insert_row::<DupRow>(c, as_dup, &dup)?;
                match written.first() {
                    Some(row) => Ok(Ok(InsertOutcome::Duplicate {
                        id: d.id,
                        original: parse_uuid(&row.duplicate_of)?,
                    })),
                    None => Err(StoreError::Query("the duplicate was not inserted".into())),
                }
            })
            .await??;
        if matches!(
            out,
            InsertOutcome::Inserted {
                status: DeliveryStatus::Pending,
                ..
            }
        ) {
            self.wake.notify_waiters();
        }
        Ok(out)
    }

    async fn get_delivery(&self, id: Uuid) -> WResult<Option<Delivery>> {
        Ok(self.with_conn(move |c| get(c, id)).await?)
    }

    async fn find_by_dedupe_key(
        &self,
        provider: Provider,
        dedupe_key: &str,
    ) -> WResult<Option<Delivery>> {
        let key = dedupe_key.to_owned();
        Ok(self
            .with_conn(move |c| {
                let q = stmt!(owner_sql::<SqliteDialect>())
                    .into_boxed()
                    .bind::<Text, _>(provider.as_str())
                    .bind::<Text, _>(key);
                Ok(load_deliveries(c, q)?.pop())
            })
            .await?)
    }

    async fn claim(&self, claim: Claim<'_>) -> WResult<Vec<Claimed>> {
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        let (now, lease, limit) = (claim.now, claim.lease, claim.limit);
        let worker = claim.worker.to_owned();
        let claimed = self
            .tx(move |c| {
                let q = stmt!(claim_sql::<SqliteDialect>())
                    .into_boxed()
                    .bind::<Text, _>(worker)
                    .bind::<BigInt, _>(us(now))
                    .bind::<BigInt, _>(us(lease_until(now, lease)))
                    .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX));
                load_deliveries(c, q)
            })
            .await?;
        into_claims(claimed)
    }

    async fn complete(&self, token: &ClaimToken, attempt: AttemptRecord) -> WResult<()> {
        let token = *token;
        self.tx(move |c| report(c, &token, &attempt, Outcome::Delivered))
            .await?
    }

    async fn fail(
        &self,
        token: &ClaimToken,
        attempt: AttemptRecord,
        next_attempt_at: Option<OffsetDateTime>,
    ) -> WResult<()> {
        let token = *token;
        let outcome = Outcome::from_fail(next_attempt_at);
        let r = self
            .tx(move |c| report(c, &token, &attempt, outcome))
            .await?;
        if r.is_ok() && next_attempt_at.is_some() {
            self.wake.notify_waiters();
        }
        r
    }

    async fn reclaim_expired(&self, now: OffsetDateTime) -> WResult<u64> {
        let n = self
            .tx(move |c| {
                let rows: Vec<ExpiredRow> = stmt!(expired_sql::<SqliteDialect>())
                    .bind::<BigInt, _>(us(now))
                    .load(c)?;
                for r in &rows {
                    stmt!(release_sql::<SqliteDialect>())
                        .bind::<Text, _>(&r.id)
                        .bind::<BigInt, _>(us(now))
                        .execute(c)?;
                    insert_attempt(c, &r.attempt(now)?, false)?;
                }
                Ok(rows.len() as u64)
            })
            .await?;
        if n > 0 {
            self.wake.notify_waiters();
        }
        Ok(n)
    }

    async fn renew_leases(&self, tokens: &[ClaimToken], until: OffsetDateTime) -> WResult<u64> {
        if tokens.is_empty() {
            return Ok(0);
        }
        // a token given twice extends one lease (as on PostgreSQL, where one statement updates
        // a row once)
        let mut seen = std::collections::HashSet::new();
        let tokens: Vec<ClaimToken> = tokens.iter().copied().filter(|t| seen.insert(*t)).collect();
        Ok(self
            .tx(move |c| {
                let mut n = 0u64;
                for t in &tokens {
                    n += stmt!(super::renew_sql::<SqliteDialect>())
                        .bind::<Text, _>(t.delivery_id.to_string())
                        .bind::<Text, _>(t.lease_token.to_string())
                        .bind::<Integer, _>(i32::try_from(t.attempt).unwrap_or(i32::MAX))
                        .bind::<BigInt, _>(us(until))
                        .execute(c)? as u64;
                }
                Ok(n)
            })
            .await?)
    }

    async fn queue_depth(&self) -> WResult<u64> {
        Ok(self
            .with_conn(|c| {
                let row: Count = diesel::sql_query(QUEUE_DEPTH_SQL).get_result(c)?;
                Ok(u64::try_from(row.n).unwrap_or(0))
            })
            .await?)
    }

    async fn raw_body_keys(&self) -> WResult<Vec<KeyUsage>> {
        Ok(self
            .with_conn(|c| {
                let rows: Vec<KeyRow> = diesel::sql_query(RAW_BODY_KEYS_SQL).load(c)?;
                Ok(key_usage(rows))
            })
            .await?)
    }

    async fn sealed_bodies(
        &self,
        key_id: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> WResult<Vec<SealedBody>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let key_id = key_id.to_owned();
        Ok(self
            .with_conn(move |c| {
                let q = match after {
                    None => stmt!(sealed_sql::<SqliteDialect>(false))
                        .into_boxed()
                        .bind::<Text, _>(&*key_id),
                    Some(after) => stmt!(sealed_sql::<SqliteDialect>(true))
                        .into_boxed()
                        .bind::<Text, _>(&*key_id)
                        .bind::<Text, _>(after.to_string()),
                };
                let rows: Vec<SealedRow> = q
                    .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
                    .load(c)?;
                rows.into_iter().map(|r| r.into_sealed(&key_id)).collect()
            })
            .await?)
    }

    async fn replace_raw_body(
        &self,
        id: Uuid,
        expected_key_id: &str,
        body: EncryptedBody,
    ) -> WResult<bool> {
        let expected = expected_key_id.to_owned();
        let n = self
            .with_conn(move |c| {
                Ok(stmt!(replace_body_sql::<SqliteDialect>())
                    .bind::<Text, _>(id.to_string())
                    .bind::<Text, _>(&expected)
                    .bind::<Text, _>(&body.key_id)
                    .bind::<Binary, _>(&body.nonce)
                    .bind::<Binary, _>(&body.ciphertext)
                    .execute(c)?)
            })
            .await?;
        Ok(n > 0)
    }

    async fn schedule_replay(&self, id: Uuid, req: ReplayRequest) -> WResult<Delivery> {
        let (updated, current) = self
            .tx(move |c| {
                let q = stmt!(replay_update_sql::<SqliteDialect>())
                    .into_boxed()
                    .bind::<Text, _>(id.to_string())
                    .bind::<BigInt, _>(us(req.at))
                    .bind::<Text, _>(req.trigger.as_str())
                    .bind::<Bool, _>(req.single_attempt)
                    .bind::<BigInt, _>(us(req.now))
                    .bind::<Bool, _>(req.force);
                match load_deliveries(c, q)?.pop() {
                    Some(d) => Ok((true, Some(d))),
                    None => Ok((false, get(c, id)?)),
                }
            })
            .await?;
        match current {
            Some(d) if updated => {
                self.wake.notify_waiters();
                Ok(d)
            }
            other => Err(replay_refusal(other, &req)),
        }
    }

    async fn list_attempts(&self, delivery_id: Uuid) -> WResult<Vec<AttemptRecord>> {
        Ok(self
            .with_conn(move |c| {
                let rows: Vec<AttemptRow> = stmt!(attempts_sql::<SqliteDialect>())
                    .bind::<Text, _>(delivery_id.to_string())
                    .load(c)?;
                rows.into_iter().map(AttemptRow::into_attempt).collect()
            })
            .await?)
    }

    async fn list_deliveries(&self, query: &DeliveryQuery) -> WResult<Vec<Delivery>> {
        let q = list_sql::<SqliteDialect>(query);
        Ok(self.load_filtered(q, DeliveryRow::into_delivery).await?)
    }

    async fn count_deliveries(&self, query: &DeliveryQuery) -> WResult<Vec<DeliveryCount>> {
        let q = count_sql::<SqliteDialect>(query);
        Ok(self.load_filtered(q, CountRow::into_count).await?)
    }

    async fn purge_raw_bodies(&self, now: OffsetDateTime) -> WResult<u64> {
        let mut total = 0u64;
        loop {
            // one batch per call: the connection is released between batches
            let n = self
                .with_conn(move |c| {
                    Ok(stmt!(purge_sql::<SqliteDialect>())
                        .bind::<BigInt, _>(us(now))
                        .bind::<BigInt, _>(PURGE_BATCH)
                        .execute(c)?)
                })
                .await?;
            total += n as u64;
            if (n as i64) < PURGE_BATCH {
                return Ok(total);
            }
        }
    }

    async fn insert_replay_job(&self, job: ReplayJob) -> WResult<()> {
        self.with_conn(move |c| {
            bind_job(
                stmt!(job_insert_sql::<SqliteDialect>()).into_boxed(),
                &job,
                true,
            )?
            .execute(c)?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn update_replay_job(&self, job: &ReplayJob) -> WResult<()> {
        let job = job.clone();
        let n = self
            .with_conn(move |c| {
                Ok(bind_job(
                    stmt!(job_update_sql::<SqliteDialect>()).into_boxed(),
                    &job,
                    false,
                )?
                .execute(c)?)
            })
            .await?;
        if n == 0 {
            return Err(WebhookError::NotFound);
        }
        Ok(())
    }

    async fn get_replay_job(&self, id: Uuid) -> WResult<Option<ReplayJob>> {
        Ok(self
            .with_conn(move |c| {
                let rows: Vec<JobRow> = stmt!(job_sql::<SqliteDialect>())
                    .bind::<Text, _>(id.to_string())
                    .load(c)?;
                rows.into_iter().next().map(JobRow::into_job).transpose()
            })
            .await?)
    }
}

/// A statement built per filter, with its values bound.
fn bound(
    sql: String,
    params: Vec<Param>,
) -> diesel::query_builder::BoxedSqlQuery<
    'static,
    diesel::sqlite::Sqlite,
    diesel::query_builder::SqlQuery,
> {
    let mut q = diesel::sql_query(sql).into_boxed();
    for p in params {
        q = match p {
            Param::Text(s) => q.bind::<Text, _>(s),
            Param::Time(t) => q.bind::<BigInt, _>(us(t)),
        };
    }
    q
}
