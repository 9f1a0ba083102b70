//! The fake Resend over real HTTP on loopback.

mod common;

use common::{client, send, status_of, Answer};
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
    status_of(&a.json()["data"], SENDING_DOMAIN)
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

#[tokio::test]
async fn enforced_rate_limit_counts_down_then_429s() {
    let rs = FakeResend::start().await;
    rs.set_enforce_rate_limit(true);
    // Fixed one-second windows: retry the burst if a window boundary splits it (loaded machine).
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.clear();
        let started = std::time::Instant::now();
        for _ in 0..3 {
            let a = domains(&rs, Some(rs.api_key())).await;
            seen.push((a.status, a.header("ratelimit-remaining").map(str::to_owned)));
        }
        if started.elapsed() < std::time::Duration::from_millis(500) && seen[2].0 == 429 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    assert_eq!(
        seen,
        [
            (200, Some("1".to_owned())),
            (200, Some("0".to_owned())),
            (429, Some("0".to_owned())),
        ]
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(domains(&rs, Some(rs.api_key())).await.status, 200);
    rs.set_enforce_rate_limit(false);
    for _ in 0..4 {
        assert_eq!(domains(&rs, Some(rs.api_key())).await.status, 200);
    }
}
