//! End-to-end monitor tests against the testkit fakes: a Saturday Stripe outage opens an incident
//! and the breaker, the alert reaches the fake Slack, manual runs and resets work, and it recovers.

mod common;

use std::time::Duration;

use common::{stripe_service_config, TestServer};
use wedsync_monitor::admin::Scope;
use wedsync_monitor::config::{Config, Secret};
use wedsync_testkit::{FakeSlack, FakeStripe, Scenario};

fn config(stripe: &FakeStripe, slack: &FakeSlack) -> Config {
    let sections = r#"
[store]
url = "sqlite::memory:"

[wedding_days]
timezone = "Europe/London"
weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

[alerts]
slack_webhook_env = "T_SLACK_URL"
"#;
    let mut cfg = stripe_service_config(sections, stripe, "T_STRIPE_KEY");
    cfg.secret_overrides
        .insert("T_SLACK_URL".into(), Secret::new(slack.webhook_url()));
    cfg
}

/// Stripe's report, read twice: filtered (rendered afresh every time) and unfiltered (served from
/// a rendering kept until the monitor, an incident or a breaker changes). Both must say the same
/// at every step of the story; a probe result landing between the two reads is retried.
async fn health(t: &TestServer, key: &str) -> serde_json::Value {
    let comparable = |v: &serde_json::Value| {
        let mut s = v["services"][0].clone();
        // counts down by the millisecond between the two reads
        s["breaker"]["retry_after"] = s["breaker"]["retry_after"].is_number().into();
        (v["status"].clone(), v["wedding_day"].clone(), s)
    };
    let mut last = None;
    for _ in 0..5 {
        let one = t
            .get_json("/api/admin/integrations/health?service=stripe", key)
            .await;
        let all = t.get_json("/api/admin/integrations/health", key).await;
        assert_eq!(all["services"].as_array().map(Vec::len), Some(1), "{all}");
        if comparable(&one) == comparable(&all) {
            return one;
        }
        last = Some((one, all));
    }
    panic!("the unfiltered report disagrees with a fresh one: {last:?}");
}

