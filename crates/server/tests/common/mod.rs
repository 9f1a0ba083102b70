//! Shared harness: the real server in-process on 127.0.0.1:0, spoken to over HTTP with reqwest.
#![allow(dead_code)]

use std::sync::Arc;

use wedsync_monitor::admin::{AdminStore, Scope};
use wedsync_monitor::config::Config;
use wedsync_monitor::{start, start_with, Components, RunningServer};

pub struct TestServer {
    pub server: std::sync::Mutex<Option<RunningServer>>,
    pub base: String,
    pub http: reqwest::Client,
}

impl TestServer {
    pub async fn start(cfg: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = start(cfg, Some(listener)).await.expect("server starts");
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

    pub async fn start_with(cfg: Config, components: Components) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = start_with(cfg, Some(listener), components)
            .await
            .expect("server starts");
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

    pub fn admin(&self) -> Arc<dyn AdminStore> {
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
        (k.key, k.record.id)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET path` with `Authorization: Bearer key`, the body parsed as JSON.
    pub async fn get_json(&self, path: &str, key: &str) -> serde_json::Value {
        self.http
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
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
        wedsync_monitor::config::Secret::new(concat!("sk_", "test_", "planted0123456789abcdef")),
    );
    cfg
}

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
