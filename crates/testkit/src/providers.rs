//! [`FakeProviders`]: every fake at once, for tests, examples and `wedsync-monitor demo`.

use std::io;

use crate::{
    FakeHandle, FakePagerDuty, FakeResend, FakeSlack, FakeStatuspage, FakeStripe, FakeSupabase,
    FakeTwilio, FakeWebhookHandler, Scenario,
};

/// All fakes, each on its own `127.0.0.1:0` port; dropping this stops them all.
///
/// Fields are public so callers reach each fake's credentials and scripting directly
/// (`fakes.stripe.secret_key()`, `fakes.twilio.set_scenario(…)`).
#[derive(Debug)]
#[non_exhaustive]
pub struct FakeProviders {
    /// Fake Stripe API (test mode).
    pub stripe: FakeStripe,
    /// Fake Twilio REST API.
    pub twilio: FakeTwilio,
    /// Fake Resend API.
    pub resend: FakeResend,
    /// Fake Supabase project (auth and REST).
    pub supabase: FakeSupabase,
    /// Fake `status.stripe.com` (`/current`).
    pub stripe_status: FakeStatuspage,
    /// Fake `status.twilio.com` (Statuspage).
    pub twilio_status: FakeStatuspage,
    /// Fake `status.supabase.com` (Statuspage).
    pub supabase_status: FakeStatuspage,
    /// Fake Slack incoming webhook.
    pub slack: FakeSlack,
    /// Fake PagerDuty Events API v2.
    pub pagerduty: FakePagerDuty,
    /// Fake internal webhook handler (where forwarded webhooks go).
    pub webhook_handler: FakeWebhookHandler,
}

impl FakeProviders {
    /// Start every fake.
    ///
    /// # Panics
    /// If a loopback port cannot be bound (see [`try_start`](Self::try_start)).
    pub async fn start() -> Self {
        match Self::try_start().await {
            Ok(fakes) => fakes,
            Err(err) => panic!("cannot start the fake providers on 127.0.0.1: {err}"),
        }
    }

    /// Start every fake.
    ///
    /// # Errors
    /// When binding a port on `127.0.0.1` fails.
    pub async fn try_start() -> io::Result<Self> {
        Ok(Self {
            stripe: FakeStripe::try_start(false).await?,
            twilio: FakeTwilio::try_start().await?,
            resend: FakeResend::try_start().await?,
            supabase: FakeSupabase::try_start().await?,
            stripe_status: FakeStatuspage::try_start_with(
                "Stripe",
                &["API", "Checkout", "Webhooks"],
            )
            .await?,
            twilio_status: FakeStatuspage::try_start_with(
                "Twilio",
                &["REST API", "SMS", "Voice", "Webhooks"],
            )
            .await?,
            supabase_status: FakeStatuspage::try_start_with(
                "Supabase",
                &["Auth", "Database", "REST API", "Storage"],
            )
            .await?,
            slack: FakeSlack::try_start().await?,
            pagerduty: FakePagerDuty::try_start().await?,
            webhook_handler: FakeWebhookHandler::try_start(None).await?,
        })
    }

    /// Every scripting handle, labelled: `stripe`, `twilio`, `resend`, `supabase-auth`,
    /// `supabase-rest`, `stripe-status`, `twilio-status`, `supabase-status`, `slack`, `pagerduty`,
    /// `webhook-handler`.
    #[must_use]
    pub fn handles(&self) -> Vec<(&'static str, FakeHandle)> {
        vec![
            ("stripe", self.stripe.handle()),
            ("twilio", self.twilio.handle()),
            ("resend", self.resend.handle()),
            ("supabase-auth", self.supabase.auth_handle()),
            ("supabase-rest", self.supabase.rest_handle()),
            ("stripe-status", self.stripe_status.handle()),
            ("twilio-status", self.twilio_status.handle()),
            ("supabase-status", self.supabase_status.handle()),
            ("slack", self.slack.handle()),
            ("pagerduty", self.pagerduty.handle()),
            ("webhook-handler", self.webhook_handler.handle()),
        ]
    }

    /// The handle labelled `name` (see [`handles`](Self::handles)).
    #[must_use]
    pub fn handle(&self, name: &str) -> Option<FakeHandle> {
        self.handles()
            .into_iter()
            .find(|(label, _)| *label == name)
            .map(|(_, handle)| handle)
    }

    /// Set the same scenario on the four provider APIs (Stripe, Twilio, Resend, Supabase auth and
    /// REST); status pages and receivers are left alone.
    pub fn set_provider_scenario(&self, scenario: &Scenario) {
        self.stripe.set_scenario(scenario.clone());
        self.twilio.set_scenario(scenario.clone());
        self.resend.set_scenario(scenario.clone());
        self.supabase.set_scenario(scenario.clone());
    }

    /// Every fake back to [`Scenario::Healthy`] with an empty request log.
    pub fn reset(&self) {
        for (_, handle) in self.handles() {
            handle.reset();
        }
    }
}
