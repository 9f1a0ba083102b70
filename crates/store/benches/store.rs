//! Store throughput against the local PostgreSQL, side by side with `pgbench` in the same run.
//!
//! Run with: `CARGO_TARGET_DIR=/work/targets/store cargo bench -p wedsync-store --all-features --bench store`
//! (`DATABASE_URL` picks the server, default 127.0.0.1:5432; `WEDSYNC_BENCH_SECS` the duration of
//! each measurement, default 5; `PGBENCH` the pgbench binary, default found on PATH or under
//! /usr/lib/postgresql/*/bin).
//!
//! 1. `record_and_enqueue/32_writers`: 32 concurrent tasks, each records a delivery and enqueues it
//!    (`DeliveryLog::record_delivery`), durable (`synchronous_commit` as the server has it), vs
//!    `pgbench -c 32` doing one-row INSERTs on the same server, same duration.
//! 2. `claim_complete`: 4 workers claim batches of 64 and complete them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use wedsync_store::testing::try_fresh_postgres;
use wedsync_store::{DeliveryLog, JobQueue, NewDelivery, NewJob};

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
        .unwrap_or(if quick { 1 } else { 5 });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(bench(secs));
}

async fn bench(secs: u64) {
    let pg = match try_fresh_postgres(32).await {
        Ok(pg) => pg,
        Err(e) => panic!("benchmark database: {e}"),
    };
    let sync_commit: String = {
        use std::str::FromStr;
        let (c, conn) = tokio_postgres::Config::from_str(pg.url())
            .unwrap()
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.query_one("SHOW synchronous_commit", &[])
            .await
            .unwrap()
            .get(0)
    };
    println!("synchronous_commit = {sync_commit}; {secs} s per measurement");

    // --- pgbench, same server, same number of clients ---------------------------------------
    let pgbench_tps = run_pgbench(pg.url(), secs).await;
    match pgbench_tps {
        Some(tps) => println!("pgbench one-row INSERT, 32 clients: {tps:.0} tps"),
        None => println!("pgbench could not run (set PGBENCH=/path/to/pgbench)"),
    }

    // --- record_and_enqueue/32_writers --------------------------------------------------------
    let store = pg.store.clone();
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..32 {
        let (store, done) = (store.clone(), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                let id = format!("w{w}-{i}");
                let d = NewDelivery {
                    id: id.clone(),
                    provider: "stripe".into(),
                    event_id: format!("evt_{id}"),
                    event_type: "payment_intent.succeeded".into(),
                    signature_valid: true,
                    raw_body: Some(br#"{"id":"evt","object":"event"}"#.to_vec()),
                    sanitized_body: Some(r#"{"id":"evt","object":"event"}"#.into()),
                    received_at: OffsetDateTime::now_utc(),
                };
                store
                    .record_delivery(d, Some(("webhooks", 0)))
                    .await
                    .expect("record_delivery");
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let ours = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!("record_and_enqueue/32_writers: {ours:.0} deliveries/s (1 SQL statement per batch)");
    if let Some(tps) = pgbench_tps {
        println!("ratio ours / pgbench = {:.2}", ours / tps);
    }

    // --- claim_complete ---------------------------------------------------------------------
    let queued = store.queue_len("webhooks").await.unwrap();
    let extra: Vec<NewJob> = (0..20_000)
        .map(|i| NewJob {
            queue: "webhooks".into(),
            delivery_id: format!("extra-{i}"),
            priority: (i % 3) as i16,
            run_at: OffsetDateTime::now_utc() - time::Duration::seconds(1),
        })
        .collect();
    for chunk in extra.chunks(5000) {
        store.enqueue(chunk).await.unwrap();
    }
    let total = queued + 20_000;
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs.max(2) * 4);
    let mut tasks = Vec::new();
    for w in 0..4 {
        let (store, done) = (store.clone(), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            let owner = format!("bench-{w}");
            while Instant::now() < deadline {
                let jobs = store
                    .claim("webhooks", &owner, 64, Duration::from_secs(60))
                    .await
                    .unwrap();
                if jobs.is_empty() {
                    break;
                }
                let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
                let n = store.complete(&owner, &ids).await.unwrap();
                done.fetch_add(n, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n = done.load(Ordering::Relaxed);
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!(
        "claim_complete (4 workers, batches of 64): {rate:.0} jobs/s ({n} of {total} jobs, 2 statements per batch)"
    );
}
