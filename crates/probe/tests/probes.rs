//! Every built-in probe against every fake scenario gives the right classification
//! (wedsync-testkit fakes on 127.0.0.1).

use std::time::Duration;

use wedsync_probe::{
    HealthProbe, HttpProbe, HttpSettings, ProbeResult, ProbeStatus, ResendProbe, Secret,
    StatuspageProbe, StripeProbe, SupabaseAuthProbe, SupabaseDataProbe, TwilioProbe,
};
use wedsync_testkit::{FakeResend, FakeStatuspage, FakeStripe, FakeSupabase, FakeTwilio, Scenario};

use ProbeStatus::*;

fn settings() -> HttpSettings {
    HttpSettings {
        timeout: Duration::from_millis(800),
        slow_after: Duration::from_millis(250),
        ..HttpSettings::default()
    }
}

/// The scenarios every provider fake supports, with the classification they must get.
fn common() -> Vec<(Scenario, ProbeStatus)> {
    vec![
        (Scenario::Healthy, Healthy),
        (Scenario::Slow(Duration::from_millis(400)), Degraded),
        (Scenario::Hanging, Unhealthy),
        (Scenario::Unauthorized, AuthFailed),
        (Scenario::rate_limited(7), RateLimited),
        (Scenario::ServerError, Unhealthy),
        (Scenario::ServerErrorHtml, Unhealthy),
        (Scenario::ConnectionReset, Unhealthy),
    ]
}

fn assert_clean(r: &ProbeResult, secrets: &[&str]) {
    for s in secrets {
        assert!(!r.detail.contains(s), "secret in detail: {}", r.detail);
        if let Some(id) = &r.request_id {
            assert!(!id.contains(s));
        }
    }
    assert!(r.detail.len() <= wedsync_probe::MAX_DETAIL_LEN + 3);
}

async fn run_matrix(
    name: &str,
    probe: &dyn HealthProbe,
    set: &dyn Fn(Scenario),
    cases: Vec<(Scenario, ProbeStatus)>,
    secrets: &[&str],
) {
    for (scenario, want) in cases {
        set(scenario.clone());
        let r = probe.check().await;
        assert_eq!(
            r.status, want,
            "{name} under {scenario:?}: got {} ({})",
            r.status, r.detail
        );
        assert_clean(&r, secrets);
        if want == RateLimited {
            assert_eq!(
                r.retry_after,
                Some(Duration::from_secs(7)),
                "{name}: Retry-After kept"
            );
        }
        if want == Healthy {
            assert_eq!(r.http_status, Some(200));
            assert!(r.timings.first_byte.is_some());
        }
    }
}

#[tokio::test]
async fn stripe_probe_classifies_every_scenario() {
    let fake = FakeStripe::start().await;
    let key = fake.secret_key().to_owned();
    let probe = StripeProbe::new(Secret::new(key.clone()), fake.livemode())
        .base_url(fake.base_url())
        .settings(settings());
    let mut cases = common();
    cases.push((Scenario::LivemodeMismatch, AuthFailed));
    run_matrix("stripe", &probe, &|s| fake.set_scenario(s), cases, &[&key]).await;

    fake.set_scenario(Scenario::Healthy);
    let r = probe.check().await;
    assert!(
        r.request_id
            .as_deref()
            .is_some_and(|id| id.starts_with("req_")),
        "Stripe Request-Id kept: {:?}",
        r.request_id
    );
    // a wrong key is our misconfiguration
    let wrong = StripeProbe::new(Secret::new(format!("{key}x")), fake.livemode())
        .base_url(fake.base_url())
        .settings(settings());
    assert_eq!(wrong.check().await.status, AuthFailed);
    // charges disabled is a business signal
    let acct = StripeProbe::new(Secret::new(key.clone()), fake.livemode())
        .base_url(fake.base_url())
        .settings(settings())
        .check_account(true);
    assert_eq!(acct.check().await.status, Healthy);
    fake.set_scenario(Scenario::ChargesDisabled);
    assert_eq!(acct.check().await.status, Degraded);
    // the key went in a header, never the URL
    assert!(fake.requests().iter().all(|r| !r.path.contains("sk_")));
}

