//! Store throughput against the local PostgreSQL, side by side with `pgbench` in the same run.
//!
//! Run with: `CARGO_TARGET_DIR=/work/targets/store cargo bench -p wedsync-store --all-features --bench store`
//! (`DATABASE_URL` picks the server, default 127.0.0.1:5432; `WEDSYNC_BENCH_SECS` the duration of
//! each side's measurement in one round, default 2; `WEDSYNC_BENCH_ROUNDS` the rounds, default 5;
//! `WEDSYNC_BENCH_IN_FLIGHT` overrides `PgConfig::batches_in_flight`; `PGBENCH` the pgbench
//! binary, default found on PATH or under /usr/lib/postgresql/*/bin).
//!
//! 1. `record_and_enqueue/32_writers`: 32 concurrent tasks, each records a verified delivery and
//!    enqueues it (`WebhookStore::insert_delivery` with a due time), durable (`synchronous_commit`
//!    as the server has it), vs `pgbench -c 32 -j 2` doing one-row INSERTs on the same server
//!    for the same time. The two sides alternate in rounds (pgbench first in even rounds, ours
//!    first in odd ones), so both see the same background load on a shared machine; each side's
//!    rate is its total over all rounds. Ours runs on a pool opened before the first round (as
//!    pgbench's rate excludes its connection set-up). Prints every round, the ratio of the
//!    totals and the range of the per-round ratios, and the commits per delivery (from
//!    `pg_stat_database`: one statement and one commit per batch, plus the wake-up `NOTIFY`s).
//! 2. `claim_complete`: 4 workers claim batches of 64 and report each attempt with
//!    `WebhookStore::complete` (concurrent reports are group-committed).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use wedsync_store::testing::try_fresh_postgres;
use wedsync_store::{PgConfig, PgStore};
use wedsync_webhooks::provider::Provider;
use wedsync_webhooks::store::{
    AttemptRecord, AttemptTrigger, Claim, EncryptedBody, NewDelivery, Priority, Verdict,
    WebhookStore,
};

fn pgbench_path() -> Option<std::path::PathBuf> {
    if let Ok(p) = std::env::var("PGBENCH") {
        return Some(p.into());
    }
    let mut candidates: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin/pgbench"))
        .filter(|p| p.exists())
        .collect();
    candidates.sort();
    candidates.pop().or_else(|| Some("pgbench".into()))
}

