//! Supabase auth and data probes.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::time::Instant;

use super::shared::*;
use crate::{HealthProbe, ProbeResult, ProbeStatus, Secret};

impl HttpSettings {
    /// `GET url` from Supabase with `key`: `Ok` is a 2xx answer; `Err` is the probe's result for
    /// a transport failure (timed from `start`) or an error answer ([`supabase_error`]).
    async fn fetch_supabase(
        &self,
        service: &str,
        url: String,
        key: &Secret,
        start: Instant,
    ) -> Result<Fetched, ProbeResult> {
        let fetched = self.get(url, |req| {
            let req = req.header("apikey", key.expose());
            // legacy JWT keys (anon/service_role) also need the bearer header
            if key.expose().starts_with("eyJ") {
                req.bearer_auth(key.expose())
            } else {
                req
            }
        });
        fetch_classified(service, fetched, start, supabase_error).await
    }

    /// Checks `GET url` from Supabase with `key`: healthy (saying `healthy`) when the 2xx answer
    /// is JSON that `expected` accepts, else unhealthy (saying `unexpected`); slow answers are
    /// degraded.
    async fn check_supabase(
        &self,
        service: &str,
        url: String,
        key: &Secret,
        expected: fn(&Value) -> bool,
        (healthy, unexpected): (&str, &str),
    ) -> ProbeResult {
        let f = or_return!(self.fetch_supabase(service, url, key, Instant::now()).await);
        let r = match f.json() {
            Some(v) if expected(&v) => finish(service, ProbeStatus::Healthy, healthy, &f),
            _ => unhealthy(service, unexpected, &f),
        };
        slow_check(r, self.slow_after)
    }
}

fn supabase_error(service: &str, f: &Fetched) -> Option<ProbeResult> {
    let mut r = classify_common(service, f)?;
    if let Some(code) = f.header("sb-error-code") {
        r.detail = crate::sanitize_detail(&format!("HTTP {} {}", f.status, code));
    }
    if f.status == 503
        && f.json()
            .and_then(|v| v.get("code").and_then(Value::as_str).map(str::to_owned))
            .as_deref()
            == Some("PGRST002")
    {
        r.detail = "HTTP 503 PGRST002: database unreachable (the API gateway is up)".into();
    }
    Some(r)
}

/// Supabase auth: `GET {project}/auth/v1/health` with the `apikey` header; 200 with GoTrue's
/// version answer is healthy.
#[derive(Debug, Clone)]
pub struct SupabaseAuthProbe {
    service: String,
    project_url: String,
    key: Secret,
    http: HttpSettings,
}

impl SupabaseAuthProbe {
    /// A probe of `project_url` (`https://<ref>.supabase.co`) with a publishable or anon key.
    pub fn new(project_url: impl AsRef<str>, key: Secret) -> Self {
        SupabaseAuthProbe {
            service: "supabase_auth".into(),
            project_url: base(project_url.as_ref()),
            key,
            http: HttpSettings::default(),
        }
    }
    common_probe_methods!();
}

#[async_trait]
impl HealthProbe for SupabaseAuthProbe {
    probe_identity!();
    async fn check(&self) -> ProbeResult {
        let url = format!("{}/auth/v1/health", self.project_url);
        let expected = |v: &Value| v.get("version").is_some() || v.get("name").is_some();
        self.http
            .check_supabase(
                &self.service,
                url,
                &self.key,
                expected,
                ("auth healthy", "unexpected auth health answer"),
            )
            .await
    }
}

/// Supabase data: `GET {project}/rest/v1/{table}?select=id&limit=1` with the `apikey` header
/// (and `Authorization: Bearer` for legacy JWT keys); 200 with a JSON array is healthy; 503
/// `PGRST002` means the database path is down while the gateway is up (`unhealthy`).
#[derive(Debug, Clone)]
pub struct SupabaseDataProbe {
    service: String,
    project_url: String,
    key: Secret,
    table: String,
    http: HttpSettings,
}

impl SupabaseDataProbe {
    /// A probe reading one id from `table`.
    pub fn new(project_url: impl AsRef<str>, key: Secret, table: impl Into<String>) -> Self {
        SupabaseDataProbe {
            service: "supabase_db".into(),
            project_url: base(project_url.as_ref()),
            key,
            table: table.into(),
            http: HttpSettings::default(),
        }
    }
    common_probe_methods!();
}

#[async_trait]
impl HealthProbe for SupabaseDataProbe {
    probe_identity!();
    async fn check(&self) -> ProbeResult {
        let url = format!(
            "{}/rest/v1/{}?select=id&limit=1",
            self.project_url, self.table
        );
        self.http
            .check_supabase(
                &self.service,
                url,
                &self.key,
                Value::is_array,
                ("table readable", "unexpected data answer"),
            )
            .await
    }
}
