//! A service that embeds only the breaker and the redactor.
//!
//! Run with: `cargo run --manifest-path examples/consumer/Cargo.toml`

fn main() {
    println!("{}", wedsync_breaker::CRATE_NAME);
    println!("{}", wedsync_redact::CRATE_NAME);
}