#[tokio::test]
async fn twilio_probe_classifies_every_scenario() {
    let fake = FakeTwilio::start().await;
    let token = fake.auth_token().to_owned();
    let probe = TwilioProbe::new(
        fake.account_sid(),
        fake.account_sid(),
        Secret::new(token.clone()),
    )
    .base_url(fake.base_url())
    .balance_floor(5.0)
    .settings(settings());
    let mut cases = common();
    cases.push((Scenario::LowBalance, Degraded));
    cases.push((Scenario::AccountSuspended, Unhealthy));
    cases.push((Scenario::AccountClosed, Unhealthy));
    run_matrix(
        "twilio",
        &probe,
        &|s| fake.set_scenario(s),
        cases,
        &[&token],
    )
    .await;
    // API key auth works too
    fake.set_scenario(Scenario::Healthy);
    let k = TwilioProbe::new(
        fake.account_sid(),
        fake.api_key_sid(),
        Secret::new(fake.api_key_secret()),
    )
    .base_url(fake.base_url())
    .settings(settings());
    let r = k.check().await;
    assert_eq!(r.status, Healthy, "{}", r.detail);
    assert!(r.request_id.is_some());
}

#[tokio::test]
async fn resend_probe_classifies_every_scenario_and_skips_when_exhausted() {
    let fake = FakeResend::start().await;
    let key = fake.api_key().to_owned();
    let mk = || {
        ResendProbe::new(Secret::new(key.clone()), fake.domain())
            .base_url(fake.base_url())
            .settings(settings())
    };
    let mut cases = common();
    cases.retain(|(s, _)| !matches!(s, Scenario::RateLimited { .. }));
    cases.push((Scenario::DomainNotVerified, Degraded));
    cases.push((Scenario::DomainPartiallyVerified, Degraded));
    cases.push((Scenario::DomainFailed, Unhealthy));
    let probe = mk();
    run_matrix("resend", &probe, &|s| fake.set_scenario(s), cases, &[&key]).await;
    assert!(probe.min_interval() >= Duration::from_secs(60));

    // 429 with ratelimit-remaining 0: classified, and the next check is skipped (no request)
    let probe = mk();
    fake.set_scenario(Scenario::rate_limited(7));
    let r = probe.check().await;
    assert_eq!(r.status, RateLimited);
    assert_eq!(r.retry_after, Some(Duration::from_secs(7)));
    let before = fake.request_count();
    fake.set_scenario(Scenario::Healthy);
    let r = probe.check().await;
    assert_eq!(r.status, RateLimited, "{}", r.detail);
    assert!(r.detail.contains("skipped"));
    assert_eq!(fake.request_count(), before, "no request while exhausted");

    // a send-only key is a configuration error
    let send_only = ResendProbe::new(Secret::new(fake.sending_key()), fake.domain())
        .base_url(fake.base_url())
        .settings(settings());
    assert_eq!(send_only.check().await.status, AuthFailed);
    // a domain not in the account is a configuration error
    let other = ResendProbe::new(Secret::new(key.clone()), "not-ours.example")
        .base_url(fake.base_url())
        .settings(settings());
    assert_eq!(other.check().await.status, AuthFailed);
}

#[tokio::test]
async fn supabase_probes_classify_every_scenario() {
    let fake = FakeSupabase::start().await;
    let key = fake.publishable_key().to_owned();
    let auth =
        SupabaseAuthProbe::new(fake.base_url(), Secret::new(key.clone())).settings(settings());
    run_matrix(
        "supabase auth",
        &auth,
        &|s| fake.set_auth_scenario(s),
        common(),
        &[&key],
    )
    .await;
    fake.set_scenario(Scenario::Healthy);
    let data = SupabaseDataProbe::new(fake.base_url(), Secret::new(key.clone()), "weddings")
        .settings(settings());
    run_matrix(
        "supabase data",
        &data,
        &|s| fake.set_rest_scenario(s),
        common(),
        &[&key],
    )
    .await;
    fake.set_rest_scenario(Scenario::ServerError);
    let r = data.check().await;
    assert_eq!(r.http_status, Some(503));
    assert!(r.detail.contains("PGRST002"), "{}", r.detail);
    // legacy JWT anon key also works (bearer header added)
    fake.set_scenario(Scenario::Healthy);
    let legacy = SupabaseDataProbe::new(
        fake.base_url(),
        Secret::new(fake.legacy_anon_key()),
        "weddings",
    )
    .settings(settings());
    let r = legacy.check().await;
    assert_eq!(r.status, Healthy, "{}", r.detail);
}

