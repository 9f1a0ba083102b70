//! `WebhookStore` on PostgreSQL: inserts and attempt reports are group-committed (one statement
//! per batch of concurrent callers); claims lock with `FOR UPDATE SKIP LOCKED` and lease.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use diesel::pg::Pg;
use diesel::sql_types::{Array, SmallInt, Timestamptz};
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;
use wedsync_webhooks::provider::Provider;
use wedsync_webhooks::store::{
    AttemptRecord, Claim, ClaimToken, Claimed, Delivery, DeliveryCount, DeliveryQuery,
    DeliveryStatus, EncryptedBody, InsertOutcome, KeyUsage, NewDelivery, ReplayJob, ReplayRequest,
    SealedBody, StoreError as WebhookError, Verdict, WebhookStore,
};

use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::AsyncConnection;

use super::{
    as_duplicate, attempt_insert_sql, attempts_sql, claim_sql, count_sql, existing_sql,
    expired_sql, filter_json, finished_at, get_sql, headers_json, insert_sql, into_claims, job_sql,
    job_update_sql, key_usage, lease_until, list_sql, owner_sql, parse_uuid, purge_sql,
    release_sql, replace_body_sql, replay_refusal, replay_update_sql, report_and_record_sql,
    sealed_sql, Count, CountRow, DupRow, ExpiredRow, IdRow, KeyRow, Outcome, Param, Report,
    SealedRow, WResult, PURGE_BATCH, QUEUE_DEPTH_SQL, RAW_BODY_KEYS_SQL,
};
use crate::dialect::PgDialect;
use crate::error::{Result, StoreError};
use crate::pg::batch::{same_error, Batcher};
use crate::pg::cached::{fixed, stmt, Cached, PgUuid};
use crate::pg::{Inner, PgStore};

type Ts = Timestamptz;
type TsRs = OffsetDateTime;
super::rows!();

/// The group-commit writers of one store.
pub(crate) struct Batchers {
    inserts: Batcher<NewDelivery, WResult<InsertOutcome>>,
    reports: Batcher<Report, WResult<()>>,
}

impl Batchers {
    /// Starts the writers; they hold `inner` weakly and stop with the store.
    pub(crate) fn spawn(inner: &Weak<Inner>, max_batch: usize, in_flight: usize) -> Self {
        Self {
            inserts: writer(inner, max_batch, in_flight, flush_inserts),
            reports: writer(inner, max_batch, in_flight, flush_reports),
        }
    }
}

/// A group-commit writer running `flush` on the store behind `inner` while it lives.
fn writer<I, O, F, Fut>(
    inner: &Weak<Inner>,
    max_batch: usize,
    in_flight: usize,
    flush: F,
) -> Batcher<I, O>
where
    I: Send + 'static,
    O: Send + 'static,
    F: Fn(Arc<Inner>, Vec<I>) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = Vec<Result<O>>> + Send + 'static,
{
    let weak = inner.clone();
    Batcher::spawn(max_batch, in_flight, move |items: Vec<I>| {
        let inner = weak.upgrade();
        async move {
            match inner {
                Some(inner) => flush(inner, items).await,
                None => gone(items.len()),
            }
        }
    })
}

fn gone<T>(n: usize) -> Vec<Result<T>> {
    (0..n)
        .map(|_| Err(StoreError::Task("the store was dropped".into())))
        .collect()
}

async fn conn(inner: &Inner) -> Result<crate::pg::PooledConnection> {
    inner.pool.get().await.map_err(|e| {
        StoreError::Unavailable(format!("no PostgreSQL connection from the pool: {e}"))
    })
}

// ------------------------------------------------------------------------------------------------
// insert: one statement per batch (plus one for the duplicates, when there are any)
// ------------------------------------------------------------------------------------------------

