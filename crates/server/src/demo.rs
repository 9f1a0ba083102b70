//! `wedsync-monitor demo`: the newcomer's tour. Fake Stripe, Twilio, Resend and Supabase, a fake
//! Slack and a fake internal handler run on loopback; the real server runs on the embedded SQLite
//! store (a file in a temporary directory, deleted at the end); a Saturday story plays out and is
//! narrated in the terminal.

use std::future::Future;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use wedsync_testkit::{FakeProviders, Scenario};
use wedsync_webhooks::verify::stripe;

use crate::admin::Scope;
use crate::config::{Config, Secret};
use crate::{start_with, Components};

struct Narrator {
    started: Instant,
    step: u32,
}

impl Narrator {
    fn step(&mut self, title: &str) {
        self.step += 1;
        println!();
        println!(
            "[{:>5.1}s] ── step {}: {title}",
            self.started.elapsed().as_secs_f64(),
            self.step
        );
    }

    fn say(&self, text: &str) {
        println!("[{:>5.1}s]    {text}", self.started.elapsed().as_secs_f64());
    }
}

/// `d` as seconds with one decimal, e.g. `5.3 s`.
fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut f: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("timed out waiting for {what}")
}

/// The demo's configuration: the four fake providers probed every 2–4 s (today is a wedding
/// day), Stripe webhooks forwarded to the fake handler, the fake Slack as the alert sink, the
/// public status page on, every secret supplied in-process. Tests build on it.
pub fn demo_config(
    fakes: &FakeProviders,
    stripe_whsec: &str,
    store_url: &str,
) -> anyhow::Result<Config> {
    let today = OffsetDateTime::now_utc().date();
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
shutdown_timeout = "3s"

[store]
url = "sqlite::memory:"  # replaced below by the demo's SQLite file

[wedding_days]
timezone = "Europe/London"
weekdays = ["saturday"]
# the demo pretends today is a Saturday full of weddings
dates = ["{today}"]

[worker]
poll_interval = "200ms"

[alerts]
slack_webhook_env = "DEMO_SLACK_WEBHOOK_URL"

[dashboard]
public_status = true

[[services]]
name = "stripe"
kind = "stripe"
base_url = "{stripe}"
credential_env = "DEMO_STRIPE_SECRET_KEY"
interval = "2s"
timeout = "800ms"
public = true

[[services]]
name = "twilio"
kind = "twilio"
base_url = "{twilio}"
credential_env = "DEMO_TWILIO_AUTH_TOKEN"
account_sid_env = "DEMO_TWILIO_ACCOUNT_SID"
interval = "2s"
timeout = "800ms"
public = true

[[services]]
name = "resend"
kind = "resend"
base_url = "{resend}"
credential_env = "DEMO_RESEND_API_KEY"
domain = "{domain}"
interval = "4s"
timeout = "800ms"
public = true

[[services]]
name = "supabase_auth"
kind = "supabase_auth"
base_url = "{supabase}"
credential_env = "DEMO_SUPABASE_ANON_KEY"
interval = "2s"
timeout = "800ms"
public = true

[ingress]
encryption_key_env = "DEMO_ENCRYPTION_KEY"

[webhooks.stripe]
secret_env = "DEMO_STRIPE_WEBHOOK_SECRET"
forward_to = "{handler}"
handler_secret_env = "DEMO_HANDLER_SECRET"
"#,
        stripe = fakes.stripe.base_url(),
        twilio = fakes.twilio.base_url(),
        resend = fakes.resend.base_url(),
        domain = fakes.resend.domain(),
        supabase = fakes.supabase.base_url(),
        handler = fakes.webhook_handler.url_for("stripe"),
    );
    let mut cfg = Config::from_toml(&text)?;
    cfg.store.url = store_url.to_string();
    for (k, v) in [
        ("DEMO_SLACK_WEBHOOK_URL", fakes.slack.webhook_url()),
        (
            "DEMO_STRIPE_SECRET_KEY",
            fakes.stripe.secret_key().to_string(),
        ),
        (
            "DEMO_TWILIO_AUTH_TOKEN",
            fakes.twilio.auth_token().to_string(),
        ),
        (
            "DEMO_TWILIO_ACCOUNT_SID",
            fakes.twilio.account_sid().to_string(),
        ),
        ("DEMO_RESEND_API_KEY", fakes.resend.api_key().to_string()),
        (
            "DEMO_SUPABASE_ANON_KEY",
            fakes.supabase.publishable_key().to_string(),
        ),
        ("DEMO_STRIPE_WEBHOOK_SECRET", stripe_whsec.to_string()),
        ("DEMO_HANDLER_SECRET", crate::random_whsec()),
        ("DEMO_ENCRYPTION_KEY", {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .encode(wedsync_webhooks::crypto::BodyCipher::generate_key())
        }),
    ] {
        cfg.secret_overrides.insert(k.into(), Secret::new(v));
    }
    Ok(cfg)
}

