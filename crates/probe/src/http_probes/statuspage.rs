//! Statuspage (Atlassian, and Stripe's `/current`) probe.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::time::Instant;

use super::shared::*;
use crate::{HealthProbe, ProbeResult, ProbeStatus};

/// Which status-page dialect a [`StatuspageProbe`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPageKind {
    /// Atlassian Statuspage (`/api/v2/status.json`, `/api/v2/summary.json`).
    Atlassian,
    /// Stripe's `/current` (`UptimeStatus: up|degraded|down`).
    StripeCurrent,
}

/// A provider status page, as a second opinion. Atlassian: without a component filter the page
/// indicator decides (`none` healthy, `minor`/`maintenance` degraded, `major`/`critical`
/// unhealthy); with one, the worst matching component (`operational` healthy,
/// `degraded_performance`/`partial_outage`/`under_maintenance`/unknown degraded, `major_outage`
/// unhealthy). Stripe: `up`/`degraded`/`down`.
#[derive(Debug, Clone)]
pub struct StatuspageProbe {
    service: String,
    base_url: String,
    kind: StatusPageKind,
    components: Vec<String>,
    http: HttpSettings,
}

impl StatuspageProbe {
    /// An Atlassian Statuspage probe of `base_url` (e.g. `https://status.twilio.com`).
    pub fn atlassian(service: impl Into<String>, base_url: impl AsRef<str>) -> Self {
        StatuspageProbe {
            service: service.into(),
            base_url: base(base_url.as_ref()),
            kind: StatusPageKind::Atlassian,
            components: Vec::new(),
            http: HttpSettings::default(),
        }
    }
    /// Stripe's status page (`{base_url}/current`).
    pub fn stripe(service: impl Into<String>, base_url: impl AsRef<str>) -> Self {
        StatuspageProbe {
            kind: StatusPageKind::StripeCurrent,
            ..Self::atlassian(service, base_url)
        }
    }
    /// Only these components (names, case-insensitive) count.
    pub fn components<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.components = names.into_iter().map(Into::into).collect();
        self
    }
    common_probe_methods!();
}

#[async_trait]
impl HealthProbe for StatuspageProbe {
    probe_identity!(min_interval_secs = 60);
    async fn check(&self) -> ProbeResult {
        let start = Instant::now();
        let path = match (self.kind, self.components.is_empty()) {
            (StatusPageKind::StripeCurrent, _) => "/current",
            (StatusPageKind::Atlassian, true) => "/api/v2/status.json",
            (StatusPageKind::Atlassian, false) => "/api/v2/summary.json",
        };
        let fetched = self
            .http
            .get(format!("{}{}", self.base_url, path), |req| req);
        let f = or_return!(fetch_2xx(&self.service, fetched, start).await);
        let v = or_return!(json_or_unhealthy(
            &self.service,
            &f,
            "unparseable status page"
        ));
        let (status, detail) = match self.kind {
            StatusPageKind::StripeCurrent => {
                let s = v.get("UptimeStatus").and_then(Value::as_str).unwrap_or("");
                let st = match s {
                    "up" => ProbeStatus::Healthy,
                    "down" => ProbeStatus::Unhealthy,
                    _ => ProbeStatus::Degraded,
                };
                let msg = v.get("message").and_then(Value::as_str).unwrap_or(s);
                (st, msg.chars().take(120).collect::<String>())
            }
            StatusPageKind::Atlassian if self.components.is_empty() => {
                let ind = v
                    .pointer("/status/indicator")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let st = match ind {
                    "none" => ProbeStatus::Healthy,
                    "major" | "critical" => ProbeStatus::Unhealthy,
                    _ => ProbeStatus::Degraded,
                };
                let desc = v
                    .pointer("/status/description")
                    .and_then(Value::as_str)
                    .unwrap_or(ind);
                (st, desc.chars().take(120).collect())
            }
            StatusPageKind::Atlassian => {
                let comps = v
                    .get("components")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let mut worst = ProbeStatus::Healthy;
                let mut notes = Vec::new();
                let mut matched = 0;
                for c in &comps {
                    let name = c.get("name").and_then(Value::as_str).unwrap_or("");
                    if !self.components.iter().any(|w| w.eq_ignore_ascii_case(name)) {
                        continue;
                    }
                    matched += 1;
                    let cs = c.get("status").and_then(Value::as_str).unwrap_or("");
                    let st = match cs {
                        "operational" => ProbeStatus::Healthy,
                        "major_outage" => ProbeStatus::Unhealthy,
                        _ => ProbeStatus::Degraded,
                    };
                    if st != ProbeStatus::Healthy {
                        notes.push(format!("{name}: {cs}"));
                    }
                    worst = crate::aggregate([worst, st]);
                }
                if matched == 0 {
                    (
                        ProbeStatus::Degraded,
                        "no configured component on the page".to_owned(),
                    )
                } else if notes.is_empty() {
                    (
                        ProbeStatus::Healthy,
                        format!("{matched} components operational"),
                    )
                } else {
                    (worst, notes.join("; "))
                }
            }
        };
        finish(&self.service, status, detail, &f)
    }
}
