//! Slack, PagerDuty, the internal webhook handler and the generic HTTP fake over real HTTP.

mod common;

use std::time::Duration;

use common::{client, client_with_timeout, post_json, send};
use serde_json::json;
use wedsync_testkit::{FakeHttp, FakePagerDuty, FakeSlack, FakeWebhookHandler, Scenario};

#[tokio::test]
async fn slack_accepts_text_and_blocks() {
    let slack = FakeSlack::start().await;
    let a = post_json(slack.webhook_url(), &json!({"text": "Stripe is down"})).await;
    assert_eq!((a.status, a.body.as_str()), (200, "ok"));
    let a = post_json(
        slack.webhook_url(),
        &json!({"blocks": [{"type": "section"}]}),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(slack.messages().len(), 2);
    assert_eq!(slack.texts()[0], "Stripe is down");
    assert!(slack.wait_for_messages(2, Duration::from_millis(10)).await);
}

#[tokio::test]
async fn slack_rejects_bad_payloads_and_paths() {
    let slack = FakeSlack::start().await;
    let a = send(client().post(slack.webhook_url()).body("{nope")).await;
    assert_eq!((a.status, a.body.as_str()), (400, "invalid_payload"));
    let a = post_json(slack.webhook_url(), &json!({"username": "x"})).await;
    assert_eq!((a.status, a.body.as_str()), (400, "no_text"));
    let a = send(
        client()
            .post(format!("{}/services/T0/B0/wrong", slack.base_url()))
            .json(&json!({"text": "x"})),
    )
    .await;
    assert_eq!((a.status, a.body.as_str()), (404, "no_service"));
    assert!(slack.messages().is_empty());
    assert_eq!(slack.request_count(), 3);
}

#[tokio::test]
async fn slack_scripted_failures() {
    let slack = FakeSlack::start().await;
    for (code, body) in [
        (400, "invalid_payload"),
        (403, "action_prohibited"),
        (404, "channel_not_found"),
        (410, "channel_is_archived"),
        (500, "internal_error"),
    ] {
        slack.set_scenario(Scenario::Status(code));
        let a = post_json(slack.webhook_url(), &json!({"text": "x"})).await;
        assert_eq!((a.status, a.body.as_str()), (code, body));
    }
    slack.set_scenario(Scenario::rate_limited(3));
    let a = post_json(slack.webhook_url(), &json!({"text": "x"})).await;
    assert_eq!((a.status, a.header("retry-after")), (429, Some("3")));
    assert_eq!(a.body, "rate_limited");
    // fail twice, then accept
    slack.set_scenario(Scenario::fail_times(2, Scenario::ServerError));
    let mut statuses = Vec::new();
    for i in 0..3 {
        let a = post_json(slack.webhook_url(), &json!({"text": format!("m{i}")})).await;
        statuses.push(a.status);
    }
    assert_eq!(statuses, [500, 500, 200]);
    assert_eq!(slack.texts(), ["m2"]);
}

fn trigger(pd: &FakePagerDuty, dedup: &str) -> serde_json::Value {
    json!({
        "routing_key": pd.routing_key(),
        "event_action": "trigger",
        "dedup_key": dedup,
        "payload": {"summary": "Stripe unhealthy", "source": "wedsync-monitor", "severity": "critical"}
    })
}

#[tokio::test]
async fn pagerduty_trigger_and_resolve() {
    let pd = FakePagerDuty::start().await;
    let a = post_json(pd.enqueue_url(), &trigger(&pd, "stripe/1")).await;
    assert_eq!(a.status, 202);
    assert_eq!(a.json()["status"], "success");
    assert_eq!(a.json()["message"], "Event processed");
    assert_eq!(a.json()["dedup_key"], "stripe/1");
    assert_eq!(pd.open_dedup_keys(), ["stripe/1"]);
    let resolve = json!({"routing_key": pd.routing_key(), "event_action": "resolve", "dedup_key": "stripe/1"});
    assert_eq!(post_json(pd.enqueue_url(), &resolve).await.status, 202);
    assert!(pd.open_dedup_keys().is_empty());
    let alert = &pd.alerts()["stripe/1"];
    assert_eq!((alert.triggers, alert.resolves), (1, 1));
    assert_eq!(alert.severity, "critical");
    assert_eq!(pd.events().len(), 2);
    assert!(pd.wait_for_events(2, Duration::from_millis(10)).await);
}

#[tokio::test]
async fn pagerduty_generates_a_dedup_key_when_missing() {
    let pd = FakePagerDuty::start().await;
    let mut event = trigger(&pd, "");
    event.as_object_mut().unwrap().remove("dedup_key");
    let a = post_json(pd.enqueue_url(), &event).await;
    assert_eq!(a.status, 202);
    assert_eq!(a.json()["dedup_key"].as_str().unwrap().len(), 32);
}

#[tokio::test]
async fn pagerduty_rejects_invalid_events() {
    let pd = FakePagerDuty::start().await;
    let mut bad_key = trigger(&pd, "k");
    bad_key["routing_key"] = json!("short");
    let mut no_summary = trigger(&pd, "k");
    no_summary["payload"]
        .as_object_mut()
        .unwrap()
        .remove("summary");
    let mut bad_severity = trigger(&pd, "k");
    bad_severity["payload"]["severity"] = json!("sev1");
    let resolve_without_key = json!({"routing_key": pd.routing_key(), "event_action": "resolve"});
    let mut wrong_key = trigger(&pd, "k");
    wrong_key["routing_key"] = json!("0".repeat(32));
    for event in [
        bad_key,
        no_summary,
        bad_severity,
        resolve_without_key,
        wrong_key,
    ] {
        let a = post_json(pd.enqueue_url(), &event).await;
        assert_eq!(a.status, 400, "{event}");
        assert_eq!(a.json()["status"], "invalid event");
        assert!(!a.json()["errors"].as_array().unwrap().is_empty());
    }
    assert!(pd.events().is_empty());
}

#[tokio::test]
async fn pagerduty_fails_n_times_then_accepts() {
    let pd = FakePagerDuty::start().await;
    pd.set_scenario(Scenario::fail_times(1, Scenario::rate_limited(2)));
    let a = post_json(pd.enqueue_url(), &trigger(&pd, "k")).await;
    assert_eq!((a.status, a.header("retry-after")), (429, Some("2")));
    pd.set_scenario(Scenario::fail_times(1, Scenario::Status(502)));
    assert_eq!(
        post_json(pd.enqueue_url(), &trigger(&pd, "k")).await.status,
        502
    );
    assert_eq!(
        post_json(pd.enqueue_url(), &trigger(&pd, "k")).await.status,
        202
    );
    assert_eq!(pd.alerts()["k"].triggers, 1);
    assert_eq!(pd.request_count(), 3);
}

#[tokio::test]
async fn webhook_handler_records_deliveries_with_headers() {
    let h = FakeWebhookHandler::start().await;
    let a = send(
        client()
            .post(h.url_for("stripe"))
            .header("stripe-signature", "t=1,v1=abc")
            .header("content-type", "application/json")
            .body(r#"{"id":"evt_1"}"#),
    )
    .await;
    assert_eq!(a.status, 200);
    let d = h.delivered();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "/webhooks/stripe");
    assert_eq!(d[0].header("stripe-signature"), Some("t=1,v1=abc"));
    assert_eq!(d[0].body_text(), Some(r#"{"id":"evt_1"}"#));
    assert_eq!(d[0].json().unwrap()["id"], "evt_1");
}

#[tokio::test]
async fn webhook_handler_scripted_failures() {
    let h = FakeWebhookHandler::start().await;
    let post = |body: &'static str| client().post(h.url_for("resend")).body(body);
    h.set_scenario(Scenario::Status(410));
    let a = send(post("1")).await;
    assert_eq!(a.status, 410);
    h.set_scenario(Scenario::ServerError);
    assert_eq!(send(post("2")).await.status, 500);
    h.set_scenario(Scenario::fail_times(2, Scenario::Status(503)));
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(send(post("3")).await.status);
    }
    assert_eq!(statuses, [503, 503, 200]);
    h.set_scenario(Scenario::Hanging);
    let err = client_with_timeout(200)
        .post(h.url_for("resend"))
        .body("4")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(h.delivered().len(), 1);
    assert_eq!(h.request_count(), 6);
    assert!(h.wait_for_deliveries(1, Duration::from_millis(10)).await);
    assert!(!h.wait_for_deliveries(2, Duration::from_millis(50)).await);
}

#[tokio::test]
async fn webhook_handler_with_token() {
    let h = FakeWebhookHandler::start_with_token("internal-token").await;
    let a = send(client().post(h.url_for("x")).body("{}")).await;
    assert_eq!(a.status, 401);
    let a = send(
        client()
            .post(h.url_for("x"))
            .bearer_auth("internal-token")
            .body("{}"),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(h.delivered()[0].header("authorization"), Some("Bearer ***"));
}

#[tokio::test]
async fn generic_http_endpoint() {
    let web = FakeHttp::start().await;
    let a = send(client().get(format!("{}/anything/42", web.base_url()))).await;
    assert_eq!((a.status, a.json()["status"].as_str()), (200, Some("UP")));
    web.set_scenario(Scenario::ServerError);
    let a = send(client().get(format!("{}/health", web.base_url()))).await;
    assert_eq!((a.status, a.json()["status"].as_str()), (503, Some("DOWN")));
    web.set_scenario(Scenario::Status(404));
    assert_eq!(send(client().get(web.base_url())).await.status, 404);
    assert_eq!(web.request_count(), 3);
}

#[tokio::test]
async fn oversized_body_gets_413() {
    let h = FakeWebhookHandler::start().await;
    let big = vec![b'a'; wedsync_testkit::MAX_BODY_BYTES + 1];
    let a = send(client().post(h.url_for("x")).body(big)).await;
    assert_eq!(a.status, 413);
    assert!(h.delivered().is_empty());
}

#[tokio::test]
async fn raw_post_sends_path_query_and_body() {
    let h = FakeWebhookHandler::start().await;
    let url = format!("{}/webhooks/x?tenant=7", h.base_url());
    let status = wedsync_testkit::raw_post(&url, &[("x-test", "1")], b"hello")
        .await
        .unwrap();
    assert_eq!(status, 200);
    let got = h.delivered().remove(0);
    assert_eq!(got.path, "/webhooks/x");
    assert_eq!(got.query.as_deref(), Some("tenant=7"));
    assert_eq!(got.header("x-test"), Some("1"));
    assert_eq!(got.body_text(), Some("hello"));
    let err = wedsync_testkit::raw_post("https://127.0.0.1:1/", &[], b"")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(wedsync_testkit::raw_post("http:///x", &[], b"")
        .await
        .is_err());
}

/// A waiter that starts before the messages arrive wakes as soon as each one is recorded — it
/// never sleeps through to its timeout because the request was counted before the message was
/// stored (the old race). 20 rounds make a missed wake-up show up as a 60 s hang → failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_waiters_wake_when_the_message_is_recorded() {
    let slack = FakeSlack::start().await;
    for round in 1..=20usize {
        let waiter = {
            let slack_url = slack.webhook_url();
            let body = json!({"text": format!("alert {round}")});
            tokio::spawn(async move { post_json(slack_url, &body).await })
        };
        let woke = tokio::time::timeout(
            Duration::from_secs(10),
            slack.wait_for_messages(round, Duration::from_secs(60)),
        )
        .await;
        assert_eq!(woke, Ok(true), "round {round}: waiter missed the message");
        let sent = waiter.await.expect("sender task");
        assert_eq!(sent.status, 200);
    }
}
