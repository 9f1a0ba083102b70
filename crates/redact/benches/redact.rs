//! Criterion benchmarks for `wedsync-redact`.
//!
//! Run with: `CARGO_TARGET_DIR=/work/targets/redact cargo bench -p wedsync-redact --bench redact -- --warm-up-time 1 --measurement-time 3`
//!
//! `sanitize_stripe_4k` compares, in one run, a serde_json parse + serialise of the 4.8 KB
//! checkout event with the full sanitise (customer details, embedded JSON metadata) and with the
//! same-size event that has nothing to redact. `scan_text_1mb` measures free-text throughput.

use criterion::measurement::Measurement;
use criterion::{criterion_group, BenchmarkId, Criterion, SamplingMode, Throughput};
use std::hint::black_box;
use wedsync_redact::{Profile, Redactor};

mod cpu_time;
mod logs;
use cpu_time::ThreadCpuTime;
use logs::log_excerpt;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn sanitize_stripe_4k<M: Measurement>(c: &mut Criterion<M>) {
    let dirty = fixture("stripe_checkout_session_completed.json");
    let clean = fixture("stripe_checkout_session_clean.json");
    let r = Redactor::for_profile(Profile::Stripe);
    let mut g = c.benchmark_group("sanitize_stripe_4k");
    g.throughput(Throughput::Bytes(dirty.len() as u64));
    // Flat sampling with few long samples: the CPU clock ticks in ~1 ms steps.
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(30);
    g.bench_function("serde_roundtrip", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_slice(black_box(&dirty)).expect("json");
            serde_json::to_vec(&v).expect("serialise")
        })
    });
    g.bench_function("wedsync_sanitize", |b| {
        b.iter(|| r.sanitize_json(black_box(&dirty)))
    });
    g.bench_function("wedsync_clean", |b| {
        b.iter(|| r.sanitize_json(black_box(&clean)))
    });
    g.finish();
}

fn scan_text_1mb<M: Measurement>(c: &mut Criterion<M>) {
    let text = log_excerpt(1 << 20);
    let r = Redactor::default();
    let mut g = c.benchmark_group("scan_text_1mb");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(20);
    g.bench_function(BenchmarkId::from_parameter("wedsync_text"), |b| {
        b.iter(|| r.sanitize_text(black_box(&text)))
    });
    g.finish();
}

#[allow(missing_docs)]
mod group {
    use super::*;

    fn cpu() -> Criterion<ThreadCpuTime> {
        Criterion::default().with_measurement(ThreadCpuTime)
    }

    criterion_group!(name = benches; config = cpu(); targets = sanitize_stripe_4k, scan_text_1mb);
    criterion_group!(wall_benches, sanitize_stripe_4k, scan_text_1mb);
}

fn main() {
    if std::env::var("WEDSYNC_BENCH_CLOCK").as_deref() == Ok("wall") {
        group::wall_benches();
    } else {
        group::benches();
    }
    Criterion::default().configure_from_args().final_summary();
}
