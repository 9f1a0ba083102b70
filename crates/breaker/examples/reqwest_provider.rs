//! Run with: `cargo run -p wedsync-breaker --example reqwest_provider --features reqwest,tokio`
//!
//! Wraps reqwest calls to a (local, fake) provider in a breaker: 5xx, 429, timeouts and connect
//! errors count as failures, a 429 `Retry-After` opens the breaker for that long, and an open
//! breaker answers at once instead of piling requests on a provider that is down.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wedsync_breaker::reqwest::ReqwestClassifier;
use wedsync_breaker::{BreakerConfig, CallError, Registry, SlidingWindow, State};

/// A tiny fake "email provider" on 127.0.0.1: healthy for 5 requests, then 503 for 10, then one
/// 429 with `Retry-After: 1`, then healthy again.
async fn fake_provider() -> std::io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let hits = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let n = hits.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = sock.read(&mut buf).await;
                let (status, extra) = match n {
                    0..=4 => ("200 OK", ""),
                    5..=14 => ("503 Service Unavailable", ""),
                    15 => ("429 Too Many Requests", "Retry-After: 1\r\n"),
                    _ => ("200 OK", ""),
                };
                let body = r#"{"id":"msg_123"}"#;
                let resp = format!(
                    "HTTP/1.1 {status}\r\n{extra}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    Ok(addr)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = fake_provider().await?;
    let registry = Registry::builder()
        .config(
            "resend",
            BreakerConfig::builder()
                .sliding_window(SlidingWindow::Count(10))
                .minimum_calls(5)
                .failure_rate_threshold(50.0)
                .wait_duration_in_open(Duration::from_millis(300))
                .permitted_calls_in_half_open(2)
                .build()?,
        )
        .build();
    let resend = registry.get("resend");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_millis(500))
        .build()?;
    let url = format!("http://{addr}/emails");
    let classifier = ReqwestClassifier::default();

    for i in 0..30 {
        let result = resend
            .call_async_with(&classifier, || client.post(&url).body("{}").send())
            .await;
        let what = match &result {
            Ok(resp) => format!("HTTP {}", resp.status().as_u16()),
            Err(CallError::Rejected(r)) => format!("rejected: {r}"),
            Err(CallError::Inner(e)) => format!("transport error: {e}"),
            Err(e) => format!("{e}"),
        };
        println!("{i:>2} {:<12} {what}", resend.state().as_str());
        if resend.state() == State::Open {
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
    let m = resend.metrics();
    println!(
        "final: {} failure_rate={:?} not_permitted={}",
        m.state, m.failure_rate, m.not_permitted_calls
    );
    Ok(())
}
