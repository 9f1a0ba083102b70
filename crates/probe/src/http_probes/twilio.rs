//! Twilio probe.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::time::Instant;

use super::shared::*;
use crate::{HealthProbe, ProbeResult, ProbeStatus, Secret};

/// Twilio: `GET /2010-04-01/Accounts/{sid}.json` with HTTP Basic; `status` must be `active`
/// (`suspended`/`closed` are `unhealthy`). With a balance floor, `Balance.json` below it is
/// `degraded`. The account body (which holds the auth token) is parsed and dropped, never kept.
#[derive(Debug, Clone)]
pub struct TwilioProbe {
    service: String,
    base_url: String,
    account_sid: String,
    username: String,
    secret: Secret,
    balance_floor: Option<f64>,
    http: HttpSettings,
}

impl TwilioProbe {
    /// A probe of `account_sid` authenticating as `username` (the account SID, or an API key
    /// `SK…`) with `secret` (auth token or API key secret).
    pub fn new(
        account_sid: impl Into<String>,
        username: impl Into<String>,
        secret: Secret,
    ) -> Self {
        TwilioProbe {
            service: "twilio".into(),
            base_url: "https://api.twilio.com".into(),
            account_sid: account_sid.into(),
            username: username.into(),
            secret,
            balance_floor: None,
            http: HttpSettings::default(),
        }
    }
    /// A balance below `floor` (account currency) is `degraded`.
    pub fn balance_floor(mut self, floor: f64) -> Self {
        self.balance_floor = Some(floor);
        self
    }
    common_probe_methods!(base_url);

    async fn get(&self, path: &str) -> Result<Fetched, String> {
        let url = format!("{}{}", self.base_url, path);
        self.http
            .get(url, |req| {
                req.basic_auth(&self.username, Some(self.secret.expose()))
            })
            .await
    }
}

#[async_trait]
impl HealthProbe for TwilioProbe {
    probe_identity!();
    async fn check(&self) -> ProbeResult {
        let start = Instant::now();
        let path = format!("/2010-04-01/Accounts/{}.json", self.account_sid);
        let f = or_return!(fetch_2xx(&self.service, self.get(&path), start).await);
        let status = f
            .json()
            .and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_owned));
        let mut r = match status.as_deref() {
            Some("active") => finish(&self.service, ProbeStatus::Healthy, "account active", &f),
            Some(s @ ("suspended" | "closed")) => {
                return unhealthy(&self.service, format!("account {s}"), &f)
            }
            Some(other) => finish(
                &self.service,
                ProbeStatus::Degraded,
                format!(
                    "account status {:?}",
                    other.chars().take(20).collect::<String>()
                ),
                &f,
            ),
            None => return unhealthy(&self.service, "unparseable account answer", &f),
        };
        if let Some(floor) = self.balance_floor {
            let path = format!("/2010-04-01/Accounts/{}/Balance.json", self.account_sid);
            match self.get(&path).await {
                Ok(b) => {
                    if let Some(x) = classify_common(&self.service, &b) {
                        return x;
                    }
                    let bal = b.json().and_then(|v| match v.get("balance") {
                        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
                        Some(Value::Number(n)) => n.as_f64(),
                        _ => None,
                    });
                    match bal {
                        Some(x) if x < floor => {
                            r.status = ProbeStatus::Degraded;
                            r.detail = format!("balance {x:.2} below floor {floor:.2}");
                        }
                        Some(_) => {}
                        None => {
                            r.status = ProbeStatus::Degraded;
                            r.detail = "balance unreadable".into();
                        }
                    }
                }
                Err(d) => return transport_failure(&self.service, d, start.elapsed()),
            }
            r.latency = start.elapsed();
        }
        slow_check(r, self.http.slow_after)
    }
}
