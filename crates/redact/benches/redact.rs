//! Criterion benchmarks for `wedsync-redact`.
//!
//! Run with: `CARGO_TARGET_DIR=/work/targets/redact cargo bench -p wedsync-redact --bench redact -- --warm-up-time 1 --measurement-time 3`
//!
//! `sanitize_stripe_4k` compares, in one run, a serde_json parse + serialise of the 4.8 KB
//! checkout event with the full sanitise (customer details, embedded JSON metadata) and with the
//! same-size event that has nothing to redact. `scan_text_1mb` measures free-text throughput.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use wedsync_redact::{Profile, Redactor};

mod logs;
use logs::log_excerpt;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn sanitize_stripe_4k(c: &mut Criterion) {
    let dirty = fixture("stripe_checkout_session_completed.json");
    let clean = fixture("stripe_checkout_session_clean.json");
    let r = Redactor::for_profile(Profile::Stripe);
    let mut g = c.benchmark_group("sanitize_stripe_4k");
    g.throughput(Throughput::Bytes(dirty.len() as u64));
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

fn scan_text_1mb(c: &mut Criterion) {
    let text = log_excerpt(1 << 20);
    let r = Redactor::default();
    let mut g = c.benchmark_group("scan_text_1mb");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(20);
    g.bench_function(BenchmarkId::from_parameter("wedsync_text"), |b| {
        b.iter(|| r.sanitize_text(black_box(&text)))
    });
    g.finish();
}

#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, sanitize_stripe_4k, scan_text_1mb);
}
criterion_main!(group::benches);
