//! The dashboard over HTTP against the real server: sign-in from an API key (cookie attributes,
//! CSRF on the form), scopes (read sees, admin replays), revocation ending a session, the CSP,
//! the Server-Sent Events stream, the public status page and badges (opt-in per service).

mod common;

use std::time::Duration;

use common::{
    delivery_id, post_stripe, stripe_event, stripe_secret, stripe_service_config, TestServer,
    STRIPE_WEBHOOKS_IN_MEMORY,
};
use wedsync_monitor::admin::Scope;
use wedsync_monitor::config::{Config, Secret};
use wedsync_testkit::{FakeStripe, FakeWebhookHandler, Scenario};

fn config(stripe: &FakeStripe, handler: &FakeWebhookHandler, extra: &str) -> Config {
    let sections = format!(
        "{STRIPE_WEBHOOKS_IN_MEMORY}forward_to = \"{}\"\n{extra}\n",
        handler.url_for("stripe")
    );
    let mut cfg = stripe_service_config(&sections, stripe, "T_STRIPE_KEY");
    cfg.secret_overrides
        .insert("T_STRIPE_WHSEC".into(), Secret::new(stripe_secret()));
    cfg
}

/// A server configured by [`config`] (plus `extra`) against a fresh fake Stripe and webhook
/// handler, which it returns too (they must outlive the server).
async fn start(extra: &str) -> (FakeStripe, FakeWebhookHandler, TestServer) {
    let stripe = FakeStripe::start().await;
    let handler = FakeWebhookHandler::start().await;
    let t = TestServer::start(config(&stripe, &handler, extra)).await;
    (stripe, handler, t)
}

