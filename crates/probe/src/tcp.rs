//! [`TcpProbe`]: is a TCP port accepting connections?

use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::{HealthProbe, PhaseTimings, ProbeResult, ProbeStatus};

/// Connects to `host:port`: `healthy` when the connection is accepted within the timeout,
/// `degraded` when slower than the configured maximum latency, `unhealthy` on refusal, DNS error
/// or timeout. Also a good self-connectivity check (point it at a reliable host).
#[derive(Debug, Clone)]
pub struct TcpProbe {
    service: String,
    addr: String,
    timeout: Duration,
    max_latency: Option<Duration>,
}

impl TcpProbe {
    /// A probe of `addr` (`"host:port"`) for `service`, with a 5 s timeout.
    pub fn new(service: impl Into<String>, addr: impl Into<String>) -> Self {
        TcpProbe {
            service: service.into(),
            addr: addr.into(),
            timeout: Duration::from_secs(5),
            max_latency: None,
        }
    }

    /// Sets the timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Connections slower than this are `degraded`.
    pub fn max_latency(mut self, d: Duration) -> Self {
        self.max_latency = Some(d);
        self
    }
}

#[async_trait]
impl HealthProbe for TcpProbe {
    fn service(&self) -> &str {
        &self.service
    }
    fn timeout(&self) -> Duration {
        self.timeout
    }
    async fn check(&self) -> ProbeResult {
        let start = Instant::now();
        let res =
            tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect(&self.addr)).await;
        let elapsed = start.elapsed();
        let (status, detail) = match res {
            Ok(Ok(_stream)) => match self.max_latency {
                Some(max) if elapsed > max => (
                    ProbeStatus::Degraded,
                    format!(
                        "connected in {} ms (slower than {} ms)",
                        elapsed.as_millis(),
                        max.as_millis()
                    ),
                ),
                _ => (
                    ProbeStatus::Healthy,
                    format!("connected in {} ms", elapsed.as_millis()),
                ),
            },
            Ok(Err(e)) => (
                ProbeStatus::Unhealthy,
                format!("connect failed: {}", e.kind()),
            ),
            Err(_) => (
                ProbeStatus::Unhealthy,
                format!("connect timed out after {} ms", self.timeout.as_millis()),
            ),
        };
        let mut r = ProbeResult::new(self.service.clone(), status, detail).with_latency(elapsed);
        r.timings = PhaseTimings {
            connect: Some(elapsed),
            ..PhaseTimings::default()
        };
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn open_and_closed_ports() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let r = TcpProbe::new("db", &addr).check().await;
        assert_eq!(r.status, ProbeStatus::Healthy, "{}", r.detail);
        assert!(r.timings.connect.is_some());
        let r = TcpProbe::new("db", &addr)
            .max_latency(Duration::ZERO)
            .check()
            .await;
        assert_eq!(r.status, ProbeStatus::Degraded);
        drop(l);
        let r = TcpProbe::new("db", &addr).check().await;
        assert_eq!(r.status, ProbeStatus::Unhealthy);
        assert!(r.detail.contains("connect failed"), "{}", r.detail);
    }
}
