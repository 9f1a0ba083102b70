//! Resend probe.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::time::Instant;

use super::shared::*;
use crate::{HealthProbe, ProbeResult, ProbeStatus, Secret};

/// Resend: `GET /domains` with a full-access key; the configured sending domain must be
/// `verified` (`pending`/`not_started`/`partially_verified` are `degraded`, `failed` is
/// `unhealthy`, absent is `auth_failed` — our configuration). Resend's rate limit is shared with
/// production email, so [`HealthProbe::min_interval`] is 60 s and, when the last answer said
/// `ratelimit-remaining: 0`, the next check is skipped (reported `rate_limited`) until
/// `ratelimit-reset` has passed.
#[derive(Debug)]
pub struct ResendProbe {
    service: String,
    base_url: String,
    key: Secret,
    domain: String,
    http: HttpSettings,
    exhausted_until: Mutex<Option<Instant>>,
}

impl ResendProbe {
    /// A probe with `key` checking `domain`.
    pub fn new(key: Secret, domain: impl Into<String>) -> Self {
        ResendProbe {
            service: "resend".into(),
            base_url: "https://api.resend.com".into(),
            key,
            domain: domain.into(),
            http: HttpSettings::default(),
            exhausted_until: Mutex::new(None),
        }
    }
    common_probe_methods!(base_url);
}

#[async_trait]
impl HealthProbe for ResendProbe {
    probe_identity!(min_interval_secs = 60);
    async fn check(&self) -> ProbeResult {
        let now = Instant::now();
        let skip = {
            let g = self
                .exhausted_until
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            g.filter(|until| *until > now)
        };
        if let Some(until) = skip {
            return ProbeResult::new(
                &self.service,
                ProbeStatus::RateLimited,
                "skipped: ratelimit-remaining was 0",
            )
            .with_retry_after(Some(until - now));
        }
        let url = format!("{}/domains", self.base_url);
        let fetched = self.http.get(url, |req| req.bearer_auth(self.key.expose()));
        let f = or_return!(fetch_any(&self.service, fetched, now).await);
        {
            let mut g = self
                .exhausted_until
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let remaining = f
                .header("ratelimit-remaining")
                .and_then(|v| v.trim().parse::<u64>().ok());
            *g = if remaining == Some(0) {
                let reset = f
                    .header("ratelimit-reset")
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s >= 0.0 && *s < 3600.0)
                    .unwrap_or(1.0);
                Some(Instant::now() + Duration::from_secs_f64(reset))
            } else {
                None
            };
        }
        if let Some(r) = classify_common(&self.service, &f) {
            return r;
        }
        let v = or_return!(json_or_unhealthy(
            &self.service,
            &f,
            "unparseable domains answer"
        ));
        let Some(list) = v.get("data").and_then(Value::as_array) else {
            return unhealthy(&self.service, "answer has no domain list", &f);
        };
        let found = list.iter().find(|d| {
            d.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(&self.domain))
        });
        let r = match found.and_then(|d| d.get("status")).and_then(Value::as_str) {
            None => finish(
                &self.service,
                ProbeStatus::AuthFailed,
                format!("sending domain {} not found in the account", self.domain),
                &f,
            ),
            Some("verified") => finish(&self.service, ProbeStatus::Healthy, "domain verified", &f),
            Some("failed") => unhealthy(
                &self.service,
                format!("domain {} verification failed", self.domain),
                &f,
            ),
            Some(s) => finish(
                &self.service,
                ProbeStatus::Degraded,
                format!(
                    "domain {} is {}",
                    self.domain,
                    s.chars().take(30).collect::<String>()
                ),
                &f,
            ),
        };
        slow_check(r, self.http.slow_after)
    }
}
