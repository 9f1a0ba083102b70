//! Run with: `CARGO_TARGET_DIR=/work/targets/redact cargo run --release -p wedsync-redact --example stripe_ratio`
//!
//! The `sanitize_stripe_4k` ratios measured interleaved (serde round trip, full sanitise, clean
//! event; 500 iterations each, 20 rounds) in thread CPU time, so that a busy shared machine
//! shifts all three alike. Criterion runs the three one after another.

/// Thread CPU time in nanoseconds (Linux).
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}
/// Prints the three per-iteration CPU times and the two ratios.
fn main() {
    let dirty = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stripe_checkout_session_completed.json"
    ))
    .unwrap();
    let clean = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stripe_checkout_session_clean.json"
    ))
    .unwrap();
    let r = wedsync_redact::Redactor::for_profile(wedsync_redact::Profile::Stripe);
    let (mut a, mut b, mut c) = (0u64, 0u64, 0u64);
    for _ in 0..20 {
        let t = cpu_ns();
        for _ in 0..500 {
            let v: serde_json::Value = serde_json::from_slice(&dirty).unwrap();
            std::hint::black_box(serde_json::to_vec(&v).unwrap());
        }
        let t2 = cpu_ns();
        a += t2 - t;
        for _ in 0..500 {
            std::hint::black_box(r.sanitize_json(&dirty));
        }
        let t3 = cpu_ns();
        b += t3 - t2;
        for _ in 0..500 {
            std::hint::black_box(r.sanitize_json(&clean));
        }
        c += cpu_ns() - t3;
    }
    println!(
        "serde {} ns, sanitize {} ns ({:.2}x), clean {} ns ({:.2}x)",
        a / 10000,
        b / 10000,
        b as f64 / a as f64,
        c / 10000,
        c as f64 / a as f64
    );
}
