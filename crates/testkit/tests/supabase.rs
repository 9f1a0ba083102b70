//! The fake Supabase (auth and REST) over real HTTP on loopback.

mod common;

use common::{client, send, Answer};
use wedsync_testkit::{FakeSupabase, Scenario};

async fn health(sb: &FakeSupabase, key: Option<&str>) -> Answer {
    let mut req = client().get(format!("{}/auth/v1/health", sb.base_url()));
    if let Some(key) = key {
        req = req.header("apikey", key);
    }
    send(req).await
}

async fn rest(sb: &FakeSupabase, key: &str) -> Answer {
    send(
        client()
            .get(format!(
                "{}/rest/v1/weddings?select=id&limit=1",
                sb.base_url()
            ))
            .header("apikey", key),
    )
    .await
}

#[tokio::test]
async fn healthy_auth_and_rest() {
    let sb = FakeSupabase::start().await;
    let a = health(&sb, Some(sb.publishable_key())).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["name"], "GoTrue");
    assert!(a.json()["version"].as_str().unwrap().starts_with("v2"));
    assert_eq!(a.header("sb-project-ref"), Some(sb.project_ref()));
    let r = rest(&sb, sb.publishable_key()).await;
    assert_eq!(r.status, 200);
    assert!(r.json().is_array());
    assert_eq!(r.json()[0]["id"], 1);
}

#[tokio::test]
async fn missing_and_wrong_keys() {
    let sb = FakeSupabase::start().await;
    let a = health(&sb, None).await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.header("sb-error-code"),
        Some("UNAUTHORIZED_MISSING_API_KEY")
    );
    assert!(a.json()["message"].is_string() && a.json()["hint"].is_string());
    let a = health(&sb, Some("sb_publishable_wrong")).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.json()["message"], "Invalid API key");
    let r = rest(&sb, "nope").await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn legacy_jwt_needs_bearer_on_rest() {
    let sb = FakeSupabase::start().await;
    let key = sb.legacy_anon_key().to_owned();
    assert_eq!(key.split('.').count(), 3);
    assert_eq!(health(&sb, Some(&key)).await.status, 200);
    assert_eq!(rest(&sb, &key).await.status, 401);
    let r = send(
        client()
            .get(format!(
                "{}/rest/v1/weddings?select=id&limit=1",
                sb.base_url()
            ))
            .header("apikey", &key)
            .bearer_auth(&key),
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn rest_root_needs_the_secret_key() {
    let sb = FakeSupabase::start().await;
    let url = format!("{}/rest/v1/", sb.base_url());
    let a = send(client().get(&url).header("apikey", sb.publishable_key())).await;
    assert_eq!(a.status, 401);
    let a = send(client().get(&url).header("apikey", sb.secret_key())).await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn rest_down_while_gateway_up() {
    let sb = FakeSupabase::start().await;
    sb.set_rest_scenario(Scenario::ServerError);
    assert_eq!(health(&sb, Some(sb.publishable_key())).await.status, 200);
    let r = rest(&sb, sb.publishable_key()).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["code"], "PGRST002");
    assert_eq!(r.header("proxy-status"), Some("PostgREST; error=PGRST002"));
    assert_eq!(sb.rest_handle().request_count(), 1);
    assert_eq!(sb.auth_handle().request_count(), 1);
    assert_eq!(sb.request_count(), 2);
    assert_eq!(sb.requests().len(), 2);
}

#[tokio::test]
async fn auth_scenarios() {
    let sb = FakeSupabase::start().await;
    sb.set_auth_scenario(Scenario::ServerError);
    let a = health(&sb, Some(sb.publishable_key())).await;
    assert_eq!(a.status, 500);
    assert_eq!(rest(&sb, sb.publishable_key()).await.status, 200);
    sb.set_scenario(Scenario::rate_limited(9));
    let a = health(&sb, Some(sb.publishable_key())).await;
    assert_eq!((a.status, a.header("retry-after")), (429, Some("9")));
    sb.set_scenario(Scenario::Unauthorized);
    assert_eq!(health(&sb, Some(sb.publishable_key())).await.status, 401);
    sb.set_scenario(Scenario::ServerErrorHtml);
    assert_eq!(rest(&sb, sb.publishable_key()).await.status, 502);
}

#[tokio::test]
async fn apikey_never_logged() {
    let sb = FakeSupabase::start().await;
    rest(&sb, sb.publishable_key()).await;
    let rec = sb.requests().remove(0);
    assert_eq!(rec.header("apikey"), Some("***"));
    assert_eq!(rec.query.as_deref(), Some("select=id&limit=1"));
}