/// Binds `rows` as the arrays of [`super::NEW_ROWS`], borrowing their text and bytes.
fn bind_rows<'a>(q: Cached<'a>, rows: &[&'a Delivery]) -> Result<Cached<'a>> {
    let headers = rows
        .iter()
        .map(|d| headers_json(&d.sanitized_headers))
        .collect::<Result<Vec<String>>>()?;
    let body = |d: &'a Delivery| d.raw_body.as_ref();
    Ok(
        q.bind::<Array<diesel::sql_types::Uuid>, _>(col(rows, |d| PgUuid(d.id)))
            .bind::<Array<Text>, _>(col(rows, |d| d.provider.as_str()))
            .bind::<Array<Nullable<Text>>, _>(col(rows, |d| d.event_id.as_deref()))
            .bind::<Array<Text>, _>(col(rows, |d| &*d.dedupe_key))
            .bind::<Array<Nullable<Text>>, _>(col(rows, |d| d.event_type.as_deref()))
            .bind::<Array<Timestamptz>, _>(col(rows, |d| d.received_at))
            .bind::<Array<Text>, _>(col(rows, |d| d.verdict.as_str()))
            .bind::<Array<Nullable<Text>>, _>(col(rows, |d| d.verdict_reason.as_deref()))
            .bind::<Array<Text>, _>(headers)
            .bind::<Array<Text>, _>(col(rows, |d| &*d.sanitized_body))
            .bind::<Array<Nullable<Text>>, _>(col(rows, |d| d.content_type.as_deref()))
            .bind::<Array<Nullable<Text>>, _>(col(rows, |d| body(d).map(|b| &*b.key_id)))
            .bind::<Array<Nullable<Binary>>, _>(col(rows, |d| body(d).map(|b| &*b.nonce)))
            .bind::<Array<Nullable<Binary>>, _>(col(rows, |d| body(d).map(|b| &*b.ciphertext)))
            .bind::<Array<Nullable<Timestamptz>>, _>(col(rows, |d| d.raw_body_expires_at))
            .bind::<Array<SmallInt>, _>(col(rows, |d| d.priority.rank()))
            .bind::<Array<Text>, _>(col(rows, |d| d.status.as_str()))
            .bind::<Array<Nullable<Timestamptz>>, _>(col(rows, |d| d.next_attempt_at)),
    )
}

/// Writes `rows` (statuses decided in Rust, duplicates found by the unique index); one result
/// per row. Errors of the whole statement are returned as `Err`.
async fn write_inserts(inner: &Inner, rows: &[Delivery]) -> Result<Vec<WResult<InsertOutcome>>> {
    let mut out: Vec<Option<WResult<InsertOutcome>>> = (0..rows.len()).map(|_| None).collect();
    let mut pending: Vec<usize> = (0..rows.len()).collect();
    let mut conn = conn(inner).await?;
    // A key's owner can disappear between the two statements (retention): go round again.
    for _ in 0..3 {
        let batch: Vec<&Delivery> = pending.iter().map(|&i| &rows[i]).collect();
        let inserted: HashSet<Uuid> = bind_rows(stmt!(insert_sql::<PgDialect>(false)), &batch)?
            .load::<IdRow>(&mut conn)
            .await?
            .iter()
            .map(|r| parse_uuid(&r.id))
            .collect::<Result<_>>()?;
        let mut skipped = Vec::new();
        for &i in &pending {
            let d = &rows[i];
            if inserted.contains(&d.id) {
                out[i] = Some(Ok(InsertOutcome::Inserted {
                    id: d.id,
                    status: d.status,
                }));
            } else if d.verdict == Verdict::Verified {
                skipped.push(i);
            } else {
                out[i] = Some(Err(WebhookError::Backend(Box::new(StoreError::Query(
                    "the delivery was not inserted".into(),
                )))));
            }
        }
        if skipped.is_empty() {
            pending.clear();
            break;
        }
        let dups: Vec<Delivery> = skipped.iter().map(|&i| as_duplicate(&rows[i])).collect();
        let refs: Vec<&Delivery> = dups.iter().collect();
        let written: HashMap<Uuid, Uuid> = bind_rows(stmt!(insert_sql::<PgDialect>(true)), &refs)?
            .load::<DupRow>(&mut conn)
            .await?
            .iter()
            .map(|r| Ok((parse_uuid(&r.id)?, parse_uuid(&r.duplicate_of)?)))
            .collect::<Result<_>>()?;
        pending.clear();
        for i in skipped {
            let id = rows[i].id;
            match written.get(&id) {
                Some(&original) => {
                    out[i] = Some(Ok(InsertOutcome::Duplicate { id, original }));
                }
                None => pending.push(i),
            }
        }
        if pending.is_empty() {
            break;
        }
    }
    Ok(out
        .into_iter()
        .map(|o| {
            o.unwrap_or_else(|| {
                Err(WebhookError::Backend(Box::new(StoreError::Query(
                    "dedupe kept racing with deletes; try again".into(),
                ))))
            })
        })
        .collect())
}

async fn flush_inserts(
    inner: Arc<Inner>,
    items: Vec<NewDelivery>,
) -> Vec<Result<WResult<InsertOutcome>>> {
    let rows: Vec<Delivery> = items
        .into_iter()
        .map(|n| {
            let status = Delivery::initial_status(&n);
            Delivery::from_new(n, status, None)
        })
        .collect();
    // one id twice in a batch would fail the whole statement: such rows go alone
    let results = match write_inserts(&inner, &rows).await {
        Ok(r) => r.into_iter().map(Ok).collect(),
        Err(e) if rows.len() > 1 && !e.is_unavailable() => {
            // one bad row must not fail its neighbours: write them one by one
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(
                    write_inserts(&inner, std::slice::from_ref(row))
                        .await
                        .map(|mut v| v.remove(0)),
                );
            }
            out
        }
        Err(e) => rows.iter().map(|_| Err(same_error(&e))).collect(),
    };
    let queued = results.iter().any(|r| {
        matches!(
            r,
            Ok(Ok(InsertOutcome::Inserted {
                status: DeliveryStatus::Pending,
                ..
            }))
        )
    });
    if queued {
        crate::pg::wake_workers(&inner);
    }
    results
}

