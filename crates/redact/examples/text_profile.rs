//! Run with: `CARGO_TARGET_DIR=/work/targets/redact cargo run --release -p wedsync-redact --example text_profile`
//!
//! Sanitises the `scan_text_1mb` log excerpt in a loop (for `perf record`) and prints the thread
//! CPU time per megabyte.

#[path = "../benches/logs.rs"]
mod logs;

/// Thread CPU time in nanoseconds (Linux).
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Runs the loop.
fn main() {
    let text = logs::log_excerpt(1 << 20);
    let r = wedsync_redact::Redactor::default();
    let t = cpu_ns();
    for _ in 0..40 {
        std::hint::black_box(r.sanitize_text(&text));
    }
    let per = (cpu_ns() - t) / 40;
    println!(
        "{per} ns CPU per iteration, {:.0} MB/s",
        text.len() as f64 / per as f64 * 1000.0
    );
}
