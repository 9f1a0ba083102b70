//! End-to-end webhook tests: real signatures over real HTTP, durable recording, forwarding with
//! retries to a fake handler, replay, store failures and graceful shutdown.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::{
    delivery_id, post_stripe, post_while_shutting_down, stripe_event, stripe_secret, TestServer,
    STRIPE_WEBHOOKS_IN_MEMORY,
};
use time::OffsetDateTime;
use uuid::Uuid;
use wedsync_monitor::admin::Scope;
use wedsync_monitor::config::{Config, Secret};
use wedsync_monitor::Components;
use wedsync_testkit::{fixtures, FakeWebhookHandler, Scenario};
use wedsync_webhooks::store::{
    AttemptRecord, Claim, ClaimToken, Claimed, Delivery, DeliveryCount, DeliveryQuery,
    DeliveryStatus, EncryptedBody, InMemoryStore, InsertOutcome, KeyUsage, NewDelivery, ReplayJob,
    ReplayRequest, SealedBody, StoreError, WebhookStore,
};
use wedsync_webhooks::verify::{standard, stripe, twilio};

fn svix_secret() -> String {
    // whsec_ + base64("resend-test-secret-planted-000000")
    concat!("whsec_", "cmVzZW5kLXRlc3Qtc2VjcmV0LXBsYW50ZWQtMDAwMDAw").to_string()
}
fn supabase_auth_secret() -> String {
    concat!("v1,whsec_", "c3VwYWJhc2UtYXV0aC1ob29rLXNlY3JldC0wMDA=").to_string()
}
fn twilio_token() -> String {
    concat!("twilio", "authtoken", "0123456789abcd").to_string()
}
fn db_secret() -> String {
    concat!("supabase", "-db-", "shared-secret-planted").to_string()
}

fn config(handler: Option<&FakeWebhookHandler>) -> Config {
    let fwd = |p: &str| {
        handler
            .map(|h| format!("forward_to = \"{}\"\n", h.url_for(p)))
            .unwrap_or_default()
    };
    let text = format!(
        r#"{STRIPE_WEBHOOKS_IN_MEMORY}{}
[webhooks.resend]
secret_env = "T_RESEND_WHSEC"
{}
[webhooks.twilio]
secret_env = "T_TWILIO_TOKEN"

[webhooks.supabase_auth]
secret_env = "T_SUPA_AUTH"

[webhooks.supabase_db]
secret_env = "T_SUPA_DB"
"#,
        fwd("stripe"),
        fwd("resend")
    );
    let mut cfg = Config::from_toml(&text).unwrap();
    for (k, v) in [
        ("T_STRIPE_WHSEC", stripe_secret()),
        ("T_RESEND_WHSEC", svix_secret()),
        ("T_TWILIO_TOKEN", twilio_token()),
        ("T_SUPA_AUTH", supabase_auth_secret()),
        ("T_SUPA_DB", db_secret()),
    ] {
        cfg.secret_overrides.insert(k.into(), Secret::new(v));
    }
    cfg
}

