//! Stripe probe.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::time::Instant;

use super::shared::*;
use crate::{HealthProbe, ProbeResult, ProbeStatus, Secret};

/// Stripe: `GET /v1/balance` with a bearer key; `livemode` must equal the configured mode.
///
/// A `livemode` mismatch (a test key in production) is `auth_failed`: our configuration is wrong,
/// ops must know, and it is not a Stripe outage. With [`StripeProbe::check_account`],
/// `GET /v1/account` reporting `charges_enabled: false` makes the result `degraded`.
#[derive(Debug, Clone)]
pub struct StripeProbe {
    service: String,
    base_url: String,
    key: Secret,
    livemode: bool,
    check_account: bool,
    http: HttpSettings,
}

impl StripeProbe {
    /// A probe against `https://api.stripe.com` with `key` (`sk_…` or a restricted `rk_…`), expecting
    /// `livemode == live`.
    pub fn new(key: Secret, live: bool) -> Self {
        StripeProbe {
            service: "stripe".into(),
            base_url: "https://api.stripe.com".into(),
            key,
            livemode: live,
            check_account: false,
            http: HttpSettings::default(),
        }
    }
    /// Also checks `GET /v1/account` for `charges_enabled`.
    pub fn check_account(mut self, on: bool) -> Self {
        self.check_account = on;
        self
    }
    common_probe_methods!(base_url);

    async fn get(&self, path: &str) -> Result<Fetched, String> {
        let url = format!("{}{}", self.base_url, path);
        self.http
            .get(url, |req| req.bearer_auth(self.key.expose()))
            .await
    }
}

#[async_trait]
impl HealthProbe for StripeProbe {
    probe_identity!();
    async fn check(&self) -> ProbeResult {
        let start = Instant::now();
        let f = or_return!(fetch_2xx(&self.service, self.get("/v1/balance"), start).await);
        let v = or_return!(json_or_unhealthy(
            &self.service,
            &f,
            "unparseable balance answer"
        ));
        if v.get("object").and_then(Value::as_str) != Some("balance") {
            return unhealthy(&self.service, "answer is not a balance object", &f);
        }
        let live = v.get("livemode").and_then(Value::as_bool);
        if live != Some(self.livemode) {
            let want = if self.livemode { "live" } else { "test" };
            let got = match live {
                Some(true) => "live",
                Some(false) => "test",
                None => "unknown",
            };
            return finish(
                &self.service,
                ProbeStatus::AuthFailed,
                format!("livemode mismatch: expected {want} mode, key is {got} mode"),
                &f,
            );
        }
        let mut r = finish(&self.service, ProbeStatus::Healthy, "balance readable", &f);
        if self.check_account {
            match self.get("/v1/account").await {
                Ok(a) if a.status == 200 => {
                    if a.json()
                        .and_then(|v| v.get("charges_enabled").and_then(Value::as_bool))
                        == Some(false)
                    {
                        r.status = ProbeStatus::Degraded;
                        r.detail = "account has charges_enabled: false".into();
                    }
                }
                Ok(a) => {
                    if let Some(x) = classify_common(&self.service, &a) {
                        return x;
                    }
                }
                Err(d) => return transport_failure(&self.service, d, start.elapsed()),
            }
            r.latency = start.elapsed();
        }
        slow_check(r, self.http.slow_after)
    }
}