async fn status_of(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    service: &str,
) -> serde_json::Value {
    let url = format!("{base}/api/admin/integrations/health?service={service}");
    match http.get(url).bearer_auth(key).send().await {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    }
}

/// Runs the demo; ends after `duration` or on Ctrl-C.
pub async fn run(duration: Option<Duration>, port: u16) -> anyhow::Result<()> {
    let story = story(port, duration, true);
    tokio::select! {
        r = story => r,
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

async fn story(port: u16, duration: Option<Duration>, linger: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let deadline = duration.map(|d| started + d);
    let mut n = Narrator { started, step: 0 };
    println!("wedsync-monitor {} — demo", env!("CARGO_PKG_VERSION"));
    println!("Everything runs on 127.0.0.1: fake providers, a fake Slack, a fake internal handler, and the real server.");

    n.step("starting fake Stripe, Twilio, Resend, Supabase, Slack and an internal webhook handler");
    let fakes = FakeProviders::try_start().await?;
    let whsec = crate::random_whsec();
    // the embedded store, as `serve` uses by default: a SQLite file, here in a directory of its own
    let dir = tempfile::Builder::new().prefix("wedsync-demo-").tempdir()?;
    let db_path = dir.path().join("wedsync-monitor.db");
    let cfg = demo_config(&fakes, &whsec, &format!("sqlite://{}", db_path.display()))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let components = Components::build(&cfg).await?;
    let admin = components.admin.clone();
    let server = start_with(cfg, Some(listener), components).await?;
    let base = format!("http://{}", server.local_addr());
    let key = admin.create_key("demo", &[Scope::Admin]).await?;
    let api_key = key.key.clone();
    n.say(&format!(
        "server listening on {base} (SQLite store: {}, deleted at the end)",
        db_path.display()
    ));
    println!();
    println!("   Watch it live in a browser:  {base}/dashboard  (sign in with the key below)");
    println!("   Public status page:          {base}/status");
    println!("   Your admin API key for this demo:  {api_key}");
    println!("   Paste these into another terminal while the demo runs:");
    println!(
        "     curl -s {base}/api/admin/integrations/health -H 'Authorization: Bearer {api_key}'"
    );
    println!("     curl -s '{base}/api/admin/webhooks/health?timeframe=1h' -H 'Authorization: Bearer {api_key}'");
    println!("     curl -s {base}/metrics | grep wedsync_");
    println!("     curl -s {base}/openapi.json");

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let result = async {
        n.step("first probes: is everybody healthy?");
        wait_until("all services healthy", Duration::from_secs(20), || async {
            let v = status_of(&http, &base, &api_key, "stripe").await;
            v["status"] == "healthy"
        })
        .await?;
        let all: serde_json::Value = http
            .get(format!("{base}/api/admin/integrations/health"))
            .bearer_auth(&api_key)
            .send()
            .await?
            .json()
            .await?;
        n.say(&format!(
            "wedding day: {} — overall status: {}",
            all["wedding_day"], all["status"]
        ));
        for s in all["services"].as_array().into_iter().flatten() {
            n.say(&format!(
                "  {:<14} {:<10} {:>6.1} ms",
                s["name"].as_str().unwrap_or("?"),
                s["status"].as_str().unwrap_or("?"),
                s["response_time_ms"].as_f64().unwrap_or(0.0)
            ));
        }

        n.step("Saturday 14:02 — Stripe starts answering 500s, and our own handler is down too");
        fakes.stripe.set_scenario(Scenario::ServerError);
        fakes.webhook_handler.set_scenario(Scenario::ServerError);
        n.say("three signed Stripe webhooks arrive (a couple's deposit failed, …)");
        let posted = Instant::now();
        let posted_at = std::time::SystemTime::now();
        let mut ids = Vec::new();
        for (i, fixture) in [
            wedsync_testkit::fixtures::STRIPE_PAYMENT_INTENT_PAYMENT_FAILED,
            wedsync_testkit::fixtures::STRIPE_CHECKOUT_SESSION_COMPLETED,
            wedsync_testkit::fixtures::STRIPE_PAYMENT_INTENT_PAYMENT_FAILED,
        ]
        .iter()
        .enumerate()
        {
            let mut v: serde_json::Value = serde_json::from_str(fixture)?;
            v["id"] = serde_json::Value::String(format!("evt_demo_{i}"));
            let body = v.to_string();
            let ts = OffsetDateTime::now_utc().unix_timestamp();
            let sig = stripe::sign(&whsec, ts, body.as_bytes());
            let r = http
                .post(format!("{base}/webhooks/stripe"))
                .header("content-type", "application/json")
                .header("stripe-signature", format!("t={ts},v1={sig}"))
                .body(body)
                .send()
                .await?;
            let status = r.status();
            let j: serde_json::Value = r.json().await.unwrap_or_default();
            n.say(&format!(
                "  POST /webhooks/stripe → {status}: recorded {} ({})",
                j["id"].as_str().unwrap_or("?"),
                v["type"].as_str().unwrap_or("?")
            ));
            if let Some(id) = j["id"].as_str() {
                ids.push(id.to_string());
            }
        }
        n.say("a tampered webhook (amount changed after signing) is refused:");
        let ts = OffsetDateTime::now_utc().unix_timestamp();
        let sig = stripe::sign(&whsec, ts, b"{\"id\":\"evt_forged\",\"amount\":100}");
        let r = http
            .post(format!("{base}/webhooks/stripe"))
            .header("content-type", "application/json")
            .header("stripe-signature", format!("t={ts},v1={sig}"))
            .body("{\"id\":\"evt_forged\",\"amount\":999999}")
            .send()
            .await?;
        n.say(&format!(
            "  POST /webhooks/stripe (forged) → {}",
            r.status()
        ));
        wait_until(
            "the first forwarding attempts",
            Duration::from_secs(15),
            || async { fakes.webhook_handler.request_count() >= ids.len() as u64 },
        )
        .await?;
        n.say(&format!(
            "  the internal handler refused the first attempt of all {} ({} after arrival); \
             the default schedule retries them ~5 s later",
            ids.len(),
            secs(posted.elapsed())
        ));
        fakes.webhook_handler.set_scenario(Scenario::Healthy);
        n.say("  14:03 — the team rolls the handler back; it answers 200 again");

        n.step("the monitor notices: incident, Slack alert, breaker opens");
        wait_until("an incident", Duration::from_secs(30), || async {
            status_of(&http, &base, &api_key, "stripe").await["services"][0]["incident"].is_object()
        })
        .await?;
        if fakes
            .slack
            .wait_for_messages(1, Duration::from_secs(15))
            .await
        {
            for t in fakes.slack.texts() {
                n.say(&format!(
                    "  Slack received: {}",
                    t.lines().next().unwrap_or("")
                ));
            }
        }
        wait_until("the breaker to open", Duration::from_secs(30), || async {
            status_of(&http, &base, &api_key, "stripe").await["services"][0]["breaker"]["state"]
                == "open"
        })
        .await?;
        n.say("  stripe breaker: OPEN — calls to Stripe now fail fast instead of piling up");

        n.step("meanwhile, the webhooks are retried on schedule and delivered");
        let delivered = fakes
            .webhook_handler
            .wait_for_deliveries(ids.len(), Duration::from_secs(45))
            .await;
        for d in fakes.webhook_handler.delivered() {
            let after = d.received_at.duration_since(posted_at).unwrap_or_default();
            n.say(&format!(
                "  webhook delivered to the handler on attempt {} ({} after it arrived)",
                d.header(wedsync_webhooks::delivery::ATTEMPT_HEADER)
                    .unwrap_or("?"),
                secs(after)
            ));
        }
        if !delivered {
            anyhow::bail!("the retried webhooks did not reach the handler within 45 s");
        }

        n.step("14:09 — Stripe recovers");
        fakes.stripe.set_scenario(Scenario::Healthy);
        let r = http
            .delete(format!(
                "{base}/api/admin/integrations/health?service=stripe"
            ))
            .bearer_auth(&api_key)
            .send()
            .await?;
        n.say(&format!(
            "  DELETE /api/admin/integrations/health?service=stripe → {} (breaker reset, audited)",
            r.status()
        ));
        wait_until("recovery", Duration::from_secs(30), || async {
            let v = status_of(&http, &base, &api_key, "stripe").await;
            v["services"][0]["status"] == "healthy" && v["services"][0]["incident"].is_null()
        })
        .await?;
        n.say("  incident resolved");
        if fakes
            .slack
            .wait_for_messages(2, Duration::from_secs(15))
            .await
        {
            if let Some(t) = fakes.slack.texts().last() {
                n.say(&format!(
                    "  Slack received: {}",
                    t.lines().next().unwrap_or("")
                ));
            }
        }

        n.step("an admin replays one delivery through the API");
        if let Some(id) = ids.first() {
            let r = http
                .post(format!("{base}/api/admin/webhooks/health"))
                .bearer_auth(&api_key)
                .json(&serde_json::json!({"webhook_id": id, "force": true}))
                .send()
                .await?;
            n.say(&format!(
                "  POST /api/admin/webhooks/health {{\"webhook_id\":\"{id}\",\"force\":true}} → {}",
                r.status()
            ));
            if fakes
                .webhook_handler
                .wait_for_deliveries(ids.len() + 1, Duration::from_secs(15))
                .await
            {
                n.say("  the handler received it again");
            }
        }
        let stats_now = || async {
            match http
                .get(format!("{base}/api/admin/webhooks/health?timeframe=1h"))
                .bearer_auth(&api_key)
                .send()
                .await
            {
                Ok(r) => r.json::<serde_json::Value>().await.unwrap_or_default(),
                Err(_) => serde_json::Value::Null,
            }
        };
        // the replayed delivery is recorded as delivered just after the handler answers
        let _ = wait_until(
            "the replay to be recorded",
            Duration::from_secs(5),
            || async {
                stats_now().await["overall"]["delivered"].as_u64() >= Some(ids.len() as u64)
            },
        )
        .await;
        let stats = stats_now().await;
        n.say(&format!(
            "  reliability (1 h): received {}, delivered {}, rejected {}",
            stats["overall"]["received"],
            stats["overall"]["delivered"],
            stats["overall"]["rejected"]
        ));
        anyhow::Ok(())
    };
    let outcome = match deadline {
        Some(d) => tokio::time::timeout_at(d.into(), result)
            .await
            .unwrap_or_else(|_| {
                println!("\n(--duration reached before the story ended)");
                Ok(())
            }),
        None => result.await,
    };
    if let Err(e) = &outcome {
        println!("\nthe demo could not finish a step: {e:#}");
    }
    if outcome.is_ok() && linger {
        println!();
        println!("The story is over; the server keeps running with its fakes so you can explore.");
        match deadline {
            Some(d) => {
                println!("It stops by itself (--duration).");
                tokio::time::sleep_until(d.into()).await;
            }
            None => {
                println!("Press Ctrl-C to stop.");
                std::future::pending::<()>().await;
            }
        }
    }
    server.shutdown().await;
    drop(fakes);
    drop(admin);
    if let Err(e) = dir.close() {
        println!("could not delete the demo's temporary directory: {e}");
    }
    println!("demo finished");
    outcome
}
