//! The fake Stripe over real HTTP on loopback: every scenario.

mod common;

use std::time::{Duration, Instant};

use common::{client, client_with_timeout, error_message, send};
use wedsync_testkit::{FakeStripe, Scenario};

/// `GET {base_url}{path}` with `key` as the bearer token.
async fn get(stripe: &FakeStripe, path: &str, key: &str) -> common::Answer {
    send(
        client()
            .get(format!("{}{path}", stripe.base_url()))
            .bearer_auth(key),
    )
    .await
}

async fn balance(stripe: &FakeStripe, key: &str) -> common::Answer {
    get(stripe, "/v1/balance", key).await
}

#[tokio::test]
async fn healthy_balance_with_request_id() {
    let stripe = FakeStripe::start().await;
    let a = balance(&stripe, stripe.secret_key()).await;
    assert_eq!(a.status, 200);
    let body = a.json();
    assert_eq!(body["object"], "balance");
    assert_eq!(body["livemode"], false);
    assert!(a.header("request-id").unwrap().starts_with("req_"));
    assert!(a.header("stripe-version").is_some());
    assert_eq!(a.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn basic_auth_with_key_as_user_works() {
    let stripe = FakeStripe::start().await;
    let a = send(
        client()
            .get(format!("{}/v1/balance", stripe.base_url()))
            .basic_auth(stripe.secret_key(), Some("")),
    )
    .await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn wrong_key_gets_stripes_401_with_masked_key() {
    let stripe = FakeStripe::start().await;
    let wrong = format!("{}{}", "sk_test_", "0000000000000000000000wxyz");
    let a = balance(&stripe, &wrong).await;
    assert_eq!(a.status, 401);
    let body = a.json();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Invalid API Key provided: sk_test_"),
        "{message}"
    );
    assert!(message.ends_with("wxyz"));
    assert!(!message.contains("0000000000"));
    assert!(a.header("request-id").is_some());
}

#[tokio::test]
async fn missing_key_gets_401() {
    let stripe = FakeStripe::start().await;
    let a = send(client().get(format!("{}/v1/balance", stripe.base_url()))).await;
    assert_eq!(a.status, 401);
    assert!(error_message(&a).starts_with("You did not provide an API key"));
}

#[tokio::test]
async fn live_fake_and_livemode_mismatch() {
    let live = FakeStripe::start_live().await;
    assert!(live.secret_key().starts_with("sk_live_"));
    assert_eq!(
        balance(&live, live.secret_key()).await.json()["livemode"],
        true
    );
    live.set_scenario(Scenario::LivemodeMismatch);
    assert_eq!(
        balance(&live, live.secret_key()).await.json()["livemode"],
        false
    );

    let test = FakeStripe::start().await;
    test.set_scenario(Scenario::LivemodeMismatch);
    assert_eq!(
        balance(&test, test.secret_key()).await.json()["livemode"],
        true
    );
}

#[tokio::test]
async fn account_and_charges_disabled() {
    let stripe = FakeStripe::start().await;
    let url = format!("{}/v1/account", stripe.base_url());
    let a = send(client().get(&url).bearer_auth(stripe.secret_key())).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["charges_enabled"], true);
    assert_eq!(a.json()["id"], stripe.account_id());
    stripe.set_scenario(Scenario::ChargesDisabled);
    let a = send(client().get(&url).bearer_auth(stripe.secret_key())).await;
    assert_eq!(a.json()["charges_enabled"], false);
    // the restricted key reads the balance but not the account
    let a = balance(&stripe, stripe.restricted_key()).await;
    assert_eq!(a.status, 200);
    let a = send(client().get(&url).bearer_auth(stripe.restricted_key())).await;
    assert_eq!(a.status, 403);
    assert!(!a.body.contains(stripe.restricted_key()));
}

#[tokio::test]
async fn unknown_route_is_stripes_404() {
    let stripe = FakeStripe::start().await;
    let a = get(&stripe, "/v1/nope", stripe.secret_key()).await;
    assert_eq!(a.status, 404);
    assert!(error_message(&a).contains("Unrecognized request URL (GET: /v1/nope)"));
}

#[tokio::test]
async fn error_scenarios_in_stripes_shape() {
    let stripe = FakeStripe::start().await;
    let key = stripe.secret_key().to_owned();

    stripe.set_scenario(Scenario::Unauthorized);
    let a = balance(&stripe, &key).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.json()["error"]["code"], "api_key_expired");
    assert!(!a.body.contains(&key));

    stripe.set_scenario(Scenario::rate_limited(7));
    let a = balance(&stripe, &key).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.header("retry-after"), Some("7"));
    assert_eq!(a.json()["error"]["code"], "rate_limit");

    stripe.set_scenario(Scenario::ServerError);
    let a = balance(&stripe, &key).await;
    assert_eq!(a.status, 500);
    assert_eq!(a.json()["error"]["type"], "api_error");

    stripe.set_scenario(Scenario::Status(503));
    let a = balance(&stripe, &key).await;
    assert_eq!(a.status, 503);
    assert_eq!(a.json()["error"]["type"], "api_error");

    stripe.set_scenario(Scenario::ServerErrorHtml);
    let a = balance(&stripe, &key).await;
    assert_eq!(a.status, 502);
    assert_eq!(a.header("content-type"), Some("text/html"));
    assert!(a.body.contains("<html>"));
    assert!(serde_json::from_str::<serde_json::Value>(&a.body).is_err());
}