// ------------------------------------------------------------------------------------------------
// attempt reports (complete / fail): one statement per batch
// ------------------------------------------------------------------------------------------------

fn i32_of(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// One array to bind: `f` of each of `items` (references, so what `f` borrows outlives the
/// slice).
fn col<T: Copy, U>(items: &[T], f: impl Fn(T) -> U) -> Vec<U> {
    items.iter().map(|&t| f(t)).collect()
}

/// Binds `reports` as the arrays of [`super::REPORT_ROWS`].
fn bind_reports<'a>(q: Cached<'a>, reports: &[&'a Report]) -> Cached<'a> {
    q.bind::<Array<diesel::sql_types::Uuid>, _>(col(reports, |r| PgUuid(r.token.delivery_id)))
        .bind::<Array<diesel::sql_types::Uuid>, _>(col(reports, |r| PgUuid(r.token.lease_token)))
        .bind::<Array<Integer>, _>(col(reports, |r| i32_of(r.token.attempt)))
        .bind::<Array<Text>, _>(col(reports, |r| r.outcome.status().as_str()))
        .bind::<Array<Nullable<Timestamptz>>, _>(col(reports, |r| r.outcome.next_attempt_at()))
        .bind::<Array<Timestamptz>, _>(col(reports, |r| finished_at(&r.attempt)))
        .bind::<Array<Nullable<Text>>, _>(col(reports, |r| {
            r.attempt.error_kind.map(|e| e.as_str())
        }))
        .bind::<Array<Nullable<Integer>>, _>(col(reports, |r| {
            r.attempt.response_status.map(i32::from)
        }))
}

/// Binds `attempts` as the arrays of [`super::ATTEMPT_ROWS`].
fn bind_attempts<'a>(q: Cached<'a>, attempts: &[&'a AttemptRecord]) -> Cached<'a> {
    q.bind::<Array<diesel::sql_types::Uuid>, _>(col(attempts, |a| PgUuid(a.delivery_id)))
        .bind::<Array<Integer>, _>(col(attempts, |a| i32_of(a.attempt)))
        .bind::<Array<Text>, _>(col(attempts, |a| a.trigger.as_str()))
        .bind::<Array<Text>, _>(col(attempts, |a| &*a.worker))
        .bind::<Array<Timestamptz>, _>(col(attempts, |a| a.started_at))
        .bind::<Array<BigInt>, _>(col(attempts, |a| {
            i64::try_from(a.duration_ms).unwrap_or(i64::MAX)
        }))
        .bind::<Array<Nullable<Integer>>, _>(col(attempts, |a| a.response_status.map(i32::from)))
        .bind::<Array<Nullable<Text>>, _>(col(attempts, |a| a.error_kind.map(|e| e.as_str())))
        .bind::<Array<Nullable<Text>>, _>(col(attempts, |a| a.response_excerpt.as_deref()))
}

/// Loads the delivery ids a statement returned.
async fn load_ids(
    q: Cached<'_>,
    conn: &mut diesel_async::AsyncPgConnection,
) -> Result<HashSet<Uuid>> {
    q.load::<IdRow>(conn)
        .await?
        .iter()
        .map(|r| parse_uuid(&r.id))
        .collect()
}

/// Writes a batch of reports (each delivery at most once) in one statement: the deliveries
/// whose lease still holds are updated and their attempts recorded.
async fn write_reports(inner: &Inner, items: &[&Report]) -> Result<Vec<WResult<()>>> {
    let mut conn = conn(inner).await?;
    let attempts: Vec<&AttemptRecord> = items.iter().map(|r| &r.attempt).collect();
    let q = bind_attempts(
        bind_reports(stmt!(report_and_record_sql::<PgDialect>()), items),
        &attempts,
    );
    let updated = load_ids(q, &mut conn).await?;
    let refused: Vec<PgUuid> = items
        .iter()
        .map(|r| r.token.delivery_id)
        .filter(|id| !updated.contains(id))
        .map(PgUuid)
        .collect();
    let existing: HashSet<Uuid> = if refused.is_empty() {
        HashSet::new()
    } else {
        let q =
            stmt!(existing_sql::<PgDialect>()).bind::<Array<diesel::sql_types::Uuid>, _>(refused);
        load_ids(q, &mut conn).await?
    };
    Ok(items
        .iter()
        .map(|r| {
            let id = r.token.delivery_id;
            if updated.contains(&id) {
                Ok(())
            } else if existing.contains(&id) {
                Err(WebhookError::LeaseLost)
            } else {
                Err(WebhookError::NotFound)
            }
        })
        .collect())
}

async fn flush_reports(inner: Arc<Inner>, items: Vec<Report>) -> Vec<Result<WResult<()>>> {
    let mut results: Vec<Option<Result<WResult<()>>>> = (0..items.len()).map(|_| None).collect();
    // a delivery appears at most once per statement: later reports of it go in later rounds
    let mut rest: Vec<usize> = (0..items.len()).collect();
    while !rest.is_empty() {
        let mut seen = HashSet::new();
        let (round, later): (Vec<usize>, Vec<usize>) = rest
            .into_iter()
            .partition(|&i| seen.insert(items[i].token.delivery_id));
        let refs: Vec<&Report> = round.iter().map(|&i| &items[i]).collect();
        match write_reports(&inner, &refs).await {
            Ok(r) => {
                for (i, r) in round.into_iter().zip(r) {
                    results[i] = Some(Ok(r));
                }
            }
            Err(e) => {
                for i in round {
                    results[i] = Some(Err(same_error(&e)));
                }
            }
        }
        rest = later;
    }
    let retried = items
        .iter()
        .zip(&results)
        .any(|(r, res)| matches!(r.outcome, Outcome::Retry(_)) && matches!(res, Some(Ok(Ok(())))));
    if retried {
        crate::pg::wake_workers(&inner);
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(StoreError::Task("report not written".into()))))
        .collect()
}

// ------------------------------------------------------------------------------------------------
// the trait
// ------------------------------------------------------------------------------------------------

impl PgStore {
    /// Waits until deliveries may be due (a wake-up from any process sharing the database) or
    /// `timeout` passes (the polling backstop). Returns `true` on a wake-up.
    pub async fn wait_for_deliveries(&self, timeout: Duration) -> bool {
        self.inner.listener.wait_queue(timeout).await
    }

    /// The rows of a statement built per filter ([`bound`]), each turned into `T` by `into`.
    async fn load_filtered<R, T>(
        &self,
        (sql, params): (String, Vec<Param>),
        into: fn(R) -> Result<T>,
    ) -> Result<Vec<T>>
    where
        R: diesel::QueryableByName<Pg> + Send + 'static,
    {
        let mut conn = self.conn().await?;
        let rows: Vec<R> = bound(sql, params).load(&mut conn).await?;
        rows.into_iter().map(into).collect()
    }

    async fn load_deliveries(&self, q: Cached<'_>) -> Result<Vec<Delivery>> {
        let mut conn = self.conn().await?;
        let rows: Vec<DeliveryRow> = q.load(&mut conn).await?;
        rows.into_iter().map(DeliveryRow::into_delivery).collect()
    }

    async fn report(&self, report: Report) -> WResult<()> {
        self.inner.webhooks.reports.submit(report).await?
    }
}

#[async_trait]
impl WebhookStore for PgStore {
    async fn insert_delivery(&self, new: NewDelivery) -> WResult<InsertOutcome> {
        self.inner.webhooks.inserts.submit(new).await?
    }

    async fn get_delivery(&self, id: Uuid) -> WResult<Option<Delivery>> {
        let q = stmt!(get_sql::<PgDialect>()).bind::<Text, _>(id.to_string());
        Ok(self.load_deliveries(q).await?.pop())
    }

    async fn find_by_dedupe_key(
        &self,
        provider: Provider,
        dedupe_key: &str,
    ) -> WResult<Option<Delivery>> {
        let q = stmt!(owner_sql::<PgDialect>())
            .bind::<Text, _>(provider.as_str())
            .bind::<Text, _>(dedupe_key.to_owned());
        Ok(self.load_deliveries(q).await?.pop())
    }

    async fn claim(&self, claim: Claim<'_>) -> WResult<Vec<Claimed>> {
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        let q = stmt!(claim_sql::<PgDialect>())
            .bind::<Text, _>(claim.worker.to_owned())
            .bind::<Timestamptz, _>(claim.now)
            .bind::<Timestamptz, _>(lease_until(claim.now, claim.lease))
            .bind::<BigInt, _>(i64::try_from(claim.limit).unwrap_or(i64::MAX));
        into_claims(self.load_deliveries(q).await?)
    }

    async fn complete(&self, token: &ClaimToken, attempt: AttemptRecord) -> WResult<()> {
        self.report(Report {
            token: *token,
            attempt,
            outcome: Outcome::Delivered,
        })
        .await
    }

    async fn fail(
        &self,
        token: &ClaimToken,
        attempt: AttemptRecord,
        next_attempt_at: Option<OffsetDateTime>,
    ) -> WResult<()> {
        self.report(Report {
            token: *token,
            attempt,
            outcome: Outcome::from_fail(next_attempt_at),
        })
        .await
    }

    async fn reclaim_expired(&self, now: OffsetDateTime) -> WResult<u64> {
        let mut conn = self.conn().await?;
        let n = conn
            .transaction::<_, StoreError, _>(|c| {
                async move {
                    let rows: Vec<ExpiredRow> = stmt!(expired_sql::<PgDialect>())
                        .bind::<Timestamptz, _>(now)
                        .load(c)
                        .await?;
                    if rows.is_empty() {
                        return Ok(0);
                    }
                    let attempts = rows
                        .iter()
                        .map(|r| r.attempt(now))
                        .collect::<Result<Vec<_>>>()?;
                    let refs: Vec<&AttemptRecord> = attempts.iter().collect();
                    stmt!(release_sql::<PgDialect>())
                        .bind::<Array<diesel::sql_types::Uuid>, _>(col(&refs, |a| {
                            PgUuid(a.delivery_id)
                        }))
                        .bind::<Timestamptz, _>(now)
                        .execute(c)
                        .await?;
                    bind_attempts(stmt!(attempt_insert_sql::<PgDialect>(false, None)), &refs)
                        .execute(c)
                        .await?;
                    Ok(rows.len() as u64)
                }
                .scope_boxed()
            })
            .await?;
        drop(conn);
        if n > 0 {
            crate::pg::wake_workers(&self.inner);
        }
        Ok(n)
    }

    async fn renew_leases(&self, tokens: &[ClaimToken], until: OffsetDateTime) -> WResult<u64> {
        if tokens.is_empty() {
            return Ok(0);
        }
        let ids = |f: fn(&ClaimToken) -> Uuid| tokens.iter().map(|t| PgUuid(f(t))).collect();
        let mut conn = self.conn().await?;
        let n = stmt!(super::renew_sql::<PgDialect>())
            .bind::<Array<diesel::sql_types::Uuid>, Vec<PgUuid>>(ids(|t| t.delivery_id))
            .bind::<Array<diesel::sql_types::Uuid>, Vec<PgUuid>>(ids(|t| t.lease_token))
            .bind::<Array<Integer>, _>(tokens.iter().map(|t| i32_of(t.attempt)).collect::<Vec<_>>())
            .bind::<Timestamptz, _>(until)
            .execute(&mut conn)
            .await
            .map_err(StoreError::from)?;
        Ok(n as u64)
    }

    async fn queue_depth(&self) -> WResult<u64> {
        let mut conn = self.conn().await?;
        let row: Count = fixed!(QUEUE_DEPTH_SQL)
            .get_result(&mut conn)
            .await
            .map_err(StoreError::from)?;
        Ok(u64::try_from(row.n).unwrap_or(0))
    }

    async fn raw_body_keys(&self) -> WResult<Vec<KeyUsage>> {
        let mut conn = self.conn().await?;
        let rows: Vec<KeyRow> = fixed!(RAW_BODY_KEYS_SQL)
            .load(&mut conn)
            .await
            .map_err(StoreError::from)?;
        Ok(key_usage(rows))
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
        let q = match after {
            None => stmt!(sealed_sql::<PgDialect>(false)).bind::<Text, _>(key_id),
            Some(after) => stmt!(sealed_sql::<PgDialect>(true))
                .bind::<Text, _>(key_id)
                .bind::<diesel::sql_types::Uuid, _>(PgUuid(after)),
        };
        let mut conn = self.conn().await?;
        let rows: Vec<SealedRow> = q
            .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
            .load(&mut conn)
            .await
            .map_err(StoreError::from)?;
        Ok(rows
            .into_iter()
            .map(|r| r.into_sealed(key_id))
            .collect::<Result<_>>()?)
    }

    async fn replace_raw_body(
        &self,
        id: Uuid,
        expected_key_id: &str,
        body: EncryptedBody,
    ) -> WResult<bool> {
        let mut conn = self.conn().await?;
        let n = stmt!(replace_body_sql::<PgDialect>())
            .bind::<diesel::sql_types::Uuid, _>(PgUuid(id))
            .bind::<Text, _>(expected_key_id)
            .bind::<Text, _>(&*body.key_id)
            .bind::<Binary, _>(&*body.nonce)
            .bind::<Binary, _>(&*body.ciphertext)
            .execute(&mut conn)
            .await
            .map_err(StoreError::from)?;
        Ok(n > 0)
    }

    async fn schedule_replay(&self, id: Uuid, req: ReplayRequest) -> WResult<Delivery> {
        let q = stmt!(replay_update_sql::<PgDialect>())
            .bind::<Text, _>(id.to_string())
            .bind::<Timestamptz, _>(req.at)
            .bind::<Text, _>(req.trigger.as_str())
            .bind::<Bool, _>(req.single_attempt)
            .bind::<Timestamptz, _>(req.now)
            .bind::<Bool, _>(req.force);
        if let Some(d) = self.load_deliveries(q).await?.pop() {
            crate::pg::wake_workers(&self.inner);
            return Ok(d);
        }
        Err(replay_refusal(self.get_delivery(id).await?, &req))
    }

    async fn list_attempts(&self, delivery_id: Uuid) -> WResult<Vec<AttemptRecord>> {
        let mut conn = self.conn().await?;
        let rows: Vec<AttemptRow> = stmt!(attempts_sql::<PgDialect>())
            .bind::<Text, _>(delivery_id.to_string())
            .load(&mut conn)
            .await
            .map_err(StoreError::from)?;
        Ok(rows
            .into_iter()
            .map(AttemptRow::into_attempt)
            .collect::<Result<_>>()?)
    }

    async fn list_deliveries(&self, query: &DeliveryQuery) -> WResult<Vec<Delivery>> {
        let q = list_sql::<PgDialect>(query);
        Ok(self.load_filtered(q, DeliveryRow::into_delivery).await?)
    }

    async fn count_deliveries(&self, query: &DeliveryQuery) -> WResult<Vec<DeliveryCount>> {
        let q = count_sql::<PgDialect>(query);
        Ok(self.load_filtered(q, CountRow::into_count).await?)
    }

    async fn purge_raw_bodies(&self, now: OffsetDateTime) -> WResult<u64> {
        let mut total = 0u64;
        loop {
            let mut conn = self.conn().await?;
            let n = stmt!(purge_sql::<PgDialect>())
                .bind::<Timestamptz, _>(now)
                .bind::<BigInt, _>(PURGE_BATCH)
                .execute(&mut conn)
                .await
                .map_err(StoreError::from)?;
            total += n as u64;
            if (n as i64) < PURGE_BATCH {
                return Ok(total);
            }
        }
    }

    async fn insert_replay_job(&self, job: ReplayJob) -> WResult<()> {
        let mut conn = self.conn().await?;
        bind_job(stmt!(super::job_insert_sql::<PgDialect>()), &job, true)?
            .execute(&mut conn)
            .await
            .map_err(StoreError::from)?;
        Ok(())
    }

    async fn update_replay_job(&self, job: &ReplayJob) -> WResult<()> {
        let mut conn = self.conn().await?;
        let n = bind_job(stmt!(job_update_sql::<PgDialect>()), job, false)?
            .execute(&mut conn)
            .await
            .map_err(StoreError::from)?;
        if n == 0 {
            return Err(WebhookError::NotFound);
        }
        Ok(())
    }

    async fn get_replay_job(&self, id: Uuid) -> WResult<Option<ReplayJob>> {
        let mut conn = self.conn().await?;
        let rows: Vec<JobRow> = stmt!(job_sql::<PgDialect>())
            .bind::<Text, _>(id.to_string())
            .load(&mut conn)
            .await
            .map_err(StoreError::from)?;
        Ok(rows.into_iter().next().map(JobRow::into_job).transpose()?)
    }
}

/// Binds a job in [`super::job_insert_sql`]'s order; the update takes only the first seven.
fn bind_job<'a>(q: Cached<'a>, job: &ReplayJob, insert: bool) -> Result<Cached<'a>> {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let q = q
        .bind::<Text, _>(job.id.to_string())
        .bind::<Text, _>(job.state.as_str())
        .bind::<BigInt, _>(n(job.total))
        .bind::<BigInt, _>(n(job.scheduled))
        .bind::<BigInt, _>(n(job.skipped))
        .bind::<Nullable<Text>, _>(job.error.clone())
        .bind::<Timestamptz, _>(job.updated_at);
    if !insert {
        return Ok(q);
    }
    Ok(q.bind::<Text, _>(filter_json(&job.filter)?)
        .bind::<Text, _>(job.requested_by.clone())
        .bind::<Timestamptz, _>(job.created_at))
}

/// A statement built per filter, with its values bound (not a fixed statement, so not prepared
/// for the statement cache).
fn bound(
    sql: String,
    params: Vec<Param>,
) -> diesel::query_builder::BoxedSqlQuery<'static, Pg, diesel::query_builder::SqlQuery> {
    let mut q = diesel::sql_query(sql).into_boxed::<Pg>();
    for p in params {
        q = match p {
            Param::Text(s) => q.bind::<Text, _>(s),
            Param::Time(t) => q.bind::<Timestamptz, _>(t),
        };
    }
    q
}
