//! The live dashboard in a real browser: headless Chromium, driven through chromedriver (WebDriver,
//! with `fantoccini`), against the real server in-process on 127.0.0.1 with the fake Stripe,
//! Twilio, Resend and Supabase probed every second and a Stripe webhook ingress whose internal
//! handler is down.
//!
//! What it proves, in a browser that runs the page's own JavaScript under its Content Security
//! Policy:
//!
//! - `/dashboard` without a session lands on the login page; an API key logs in (the session
//!   cookie is `HttpOnly` and `SameSite=Strict`, invisible to scripts); the four services show up
//!   `healthy`; the public status page and a badge are served;
//! - a read-only key sees a delivery that needs attention but no replay control; logging out ends
//!   the session;
//! - with an admin key, when the fake Stripe starts failing, the Stripe row turns
//!   `data-state="down"` WITHOUT a reload (Server-Sent Events), and the time from the monitor's
//!   probe result (`checked_at` + response time of the first failing result, read from
//!   `/api/admin/integrations/health`) to the change in the page's DOM (a `MutationObserver`
//!   stamps it with `Date.now()`; same machine, same clock) is measured and must be at most 1 s;
//!   an incident appears;
//! - a signed Stripe webhook the handler refuses appears in the attention list; Replay asks for
//!   confirmation (a real `confirm()` dialog, accepted), replays it, shows a flash message and
//!   leaves an audit entry;
//! - when the server stops, the page says so: `body[data-state="stale"]` within 15 s.
//!
//! Screenshots (1400x1000) of the healthy overview, the outage and the stale page go to
//! `docs/dashboard/{overview,outage,stale}.png` when `WEDSYNC_SCREENSHOTS=1`, else to
//! `$TMPDIR/wedsync-dashboard-screenshots/`.
//!
//! Run it (`bash scripts/browser-deps.sh` installs Chromium and chromedriver):
//!
//! ```sh
//! cargo test -p wedsync-monitor --all-features --test browser -- --nocapture
//! WEDSYNC_SCREENSHOTS=1 cargo test -p wedsync-monitor --all-features --test browser -- --nocapture
//! ```
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` the test prints that it was SKIPPED and
//! passes, unless `WEDSYNC_BROWSER_TESTS=required` (CI), when it fails. The harness itself
//! (launch, waits, cleanup) is in `browser/driver.rs`, with a self-test on a local page.

mod common;
#[path = "browser/driver.rs"]
mod driver;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::TestServer;
use driver::{browser_available, wait_for, Browser};
use serde_json::{json, Value};
use wedsync_monitor::admin::Scope;
use wedsync_monitor::config::Config;
use wedsync_testkit::{FakeProviders, Scenario};

/// The four services, in configuration order.
const SERVICES: [&str; 4] = ["stripe", "twilio", "resend", "supabase_auth"];
/// The issue's target: a probe result reaches the page within this.
const LATENCY_TARGET_MS: f64 = 1000.0;

/// The monitor's configuration: the demo's, with every probe every second and room in the rate
/// limits for the test's own polling of the health route (every 20 ms while it measures).
fn config(fakes: &FakeProviders, stripe_whsec: &str) -> Config {
    let mut cfg = wedsync_monitor::demo::demo_config(fakes, stripe_whsec, "sqlite::memory:")
        .expect("the demo's configuration");
    for s in &mut cfg.services {
        s.common_mut().interval = std::time::Duration::from_secs(1);
        s.common_mut().public = true;
    }
    cfg.rate_limits.general_per_minute = 100_000;
    cfg.rate_limits.strict_per_minute = 1_000;
    cfg.dashboard.public_status = true;
    cfg
}

/// Whether this run writes the docs' screenshots (`WEDSYNC_SCREENSHOTS=1`).
fn docs_screenshots() -> bool {
    std::env::var("WEDSYNC_SCREENSHOTS").is_ok_and(|v| v == "1")
}

/// Where screenshot `name` goes: `docs/dashboard/` with `WEDSYNC_SCREENSHOTS=1`, else a directory
/// under the system's temporary directory (kept, overwritten by the next run).
fn screenshot_path(name: &str) -> PathBuf {
    if docs_screenshots() {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .expect("the workspace root above crates/server")
            .join("docs/dashboard")
            .join(name)
    } else {
        std::env::temp_dir()
            .join("wedsync-dashboard-screenshots")
            .join(name)
    }
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs_f64()
        * 1000.0
}

/// A JavaScript string literal for `s`.
fn js_str(s: &str) -> String {
    json!(s).to_string()
}

/// A JavaScript expression: every service row is `status`/`state` (with its `state-…` class).
fn rows_are(status: &str, state: &str) -> String {
    format!(
        "return {names}.every(n => {{ const r = document.getElementById('svc-' + n); \
         return !!r && r.dataset.status === {status} && r.dataset.state === {state} \
         && r.classList.contains('state-' + {state}); }});",
        names = json!(SERVICES),
        status = js_str(status),
        state = js_str(state),
    )
}

/// The rows' `[data-status, data-state]` by service, for messages.
/// Posts the Stripe event `event_id` signed with `whsec`, checks that it is accepted, and answers
/// the id of the delivery the ingress recorded.
async fn post_accepted(t: &TestServer, event_id: &str, whsec: &str) -> String {
    let r = common::post_stripe(t, &common::stripe_event(event_id), whsec).await;
    assert_eq!(r.status(), 200, "the signed webhook is accepted");
    let answer: Value = r.json().await.expect("the ingress answers JSON");
    answer["id"]
        .as_str()
        .expect("the ingress names the delivery")
        .to_string()
}

async fn rows(b: &Browser) -> Value {
    let script = format!(
        "const out = {{}}; for (const n of {}) {{ const r = document.getElementById('svc-' + n); \
         out[n] = r ? [r.dataset.status, r.dataset.state] : null; }} return out;",
        json!(SERVICES)
    );
    b.js(&script, Vec::new()).await
}

/// For the docs' pictures only (`WEDSYNC_SCREENSHOTS=1`): waits (at most 20 s; not a check)
/// until every row's uptime bars show data and `also` (a JavaScript expression) holds. The
/// dashboard caches the rollups for 15 s, so a fresh page may read "no data", and the bars of a
/// service that just failed may still read 100%.
async fn settle_for_docs(b: &Browser, also: &str) {
    if !docs_screenshots() {
        return;
    }
    let script = format!(
        "return {}.every(n => !document.getElementById('svc-' + n).innerText.includes('no data')) \
         && ({also});",
        json!(SERVICES)
    );
    if b.poll_js(Duration::from_secs(20), &script).await.is_none() {
        println!("(the uptime bars did not settle for the picture)");
    }
}

/// Prints a warning when the page is wider than the 1400 px window (a horizontal scroll bar).
async fn warn_on_horizontal_overflow(b: &Browser, when: &str) {
    let v = b
        .js(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            Vec::new(),
        )
        .await;
    if v[0].as_u64() > v[1].as_u64() {
        println!(
            "WARNING ({when}): the page is {} px wide in a {} px window (horizontal scroll bar)",
            v[0], v[1]
        );
    }
}

/// Logs in through the form with `key`; ends on `/dashboard` with the four rows shown.
async fn login(b: &Browser, t: &TestServer, key: &str) {
    b.goto(&t.url("/dashboard")).await;
    b.wait_path("/dashboard/login", Duration::from_secs(10))
        .await;
    let form = b
        .js(
            "const i = document.getElementById('api-key'); \
             return i && i.form ? [i.type, i.name, i.form.method, new URL(i.form.action).pathname, \
             !!document.getElementById('login')] : null;",
            Vec::new(),
        )
        .await;
    assert_eq!(
        form,
        json!(["password", "api_key", "post", "/dashboard/login", true]),
        "the login form: a password input api_key posting to /dashboard/login, a #login button"
    );
    b.type_into("#api-key", key).await;
    b.click("#login").await;
    b.wait_path("/dashboard", Duration::from_secs(10)).await;
    b.wait_js(
        "the four service rows",
        Duration::from_secs(10),
        &format!(
            "return {}.every(n => !!document.getElementById('svc-' + n));",
            json!(SERVICES)
        ),
    )
    .await;
}

/// Logs out with the page's own control (a form posting to `/dashboard/logout`), then checks that
/// `/dashboard` asks for a login again.
async fn logout(b: &Browser, t: &TestServer) {
    b.click("form[action$='/dashboard/logout'] button[type=submit]")
        .await;
    b.wait_path("/dashboard/login", Duration::from_secs(10))
        .await;
    b.goto(&t.url("/dashboard")).await;
    b.wait_path("/dashboard/login", Duration::from_secs(10))
        .await;
}

/// The first failing Stripe result the monitor reports: when it was taken and when it was done.
#[derive(Debug, Clone, Copy)]
struct FirstFailure {
    checked_at_ms: f64,
    result_at_ms: f64,
}

/// Aborts the task on drop (also on panic).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Polls `GET /api/admin/integrations/health?service=stripe` every 20 ms (for at most 30 s) and
/// keeps the first result that is not `healthy`.
fn watch_first_failure(
    t: &TestServer,
    key: &str,
) -> (AbortOnDrop, Arc<Mutex<Option<FirstFailure>>>) {
    let seen = Arc::new(Mutex::new(None));
    let out = Arc::clone(&seen);
    let http = t.http.clone();
    let url = t.url("/api/admin/integrations/health?service=stripe");
    let key = key.to_string();
    let task = tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = http.get(&url).bearer_auth(&key).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    let last = &v["services"][0]["last_result"];
                    if last["status"].is_string() && last["status"] != "healthy" {
                        if let Some(checked_at_ms) = as_ms(&last["checked_at"]) {
                            let took = last["response_time_ms"].as_f64().unwrap_or(0.0);
                            *out.lock().unwrap() = Some(FirstFailure {
                                checked_at_ms,
                                result_at_ms: checked_at_ms + took,
                            });
                            return;
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    (AbortOnDrop(task), seen)
}

/// Installs a `MutationObserver` that stamps (with `Date.now()`) when the Stripe row first shows
/// `data-state="down"` (with the page's `__dashboard.lastEventAt` then) and when the first
/// Stripe incident appears.
const OBSERVE_STRIPE: &str = r#"
const e2e = { downAt: null, lastEventAtWhenDown: null, statusWhenDown: null, incidentAt: null };
window.__e2e = e2e;
const check = () => {
  const row = document.getElementById('svc-stripe');
  if (e2e.downAt === null && row && row.dataset.state === 'down') {
    e2e.downAt = Date.now();
    e2e.statusWhenDown = row.dataset.status;
    const d = window.__dashboard;
    e2e.lastEventAtWhenDown = d ? d.lastEventAt : null;
  }
  if (e2e.incidentAt === null && document.querySelector('li.incident[data-service="stripe"]')) {
    e2e.incidentAt = Date.now();
  }
};
new MutationObserver(check).observe(document.documentElement, {
  subtree: true, childList: true, attributes: true, characterData: true,
});
check();
return e2e.downAt === null;
"#;

/// A time as Unix milliseconds: a number, or an RFC 3339 string.
fn as_ms(v: &Value) -> Option<f64> {
    if let Some(n) = v.as_f64() {
        return Some(n);
    }
    let s = v.as_str()?;
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000) as f64 / 1000.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_real_browser() {
    if !browser_available("the dashboard in a real browser") {
        return;
    }
    let started = Instant::now();
    let step = |what: &str| println!("[{:>5.1}s] {what}", started.elapsed().as_secs_f64());

    step("starting the fake providers, the monitor and Chromium");
    let fakes = FakeProviders::start().await;
    // our own handler is down: forwarded webhooks fail and stay in the attention list
    fakes.webhook_handler.set_scenario(Scenario::ServerError);
    let whsec = wedsync_monitor::random_whsec();
    let t = TestServer::start(config(&fakes, &whsec)).await;
    let (read_key, _) = t.key(&[Scope::Read]).await;
    let (admin_key, admin_id) = t.key(&[Scope::Admin]).await;
    let (observer_key, _) = t.key(&[Scope::Admin]).await;
    let b = Browser::launch().await;

    step("the public status page and a badge");
    b.goto(&t.url("/status")).await;
    let text = b
        .wait_js(
            "the public status page",
            Duration::from_secs(10),
            "return document.readyState === 'complete' && document.body && document.body.innerText;",
        )
        .await;
    let text = text.as_str().unwrap_or_default().to_lowercase();
    assert!(
        text.contains("stripe"),
        "the status page lists Stripe:\n{text}"
    );
    b.goto(&t.url("/badge/stripe/status.svg")).await;
    b.wait_js(
        "the Stripe badge as SVG",
        Duration::from_secs(10),
        "return document.contentType === 'image/svg+xml';",
    )
    .await;

    step("/dashboard without a session → the login page; log in with a READ key");
    login(&b, &t, &read_key).await;
    let cookie = b
        .client()
        .get_named_cookie("wsm_session")
        .await
        .expect("WebDriver: the wsm_session cookie after logging in");
    assert_eq!(cookie.http_only(), Some(true), "wsm_session is HttpOnly");
    assert_eq!(
        format!("{:?}", cookie.same_site()),
        "Some(Strict)",
        "wsm_session is SameSite=Strict"
    );
    assert_eq!(
        b.js(
            "return document.cookie.includes('wsm_session');",
            Vec::new()
        )
        .await,
        false,
        "scripts cannot read the session cookie"
    );

    step("waiting for the first probes: four healthy rows");
    b.wait_js(
        "four healthy service rows",
        Duration::from_secs(15),
        &rows_are("healthy", "up"),
    )
    .await;
    b.wait_js(
        "the page's script connected (body[data-state=live], #connection says Live)",
        Duration::from_secs(10),
        "const c = document.getElementById('connection'); \
         return document.body.dataset.state === 'live' && !!c && c.textContent.includes('Live') \
         && typeof window.__dashboard === 'object' && window.__dashboard !== null;",
    )
    .await;
    for id in [
        "incidents",
        "webhooks",
        "wedding-banner",
        "flash",
        "last-update",
    ] {
        assert_eq!(
            b.js(
                &format!("return !!document.getElementById({});", js_str(id)),
                Vec::new()
            )
            .await,
            true,
            "the page has #{id}"
        );
    }
    settle_for_docs(&b, "true").await;
    warn_on_horizontal_overflow(&b, "overview").await;
    b.screenshot(&screenshot_path("overview.png")).await;

    step("a webhook the handler refuses: the read key sees it, without a replay control");
    let first_id = post_accepted(&t, "evt_e2e_read", &whsec).await;
    let attention = format!(
        "return !!document.querySelector('#webhooks ul#attention > li.attention[data-delivery={}]');",
        js_str(&first_id)
    );
    b.wait_js(
        "the refused delivery in the attention list (read key)",
        Duration::from_secs(30),
        &attention,
    )
    .await;
    assert_eq!(
        b.js(
            "return document.querySelectorAll('form.replay, button.replay-button').length;",
            Vec::new()
        )
        .await,
        0,
        "a read key sees no replay control"
    );

    step("log out; log in with an ADMIN key");
    logout(&b, &t).await;
    login(&b, &t, &admin_key).await;
    b.wait_js(
        "four healthy rows (admin)",
        Duration::from_secs(15),
        &rows_are("healthy", "up"),
    )
    .await;
    b.wait_js(
        "a live connection (admin)",
        Duration::from_secs(10),
        "return document.body.dataset.state === 'live';",
    )
    .await;
    let replay_form = b
        .js(
            &format!(
                "const li = document.querySelector('li.attention[data-delivery={}]'); \
                 if (!li) return null; const f = li.querySelector('form.replay'); \
                 if (!f) return null; \
                 const v = n => {{ const i = f.querySelector('input[name=' + n + ']'); \
                 return i ? [i.type, i.value] : null; }}; \
                 return [new URL(f.action).pathname, f.method, v('delivery_id'), \
                 !!(v('csrf') && v('csrf')[1]), !!f.querySelector('button.replay-button')];",
                js_str(&first_id)
            ),
            Vec::new(),
        )
        .await;
    assert_eq!(
        replay_form,
        json!([
            "/dashboard/replay",
            "post",
            ["hidden", first_id],
            true,
            true
        ]),
        "an admin sees a replay form (hidden delivery_id and csrf) with a replay button"
    );

    step("Stripe starts failing: the row turns down without a reload");
    assert_eq!(
        b.js(OBSERVE_STRIPE, Vec::new()).await,
        true,
        "the Stripe row is not down before the fake fails"
    );
    let (_poller, first_failure) = watch_first_failure(&t, &observer_key);
    let switched_ms = now_ms();
    fakes.stripe.set_scenario(Scenario::ServerError);
    let down_at = b
        .wait_js(
            "the Stripe row to turn down (without a reload)",
            Duration::from_secs(10),
            "return window.__e2e && window.__e2e.downAt;",
        )
        .await
        .as_f64()
        .expect("downAt is a number");
    let failure = wait_for(
        "the monitor's first failing Stripe result on the health route",
        Duration::from_secs(5),
        || {
            let v = *first_failure.lock().unwrap();
            async move { v }
        },
    )
    .await;
    let e2e = b.js("return window.__e2e;", Vec::new()).await;
    assert_eq!(
        b.js("return window.__e2e !== undefined;", Vec::new()).await,
        true,
        "the page was not reloaded (the observer is still there)"
    );
    assert_eq!(
        e2e["statusWhenDown"], "unhealthy",
        "the fake's 500s are `unhealthy`: {e2e}"
    );
    let latency_ms = down_at - failure.result_at_ms;
    let from_switch_ms = down_at - switched_ms;
    let via_event = as_ms(&e2e["lastEventAtWhenDown"]).map(|at| at - failure.result_at_ms);
    println!(
        "LATENCY probe result → page: {latency_ms:.0} ms (result at {:.0} = checked_at {:.0} + \
         response time; the row changed in the DOM at {down_at:.0}); via \
         __dashboard.lastEventAt: {}; scenario switch → page: {from_switch_ms:.0} ms \
         (includes up to one probe interval, 1 s)",
        failure.result_at_ms,
        failure.checked_at_ms,
        via_event.map_or("n/a".to_string(), |ms| format!("{ms:.0} ms")),
    );
    assert!(
        latency_ms > -50.0,
        "the page changed before the probe result ({latency_ms:.0} ms): the measure is wrong"
    );
    assert!(
        latency_ms <= LATENCY_TARGET_MS,
        "the probe result took {latency_ms:.0} ms to reach the page (target ≤ {LATENCY_TARGET_MS} ms)"
    );
    println!("rows now: {}", rows(&b).await);

    step("an incident opens for Stripe");
    let incident_at = b
        .wait_js(
            "an incident li.incident[data-service=stripe] (without a reload)",
            Duration::from_secs(30),
            "return !!document.querySelector('#incidents li.incident[data-service=\"stripe\"]') \
             && window.__e2e && window.__e2e.incidentAt;",
        )
        .await
        .as_f64()
        .expect("incidentAt is a number");
    println!(
        "incident on the page {:.0} ms after the first failing result (it opens after 2 failed \
         checks on a wedding day)",
        incident_at - failure.result_at_ms
    );

    step("a signed Stripe webhook the handler refuses; replay it from the page");
    let id = post_accepted(&t, "evt_e2e_admin", &whsec).await;
    let button = format!(
        "#attention li.attention[data-delivery={}] form.replay button.replay-button",
        js_str(&id)
    );
    b.wait_js(
        "the refused delivery in the attention list, with a replay button",
        Duration::from_secs(30),
        &format!("return !!document.querySelector({});", js_str(&button)),
    )
    .await;
    assert_eq!(
        b.js("return window.__e2e !== undefined;", Vec::new()).await,
        true,
        "still the same page: everything so far arrived without a reload"
    );
    settle_for_docs(
        &b,
        "!document.getElementById('svc-stripe').innerText.includes('24 h · 100%')",
    )
    .await;
    warn_on_horizontal_overflow(&b, "outage").await;
    b.screenshot(&screenshot_path("outage.png")).await;

    let item = b
        .js(
            &format!(
                "return document.querySelector('li.attention[data-delivery={}]').innerText;",
                js_str(&id)
            ),
            Vec::new(),
        )
        .await;
    println!(
        "attention item: {}",
        item.as_str().unwrap_or_default().replace('\n', " | ")
    );
    let admin = t.admin();
    let audited = |count: usize| {
        let admin = admin.clone();
        let id = id.clone();
        async move {
            let entries: Vec<_> = admin
                .recent_audit(100)
                .await
                .ok()?
                .into_iter()
                .filter(|e| e.target == id && e.action.contains("replay"))
                .collect();
            (entries.len() >= count).then_some(entries)
        }
    };
    // A replay that meets the worker's own retry of the same delivery is refused ("in flight;
    // try again shortly"): like a person, try again (at most 3 times).
    let mut entry = None;
    for attempt in 1..=3 {
        b.js("window.__e2eBeforeReplay = true; return true;", Vec::new())
            .await;
        b.click(&button).await;
        let question = b.wait_dialog(Duration::from_secs(5)).await;
        assert!(
            !question.trim().is_empty(),
            "the confirmation asks something"
        );
        println!("confirm(): {question:?} → OK");
        b.client()
            .accept_alert()
            .await
            .expect("WebDriver: accept the confirmation");
        let flash = b
            .wait_js(
                "the flash message after the replay",
                Duration::from_secs(10),
                "const f = document.getElementById('flash'); \
                 return location.pathname === '/dashboard' \
                 && window.__e2eBeforeReplay === undefined && !!f && f.textContent.trim();",
            )
            .await;
        println!("flash: {flash}");
        let entries = wait_for("the replay's audit entry", Duration::from_secs(10), || {
            audited(attempt)
        })
        .await;
        for e in &entries {
            assert_eq!(e.key_id, admin_id, "the audit names the admin key");
        }
        if let Some(ok) = entries.iter().find(|e| e.result == "ok") {
            entry = Some(ok.clone());
            break;
        }
        println!(
            "replay {attempt} refused ({}); trying again in 1 s",
            entries
                .iter()
                .map(|e| e.result.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        b.wait_js(
            "the replay button again",
            Duration::from_secs(10),
            &format!("return !!document.querySelector({});", js_str(&button)),
        )
        .await;
    }
    let entry = entry.expect("one of 3 replays from the page is accepted");
    println!(
        "audit: {} {} by {} → {}",
        entry.action, entry.target, entry.key_id, entry.result
    );

    step("the server stops: the page goes stale");
    b.wait_js(
        "the page live again after the replay",
        Duration::from_secs(10),
        "return document.body.dataset.state === 'live';",
    )
    .await;
    let stopping = Instant::now();
    t.stop().await;
    let stopped = Instant::now();
    b.wait_js(
        "body[data-state=stale] after the server stopped",
        Duration::from_secs(15),
        "const c = document.getElementById('connection'); \
         return document.body.dataset.state === 'stale' && !!c \
         && c.textContent.includes('Connection lost');",
    )
    .await;
    println!(
        "stale {:.1} s after the shutdown began ({:.1} s after it finished)",
        stopping.elapsed().as_secs_f64(),
        stopped.elapsed().as_secs_f64()
    );
    b.screenshot(&screenshot_path("stale.png")).await;

    b.close().await;
    drop(fakes);
    step("done");
}