#[tokio::test]
async fn slow_answers_after_the_delay() {
    let stripe = FakeStripe::start().await;
    stripe.set_scenario(Scenario::Slow(Duration::from_millis(300)));
    let started = Instant::now();
    let a = balance(&stripe, stripe.secret_key()).await;
    assert_eq!(a.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn hanging_times_the_client_out() {
    let stripe = FakeStripe::start().await;
    stripe.set_scenario(Scenario::Hanging);
    let err = client_with_timeout(300)
        .get(format!("{}/v1/balance", stripe.base_url()))
        .bearer_auth(stripe.secret_key())
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(stripe.request_count(), 1);
}

#[tokio::test]
async fn connection_reset_sends_no_response() {
    let stripe = FakeStripe::start().await;
    stripe.set_scenario(Scenario::ConnectionReset);
    let err = client()
        .get(format!("{}/v1/balance", stripe.base_url()))
        .bearer_auth(stripe.secret_key())
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_timeout(), "{err:?}");
    assert!(err.status().is_none());
}

#[tokio::test]
async fn flapping_every_two_calls() {
    let stripe = FakeStripe::start().await;
    stripe.set_scenario(Scenario::flapping(2));
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(balance(&stripe, stripe.secret_key()).await.status);
    }
    assert_eq!(statuses, [200, 200, 500, 500, 200, 200]);
}

#[tokio::test]
async fn fail_times_then_recovers() {
    let stripe = FakeStripe::start().await;
    stripe.set_scenario(Scenario::fail_times(2, Scenario::rate_limited(1)));
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(balance(&stripe, stripe.secret_key()).await.status);
    }
    assert_eq!(statuses, [429, 429, 200, 200]);
}

#[tokio::test]
async fn request_log_masks_the_key() {
    let stripe = FakeStripe::start().await;
    balance(&stripe, stripe.secret_key()).await;
    let log = stripe.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, "/v1/balance");
    assert_eq!(log[0].header("authorization"), Some("Bearer ***"));
    assert!(!format!("{log:?}").contains(stripe.secret_key()));
}

#[tokio::test]
async fn drop_closes_the_listener_and_hanging_connections() {
    let stripe = FakeStripe::start().await;
    let url = format!("{}/v1/balance", stripe.base_url());
    stripe.set_scenario(Scenario::Hanging);
    let pending = tokio::spawn({
        let url = url.clone();
        async move { client().get(url).send().await }
    });
    assert!(
        stripe
            .handle()
            .wait_for_requests(1, Duration::from_secs(5))
            .await
    );
    drop(stripe);
    let result = tokio::time::timeout(Duration::from_secs(3), pending)
        .await
        .expect("the hanging request ends when the fake is dropped")
        .unwrap();
    assert!(result.is_err());
    // and nothing listens any more
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(client().get(&url).send().await.is_err());
}

#[tokio::test]
async fn hanging_request_is_released_when_the_scenario_changes() {
    let stripe = FakeStripe::start().await;
    stripe.set_scenario(Scenario::Hanging);
    let url = format!("{}/v1/balance", stripe.base_url());
    let pending = tokio::spawn(async move { client().get(url).send().await });
    assert!(
        stripe
            .handle()
            .wait_for_requests(1, Duration::from_secs(5))
            .await
    );
    stripe.set_scenario(Scenario::Healthy);
    let result = tokio::time::timeout(Duration::from_secs(3), pending)
        .await
        .expect("released after the scenario change")
        .unwrap();
    assert!(result.is_err(), "closed without a response");
    // and the fake answers normally again
    assert_eq!(balance(&stripe, stripe.secret_key()).await.status, 200);
}

#[tokio::test]
async fn wait_for_requests_times_out() {
    let stripe = FakeStripe::start().await;
    let started = Instant::now();
    assert!(
        !stripe
            .handle()
            .wait_for_requests(1, Duration::from_millis(100))
            .await
    );
    assert!(started.elapsed() >= Duration::from_millis(100));
}
