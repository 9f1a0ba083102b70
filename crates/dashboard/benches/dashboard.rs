//! Criterion benchmarks for `wedsync-dashboard`.
//!
//! Run with: `cargo bench -p wedsync-dashboard --bench dashboard -- --warm-up-time 1 --measurement-time 3`
//!
//! `render/500_services`: the whole page for 500 services, each with 24 hourly and 90 daily
//! buckets and 24 + 168 latency points, 20 incidents and 50 attention items (goal ≤ 200 ms).
//! `render/sse_update_500_services`: the SSE `update` message for the same view (every fragment,
//! JSON-encoded).

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use wedsync_dashboard::model;

#[path = "../src/fixture.rs"]
mod fixture;

fn render(c: &mut Criterion) {
    let v = fixture::view(500, 20, 50);
    let page = wedsync_dashboard::render_page(&v);
    let sse = wedsync_dashboard::sse_update(&v);
    eprintln!(
        "500 services: page {:.1} MB, sse update {:.1} MB",
        page.len() as f64 / 1e6,
        sse.len() as f64 / 1e6
    );

    let mut g = c.benchmark_group("render");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(20);
    g.throughput(Throughput::Bytes(page.len() as u64));
    g.bench_function("500_services", |b| {
        b.iter(|| wedsync_dashboard::render_page(black_box(&v)))
    });
    g.throughput(Throughput::Bytes(sse.len() as u64));
    g.bench_function("sse_update_500_services", |b| {
        b.iter(|| wedsync_dashboard::sse_update(black_box(&v)))
    });
    g.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
