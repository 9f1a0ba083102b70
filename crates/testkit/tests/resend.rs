//! The fake Resend over real HTTP on loopback.

mod common;

use common::{client, send, Answer};
use wedsync_testkit::resend::SENDING_DOMAIN;
use wedsync_testkit::{FakeResend, Scenario};

async fn domains(rs: &FakeResend, key: Option<&str>) -> Answer {
    let mut req = client().get(format!("{}/domains", rs.base_url()));
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    send(req).await
}

fn domain_status(a: &Answer) -> String {
    let body = a.json();
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == SENDING_DOMAIN)
        .map(|d| d["status"].as_str().unwrap().to_owned())
        .unwrap()
}

#[tokio::test]
async fn healthy_domain_list_with_ratelimit_headers() {
    let rs = FakeResend::start().await;
    assert!(rs.api_key().starts_with("re_"));
    let a = domains(&rs, Some(rs.api_key())).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["object"], "list");
    assert_eq!(domain_status(&a), "verified");
    assert_eq!(a.header("ratelimit-limit"), Some("2"));
    assert_eq!(a.header("ratelimit-remaining"), Some("1"));
    assert!(a.header("ratelimit-reset").is_some());
    // Resend's created_at is not RFC 3339
    let created = a.json()["data"][0]["created_at"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        created.contains(' ') && created.ends_with("+00"),
        "{created}"
    );
}

#[tokio::test]
async fn key_errors() {
    let rs = FakeResend::start().await;
    let a = domains(&rs, None).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.json()["name"], "missing_api_key");
    let a = domains(&rs, Some("re_wrong")).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.json()["name"], "invalid_api_key");
    assert_eq!(a.json()["statusCode"], 401);
    let a = domains(&rs, Some(rs.sending_key())).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.json()["name"], "restricted_api_key");
}

#[tokio::test]
async fn domain_scenarios() {
    let rs = FakeResend::start().await;
    for (scenario, expected) in [
        (Scenario::DomainNotVerified, "pending"),
        (Scenario::DomainPartiallyVerified, "partially_verified"),
        (Scenario::DomainFailed, "failed"),
        (Scenario::Healthy, "verified"),
    ] {
        rs.set_scenario(scenario);
        assert_eq!(
            domain_status(&domains(&rs, Some(rs.api_key())).await),
            expected
        );
    }
}

#[tokio::test]
async fn rate_limited_has_all_headers() {
    let rs = FakeResend::start().await;
    rs.set_scenario(Scenario::rate_limited(2));
    let a = domains(&rs, Some(rs.api_key())).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.json()["name"], "rate_limit_exceeded");
    assert_eq!(a.header("retry-after"), Some("2"));
    assert_eq!(a.header("ratelimit-remaining"), Some("0"));
    assert_eq!(a.header("ratelimit-reset"), Some("2"));
    assert_eq!(a.header("ratelimit-limit"), Some("2"));
}

#[tokio::test]
async fn server_errors() {
    let rs = FakeResend::start().await;
    rs.set_scenario(Scenario::ServerError);
    let a = domains(&rs, Some(rs.api_key())).await;
    assert_eq!(a.status, 500);
    assert_eq!(a.json()["name"], "internal_server_error");
    rs.set_scenario(Scenario::Unauthorized);
    assert_eq!(domains(&rs, Some(rs.api_key())).await.status, 401);
    rs.set_scenario(Scenario::ServerErrorHtml);
    assert_eq!(domains(&rs, Some(rs.api_key())).await.status, 502);
    rs.set_scenario(Scenario::flapping(1));
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(domains(&rs, Some(rs.api_key())).await.status);
        }
        v
    };
    assert_eq!(statuses, [200, 500, 200, 500]);
}
