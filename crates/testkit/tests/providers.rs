//! `FakeProviders`: everything at once.

mod common;

use common::{client, send};
use wedsync_testkit::{FakeProviders, Scenario};

#[tokio::test]
async fn all_fakes_start_on_distinct_loopback_ports_and_answer() {
    let fakes = FakeProviders::start().await;
    let mut urls = vec![
        fakes.stripe.base_url(),
        fakes.twilio.base_url(),
        fakes.resend.base_url(),
        fakes.supabase.base_url(),
        fakes.stripe_status.base_url(),
        fakes.twilio_status.base_url(),
        fakes.supabase_status.base_url(),
        fakes.slack.base_url(),
        fakes.pagerduty.base_url(),
        fakes.webhook_handler.base_url(),
    ];
    assert!(urls.iter().all(|u| u.starts_with("http://127.0.0.1:")));
    urls.sort();
    urls.dedup();
    assert_eq!(urls.len(), 10);

    let c = client();
    let stripe = send(
        c.get(format!("{}/v1/balance", fakes.stripe.base_url()))
            .bearer_auth(fakes.stripe.secret_key()),
    )
    .await;
    assert_eq!(stripe.status, 200);
    let twilio = send(
        c.get(format!(
            "{}/2010-04-01/Accounts/{}.json",
            fakes.twilio.base_url(),
            fakes.twilio.account_sid()
        ))
        .basic_auth(fakes.twilio.account_sid(), Some(fakes.twilio.auth_token())),
    )
    .await;
    assert_eq!(twilio.status, 200);
    let resend = send(
        c.get(format!("{}/domains", fakes.resend.base_url()))
            .bearer_auth(fakes.resend.api_key()),
    )
    .await;
    assert_eq!(resend.status, 200);
    let status = send(c.get(format!("{}/current", fakes.stripe_status.base_url()))).await;
    assert_eq!(status.status, 200);
    assert_eq!(fakes.handles().len(), 11);
}

#[tokio::test]
async fn provider_scenario_and_reset() {
    let fakes = FakeProviders::start().await;
    fakes.set_provider_scenario(&Scenario::ServerError);
    let a = send(
        client()
            .get(format!("{}/auth/v1/health", fakes.supabase.base_url()))
            .header("apikey", fakes.supabase.publishable_key()),
    )
    .await;
    assert_eq!(a.status, 500);
    assert_eq!(
        fakes.handle("stripe").unwrap().scenario(),
        Scenario::ServerError
    );
    assert_eq!(fakes.handle("slack").unwrap().scenario(), Scenario::Healthy);
    fakes.reset();
    assert_eq!(
        fakes.handle("stripe").unwrap().scenario(),
        Scenario::Healthy
    );
    assert!(fakes.supabase.requests().is_empty());
    assert!(fakes.handle("nope").is_none());
}

#[tokio::test]
async fn debug_output_never_shows_credentials() {
    let fakes = FakeProviders::start().await;
    let shown = format!("{fakes:?}");
    for secret in [
        fakes.stripe.secret_key(),
        fakes.stripe.restricted_key(),
        fakes.twilio.auth_token(),
        fakes.twilio.api_key_secret(),
        fakes.resend.api_key(),
        fakes.resend.sending_key(),
        fakes.supabase.publishable_key(),
        fakes.supabase.secret_key(),
        fakes.supabase.legacy_anon_key(),
        fakes.pagerduty.routing_key(),
    ] {
        assert!(!shown.contains(secret), "Debug leaks a credential");
    }
    let slack_path = fakes
        .slack
        .webhook_url()
        .replace(&fakes.slack.base_url(), "");
    assert!(!shown.contains(&slack_path));
    assert!(shown.contains(&fakes.stripe.base_url()));
}

#[test]
fn fakes_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<FakeProviders>();
    check::<wedsync_testkit::FakeHandle>();
    check::<wedsync_testkit::FakeHttp>();
}