#[tokio::test]
async fn statuspage_probes_classify_indicator_components_and_stripe_current() {
    let page = FakeStatuspage::twilio().await;
    let whole = StatuspageProbe::atlassian("twilio_status", page.base_url()).settings(settings());
    let sms = StatuspageProbe::atlassian("twilio_sms", page.base_url())
        .components(["SMS"])
        .settings(settings());
    page.set_affected_components(&["SMS"]);
    for (s, want_page, want_sms) in [
        (Scenario::Healthy, Healthy, Healthy),
        (Scenario::PartialOutage, Degraded, Degraded),
        (Scenario::MajorOutage, Unhealthy, Unhealthy),
        (Scenario::Maintenance, Degraded, Degraded),
        (Scenario::ServerErrorHtml, Unhealthy, Unhealthy),
    ] {
        page.set_scenario(s.clone());
        let a = whole.check().await;
        let b = sms.check().await;
        assert_eq!(a.status, want_page, "{s:?}: {}", a.detail);
        assert_eq!(b.status, want_sms, "{s:?}: {}", b.detail);
    }
    // the filter ignores other components
    page.set_affected_components(&["Voice"]);
    page.set_scenario(Scenario::MajorOutage);
    assert_eq!(sms.check().await.status, Healthy);

    let stripe = FakeStatuspage::stripe().await;
    let cur = StatuspageProbe::stripe("stripe_status", stripe.base_url()).settings(settings());
    for (s, want) in [
        (Scenario::Healthy, Healthy),
        (Scenario::PartialOutage, Degraded),
        (Scenario::MajorOutage, Unhealthy),
    ] {
        stripe.set_scenario(s.clone());
        assert_eq!(cur.check().await.status, want, "{s:?}");
    }
}

#[tokio::test]
async fn generic_http_probe_statuses_latency_and_conditions() {
    let page = FakeStatuspage::start().await;
    let url = format!("{}/api/v2/status.json", page.base_url());
    let ok = HttpProbe::new("page", &url)
        .settings(settings())
        .header("x-api-key", Secret::new("hidden-value-123"))
        .condition("/status/indicator == none".parse().unwrap())
        .condition("/page/name exists".parse().unwrap());
    let r = ok.check().await;
    assert_eq!(r.status, Healthy, "{}", r.detail);
    assert_eq!(
        page.requests()[0]
            .header("x-api-key")
            .map(|v| !v.is_empty()),
        Some(true)
    );
    page.set_scenario(Scenario::MajorOutage);
    let r = ok.check().await;
    assert_eq!(r.status, Unhealthy, "condition failed");
    assert!(r.detail.contains("condition failed"), "{}", r.detail);
    page.set_scenario(Scenario::Status(404));
    assert_eq!(ok.check().await.status, Unhealthy);
    let accept_404 = HttpProbe::new("page", &url)
        .settings(settings())
        .accept([404]);
    assert_eq!(accept_404.check().await.status, Healthy);
    for (s, want) in common() {
        page.set_scenario(s.clone());
        let plain = HttpProbe::new("page", &url).settings(settings());
        let r = plain.check().await;
        assert_eq!(r.status, want, "{s:?}: {}", r.detail);
    }
    let post = HttpProbe::new("page", &url)
        .method(reqwest::Method::POST)
        .settings(settings());
    page.set_scenario(Scenario::Healthy);
    assert_eq!(post.check().await.http_status, Some(405));
    // nothing listening: connection refused
    let dead = HttpProbe::new("dead", "http://127.0.0.1:9/").settings(settings());
    let r = dead.check().await;
    assert_eq!(r.status, Unhealthy);
    assert!(r.detail.contains("connection failed"), "{}", r.detail);
}
