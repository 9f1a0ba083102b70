//! The newcomer's demo story, played against a running wedsync-monitor over HTTP only.
//!
//! The caller starts the [`FakeProviders`], starts a server configured to probe them (Stripe
//! webhooks forwarded to the fake internal handler, the fake Slack as its alert sink), creates an
//! admin key, and hands [`play_story`] a [`DemoTarget`]. The story then scripts the fakes and
//! talks to the server's public API, narrating each step through a [`Narrator`]:
//!
//! 1. the first probes: everybody healthy;
//! 2. Stripe answers 500s and the internal handler is down; three signed Stripe webhooks arrive
//!    and a tampered one is refused; the handler comes back;
//! 3. the monitor notices: an incident, a Slack alert, the Stripe breaker opens;
//! 4. the webhooks are retried on schedule and delivered;
//! 5. Stripe recovers, an admin resets its breaker (`DELETE`), the incident resolves;
//! 6. an admin replays one delivery, and the webhook reliability stats are read.
//!
//! Every wait is bounded; the first thing that does not happen in time ends the story with a
//! [`DemoError`] naming it. [`tour`] is the whole demo around the story: it starts the fakes,
//! has the caller start its server on them, plays the story within an optional deadline, may
//! keep everything running afterwards, and stops the server, then the fakes.
//!
//! ```no_run
//! use std::time::Instant;
//! use wedsync_testkit::demo::{play_story, DemoTarget, Narrator};
//! use wedsync_testkit::{signed, FakeProviders};
//!
//! # async fn demo() -> Result<(), wedsync_testkit::demo::DemoError> {
//! let fakes = FakeProviders::start().await;
//! let secret = signed::stripe_secret();
//! // … start the server on the fakes with `secret` as its Stripe webhook secret, create a key …
//! let target = DemoTarget {
//!     base_url: "http://127.0.0.1:8080".to_owned(),
//!     api_key: std::env::var("DEMO_ADMIN_KEY").unwrap_or_default(),
//!     stripe_webhook_secret: secret,
//! };
//! let mut narrator = Narrator::new(Instant::now());
//! play_story(&target, &fakes, &mut narrator).await?;
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

use crate::signed::{self, SignedWebhook};
use crate::{fixtures, FakeProviders, Scenario};

/// The server the story plays against.
#[derive(Clone)]
pub struct DemoTarget {
    /// The API's base URL, `http://HOST:PORT` (no trailing slash).
    pub base_url: String,
    /// An admin API key, sent as `Authorization: Bearer …`.
    pub api_key: String,
    /// The secret the server verifies `POST /webhooks/stripe` with (`whsec_…`).
    pub stripe_webhook_secret: String,
}

impl std::fmt::Debug for DemoTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoTarget")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("stripe_webhook_secret", &"***")
            .finish()
    }
}