/// A browser without JavaScript: follows nothing, keeps the cookies it is given.
struct Browser<'a> {
    t: &'a TestServer,
    http: reqwest::Client,
    cookies: std::collections::BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    fn new(t: &'a TestServer) -> Self {
        Browser {
            t,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            cookies: Default::default(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, r: &reqwest::Response) -> Vec<String> {
        let set: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for c in &set {
            let (kv, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        set
    }

    async fn get(&mut self, path: &str) -> reqwest::Response {
        let r = self
            .http
            .get(self.t.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&r);
        r
    }

    async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (reqwest::Response, Vec<String>) {
        let r = self
            .http
            .post(self.t.url(path))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        let set = self.keep(&r);
        (r, set)
    }

    /// Signs in with `key`; the response and the Set-Cookie lines.
    async fn sign_in(&mut self, key: &str) -> (reqwest::Response, Vec<String>) {
        let page = self.get("/dashboard/login").await.text().await.unwrap();
        let csrf = csrf_of(&page);
        self.post("/dashboard/login", &[("api_key", key), ("csrf", &csrf)])
            .await
    }
}

/// The value of the first `name="csrf"` input in `html`.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\"").expect("a csrf input");
    let rest = &html[at..];
    let v = rest.find("value=\"").expect("a value") + 7;
    rest[v..v + rest[v..].find('"').unwrap()].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_scopes_csrf_and_revocation() {
    let (_stripe, _handler, t) = start("").await;
    let mut b = Browser::new(&t);

    // no session: to the sign-in page, which forbids inline script
    let r = b.get("/dashboard").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/dashboard/login");
    let r = b.get("/dashboard/login").await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");

    // a wrong key, and a form without its token, are refused
    let (r, _) = b.sign_in("wsk_not_a_key").await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("not valid"));
    let (read, read_id) = t.key(&[Scope::Read]).await;
    let (r, _) = b
        .post(
            "/dashboard/login",
            &[("api_key", &read), ("csrf", "forged")],
        )
        .await;
    assert_eq!(r.status(), 401, "a sign-in without the form's token");
    assert!(!b.cookies.contains_key("wsm_session"));

    // a read key: a strict session cookie, the page, no replay buttons
    let (r, set) = b.sign_in(&read).await;
    assert_eq!(r.status(), 303);
    let session = set.iter().find(|c| c.starts_with("wsm_session=")).unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(attr), "{session}");
    }
    assert!(!session.contains("Secure"), "plain HTTP here: {session}");
    assert!(!session.contains(&read), "the cookie never holds the key");
    let r = b.get("/dashboard").await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"svc-stripe\""), "{page}");
    assert!(
        !page.contains("class=\"replay\""),
        "read scope sees, does not act"
    );
    assert!(!page.contains("<script>"), "no inline script");
    let csrf = csrf_of(&page);

    // a read session cannot replay, even with its token
    let (r, _) = b
        .post(
            "/dashboard/replay",
            &[
                ("delivery_id", "00000000-0000-0000-0000-000000000000"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);

    // revoking the key ends the session at once
    assert!(t.admin().revoke_key(&read_id).await.unwrap());
    let r = b.get("/dashboard").await;
    assert_eq!(r.status(), 303, "revoked key: back to sign-in");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_replays_with_a_token_and_it_is_audited() {
    let stripe = FakeStripe::start().await;
    let handler = FakeWebhookHandler::start().await;
    handler.set_scenario(Scenario::ServerError);
    let t = TestServer::start(config(&stripe, &handler, "")).await;
    let r = post_stripe(&t, &stripe_event("evt_dash_replay"), &stripe_secret()).await;
    assert_eq!(r.status(), 200);
    let id = delivery_id(r).await;
    assert!(
        handler
            .handle()
            .wait_for_requests(1, Duration::from_secs(10))
            .await
    );
    let mut b = Browser::new(&t);
    let (admin, admin_id) = t.key(&[Scope::Admin]).await;
    b.sign_in(&admin).await;
    let page = b.get("/dashboard").await.text().await.unwrap();
    let csrf = csrf_of(&page);

    // another session's token, or none, is refused
    let mut other = Browser::new(&t);
    let (admin2, _) = t.key(&[Scope::Admin]).await;
    other.sign_in(&admin2).await;
    let foreign = csrf_of(&other.get("/dashboard").await.text().await.unwrap());
    for bad in ["", foreign.as_str()] {
        let (r, _) = b
            .post("/dashboard/replay", &[("delivery_id", &id), ("csrf", bad)])
            .await;
        assert_eq!(r.status(), 403, "token {bad:?}");
    }

    handler.set_scenario(Scenario::Healthy);
    let (r, set) = b
        .post(
            "/dashboard/replay",
            &[("delivery_id", &id), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(set.iter().any(|c| c.starts_with("wsm_flash=")), "{set:?}");
    let page = b.get("/dashboard").await.text().await.unwrap();
    assert!(page.contains("scheduled"), "the flash message: {page}");
    assert!(
        handler
            .wait_for_deliveries(1, Duration::from_secs(10))
            .await
    );
    let audit = t.admin().recent_audit(10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "webhook.replay" && e.key_id == admin_id && e.target == id),
        "{audit:?}"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_pushes_updates_and_heartbeats() {
    let (_stripe, _handler, t) = start("").await;
    let mut b = Browser::new(&t);
    let r = b.get("/dashboard/events").await;
    assert_eq!(r.status(), 401, "no session, no stream");
    let (read, _) = t.key(&[Scope::Read]).await;
    b.sign_in(&read).await;
    let mut r = b
        .http
        .get(t.url("/dashboard/events"))
        .header("cookie", b.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !(seen.contains("event: update") && seen.contains("event: heartbeat")) {
        let chunk = tokio::time::timeout_at(deadline, r.chunk())
            .await
            .expect("an update and a heartbeat within 15 s")
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("svc-stripe"), "{seen}");
    // the stream ends with the server
    let stop = tokio::spawn(async move { t.stop().await });
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = r.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream closes when the server stops");
    stop.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_page_shows_only_opted_in_services_and_nothing_else() {
    // off by default
    let (stripe, handler, t) = start("").await;
    assert_eq!(t.get("/status").await.status(), 404);
    assert_eq!(t.get("/badge/stripe/status.svg").await.status(), 404);
    t.stop().await;

    let mut cfg = config(
        &stripe,
        &handler,
        "\n[dashboard]\npublic_status = true\nsecure_cookies = true\n",
    );
    cfg.services[0].common_mut().public = true;
    let mut hidden = cfg.services[0].clone();
    hidden.common_mut().name = "internal_db".into();
    hidden.common_mut().public = false;
    cfg.services.push(hidden);
    let t = TestServer::start(cfg).await;
    let r = t.get("/status").await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("stripe"), "{page}");
    assert!(!page.contains("internal_db"), "not opted in: {page}");
    assert!(
        !page.contains("breaker"),
        "no details that help an attacker"
    );
    let r = t.get("/badge/stripe/status.svg").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert!(r.text().await.unwrap().contains("<svg"));
    assert_eq!(t.get("/badge/stripe/uptime.svg").await.status(), 200);
    assert_eq!(t.get("/badge/internal_db/status.svg").await.status(), 404);
    // behind TLS the session cookie is Secure
    let mut b = Browser::new(&t);
    let (read, _) = t.key(&[Scope::Read]).await;
    let (_, set) = b.sign_in(&read).await;
    assert!(
        set.iter()
            .any(|c| c.starts_with("wsm_session=") && c.contains("Secure")),
        "{set:?}"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_windows_from_the_configuration_are_shown() {
    let stripe = FakeStripe::start().await;
    let handler = FakeWebhookHandler::start().await;
    let now = time::OffsetDateTime::now_utc();
    let rfc = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let windows = format!(
        "\n[[maintenance]]\nservice = \"stripe\"\nstart = \"{}\"\nend = \"{}\"\n\n\
         [[maintenance]]\nstart = \"{}\"\nend = \"{}\"\n",
        rfc(now - time::Duration::hours(1)),
        rfc(now + time::Duration::hours(1)),
        rfc(now + time::Duration::days(2)),
        rfc(now + time::Duration::days(2) + time::Duration::hours(2)),
    );
    let t = TestServer::start(config(&stripe, &handler, &windows)).await;
    let mut b = Browser::new(&t);
    let (read, _) = t.key(&[Scope::Read]).await;
    b.sign_in(&read).await;
    let page = b.get("/dashboard").await.text().await.unwrap();
    assert!(
        page.contains("data-phase=\"now\" data-service=\"stripe\""),
        "the current window: {page}"
    );
    assert!(
        page.contains("data-phase=\"upcoming\" data-service=\"\""),
        "the upcoming window for every service"
    );
    t.stop().await;

    // a window that ends before it starts, or names no configured service, is refused by name
    for (bad, key) in [
        ("[[maintenance]]\nstart = \"2026-12-05T02:00:00Z\"\nend = \"2026-12-05T01:00:00Z\"", "maintenance[0]"),
        ("[[maintenance]]\nservice = \"paypal\"\nstart = \"2026-12-05T01:00:00Z\"\nend = \"2026-12-05T02:00:00Z\"", "maintenance[0].service"),
        ("[[maintenance]]\nstart = \"tomorrow\"\nend = \"2026-12-05T02:00:00Z\"", "maintenance[0]"),
    ] {
        let e = Config::from_toml(bad).unwrap_err().to_string();
        assert!(e.contains(key), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_acknowledges_an_open_incident_and_the_timeline_shows_it() {
    let (stripe, _handler, t) = start("").await;
    stripe.set_scenario(Scenario::ServerError);
    let (admin, admin_id) = t.key(&[Scope::Admin]).await;
    let mut b = Browser::new(&t);
    b.sign_in(&admin).await;
    // the incident opens after a few failed probes (one a second)
    let mut page = String::new();
    for _ in 0..100 {
        page = b.get("/dashboard").await.text().await.unwrap();
        if page.contains("class=\"ack\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        page.contains("class=\"ack\""),
        "an open incident to acknowledge: {page}"
    );
    let at = page.find("name=\"incident\" value=\"").unwrap() + "name=\"incident\" value=\"".len();
    let key = page[at..at + page[at..].find('"').unwrap()].to_owned();
    let csrf = csrf_of(&page);

    // a read key may look, not acknowledge
    let mut reader = Browser::new(&t);
    let (read, _) = t.key(&[Scope::Read]).await;
    reader.sign_in(&read).await;
    let rpage = reader.get("/dashboard").await.text().await.unwrap();
    assert!(!rpage.contains("class=\"ack\""));
    let (r, _) = reader
        .post(
            "/dashboard/acknowledge",
            &[("incident", &key), ("csrf", &csrf_of(&rpage))],
        )
        .await;
    assert_eq!(r.status(), 403);

    let (r, _) = b
        .post(
            "/dashboard/acknowledge",
            &[("incident", &key), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = b.get("/dashboard").await.text().await.unwrap();
    assert!(page.contains("tl-acknowledged"), "{page}");
    assert!(page.contains("acknowledged"), "the flash message");
    assert!(!page.contains("class=\"ack\""), "acknowledged once");
    let audit = t.admin().recent_audit(20).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "incident.acknowledge"
        && e.key_id == admin_id
        && e.target == key
        && e.result == "ok"));
    // an unknown (or resolved) incident is refused and audited as such
    let (r, _) = b
        .post(
            "/dashboard/acknowledge",
            &[("incident", "wedsync/none/1"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let audit = t.admin().recent_audit(20).await.unwrap();
    assert!(audit
        .iter()
        .any(|e| e.target == "wedsync/none/1" && e.result == "not_found"));
    t.stop().await;
}