/// The server with `cfg`, its webhooks recorded in `store` (the rest in memory).
async fn start_with_store(cfg: Config, store: Arc<dyn WebhookStore>) -> TestServer {
    let mut c = Components::in_memory().await.unwrap();
    c.webhook_store = store;
    TestServer::start_with(cfg, c).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_accepted_tampered_and_duplicate() {
    let store = Arc::new(InMemoryStore::new());
    let t = start_with_store(config(None), store.clone()).await;
    let body = stripe_event("evt_1");
    let r = post_stripe(&t, &body, &stripe_secret()).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let id = Uuid::parse_str(v["id"].as_str().unwrap()).unwrap();
    // durable before the 2xx: it is in the store now
    assert!(store.get_delivery(id).await.unwrap().is_some());

    // the same event again (a provider retry): acknowledged, recorded as a duplicate
    let r = post_stripe(&t, &body, &stripe_secret()).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["status"], "duplicate");
    assert_eq!(v["duplicate_of"], id.to_string());

    // tampered body: 401 with a reason, no secret
    let ts = OffsetDateTime::now_utc().unix_timestamp();
    let sig = stripe::sign(&stripe_secret(), ts, body.as_bytes());
    let tampered = body.replace("evt_1", "evt_2");
    let signature = format!("t={ts},v1={sig}");
    let headers = [
        ("content-type", "application/json"),
        ("stripe-signature", signature.as_str()),
    ];
    let r = t
        .call("POST", "/webhooks/stripe", None, &headers, tampered)
        .await;
    assert_eq!(r.status(), 401);
    let text = r.text().await.unwrap();
    assert!(text.contains("invalid_signature"), "{text}");
    assert!(!text.contains(&stripe_secret()));
    // missing header
    let r = t.post_body("/webhooks/stripe", body.clone()).await;
    assert_eq!(r.status(), 401);
    // wrong secret
    let r = post_stripe(&t, &stripe_event("evt_3"), concat!("whsec_", "wrong")).await;
    assert_eq!(r.status(), 401);
    // malformed input: 400 once its signature verifies; unsigned, the signature is checked
    // first and the body is never parsed: 401
    let r = post_stripe(&t, "{not json", &stripe_secret()).await;
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(text.contains("the body is not valid JSON"), "{text}");
    let r = t.post_body("/webhooks/stripe", "{not json").await;
    assert_eq!(r.status(), 401);
    let r = t.http.post(t.url("/webhooks/stripe")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    // unknown provider
    let r = t.post_body("/webhooks/paypal", "{}").await;
    assert_eq!(r.status(), 404);
    // too large
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = t.post_body("/webhooks/stripe", big).await;
    assert_eq!(r.status(), 413);

    let metrics = t.metrics().await;
    assert!(
        metrics
            .contains("wedsync_webhooks_received_total{provider=\"stripe\",result=\"accepted\"} 1"),
        "{metrics}"
    );
    assert!(metrics
        .contains("wedsync_webhooks_received_total{provider=\"stripe\",result=\"duplicate\"} 1"));
    assert!(metrics
        .contains("wedsync_webhooks_received_total{provider=\"stripe\",result=\"rejected\"} 4"));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_signs_its_own_way() {
    let t = TestServer::start(config(None)).await;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    // Standard Webhooks headers in `style`, signing `body` as message `id` now
    let sign = |style, secret: &str, id, body: &str| {
        standard::headers(style, secret, id, now, body.as_bytes()).unwrap()
    };

    // Resend (Svix headers)
    let body = fixtures::RESEND_EMAIL_BOUNCED;
    let hs = sign(standard::HeaderStyle::Svix, &svix_secret(), "msg_1", body);
    let resend = Endpoint::new(&t, "/webhooks/resend", "application/json");
    let r = resend.post(&hs, body.to_string()).await;
    assert_eq!(r.status(), 200);
    let r = resend.post(&hs, body.replace("bounced", "delivered")).await;
    assert_eq!(r.status(), 401);

    // Supabase auth hook (Standard Webhooks, v1,whsec_ secret)
    let body = fixtures::SUPABASE_AUTH_HOOK_SEND_SMS;
    let hs = sign(
        standard::HeaderStyle::Standard,
        &supabase_auth_secret(),
        "msg_2",
        body,
    );
    let supabase_auth = Endpoint::new(&t, "/webhooks/supabase_auth", "application/json");
    let r = supabase_auth.post(&hs, body.to_string()).await;
    assert_eq!(r.status(), 200);
    let r = supabase_auth.post(&hs, format!("{body} ")).await;
    assert_eq!(r.status(), 401);

    // Supabase database webhook (shared secret)
    let body = fixtures::SUPABASE_DB_WEBHOOK_INSERT;
    let ok = vec![(
        "authorization".to_string(),
        format!("Bearer {}", db_secret()),
    )];
    let supabase_db = Endpoint::new(&t, "/webhooks/supabase_db", "application/json");
    let r = supabase_db.post(&ok, body.to_string()).await;
    assert_eq!(r.status(), 200);
    let bad = vec![("authorization".to_string(), "Bearer nope".to_string())];
    let r = supabase_db.post(&bad, body.to_string()).await;
    assert_eq!(r.status(), 401);

    // Twilio (form body; the signature covers the URL we were called at)
    let body = fixtures::TWILIO_SMS_STATUS_UNDELIVERED.trim();
    let url = t.url("/webhooks/twilio");
    let sig = twilio::sign(&twilio_token(), &url, body.as_bytes());
    let hs = vec![("x-twilio-signature".to_string(), sig)];
    let twilio = Endpoint::new(&t, "/webhooks/twilio", "application/x-www-form-urlencoded");
    let r = twilio.post(&hs, body.to_string()).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = twilio.post(&hs, format!("{body}&Extra=1")).await;
    assert_eq!(r.status(), 401);
    t.stop().await;
}

/// A webhook route of the server under test, posted to with one content type.
struct Endpoint<'a> {
    t: &'a TestServer,
    path: &'static str,
    content_type: &'static str,
}

impl<'a> Endpoint<'a> {
    fn new(t: &'a TestServer, path: &'static str, content_type: &'static str) -> Self {
        Self {
            t,
            path,
            content_type,
        }
    }

    /// POSTs `body` with the signature `headers`.
    async fn post(&self, headers: &[(String, String)], body: String) -> reqwest::Response {
        let mut all = vec![("content-type", self.content_type)];
        all.extend(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.t.call("POST", self.path, None, &all, body).await
    }
}

/// Waits (at most 5 s) until the store says `id` was delivered.
async fn wait_delivered(store: &dyn WebhookStore, id: Uuid) {
    for _ in 0..50 {
        if store.get_delivery(id).await.unwrap().unwrap().status == DeliveryStatus::Delivered {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        store.get_delivery(id).await.unwrap().unwrap().status,
        DeliveryStatus::Delivered
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_retried_until_the_handler_recovers_then_replayed() {
    let handler = FakeWebhookHandler::start().await;
    handler.set_scenario(Scenario::ServerError);
    let store = Arc::new(InMemoryStore::new());
    let t = start_with_store(config(Some(&handler)), store.clone()).await;
    let r = post_stripe(&t, &stripe_event("evt_retry"), &stripe_secret()).await;
    assert_eq!(r.status(), 200);
    let id: String = delivery_id(r).await;
    // the first attempt fails (500)
    assert!(
        handler
            .handle()
            .wait_for_requests(1, Duration::from_secs(10))
            .await
    );
    assert!(handler.delivered().is_empty());
    handler.set_scenario(Scenario::Healthy);
    // the retry (5 s ± 20 % later) succeeds
    assert!(
        handler
            .wait_for_deliveries(1, Duration::from_secs(15))
            .await,
        "retried and delivered"
    );
    let d = handler.delivered();
    assert_eq!(d[0].header("x-wedsync-provider"), Some("stripe"));
    assert!(d[0].header("webhook-signature").is_some());
    let uuid = Uuid::parse_str(&id).unwrap();
    wait_delivered(store.as_ref(), uuid).await;

    // replay through the API
    let (admin, key_id) = t.key(&[Scope::Admin]).await;
    let r = t
        .post_json_as(
            "/api/admin/webhooks/health",
            &admin,
            &serde_json::json!({"webhook_id": id}),
        )
        .await;
    assert_eq!(r.status(), 409, "delivered already; needs force");
    let r = t
        .post_json_as(
            "/api/admin/webhooks/health",
            &admin,
            &serde_json::json!({"webhook_id": id, "force": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        handler
            .wait_for_deliveries(2, Duration::from_secs(10))
            .await,
        "replayed"
    );
    // the worker records the replay's success just after the handler answered
    wait_delivered(store.as_ref(), uuid).await;
    let audit = t.admin().recent_audit(10).await.unwrap();
    assert!(audit
        .iter()
        .any(|e| e.action == "webhook.replay" && e.key_id == key_id && e.result == "ok"));
    // unknown id → 404
    let r = t
        .post_json_as(
            "/api/admin/webhooks/health",
            &admin,
            &serde_json::json!({"webhook_id": Uuid::new_v4().to_string()}),
        )
        .await;
    let status = r.status();
    assert_eq!(status, 404, "{}", r.text().await.unwrap());

    // stats and failures
    let (read, _) = t.key(&[Scope::Read]).await;
    let v = t
        .get_json("/api/admin/webhooks/health?timeframe=1h", &read)
        .await;
    assert_eq!(v["timeframe"], "1h");
    assert_eq!(v["overall"]["received"], 1, "{v}");
    assert_eq!(v["overall"]["delivered"], 1, "{v}");
    let r = t
        .get_as("/api/admin/webhooks/health/failures?timeframe=24h", &read)
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["groups"].is_array() && v["needs_attention"].is_array());
    let r = t
        .get_as("/api/admin/webhooks/health?timeframe=2y", &read)
        .await;
    assert_eq!(r.status(), 400);

    // bulk replay by filter starts a tracked job
    let r = t
        .post_json_as(
            "/api/admin/webhooks/health",
            &admin,
            &serde_json::json!({"filter": {"provider": "stripe", "status": "delivered"}}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let v: serde_json::Value = r.json().await.unwrap();
    let job = v["job"]["id"].as_str().unwrap().to_string();
    let r = t
        .get_as(&format!("/api/admin/webhooks/replays/{job}"), &read)
        .await;
    assert_eq!(r.status(), 200);
    t.stop().await;
}

/// A store whose inserts fail while `down` is set (the database went away).
struct FlakyStore {
    inner: InMemoryStore,
    down: AtomicBool,
}

#[async_trait]
impl WebhookStore for FlakyStore {
    async fn insert_delivery(&self, new: NewDelivery) -> Result<InsertOutcome, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Backend(
                "connection refused (password=hunter2)".into(),
            ));
        }
        self.inner.insert_delivery(new).await
    }
    async fn get_delivery(&self, id: Uuid) -> Result<Option<Delivery>, StoreError> {
        self.inner.get_delivery(id).await
    }
    async fn find_by_dedupe_key(
        &self,
        provider: wedsync_webhooks::Provider,
        key: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        self.inner.find_by_dedupe_key(provider, key).await
    }
    async fn claim(&self, claim: Claim<'_>) -> Result<Vec<Claimed>, StoreError> {
        self.inner.claim(claim).await
    }
    async fn complete(&self, token: &ClaimToken, attempt: AttemptRecord) -> Result<(), StoreError> {
        self.inner.complete(token, attempt).await
    }
    async fn fail(
        &self,
        token: &ClaimToken,
        attempt: AttemptRecord,
        next: Option<OffsetDateTime>,
    ) -> Result<(), StoreError> {
        self.inner.fail(token, attempt, next).await
    }
    async fn reclaim_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.reclaim_expired(now).await
    }
    async fn schedule_replay(&self, id: Uuid, req: ReplayRequest) -> Result<Delivery, StoreError> {
        self.inner.schedule_replay(id, req).await
    }
    async fn list_attempts(&self, id: Uuid) -> Result<Vec<AttemptRecord>, StoreError> {
        self.inner.list_attempts(id).await
    }
    async fn list_deliveries(&self, q: &DeliveryQuery) -> Result<Vec<Delivery>, StoreError> {
        self.inner.list_deliveries(q).await
    }
    async fn count_deliveries(&self, q: &DeliveryQuery) -> Result<Vec<DeliveryCount>, StoreError> {
        self.inner.count_deliveries(q).await
    }
    async fn purge_raw_bodies(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.purge_raw_bodies(now).await
    }
    async fn insert_replay_job(&self, job: ReplayJob) -> Result<(), StoreError> {
        self.inner.insert_replay_job(job).await
    }
    async fn update_replay_job(&self, job: &ReplayJob) -> Result<(), StoreError> {
        self.inner.update_replay_job(job).await
    }
    async fn get_replay_job(&self, id: Uuid) -> Result<Option<ReplayJob>, StoreError> {
        self.inner.get_replay_job(id).await
    }
    async fn renew_leases(
        &self,
        tokens: &[ClaimToken],
        until: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.inner.renew_leases(tokens, until).await
    }
    async fn raw_body_keys(&self) -> Result<Vec<KeyUsage>, StoreError> {
        self.inner.raw_body_keys().await
    }
    async fn queue_depth(&self) -> Result<u64, StoreError> {
        self.inner.queue_depth().await
    }
    async fn sealed_bodies(
        &self,
        key_id: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<SealedBody>, StoreError> {
        self.inner.sealed_bodies(key_id, after, limit).await
    }
    async fn replace_raw_body(
        &self,
        id: Uuid,
        key_id: &str,
        body: EncryptedBody,
    ) -> Result<bool, StoreError> {
        self.inner.replace_raw_body(id, key_id, body).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_down_means_503_and_nothing_acknowledged_is_lost() {
    let store = Arc::new(FlakyStore {
        inner: InMemoryStore::new(),
        down: AtomicBool::new(false),
    });
    let t = start_with_store(config(None), store.clone()).await;
    let r = post_stripe(&t, &stripe_event("evt_a"), &stripe_secret()).await;
    assert_eq!(r.status(), 200);
    let acked: String = delivery_id(r).await;
    store.down.store(true, Ordering::SeqCst);
    let r = post_stripe(&t, &stripe_event("evt_b"), &stripe_secret()).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let text = r.text().await.unwrap();
    assert!(!text.contains("hunter2"), "store detail leaked: {text}");
    // the provider retries once the store is back: accepted then
    store.down.store(false, Ordering::SeqCst);
    let r = post_stripe(&t, &stripe_event("evt_b"), &stripe_secret()).await;
    assert_eq!(r.status(), 200);
    assert!(store
        .get_delivery(Uuid::parse_str(&acked).unwrap())
        .await
        .unwrap()
        .is_some());
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_loses_no_acknowledged_webhook() {
    let store = Arc::new(InMemoryStore::new());
    let t = start_with_store(config(None), store.clone()).await;
    let mut acked = Vec::new();
    for i in 0..5 {
        let r = post_stripe(
            &t,
            &stripe_event(&format!("evt_before_{i}")),
            &stripe_secret(),
        )
        .await;
        assert_eq!(r.status(), 200);
        acked.push(delivery_id(r).await);
    }
    let t = Arc::new(t);
    acked.extend(post_while_shutting_down(&t).await);
    assert!(acked.len() >= 5);
    for id in acked {
        assert!(
            store
                .get_delivery(Uuid::parse_str(&id).unwrap())
                .await
                .unwrap()
                .is_some(),
            "acknowledged {id} is in the store"
        );
    }
}