async fn run_pgbench(url: &str, secs: u64) -> Option<f64> {
    let client = {
        use std::str::FromStr;
        let (c, conn) = tokio_postgres::Config::from_str(url)
            .ok()?
            .connect(tokio_postgres::NoTls)
            .await
            .ok()?;
        tokio::spawn(conn);
        c
    };
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS pgbench_one (
                 id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v INT,
                 at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await
        .ok()?;
    let dir = std::env::temp_dir().join(format!("wedsync-pgbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let script = dir.join("insert.sql");
    std::fs::write(&script, "INSERT INTO pgbench_one (v) VALUES (1);\n").ok()?;
    let out = std::process::Command::new(pgbench_path()?)
        .args(["-n", "-c", "32", "-j", "2", "-T", &secs.to_string(), "-f"])
        .arg(&script)
        .arg(url)
        .output()
        .ok()?;
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l[6..].split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run briefly then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let secs: u64 = std::env::var("WEDSYNC_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 1 } else { 2 });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(bench(secs, quick));
}

fn delivery(key: String, now: OffsetDateTime) -> NewDelivery {
    NewDelivery {
        id: uuid::Uuid::new_v4(),
        provider: Provider::Stripe,
        event_id: Some(key.clone()),
        dedupe_key: key,
        event_type: Some("payment_intent.succeeded".into()),
        received_at: now,
        verdict: Verdict::Verified,
        verdict_reason: None,
        sanitized_headers: vec![("stripe-signature".into(), "[REDACTED]".into())],
        sanitized_body: r#"{"id":"evt","object":"event","type":"payment_intent.succeeded"}"#.into(),
        content_type: Some("application/json".into()),
        raw_body: Some(EncryptedBody {
            key_id: "k1".into(),
            nonce: vec![7; 24],
            ciphertext: vec![42; 256],
        }),
        raw_body_expires_at: Some(now + time::Duration::days(7)),
        priority: Priority::Normal,
        next_attempt_at: Some(now),
    }
}

async fn commits(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await
        .map(|r| r.get(0))
        .unwrap_or(0)
}

/// 32 writers record and enqueue deliveries for `secs`; returns how many, and the seconds taken.
async fn record_and_enqueue(store: &PgStore, round: u32, secs: u64) -> (u64, f64) {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..32 {
        let (store, done) = (store.clone(), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                let d = delivery(format!("evt_r{round}_w{w}_{i}"), OffsetDateTime::now_utc());
                store.insert_delivery(d).await.expect("insert_delivery");
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (
        done.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    )
}

async fn bench(secs: u64, quick: bool) {
    let pg = match try_fresh_postgres(32).await {
        Ok(pg) => pg,
        Err(e) => panic!("benchmark database: {e}"),
    };
    let client = {
        use std::str::FromStr;
        let (c, conn) = tokio_postgres::Config::from_str(pg.url())
            .unwrap()
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c
    };
    let sync_commit: String = client
        .query_one("SHOW synchronous_commit", &[])
        .await
        .unwrap()
        .get(0);
    println!("synchronous_commit = {sync_commit}; {secs} s per side and round");

    // --- record_and_enqueue/32_writers vs pgbench, alternating rounds ---------------------------
    let rounds: u32 = std::env::var("WEDSYNC_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 1 } else { 5 })
        .max(1);
    let mut config = PgConfig::new(pg.url()).pool_size(32);
    if let Some(n) = std::env::var("WEDSYNC_BENCH_IN_FLIGHT")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        config.batches_in_flight = n;
    }
    println!(
        "batches in flight: {}; {rounds} rounds, alternating pgbench and ours",
        config.batches_in_flight
    );
    let store = PgStore::new(config).expect("store");
    // open the pool's connections up front, as pgbench's rate excludes its connection set-up
    {
        let conns = futures_util::future::join_all((0..32).map(|_| store.conn())).await;
        assert!(conns.iter().all(Result::is_ok), "pool connections");
    }
    let (mut pg_txns, mut pg_secs) = (0.0f64, 0.0f64);
    let (mut n, mut ours_secs, mut commits_used) = (0u64, 0.0f64, 0i64);
    let mut round_ratios = Vec::new();
    for round in 0..rounds {
        let mut pg_round = None;
        let (mut ours_round, mut round_commits) = (0.0, 0.0);
        for side in 0..2 {
            if (side == 0) == (round % 2 == 0) {
                match run_pgbench(pg.url(), secs).await {
                    Some(tps) => {
                        pg_txns += tps * secs as f64;
                        pg_secs += secs as f64;
                        pg_round = Some(tps);
                    }
                    None => println!("pgbench could not run (set PGBENCH=/path/to/pgbench)"),
                }
            } else {
                let before = commits(&client).await;
                let (done, elapsed) = record_and_enqueue(&store, round, secs).await;
                let used = (commits(&client).await - before).max(0);
                commits_used += used;
                round_commits = used as f64 / done.max(1) as f64;
                n += done;
                ours_secs += elapsed;
                ours_round = done as f64 / elapsed;
            }
        }
        match pg_round {
            Some(tps) => {
                round_ratios.push(ours_round / tps);
                println!(
                    "round {round}: pgbench {tps:.0} tps, ours {ours_round:.0} deliveries/s \
                     ({round_commits:.3} commits per delivery), ratio {:.2}",
                    ours_round / tps
                );
            }
            None => println!(
                "round {round}: ours {ours_round:.0} deliveries/s ({round_commits:.3} commits \
                 per delivery)"
            ),
        }
    }
    let ours = n as f64 / ours_secs;
    if pg_secs > 0.0 {
        println!(
            "pgbench one-row INSERT, 32 clients: {:.0} tps",
            pg_txns / pg_secs
        );
    }
    println!(
        "record_and_enqueue/32_writers: {ours:.0} deliveries/s ({n} deliveries, {commits_used} \
         commits incl. wake-ups = {:.3} commits and statements per delivery)",
        commits_used as f64 / n.max(1) as f64
    );
    if pg_secs > 0.0 {
        round_ratios.sort_by(f64::total_cmp);
        println!(
            "ratio ours / pgbench = {:.2} (rounds: {:.2}–{:.2})",
            ours / (pg_txns / pg_secs),
            round_ratios[0],
            round_ratios[round_ratios.len() - 1]
        );
    }

    // --- claim_complete ---------------------------------------------------------------------
    let backlog = 20_000u64;
    let mut fill = Vec::new();
    for w in 0..32 {
        let store = store.clone();
        fill.push(tokio::spawn(async move {
            let past = OffsetDateTime::now_utc() - time::Duration::seconds(1);
            for i in 0..backlog / 32 {
                let mut d = delivery(format!("evt_extra{w}_{i}"), past);
                if i % 3 == 0 {
                    d.priority = Priority::Critical;
                }
                store.insert_delivery(d).await.expect("insert_delivery");
            }
        }));
    }
    for t in fill {
        t.await.unwrap();
    }
    let total = n + backlog / 32 * 32;
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs.max(2) * 4);
    let mut tasks = Vec::new();
    for w in 0..4 {
        let (store, done) = (store.clone(), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            let worker = format!("bench-{w}");
            while Instant::now() < deadline {
                let now = OffsetDateTime::now_utc();
                let claimed = store
                    .claim(Claim::new(&worker, now, Duration::from_secs(60), 64))
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    break;
                }
                let reports = claimed.iter().map(|c| {
                    let attempt = AttemptRecord {
                        delivery_id: c.token.delivery_id,
                        attempt: c.token.attempt,
                        trigger: AttemptTrigger::Scheduled,
                        worker: worker.clone(),
                        started_at: now,
                        duration_ms: 1,
                        response_status: Some(200),
                        error_kind: None,
                        response_excerpt: None,
                    };
                    store.complete(&c.token, attempt)
                });
                for r in futures_util::future::join_all(reports).await {
                    r.unwrap();
                }
                done.fetch_add(claimed.len() as u64, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n = done.load(Ordering::Relaxed);
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!(
        "claim_complete (4 workers, batches of 64): {rate:.0} jobs/s ({n} of {total} jobs; \
         1 claim statement per batch, reports group-committed)"
    );
}
