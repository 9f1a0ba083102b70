//! End-to-end tests of the HTTP surface: routes, OpenAPI, auth matrix, rate limits, limits.

mod common;

use std::collections::BTreeSet;

use common::{memory_config, TestServer};
use wedsync_monitor::admin::Scope;
use wedsync_monitor::routes::ROUTES;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_readyz_metrics() {
    let t = TestServer::start(memory_config()).await;
    let r = t.get("/healthz").await;
    assert_eq!(r.status(), 200);
    let r = t.get("/readyz").await;
    assert_eq!(r.status(), 200);
    let r = t.get("/metrics").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    assert!(
        text.contains(
            "wedsync_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("wedsync_http_request_duration_seconds_bucket{route=\"/readyz\""));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_exactly_the_routed_paths() {
    let t = TestServer::start(memory_config()).await;
    let doc: serde_json::Value = t
        .http
        .get(t.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(
        documented, routed,
        "openapi.json and the route table disagree"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_are_json_errors() {
    let t = TestServer::start(memory_config()).await;
    let r = t.get("/nope").await;
    assert_eq!(r.status(), 404);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "not_found");
    let r = t
        .http
        .put(t.url("/api/admin/integrations/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, POST, DELETE");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_matrix() {
    let t = TestServer::start(memory_config()).await;
    let (read, _) = t.key(&[Scope::Read]).await;
    let (admin, _) = t.key(&[Scope::Admin]).await;
    let (revoked, revoked_id) = t.key(&[Scope::Admin]).await;
    assert!(t.admin().revoke_key(&revoked_id).await.unwrap());

    let read_routes = [
        ("GET", "/api/admin/integrations/health"),
        ("GET", "/api/admin/webhooks/health"),
        ("GET", "/api/admin/webhooks/health/failures"),
    ];
    let admin_routes = [
        (
            "POST",
            "/api/admin/integrations/health",
            r#"{"service":"stripe"}"#,
        ),
        (
            "DELETE",
            "/api/admin/integrations/health?service=stripe",
            "",
        ),
        (
            "POST",
            "/api/admin/webhooks/health",
            r#"{"webhook_id":"00000000-0000-0000-0000-000000000000"}"#,
        ),
    ];
    let bad = concat!("wsm_", "0000000000000000000000000000000000000000000000ff");
    for (m, p) in read_routes {
        for key in [None, Some(bad), Some(revoked.as_str())] {
            let r = t.call(m, p, key, &[], "").await;
            assert_eq!(r.status(), 401, "{m} {p} with {key:?}");
            assert_eq!(r.headers()["www-authenticate"], "Bearer");
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], "unauthorized");
        }
        let r = t.call(m, p, Some(&read), &[], "").await;
        assert_ne!(r.status(), 401, "{m} {p}");
        assert_ne!(r.status(), 403, "{m} {p}");
        let r = t.call(m, p, Some(&admin), &[], "").await;
        assert_ne!(r.status(), 403, "admin implies read: {m} {p}");
    }
    for (m, p, body) in admin_routes {
        for key in [None, Some(bad), Some(revoked.as_str())] {
            let r = t.call(m, p, key, &[], body).await;
            assert_eq!(r.status(), 401, "{m} {p} with {key:?}");
        }
        let r = t.call(m, p, Some(&read), &[], body).await;
        assert_eq!(r.status(), 403, "read-only key on {m} {p}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "forbidden");
        let r = t.call(m, p, Some(&admin), &[], body).await;
        assert!(
            r.status() != 401 && r.status() != 403,
            "{m} {p}: {}",
            r.status()
        );
    }
    // a malformed Authorization header is a 401 too
    let r = t
        .http
        .get(t.url("/api/admin/integrations/health"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_per_key_with_retry_after() {
    let mut cfg = memory_config();
    cfg.rate_limits.general_per_minute = 5;
    cfg.rate_limits.strict_per_minute = 2;
    let t = TestServer::start(cfg).await;
    let (admin, _) = t.key(&[Scope::Admin]).await;
    let (other, _) = t.key(&[Scope::Admin]).await;
    // strict budget: manual probe runs
    let path = "/api/admin/integrations/health";
    let run = r#"{"service":"stripe"}"#;
    assert_ne!(
        t.call("POST", path, Some(&admin), &[], run).await.status(),
        429
    );
    assert_ne!(
        t.call("POST", path, Some(&admin), &[], run).await.status(),
        429
    );
    let r = t.call("POST", path, Some(&admin), &[], run).await;
    assert_eq!(r.status(), 429);
    let secs: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limited");
    // another key is unaffected
    assert_ne!(
        t.call("POST", path, Some(&other), &[], run).await.status(),
        429
    );
    // general budget: 5 per minute, three already spent by `admin`
    assert_eq!(t.get_as(path, &admin).await.status(), 200);
    assert_eq!(t.get_as(path, &admin).await.status(), 200);
    let r = t.get_as(path, &admin).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_above_the_limit_get_413() {
    let mut cfg = memory_config();
    cfg.server.body_limit_bytes = 1024;
    let t = TestServer::start(cfg).await;
    let (admin, _) = t.key(&[Scope::Admin]).await;
    let big = vec![b'x'; 4096];
    // with a Content-Length
    let path = "/api/admin/integrations/health";
    let r = t.call("POST", path, Some(&admin), &[], big.clone()).await;
    assert_eq!(r.status(), 413);
    // chunked, no Content-Length: Limited catches it while streaming
    let stream = futures_stream(big);
    let body = reqwest::Body::wrap_stream(stream);
    let r = t.call("POST", path, Some(&admin), &[], body).await;
    assert_eq!(r.status(), 413);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "payload_too_large");
    t.stop().await;
}

fn futures_stream(
    data: Vec<u8>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        data.chunks(512).map(|c| Ok(c.to_vec())).collect();
    ChunkStream(chunks.into_iter())
}

struct ChunkStream(std::vec::IntoIter<Result<Vec<u8>, std::io::Error>>);

impl futures_util::Stream for ChunkStream {
    type Item = Result<Vec<u8>, std::io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.next())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_actions_are_audited() {
    let t = TestServer::start(memory_config()).await;
    let (admin, id) = t.key(&[Scope::Admin]).await;
    let _ = t
        .delete_as("/api/admin/integrations/health?service=nope", &admin)
        .await;
    let log = t.admin().recent_audit(10).await.unwrap();
    let e = log
        .iter()
        .find(|e| e.action == "breaker.reset")
        .expect("audited");
    assert_eq!(e.key_id, id);
    assert_eq!(e.target, "nope");
    assert_eq!(e.result, "not_found");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_created_by_the_cli_path_survive_a_restart_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("wedsync.db").display());
    let mut cfg = memory_config();
    cfg.store.url = url;
    // what `wedsync-monitor migrate` and `api-key create` do
    wedsync_monitor::Components::migrate(&cfg).await.unwrap();
    let c = wedsync_monitor::Components::build(&cfg).await.unwrap();
    let created = c.admin.create_key("ops", &[Scope::Read]).await.unwrap();
    drop(c);
    // a server started later on the same file accepts it
    let t = TestServer::start(cfg.clone()).await;
    let r = t
        .get_as("/api/admin/integrations/health", created.secret.expose())
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(t.get("/readyz").await.status(), 200);
    // revoked through the store: 401 from then on
    assert!(t.admin().revoke_key(&created.info.id).await.unwrap());
    let r = t
        .get_as("/api/admin/integrations/health", created.secret.expose())
        .await;
    assert_eq!(r.status(), 401);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_keys_scopes_audit_and_readiness() {
    // a fresh, migrated database per test (DATABASE_URL, else 127.0.0.1:5432 as postgres)
    let db = wedsync_store::testing::fresh_postgres().await;
    let mut cfg = memory_config();
    cfg.store.url = db.url().to_string();
    wedsync_monitor::Components::migrate(&cfg).await.unwrap();
    let t = TestServer::start(cfg).await;
    assert_eq!(t.get("/readyz").await.status(), 200);
    let (read, _) = t.key(&[Scope::Read]).await;
    let (admin, admin_id) = t.key(&[Scope::Admin]).await;
    let path = "/api/admin/integrations/health";
    assert_eq!(t.get_as(path, &read).await.status(), 200);
    assert_eq!(t.get_as(path, "wsm_unknown").await.status(), 401);
    let r = t
        .delete_as("/api/admin/integrations/health?service=stripe", &read)
        .await;
    assert_eq!(r.status(), 403);
    let r = t
        .delete_as("/api/admin/integrations/health?service=stripe", &admin)
        .await;
    assert_eq!(r.status(), 200);
    let audit = t.admin().recent_audit(5).await.unwrap();
    assert!(audit
        .iter()
        .any(|e| e.action == "breaker.reset" && e.key_id == admin_id && e.target == "stripe"));
    t.stop().await;
}

/// The server's retention job runs the store's whole policy, not only raw-body expiry: a probe
/// result older than the 30 days kept is deleted soon after start, a fresh one stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_job_runs_the_stores_whole_policy() {
    use wedsync_probe::store::ResultStore;
    use wedsync_probe::{ProbeResult, ProbeStatus};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("retention.db");
    let store = wedsync_store::SqliteStore::open(&db).await.unwrap();
    let mut old = ProbeResult::new("stripe", ProbeStatus::Healthy, "ok");
    old.checked_at_ms -= 40 * 86_400_000;
    store.insert_result(&old).await.unwrap();
    store
        .insert_result(&ProbeResult::new("twilio", ProbeStatus::Healthy, "ok"))
        .await
        .unwrap();
    let services = |results: Vec<ProbeResult>| {
        let mut names: Vec<String> = results.into_iter().map(|r| r.service).collect();
        names.sort();
        names
    };
    assert_eq!(
        services(store.latest_results().await.unwrap()),
        ["stripe", "twilio"]
    );

    let mut cfg = memory_config();
    cfg.store.url = format!("sqlite://{}", db.display());
    cfg.monitor.enabled = false;
    cfg.retention.interval = std::time::Duration::from_millis(200);
    let t = TestServer::start(cfg).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let left = services(store.latest_results().await.unwrap());
        if left == ["twilio"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the 40-day-old result is still stored: {left:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    t.stop().await;
}
