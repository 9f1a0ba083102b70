//! `wedsync-monitor demo`: the newcomer's tour. Fake Stripe, Twilio, Resend and Supabase, a fake
//! Slack and a fake internal handler run on loopback; the real server runs on the embedded SQLite
//! store (a file in a temporary directory, deleted at the end); the Saturday story of
//! [`wedsync_testkit::demo`] plays out over HTTP and is narrated in the terminal.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use time::OffsetDateTime;
use wedsync_testkit::demo::{tour, DemoTarget, Narrator};
use wedsync_testkit::FakeProviders;
use wedsync_webhooks::crypto::BodyCipher;

use crate::admin::Scope;
use crate::config::{Config, Secret};
use crate::{start_with, Components, RunningServer};

/// The demo's configuration, with `{name}` placeholders that [`demo_config`] fills in.
const TEMPLATE: &str = include_str!("demo.toml");

/// The demo's configuration: the four fake providers probed every 2–4 s (today is a wedding
/// day), Stripe webhooks forwarded to the fake handler, the fake Slack as the alert sink, the
/// public status page on, every secret supplied in-process. Tests build on it.
pub fn demo_config(
    fakes: &FakeProviders,
    stripe_whsec: &str,
    store_url: &str,
) -> anyhow::Result<Config> {
    let mut text = TEMPLATE.to_owned();
    for (placeholder, value) in [
        ("{today}", OffsetDateTime::now_utc().date().to_string()),
        ("{stripe}", fakes.stripe.base_url()),
        ("{twilio}", fakes.twilio.base_url()),
        ("{resend}", fakes.resend.base_url()),
        ("{domain}", fakes.resend.domain().to_string()),
        ("{supabase}", fakes.supabase.base_url()),
        ("{handler}", fakes.webhook_handler.url_for("stripe")),
    ] {
        text = text.replace(placeholder, &value);
    }
    let mut cfg = Config::from_toml(&text)?;
    cfg.store.url = store_url.to_string();
    let encryption_key = BodyCipher::generate_key();
    for (k, v) in [
        ("DEMO_SLACK_WEBHOOK_URL", fakes.slack.webhook_url()),
        ("DEMO_STRIPE_SECRET_KEY", fakes.stripe.secret_key().into()),
        ("DEMO_TWILIO_AUTH_TOKEN", fakes.twilio.auth_token().into()),
        ("DEMO_TWILIO_ACCOUNT_SID", fakes.twilio.account_sid().into()),
        ("DEMO_RESEND_API_KEY", fakes.resend.api_key().into()),
        (
            "DEMO_SUPABASE_ANON_KEY",
            fakes.supabase.publishable_key().into(),
        ),
        ("DEMO_STRIPE_WEBHOOK_SECRET", stripe_whsec.to_string()),
        ("DEMO_HANDLER_SECRET", crate::build::random_whsec()),
        ("DEMO_ENCRYPTION_KEY", STANDARD.encode(encryption_key)),
    ] {
        cfg.secret_overrides.insert(k.into(), Secret::new(v));
    }
    Ok(cfg)
}

/// Runs the demo; ends after `duration` or on Ctrl-C.
pub async fn run(duration: Option<Duration>, port: u16) -> anyhow::Result<()> {
    tokio::select! {
        r = story(port, duration, true) => r,
        () = crate::server::shutdown_signal() => {
            println!("\ninterrupted; bye");
            Ok(())
        }
    }
}

/// Plays the story once, narrated the same way, and returns when it ends instead of keeping the
/// server running: `Err` names the first step that did not happen in time. The tests use it.
pub async fn play(port: u16) -> anyhow::Result<()> {
    story(port, None, false).await
}

/// The running demo server on its SQLite file.
struct Demo {
    dir: tempfile::TempDir,
    server: RunningServer,
}

/// [`tour`] with this server: see [`start`] and [`stop`].
async fn story(port: u16, duration: Option<Duration>, linger: bool) -> anyhow::Result<()> {
    let title = format!("wedsync-monitor {} — demo", env!("CARGO_PKG_VERSION"));
    let start = async |fakes: &FakeProviders, n: &mut Narrator| start(port, fakes, n).await;
    tour(&title, duration, linger, start, stop).await
}

/// Starts the server on the fakes and a fresh SQLite file, creates the demo's admin key.
async fn start(
    port: u16,
    fakes: &FakeProviders,
    n: &mut Narrator,
) -> anyhow::Result<(Demo, DemoTarget)> {
    let whsec = crate::build::random_whsec();
    // the embedded store, as `serve` uses by default: a SQLite file, here in a directory of its own
    let dir = tempfile::Builder::new().prefix("wedsync-demo-").tempdir()?;
    let db_path = dir.path().join("wedsync-monitor.db");
    let cfg = demo_config(fakes, &whsec, &format!("sqlite://{}", db_path.display()))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let components = Components::build(&cfg).await?;
    let admin = Arc::clone(&components.admin);
    let server = start_with(cfg, Some(listener), components).await?;
    let base_url = format!("http://{}", server.local_addr());
    let key = admin.create_key("demo", &[Scope::Admin]).await?;
    n.say(&format!(
        "server listening on {base_url} (SQLite store: {}, deleted at the end)",
        db_path.display()
    ));
    let target = DemoTarget {
        base_url,
        api_key: key.secret.expose().to_string(),
        stripe_webhook_secret: whsec,
    };
    Ok((Demo { dir, server }, target))
}

/// Stops the server and deletes the SQLite file's directory (the fakes stop after it).
async fn stop(demo: Demo) {
    demo.server.shutdown().await;
    if let Err(e) = demo.dir.close() {
        println!("could not delete the demo's temporary directory: {e}");
    }
}
