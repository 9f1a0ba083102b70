//! The [`HealthProbe`] trait.

use std::time::Duration;

use async_trait::async_trait;

use crate::ProbeResult;

/// One cheap health check of one service.
///
/// Object safe (`Arc<dyn HealthProbe>`), `Send + Sync`. Implementations classify what they saw
/// into a [`ProbeResult`]; they never return an error — a failure *is* a result. They must respect
/// [`HealthProbe::timeout`] themselves (the monitor also wraps every call in it, as a backstop).
#[async_trait]
pub trait HealthProbe: Send + Sync {
    /// The service this probe checks (e.g. `"stripe"`); used as the key everywhere.
    fn service(&self) -> &str;

    /// The longest one check may take before it counts as `unhealthy` (timeout).
    fn timeout(&self) -> Duration {
        Duration::from_secs(10)
    }

    /// The shortest interval this probe should run at (e.g. Resend shares its 2–5 req/s limit with
    /// production email, so at least 60 s). The monitor never schedules it faster.
    fn min_interval(&self) -> Duration {
        Duration::ZERO
    }

    /// Runs the check once.
    async fn check(&self) -> ProbeResult;
}

/// A probe built from an async closure; handy in tests and for custom checks.
pub struct FnProbe<F> {
    service: String,
    timeout: Duration,
    f: F,
}

impl<F> FnProbe<F> {
    /// A probe for `service` that calls `f` on every check.
    pub fn new(service: impl Into<String>, timeout: Duration, f: F) -> Self {
        FnProbe {
            service: service.into(),
            timeout,
            f,
        }
    }
}

#[async_trait]
impl<F, Fut> HealthProbe for FnProbe<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: std::future::Future<Output = ProbeResult> + Send,
{
    fn service(&self) -> &str {
        &self.service
    }
    fn timeout(&self) -> Duration {
        self.timeout
    }
    async fn check(&self) -> ProbeResult {
        (self.f)().await
    }
}
