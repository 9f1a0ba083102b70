//! Run with: `cargo run -p wedsync-testkit --example fake_providers`
//!
//! Starts every fake on loopback, prints where they listen, then scripts the fake Stripe through a
//! few scenarios and shows the status codes a client gets. Credentials are never printed.

use std::time::Duration;

use wedsync_testkit::{raw_get_status, FakeProviders, Scenario};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let fakes = FakeProviders::try_start().await?;
    println!("stripe           {}", fakes.stripe.base_url());
    println!("twilio           {}", fakes.twilio.base_url());
    println!("resend           {}", fakes.resend.base_url());
    println!("supabase         {}", fakes.supabase.base_url());
    println!(
        "stripe status    {}/current",
        fakes.stripe_status.base_url()
    );
    println!(
        "twilio status    {}/api/v2/summary.json",
        fakes.twilio_status.base_url()
    );
    println!(
        "supabase status  {}/api/v2/summary.json",
        fakes.supabase_status.base_url()
    );
    println!("slack            {}/services/…", fakes.slack.base_url());
    println!("pagerduty        {}", fakes.pagerduty.enqueue_url());
    println!(
        "webhook handler  {}",
        fakes.webhook_handler.url_for("stripe")
    );

    let auth = format!("Bearer {}", fakes.stripe.secret_key());
    let headers = [("authorization", auth.as_str())];
    for scenario in [
        Scenario::Healthy,
        Scenario::rate_limited(30),
        Scenario::ServerError,
        Scenario::ServerErrorHtml,
        Scenario::Slow(Duration::from_millis(200)),
    ] {
        fakes.stripe.set_scenario(scenario.clone());
        let status = raw_get_status(fakes.stripe.addr(), "/v1/balance", &headers).await?;
        println!("stripe /v1/balance under {scenario:?}: {status}");
    }
    println!("stripe received {} requests", fakes.stripe.request_count());
    Ok(())
}
