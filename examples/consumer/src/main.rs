//! A service that embeds only the breaker and the redactor, with default features.
//!
//! Run with: `cargo run --manifest-path examples/consumer/Cargo.toml`
//! (`scripts/check-consumer.sh` also proves from `cargo tree` that this pulls in no async
//! runtime, no HTTP client and no database driver.)

use wedsync_breaker::{BreakerConfig, CircuitBreaker};

fn main() {
    let breaker = CircuitBreaker::new("stripe", BreakerConfig::default());
    let answer: Result<u32, _> = breaker.call(|| Ok::<u32, std::io::Error>(42));
    assert_eq!(answer.ok(), Some(42));
    println!("breaker state after one success: {:?}", breaker.state());

    let key = concat!("sk_", "live_", "51Hxxxxxxxxxxxxxxxxxxxxxxxx");
    let line = format!("charge failed for guest@example.com with key {key}");
    let clean = wedsync_redact::text(&line);
    assert!(!clean.contains("guest@example.com") && !clean.contains(key));
    println!("{clean}");
}
