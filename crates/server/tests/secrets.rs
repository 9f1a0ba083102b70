//! Secrets planted in the configuration, in payloads and in provider errors never appear in the
//! logs, the API responses or the metrics.

mod common;

use std::time::Duration;

use common::{stripe_service_config, TestServer};
use time::OffsetDateTime;
use wedsync_monitor::admin::Scope;
use wedsync_monitor::config::Secret;
use wedsync_monitor::logging::{init_with_writer, CaptureWriter, LogFormat, Scrubber};
use wedsync_testkit::{FakeStripe, Scenario};
use wedsync_webhooks::verify::stripe;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_secrets_never_leak() {
    let stripe_fake = FakeStripe::start().await;
    let whsec = concat!("whsec_", "plantedWebhookSecret0123456789").to_string();
    let api_key = stripe_fake.secret_key().to_string();
    let sections = r#"
[store]
url = "sqlite::memory:"

[webhooks.stripe]
secret_env = "S_STRIPE_WHSEC"
"#;
    let mut cfg = stripe_service_config(sections, &stripe_fake, "S_STRIPE_KEY");
    cfg.secret_overrides
        .insert("S_STRIPE_WHSEC".into(), Secret::new(whsec.clone()));
    let logs = CaptureWriter::default();
    std::env::set_var("RUST_LOG", "debug");
    assert!(init_with_writer(
        LogFormat::Json,
        Scrubber::new(cfg.known_secrets().iter().map(|s| s.expose())),
        logs.clone()
    ));

    let t = TestServer::start(cfg).await;
    let (admin, _) = t.key(&[Scope::Admin]).await;
    // a provider error (401 from a "bad" key) and an outage
    stripe_fake.set_scenario(Scenario::Unauthorized);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stripe_fake.set_scenario(Scenario::ServerError);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // a payload carrying a card-holder secret, and a forged signature
    let planted_payload_secret = concat!("sk_", "live_", "payloadPlanted0123456789");
    let body = format!(
        r#"{{"id":"evt_leak","type":"charge.failed","data":{{"object":{{"note":"{planted_payload_secret}"}}}}}}"#
    );
    let ts = OffsetDateTime::now_utc().unix_timestamp();
    let sig = stripe::sign(&whsec, ts, body.as_bytes());
    let mut responses = String::new();
    for sig in [sig.clone(), "00".repeat(32)] {
        let signature = format!("t={ts},v1={sig}");
        let headers = [("stripe-signature", signature.as_str())];
        let r = t
            .call("POST", "/webhooks/stripe", None, &headers, body.clone())
            .await;
        responses.push_str(&r.text().await.unwrap());
    }
    for path in [
        "/api/admin/integrations/health?include_history=true",
        "/api/admin/webhooks/health",
        "/api/admin/webhooks/health/failures",
    ] {
        let r = t.get_as(path, &admin).await;
        responses.push_str(&r.text().await.unwrap());
    }
    let r = t.run_now(&admin, "stripe").await;
    responses.push_str(&r.text().await.unwrap());
    let metrics = t.metrics().await;
    t.stop().await;
    let log_text = logs.contents();
    assert!(
        log_text.contains("webhook rejected"),
        "logging works: {log_text}"
    );
    for secret in [whsec.as_str(), api_key.as_str(), planted_payload_secret] {
        assert!(!log_text.contains(secret), "secret in logs");
        assert!(!responses.contains(secret), "secret in a response");
        assert!(!metrics.contains(secret), "secret in metrics");
    }
}
