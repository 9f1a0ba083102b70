//! The fake Twilio over real HTTP on loopback.

mod common;

use common::{client, send, Answer};
use wedsync_testkit::twilio::{HEALTHY_BALANCE, LOW_BALANCE};
use wedsync_testkit::{FakeTwilio, Scenario};

async fn get(tw: &FakeTwilio, suffix: &str, user: &str, pass: &str) -> Answer {
    send(
        client()
            .get(format!(
                "{}/2010-04-01/Accounts/{}{suffix}",
                tw.base_url(),
                tw.account_sid()
            ))
            .basic_auth(user, Some(pass)),
    )
    .await
}

async fn account(tw: &FakeTwilio) -> Answer {
    get(tw, ".json", tw.account_sid(), tw.auth_token()).await
}

async fn balance(tw: &FakeTwilio) -> Answer {
    get(tw, "/Balance.json", tw.account_sid(), tw.auth_token()).await
}

#[tokio::test]
async fn healthy_account_and_balance() {
    let tw = FakeTwilio::start().await;
    assert!(tw.account_sid().starts_with("AC") && tw.account_sid().len() == 34);
    let a = account(&tw).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["status"], "active");
    assert_eq!(a.json()["sid"], tw.account_sid());
    // like the real resource, the body carries the auth token: probes must not store bodies
    assert_eq!(a.json()["auth_token"], tw.auth_token());
    assert!(a.header("twilio-request-id").unwrap().starts_with("RQ"));
    let b = balance(&tw).await;
    assert_eq!(b.status, 200);
    assert_eq!(b.json()["balance"], HEALTHY_BALANCE);
    assert!(b.json()["balance"].is_string());
}

#[tokio::test]
async fn api_key_credentials_work() {
    let tw = FakeTwilio::start().await;
    let a = get(&tw, ".json", tw.api_key_sid(), tw.api_key_secret()).await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn wrong_token_gets_twilios_20003() {
    let tw = FakeTwilio::start().await;
    let a = get(&tw, ".json", tw.account_sid(), "not-the-token").await;
    assert_eq!(a.status, 401);
    let body = a.json();
    assert_eq!(body["code"], 20003);
    assert_eq!(body["message"], "Authenticate");
    assert_eq!(body["status"], 401);
    assert!(body["more_info"].as_str().unwrap().contains("20003"));
    let none = send(client().get(format!(
        "{}/2010-04-01/Accounts/{}.json",
        tw.base_url(),
        tw.account_sid()
    )))
    .await;
    assert_eq!(none.status, 401);
}

#[tokio::test]
async fn another_accounts_sid_is_404() {
    let tw = FakeTwilio::start().await;
    let other = format!("AC{}", "0".repeat(32));
    let a = send(
        client()
            .get(format!(
                "{}/2010-04-01/Accounts/{other}.json",
                tw.base_url()
            ))
            .basic_auth(tw.account_sid(), Some(tw.auth_token())),
    )
    .await;
    assert_eq!(a.status, 404);
    assert_eq!(a.json()["code"], 20404);
}

#[tokio::test]
async fn business_scenarios() {
    let tw = FakeTwilio::start().await;
    tw.set_scenario(Scenario::LowBalance);
    assert_eq!(balance(&tw).await.json()["balance"], LOW_BALANCE);
    assert_eq!(account(&tw).await.json()["status"], "active");
    tw.set_scenario(Scenario::AccountSuspended);
    assert_eq!(account(&tw).await.json()["status"], "suspended");
    tw.set_scenario(Scenario::AccountClosed);
    assert_eq!(account(&tw).await.json()["status"], "closed");
}

#[tokio::test]
async fn error_scenarios_in_twilios_shape() {
    let tw = FakeTwilio::start().await;
    tw.set_scenario(Scenario::Unauthorized);
    assert_eq!(account(&tw).await.json()["code"], 20003);
    tw.set_scenario(Scenario::rate_limited(4));
    let a = account(&tw).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.json()["code"], 20429);
    assert_eq!(a.header("retry-after"), Some("4"));
    tw.set_scenario(Scenario::ServerError);
    let a = account(&tw).await;
    assert_eq!((a.status, a.json()["code"].as_u64()), (500, Some(20500)));
    tw.set_scenario(Scenario::Status(503));
    let a = account(&tw).await;
    assert_eq!((a.status, a.json()["code"].as_u64()), (503, Some(20503)));
    tw.set_scenario(Scenario::ServerErrorHtml);
    let a = account(&tw).await;
    assert_eq!(a.status, 502);
    assert!(a.header("content-type").unwrap().starts_with("text/html"));
    tw.set_scenario(Scenario::ConnectionReset);
    assert!(client()
        .get(format!("{}/2010-04-01/Accounts/x.json", tw.base_url()))
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn log_masks_basic_credentials() {
    let tw = FakeTwilio::start().await;
    account(&tw).await;
    let rec = &tw.requests()[0];
    assert_eq!(rec.header("authorization"), Some("Basic ***"));
    assert!(rec.path.ends_with(".json"));
}

#[tokio::test]
async fn unauthorized_carries_www_authenticate() {
    let tw = FakeTwilio::start().await;
    let a = get(&tw, ".json", tw.account_sid(), "wrong").await;
    assert_eq!(
        a.header("www-authenticate"),
        Some("Basic realm=\"Twilio API\"")
    );
}
