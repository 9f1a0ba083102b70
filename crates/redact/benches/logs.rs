//! The generated log excerpt used by `scan_text_1mb` (shared with the throughput example).

/// A deterministic ~1 MB log excerpt: mostly ordinary lines (timestamps, ids, durations, URLs),
/// one line in 40 carrying an email, a phone number, a card or a credential.
pub fn log_excerpt(size: usize) -> String {
    let key = concat!("sk_", "live_", "4eC39HqLyjWDarjtT1zdp7dc");
    let mut s = String::with_capacity(size + 256);
    let mut i: u64 = 0;
    while s.len() < size {
        i += 1;
        let ms = 1_717_171_717_000 + i * 37;
        let line = match i % 40 {
            7 => format!("2026-11-28T18:{:02}:{:02}.{:03}Z WARN  webhook delivery failed for guest emma.wilson{i}@example.com req_id=req_{i:08x}\n", i % 60, (i / 60) % 60, i % 1000),
            17 => format!("2026-11-28T18:{:02}:{:02}.{:03}Z ERROR twilio send to +44 7700 900{:03} failed status=undelivered code=30003\n", i % 60, (i / 60) % 60, i % 1000, i % 1000),
            27 => format!("2026-11-28T18:{:02}:{:02}.{:03}Z ERROR stripe call failed: Authorization: Bearer {key} url=https://api.stripe.com/v1/charges\n", i % 60, (i / 60) % 60, i % 1000),
            37 => format!("2026-11-28T18:{:02}:{:02}.{:03}Z ERROR db connect postgres://monitor:s3cr3t-{i}@10.0.3.17:5432/wedsync refused\n", i % 60, (i / 60) % 60, i % 1000),
            _ => format!("2026-11-28T18:{:02}:{:02}.{:03}Z INFO  probe=stripe status=200 latency_ms={} ts={ms} wedding_id=wed_{} request_id=8f14e45f-ceea-467f-a0a5-{:012x} path=/v1/balance\n", i % 60, (i / 60) % 60, i % 1000, i % 250, i % 9000, i),
        };
        s.push_str(&line);
    }
    s
}