async fn wait_for(
    t: &TestServer,
    key: &str,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    for _ in 0..300 {
        let v = health(t, key).await;
        if pred(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}: {}", health(t, key).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_breaker_alert_and_recovery() {
    let stripe = FakeStripe::start().await;
    let slack = FakeSlack::start().await;
    let t = TestServer::start(config(&stripe, &slack)).await;
    let (read, _) = t.key(&[Scope::Read]).await;
    let (admin, admin_id) = t.key(&[Scope::Admin]).await;

    let v = wait_for(&t, &read, "healthy", |v| {
        v["services"][0]["status"] == "healthy"
    })
    .await;
    assert_eq!(v["wedding_day"], true);
    assert_eq!(v["status"], "healthy");
    let s = &v["services"][0];
    assert_eq!(s["name"], "stripe");
    assert!(s["response_time_ms"].as_f64().unwrap() >= 0.0);
    assert!(s["last_checked"].is_string());
    assert_eq!(s["breaker"]["state"], "closed");

    // the outage
    stripe.set_scenario(Scenario::ServerError);
    let v = wait_for(&t, &read, "an incident", |v| {
        v["services"][0]["incident"].is_object()
    })
    .await;
    assert_eq!(v["services"][0]["status"], "unhealthy");
    assert!(
        slack.wait_for_messages(1, Duration::from_secs(15)).await,
        "the alert reached Slack"
    );
    let v = wait_for(&t, &read, "the breaker to open", |v| {
        v["services"][0]["breaker"]["state"] == "open"
    })
    .await;
    assert!(v["services"][0]["consecutive_failures"].as_u64().unwrap() >= 2);
    // seconds until the open breaker admits a trial call (the services' breakers open for 30 s)
    let retry_after = v["services"][0]["breaker"]["retry_after"].as_f64().unwrap();
    assert!(retry_after > 0.0 && retry_after <= 30.0, "{v}");

    // a manual run (admin, audited)
    let r = t.run_now(&admin, "stripe").await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["status"], "unhealthy");
    // reset the breaker
    let r = t
        .delete_as("/api/admin/integrations/health?service=stripe", &admin)
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["breaker"]["state"], "closed");
    assert!(v["breaker"]["retry_after"].is_null(), "{v}");
    let audit = t.admin().recent_audit(10).await.unwrap();
    assert!(audit
        .iter()
        .any(|e| e.action == "probe.run" && e.key_id == admin_id && e.result == "ok"));
    assert!(audit
        .iter()
        .any(|e| e.action == "breaker.reset" && e.target == "stripe" && e.result == "ok"));

    // unknown services are 404 everywhere
    for (m, p, b) in [
        ("GET", "/api/admin/integrations/health?service=paypal", ""),
        (
            "POST",
            "/api/admin/integrations/health",
            r#"{"service":"paypal"}"#,
        ),
        (
            "DELETE",
            "/api/admin/integrations/health?service=paypal",
            "",
        ),
    ] {
        let r = t.call(m, p, Some(&admin), &[], b).await;
        assert_eq!(r.status(), 404, "{m} {p}");
    }

    // recovery resolves the incident and tells Slack
    stripe.set_scenario(Scenario::Healthy);
    wait_for(&t, &read, "recovery", |v| {
        v["services"][0]["status"] == "healthy" && v["services"][0]["incident"].is_null()
    })
    .await;
    assert!(
        slack.wait_for_messages(2, Duration::from_secs(15)).await,
        "resolution reached Slack"
    );

    // history and metrics
    let v = t
        .get_json("/api/admin/integrations/health?include_history=true", &read)
        .await;
    // the hourly rollups of the last 24 h: this run's results fall in one or two hours
    let hours = v["services"][0]["history"].as_array().unwrap();
    assert!((1..=2).contains(&hours.len()), "{v}");
    let sum = |k: &str| hours.iter().map(|h| h[k].as_u64().unwrap()).sum::<u64>();
    assert!(sum("checks") >= 3, "{v}");
    assert!(
        sum("healthy") >= 1 && sum("unhealthy") >= 1,
        "the outage and the recovery: {v}"
    );
    assert_eq!(
        sum("checks"),
        sum("healthy") + sum("degraded") + sum("unhealthy"),
        "every probe here is healthy or unhealthy: {v}"
    );
    let h = &hours[hours.len() - 1];
    assert!(h["hour"].as_str().unwrap().ends_with(":00:00Z"), "{v}");
    let uptime = h["uptime"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&uptime), "{v}");
    assert!(h["avg_response_time_ms"].as_f64().unwrap() >= 0.0, "{v}");
    let m = t.metrics().await;
    assert!(
        m.contains("wedsync_probe_duration_seconds_count{service=\"stripe\"}"),
        "{m}"
    );
    assert!(m.contains("wedsync_service_status{service=\"stripe\",status=\"healthy\"} 1"));
    assert!(m.contains("wedsync_breaker_state{service=\"stripe\",state=\"closed\"} 1"));
    // no secret anywhere
    assert!(!m.contains(stripe.secret_key()));
    assert!(!v.to_string().contains(stripe.secret_key()));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_prints_a_table_and_fails_when_unhealthy() {
    let stripe = FakeStripe::start().await;
    let slack = FakeSlack::start().await;
    let cfg = config(&stripe, &slack);
    let mut out = Vec::new();
    assert!(wedsync_monitor::check::run(&cfg, &mut out).await.unwrap());
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("stripe") && text.contains("healthy"),
        "{text}"
    );
    stripe.set_scenario(Scenario::ServerError);
    let mut out = Vec::new();
    assert!(!wedsync_monitor::check::run(&cfg, &mut out).await.unwrap());
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("unhealthy"), "{text}");
    assert!(!text.contains(stripe.secret_key()));
}