/// Why the story stopped before its end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// Something the story waits for did not happen in time (named).
    #[error("timed out waiting for {0}")]
    TimedOut(&'static str),
    /// The retried webhooks did not all reach the fake handler in time.
    #[error("the retried webhooks did not reach the handler within {} s", .0.as_secs())]
    NotDelivered(Duration),
    /// A request the story needs an answer to failed (connection, timeout or body).
    #[error("{what} failed")]
    Request {
        /// The request, e.g. `POST /webhooks/stripe`.
        what: String,
        /// What went wrong.
        #[source]
        source: reqwest::Error,
    },
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client")]
    Client(#[source] reqwest::Error),
    /// A compiled-in fixture is not JSON.
    #[error("a fixture is not JSON")]
    Fixture(#[from] serde_json::Error),
    /// The fake providers could not start (no loopback port to bind).
    #[error("could not start the fake providers")]
    Fakes(#[source] std::io::Error),
}

/// Prints the story to stdout: numbered steps and lines, each stamped with the seconds since
/// the demo started (`[  5.3s] ── step 2: …`).
#[derive(Debug, Clone)]
pub struct Narrator {
    started: Instant,
    step: u32,
}

impl Narrator {
    /// A narrator whose clock starts at `started`, before its first step.
    #[must_use]
    pub fn new(started: Instant) -> Self {
        Self { started, step: 0 }
    }

    /// When the demo started.
    #[must_use]
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Announce the next step (after a blank line).
    pub fn step(&mut self, title: &str) {
        self.step += 1;
        println!();
        println!("{}", step_line(self.started.elapsed(), self.step, title));
    }

    /// Narrate one line of the current step.
    pub fn say(&self, text: &str) {
        println!("{}", say_line(self.started.elapsed(), text));
    }

    /// Print where to watch the story: the dashboard, the status page, the admin key and the
    /// `curl` commands to paste into another terminal.
    pub fn show_links(&self, target: &DemoTarget) {
        let (base, key) = (&target.base_url, &target.api_key);
        println!();
        println!("   Watch it live in a browser:  {base}/dashboard  (sign in with the key below)");
        println!("   Public status page:          {base}/status");
        println!("   Your admin API key for this demo:  {key}");
        println!("   Paste these into another terminal while the demo runs:");
        println!(
            "     curl -s {base}/api/admin/integrations/health -H 'Authorization: Bearer {key}'"
        );
        println!("     curl -s '{base}/api/admin/webhooks/health?timeframe=1h' -H 'Authorization: Bearer {key}'");
        println!("     curl -s {base}/metrics | grep wedsync_");
        println!("     curl -s {base}/openapi.json");
    }
}

fn step_line(elapsed: Duration, step: u32, title: &str) -> String {
    format!("[{:>5.1}s] ── step {step}: {title}", elapsed.as_secs_f64())
}

fn say_line(elapsed: Duration, text: &str) -> String {
    format!("[{:>5.1}s]    {text}", elapsed.as_secs_f64())
}

/// `d` as seconds with one decimal, e.g. `5.3 s`.
fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Poll `f` every 200 ms until it holds, at most `timeout`; [`DemoError::TimedOut`] names `what`.
async fn wait_until<F, Fut>(
    what: &'static str,
    timeout: Duration,
    mut f: F,
) -> Result<(), DemoError>
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
    Err(DemoError::TimedOut(what))
}

/// Play the whole story against `target`, scripting `fakes` (the ones the server probes and
/// forwards to), narrated by `narrator` (its steps continue from its current number). Returns
/// when the story ends; the fakes are left healthy.
///
/// # Errors
/// The first step that did not happen in time, or a request the story needed that failed.
pub async fn play_story(
    target: &DemoTarget,
    fakes: &FakeProviders,
    narrator: &mut Narrator,
) -> Result<(), DemoError> {
    let story = Story::new(target, fakes)?;
    story.first_probes(narrator).await?;
    let outage = story.stripe_outage(narrator).await?;
    story.monitor_notices(narrator).await?;
    story.retries_delivered(narrator, &outage).await?;
    story.stripe_recovers(narrator).await?;
    story.replay(narrator, &outage.ids).await
}

/// The whole demo, narrated on stdout under `title`: starts the fakes, then the server with
/// `start` (which narrates what it started and returns the server with the story's target), plays
/// the story (within `duration` when one is given), keeps everything running afterwards when
/// `linger` (until `duration` is up, or forever: the caller ends it, e.g. on Ctrl-C), and stops
/// the server with `stop`, then the fakes.
///
/// # Errors
/// `start`'s error, or the story's first step that did not happen (also printed).
pub async fn tour<S, E>(
    title: &str,
    duration: Option<Duration>,
    linger: bool,
    start: impl AsyncFnOnce(&FakeProviders, &mut Narrator) -> Result<(S, DemoTarget), E>,
    stop: impl AsyncFnOnce(S),
) -> Result<(), E>
where
    E: From<DemoError> + std::fmt::Display,
{
    let started = Instant::now();
    let deadline = duration.map(|d| started + d);
    let mut n = Narrator::new(started);
    println!("{title}");
    println!("Everything runs on 127.0.0.1: fake providers, a fake Slack, a fake internal handler, and the real server.");
    n.step("starting fake Stripe, Twilio, Resend, Supabase, Slack and an internal webhook handler");
    let fakes = FakeProviders::try_start().await.map_err(DemoError::Fakes)?;
    let (server, target) = start(&fakes, &mut n).await?;
    n.show_links(&target);
    let played = async { play_story(&target, &fakes, &mut n).await.map_err(E::from) };
    let outcome = match deadline {
        Some(d) => tokio::time::timeout_at(d.into(), played)
            .await
            .unwrap_or_else(|_| {
                println!("\n(--duration reached before the story ended)");
                Ok(())
            }),
        None => played.await,
    };
    if let Err(e) = &outcome {
        println!("\nthe demo could not finish a step: {e:#}");
    }
    if outcome.is_ok() && linger {
        keep_running(deadline).await;
    }
    stop(server).await;
    drop(fakes);
    println!("demo finished");
    outcome
}

/// After the story: keeps the server and its fakes up until `deadline`, or forever (Ctrl-C).
async fn keep_running(deadline: Option<Instant>) {
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

/// What the story plays with.
struct Story<'a> {
    target: &'a DemoTarget,
    fakes: &'a FakeProviders,
    http: reqwest::Client,
}

/// The webhooks recorded during the outage, and when they were posted.
struct Outage {
    ids: Vec<String>,
    posted_at: SystemTime,
}

impl<'a> Story<'a> {
    fn new(target: &'a DemoTarget, fakes: &'a FakeProviders) -> Result<Self, DemoError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(DemoError::Client)?;
        Ok(Self {
            target,
            fakes,
            http,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.target.base_url)
    }

    /// Send an admin request (bearer key added); `what` names it in the error.
    async fn admin(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, DemoError> {
        let sent = request.bearer_auth(&self.target.api_key).send().await;
        sent.map_err(|source| DemoError::Request {
            what: what.to_owned(),
            source,
        })
    }

    /// `GET path` as an admin, as JSON; `Null` when the server did not answer with JSON.
    async fn admin_json(&self, path: &str) -> Value {
        match self.admin(path, self.http.get(self.url(path))).await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => Value::Null,
        }
    }

    /// The health of one service (`GET /api/admin/integrations/health?service=…`).
    async fn status_of(&self, service: &str) -> Value {
        let path = format!("/api/admin/integrations/health?service={service}");
        self.admin_json(&path).await
    }

    /// The webhook reliability stats of the last hour.
    async fn stats(&self) -> Value {
        self.admin_json("/api/admin/webhooks/health?timeframe=1h")
            .await
    }

    /// `POST /webhooks/stripe` with `hook`'s headers and body.
    async fn post_stripe(&self, hook: &SignedWebhook) -> Result<reqwest::Response, DemoError> {
        let mut request = self.http.post(self.url("/webhooks/stripe"));
        for (name, value) in &hook.headers {
            request = request.header(name, value);
        }
        let sent = request.body(hook.body.clone()).send().await;
        sent.map_err(|source| DemoError::Request {
            what: "POST /webhooks/stripe".to_owned(),
            source,
        })
    }

    async fn first_probes(&self, n: &mut Narrator) -> Result<(), DemoError> {
        n.step("first probes: is everybody healthy?");
        wait_until("all services healthy", Duration::from_secs(20), || async {
            self.status_of("stripe").await["status"] == "healthy"
        })
        .await?;
        let what = "GET /api/admin/integrations/health";
        let all = self.admin(
            what,
            self.http.get(self.url("/api/admin/integrations/health")),
        );
        let all: Value = all
            .await?
            .json()
            .await
            .map_err(|source| DemoError::Request {
                what: what.to_owned(),
                source,
            })?;
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
        Ok(())
    }

    async fn stripe_outage(&self, n: &mut Narrator) -> Result<Outage, DemoError> {
        let handler = &self.fakes.webhook_handler;
        n.step("Saturday 14:02 — Stripe starts answering 500s, and our own handler is down too");
        self.fakes.stripe.set_scenario(Scenario::ServerError);
        handler.set_scenario(Scenario::ServerError);
        n.say("three signed Stripe webhooks arrive (a couple's deposit failed, …)");
        let posted = Instant::now();
        let posted_at = SystemTime::now();
        let ids = self.post_signed_webhooks(n).await?;
        self.post_tampered_webhook(n).await?;
        wait_until(
            "the first forwarding attempts",
            Duration::from_secs(15),
            || async { handler.request_count() >= ids.len() as u64 },
        )
        .await?;
        n.say(&format!(
            "  the internal handler refused the first attempt of all {} ({} after arrival); \
             the default schedule retries them ~5 s later",
            ids.len(),
            secs(posted.elapsed())
        ));
        handler.set_scenario(Scenario::Healthy);
        n.say("  14:03 — the team rolls the handler back; it answers 200 again");
        Ok(Outage { ids, posted_at })
    }

    /// Posts three signed Stripe events; returns the ids the server recorded them under.
    async fn post_signed_webhooks(&self, n: &Narrator) -> Result<Vec<String>, DemoError> {
        let mut ids = Vec::new();
        for (i, fixture) in [
            fixtures::STRIPE_PAYMENT_INTENT_PAYMENT_FAILED,
            fixtures::STRIPE_CHECKOUT_SESSION_COMPLETED,
            fixtures::STRIPE_PAYMENT_INTENT_PAYMENT_FAILED,
        ]
        .iter()
        .enumerate()
        {
            let mut event: Value = serde_json::from_str(fixture)?;
            event["id"] = Value::String(format!("evt_demo_{i}"));
            let hook = signed::stripe(&self.target.stripe_webhook_secret, &event.to_string());
            let r = self.post_stripe(&hook).await?;
            let status = r.status();
            let recorded: Value = r.json().await.unwrap_or_default();
            n.say(&format!(
                "  POST /webhooks/stripe → {status}: recorded {} ({})",
                recorded["id"].as_str().unwrap_or("?"),
                event["type"].as_str().unwrap_or("?")
            ));
            if let Some(id) = recorded["id"].as_str() {
                ids.push(id.to_owned());
            }
        }
        Ok(ids)
    }

    /// Posts a Stripe event whose amount was changed after signing.
    async fn post_tampered_webhook(&self, n: &Narrator) -> Result<(), DemoError> {
        n.say("a tampered webhook (amount changed after signing) is refused:");
        let secret = &self.target.stripe_webhook_secret;
        let mut hook = signed::stripe(secret, "{\"id\":\"evt_forged\",\"amount\":100}");
        hook.body = b"{\"id\":\"evt_forged\",\"amount\":999999}".to_vec();
        let r = self.post_stripe(&hook).await?;
        n.say(&format!(
            "  POST /webhooks/stripe (forged) → {}",
            r.status()
        ));
        Ok(())
    }

    async fn monitor_notices(&self, n: &mut Narrator) -> Result<(), DemoError> {
        n.step("the monitor notices: incident, Slack alert, breaker opens");
        wait_until("an incident", Duration::from_secs(30), || async {
            self.status_of("stripe").await["services"][0]["incident"].is_object()
        })
        .await?;
        let slack = &self.fakes.slack;
        if slack.wait_for_messages(1, Duration::from_secs(15)).await {
            for t in slack.texts() {
                n.say(&format!("  Slack received: {}", first_line(&t)));
            }
        }
        wait_until("the breaker to open", Duration::from_secs(30), || async {
            self.status_of("stripe").await["services"][0]["breaker"]["state"] == "open"
        })
        .await?;
        n.say("  stripe breaker: OPEN — calls to Stripe now fail fast instead of piling up");
        Ok(())
    }

    async fn retries_delivered(&self, n: &mut Narrator, outage: &Outage) -> Result<(), DemoError> {
        n.step("meanwhile, the webhooks are retried on schedule and delivered");
        let handler = &self.fakes.webhook_handler;
        let timeout = Duration::from_secs(45);
        let delivered = handler.wait_for_deliveries(outage.ids.len(), timeout).await;
        for d in handler.delivered() {
            let after = d.received_at.duration_since(outage.posted_at);
            n.say(&format!(
                "  webhook delivered to the handler on attempt {} ({} after it arrived)",
                d.header(wedsync_webhooks::delivery::ATTEMPT_HEADER)
                    .unwrap_or("?"),
                secs(after.unwrap_or_default())
            ));
        }
        if delivered {
            Ok(())
        } else {
            Err(DemoError::NotDelivered(timeout))
        }
    }

    async fn stripe_recovers(&self, n: &mut Narrator) -> Result<(), DemoError> {
        n.step("14:09 — Stripe recovers");
        self.fakes.stripe.set_scenario(Scenario::Healthy);
        let path = "/api/admin/integrations/health?service=stripe";
        let r = self
            .admin(&format!("DELETE {path}"), self.http.delete(self.url(path)))
            .await?;
        n.say(&format!(
            "  DELETE {path} → {} (breaker reset, audited)",
            r.status()
        ));
        wait_until("recovery", Duration::from_secs(30), || async {
            let v = self.status_of("stripe").await;
            v["services"][0]["status"] == "healthy" && v["services"][0]["incident"].is_null()
        })
        .await?;
        n.say("  incident resolved");
        let slack = &self.fakes.slack;
        if slack.wait_for_messages(2, Duration::from_secs(15)).await {
            if let Some(t) = slack.texts().last() {
                n.say(&format!("  Slack received: {}", first_line(t)));
            }
        }
        Ok(())
    }

    async fn replay(&self, n: &mut Narrator, ids: &[String]) -> Result<(), DemoError> {
        n.step("an admin replays one delivery through the API");
        if let Some(id) = ids.first() {
            let path = "/api/admin/webhooks/health";
            let body = json!({"webhook_id": id, "force": true});
            let r = self
                .admin(
                    &format!("POST {path}"),
                    self.http.post(self.url(path)).json(&body),
                )
                .await?;
            n.say(&format!(
                "  POST {path} {{\"webhook_id\":\"{id}\",\"force\":true}} → {}",
                r.status()
            ));
            let handler = &self.fakes.webhook_handler;
            if handler
                .wait_for_deliveries(ids.len() + 1, Duration::from_secs(15))
                .await
            {
                n.say("  the handler received it again");
            }
        }
        // the replayed delivery is recorded as delivered just after the handler answers
        let recorded = wait_until(
            "the replay to be recorded",
            Duration::from_secs(5),
            || async {
                self.stats().await["overall"]["delivered"].as_u64() >= Some(ids.len() as u64)
            },
        );
        let _ = recorded.await;
        let stats = &self.stats().await["overall"];
        n.say(&format!(
            "  reliability (1 h): received {}, delivered {}, rejected {}",
            stats["received"], stats["delivered"], stats["rejected"]
        ));
        Ok(())
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_stamped_with_the_seconds_since_the_start() {
        let at = Duration::from_millis(5_340);
        assert_eq!(step_line(at, 2, "x"), "[  5.3s] ── step 2: x");
        assert_eq!(say_line(at, "y"), "[  5.3s]    y");
        assert_eq!(secs(at), "5.3 s");
    }

    #[test]
    fn the_target_hides_its_secrets() {
        let target = DemoTarget {
            base_url: "http://127.0.0.1:1".to_owned(),
            api_key: "the-key".to_owned(),
            stripe_webhook_secret: signed::stripe_secret(),
        };
        let shown = format!("{target:?}");
        assert!(
            !shown.contains("the-key") && !shown.contains("whsec_"),
            "{shown}"
        );
    }

    #[tokio::test]
    async fn a_tour_whose_server_does_not_start_ends_with_its_error() {
        let start = async |_: &FakeProviders, n: &mut Narrator| {
            n.say("the server refuses to start");
            Err::<((), DemoTarget), _>(DemoError::TimedOut("the server"))
        };
        let e = tour("demo", None, true, start, async |()| {}).await;
        assert!(matches!(e, Err(DemoError::TimedOut("the server"))), "{e:?}");
    }

    #[tokio::test]
    async fn a_wait_that_never_holds_names_what_it_waited_for() {
        let err = wait_until("godot", Duration::from_millis(10), || async { false })
            .await
            .err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("timed out waiting for godot")
        );
    }
}
