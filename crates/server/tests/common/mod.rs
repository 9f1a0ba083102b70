//! Shared harness: the real server in-process on 127.0.0.1:0, spoken to over HTTP with reqwest.
#![allow(dead_code)]

use std::sync::Arc;

use wedsync_monitor::admin::{AdminStore, Scope};
use wedsync_monitor::config::{Config, Secret};
use wedsync_monitor::{start, start_with, Components, RunningServer};

pub struct TestServer {
    pub server: std::sync::Mutex<Option<RunningServer>>,
    pub base: String,
    pub http: reqwest::Client,
}

impl TestServer {
    pub async fn start(cfg: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serving(start(cfg, Some(listener)).await.expect("server starts"))
    }

    pub async fn start_with(cfg: Config, components: Components) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serving(
            start_with(cfg, Some(listener), components)
                .await
                .expect("server starts"),
        )
    }

    /// The harness around a started server, with a client that gives up after 20 s.
    fn serving(server: RunningServer) -> Self {
        let base = format!("http://{}", server.local_addr());
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .unwrap();
        Self {
            server: std::sync::Mutex::new(Some(server)),
            base,
            http,
        }
    }

    pub fn admin(&self) -> Arc<AdminStore> {
        self.server
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .app()
            .admin()
            .clone()
    }

    /// The server's breaker registry.
    pub fn breakers(&self) -> Arc<wedsync_breaker::Registry> {
        self.server
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .breakers()
            .clone()
    }

    /// Creates a key with `scopes`; returns (key, id).
    pub async fn key(&self, scopes: &[Scope]) -> (String, String) {
        let k = self.admin().create_key("test", scopes).await.unwrap();
        (k.secret.expose().to_string(), k.info.id)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET path` with `Authorization: Bearer key`, the body parsed as JSON.
    pub async fn get_json(&self, path: &str, key: &str) -> serde_json::Value {
        self.get_as(path, key).await.json().await.unwrap()
    }

    /// `GET path` with `Authorization: Bearer key`.
    pub async fn get_as(&self, path: &str, key: &str) -> reqwest::Response {
        self.send(self.http.get(self.url(path)).bearer_auth(key))
            .await
    }

    /// `DELETE path` with `Authorization: Bearer key`.
    pub async fn delete_as(&self, path: &str, key: &str) -> reqwest::Response {
        self.send(self.http.delete(self.url(path)).bearer_auth(key))
            .await
    }

    /// `POST path` with `Authorization: Bearer key` and `body` as JSON.
    pub async fn post_json_as(
        &self,
        path: &str,
        key: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.send(self.http.post(self.url(path)).bearer_auth(key).json(body))
            .await
    }

    /// A manual probe run of `service` (`POST /api/admin/integrations/health`) as `key`.
    pub async fn run_now(&self, key: &str, service: &str) -> reqwest::Response {
        let body = serde_json::json!({ "service": service });
        self.post_json_as("/api/admin/integrations/health", key, &body)
            .await
    }

    /// `POST path` with `body` and no credentials or content type.
    pub async fn post_body(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.send(self.http.post(self.url(path)).body(body)).await
    }

    /// The text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        self.send(self.http.get(self.url("/metrics")))
            .await
            .text()
            .await
            .unwrap()
    }

    /// `GET path` with no credentials.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.send(self.http.get(self.url(path))).await
    }

    /// `method path` with `Authorization: Bearer key` when there is a key, `headers` and `body`.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .request(method.parse().unwrap(), self.url(path))
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    /// Sends `request`; the response, whatever its status.
    async fn send(&self, request: reqwest::RequestBuilder) -> reqwest::Response {
        request.send().await.unwrap()
    }

    /// Takes the running server out (to shut it down from another task).
    pub fn shutdown_handle(&self) -> Option<RunningServer> {
        self.server.lock().unwrap().take()
    }

    pub async fn stop(self) {
        let s = self.shutdown_handle();
        if let Some(s) = s {
            s.shutdown().await;
        }
    }
}

pub fn memory_config() -> Config {
    let mut cfg = Config::from_toml(
        r#"
[store]
url = "sqlite::memory:"

[[services]]
name = "stripe"
kind = "stripe"
base_url = "http://127.0.0.1:9"
credential_env = "WEDSYNC_TEST_STRIPE_KEY"
interval = "30s"
timeout = "5s"
"#,
    )
    .unwrap();
    cfg.secret_overrides.insert(
        "WEDSYNC_TEST_STRIPE_KEY".into(),
        Secret::new(concat!("sk_", "test_", "planted0123456789abcdef")),
    );
    cfg
}

/// The start of a webhook test's configuration (TOML): a store in memory, a worker polling every
/// 100 ms, and Stripe webhooks verified with the secret `T_STRIPE_WHSEC` (see [`stripe_secret`]);
/// the `[webhooks.stripe]` table is left open for more keys.
pub const STRIPE_WEBHOOKS_IN_MEMORY: &str = r#"
[store]
url = "sqlite::memory:"

[worker]
poll_interval = "100ms"

[webhooks.stripe]
secret_env = "T_STRIPE_WHSEC"
"#;

/// The Stripe webhook signing secret the tests configure (assembled at run time).
pub fn stripe_secret() -> String {
    concat!("whsec_", "c3RyaXBlLXRlc3Qtc2VjcmV0LXBsYW50ZWQ").to_string()
}

/// A Stripe `payment_intent.payment_failed` event with id `id`.
pub fn stripe_event(id: &str) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(wedsync_testkit::fixtures::STRIPE_PAYMENT_INTENT_PAYMENT_FAILED)
            .unwrap();
    v["id"] = serde_json::Value::String(id.to_string());
    v.to_string()
}

/// The id of the delivery the ingress recorded, from its answer `r`.
pub async fn delivery_id(r: reqwest::Response) -> String {
    r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// POSTs `body` to `/webhooks/stripe`, signed now with `secret`.
pub async fn post_stripe(t: &TestServer, body: &str, secret: &str) -> reqwest::Response {
    try_post_stripe(t, body, secret).await.unwrap()
}

/// [`post_stripe`] that returns the client's error (a stopping server refuses connections).
pub async fn try_post_stripe(
    t: &TestServer,
    body: &str,
    secret: &str,
) -> reqwest::Result<reqwest::Response> {
    let ts = time::OffsetDateTime::now_utc().unix_timestamp();
    let sig = wedsync_webhooks::verify::stripe::sign(secret, ts, body.as_bytes());
    t.http
        .post(t.url("/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("stripe-signature", format!("t={ts},v1={sig}"))
        .body(body.to_string())
        .send()
        .await
}

/// The configuration `sections` (TOML) plus one Stripe service probing `stripe` every second
/// (timeout 300 ms) with the fake's secret key, supplied as the secret `key_env`.
pub fn stripe_service_config(
    sections: &str,
    stripe: &wedsync_testkit::FakeStripe,
    key_env: &str,
) -> Config {
    let text = format!(
        r#"{sections}
[[services]]
name = "stripe"
kind = "stripe"
base_url = "{}"
credential_env = "{key_env}"
interval = "1s"
timeout = "300ms"
"#,
        stripe.base_url()
    );
    let mut cfg = Config::from_toml(&text).unwrap();
    cfg.secret_overrides
        .insert(key_env.into(), Secret::new(stripe.secret_key()));
    cfg
}

/// Posts 40 Stripe events (`evt_shutdown_{i}`, signed with [`stripe_secret`]) concurrently and
/// shuts the server down while they are in flight (after the 21st is sent); the ids of those
/// the server acknowledged (200).
pub async fn post_while_shutting_down(t: &Arc<TestServer>) -> Vec<String> {
    let mut tasks = Vec::new();
    for i in 0..40 {
        let server = Arc::clone(t);
        tasks.push(tokio::spawn(async move {
            let t = server;
            let body = stripe_event(&format!("evt_shutdown_{i}"));
            let r = try_post_stripe(&t, &body, &stripe_secret()).await.ok()?;
            if r.status() != 200 {
                return None;
            }
            let v: serde_json::Value = r.json().await.ok()?;
            Some(v["id"].as_str()?.to_string())
        }));
        if i == 20 {
            // shut down while requests are in flight
            let t = Arc::clone(t);
            tokio::spawn(async move {
                if let Some(s) = t.shutdown_handle() {
                    s.shutdown().await;
                }
            });
        }
    }
    let mut acked = Vec::new();
    for task in tasks {
        // `None`: refused by the stopping server, so not acknowledged
        if let Some(id) = task.await.unwrap() {
            acked.push(id);
        }
    }
    acked
}
