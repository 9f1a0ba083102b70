//! The HTTP service against a fake [`Backend`]: sign-in, CSRF, scopes, revocation, the stream.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Empty, Full};
use tokio::sync::watch;
use wedsync_probe::store::MemoryStore;
use wedsync_webhooks::store::InMemoryStore;

use super::*;
use crate::gather::ServiceSpec;
use crate::session::SessionKeys;

const SECRET: [u8; 32] = [9; 32];

/// Keys `admin` and `reader` (by API key; the id is the key with `id_` in front), an audit log
/// in memory, empty stores.
struct Fake {
    keys: Mutex<BTreeMap<String, Caller>>,
    audit: Mutex<Vec<(String, String, String, String)>>,
    probes: MemoryStore,
    webhooks: InMemoryStore,
}

impl Fake {
    fn new() -> Arc<Fake> {
        let key = |name: &str, can_act| {
            let id = format!("id_{name}");
            (name.to_owned(), Caller { id, can_act })
        };
        Arc::new(Fake {
            keys: Mutex::new([key("admin", true), key("reader", false)].into()),
            audit: Mutex::default(),
            probes: MemoryStore::new(),
            webhooks: InMemoryStore::default(),
        })
    }

    fn revoke(&self, api_key: &str) {
        self.keys.lock().unwrap().remove(api_key);
    }
}

#[async_trait]
impl Backend for Fake {
    async fn verify_key(&self, api_key: &str) -> Result<Option<Caller>, Unavailable> {
        match api_key {
            "down" => Err(Unavailable),
            k => Ok(self.keys.lock().unwrap().get(k).cloned()),
        }
    }

    async fn key_by_id(&self, id: &str) -> Option<Caller> {
        let keys = self.keys.lock().unwrap();
        keys.values().find(|c| c.id == id).cloned()
    }

    fn body_limit(&self) -> u64 {
        1024
    }

    fn replay_budget(&self, _: &Caller) -> Result<(), Refusal> {
        Ok(())
    }

    async fn audit(&self, caller: &Caller, action: &str, target: &str, result: &str) {
        let entry = [&caller.id, action, target, result].map(str::to_owned);
        let [id, action, target, result] = entry;
        self.audit
            .lock()
            .unwrap()
            .push((id, action, target, result));
    }

    async fn recent_audit(&self, _: usize) -> Vec<AuditRecord> {
        Vec::new()
    }

    async fn replay(&self, _: &Caller, delivery_id: &str) -> (String, Result<(), Refused>) {
        let refused = Refused {
            code: "not_found".into(),
            message: "no such delivery".into(),
        };
        (delivery_id.to_owned(), Err(refused))
    }

    fn sources(&self) -> Sources<'_> {
        Sources {
            monitor: None,
            probes: &self.probes,
            webhooks: &self.webhooks,
        }
    }
}

fn dashboard(fake: &Arc<Fake>, stop: watch::Receiver<bool>) -> Dashboard {
    let settings = Settings {
        secret: SECRET,
        session_ttl: Duration::from_secs(3600),
        secure_cookies: true,
        public_status: true,
        spec: Spec {
            zone: "Europe/London".into(),
            services: vec![ServiceSpec {
                name: "stripe".into(),
                public: true,
                interval: Duration::from_secs(30),
                wedding_interval: Duration::from_secs(15),
            }],
            providers: vec!["stripe".into()],
        },
    };
    let backend: Arc<dyn Backend> = fake.clone();
    Dashboard::new(settings, Arc::downgrade(&backend), stop)
}

/// A browser: keeps the cookies it is given.
struct Browser {
    d: Dashboard,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new(d: &Dashboard) -> Self {
        Browser {
            d: d.clone(),
            cookies: BTreeMap::new(),
        }
    }

    fn request(&self, method: &str, path: &str) -> http::request::Builder {
        let cookies: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, cookies.join("; "))
    }

    async fn send<B>(&mut self, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<BoxError>,
    {
        let r = self.d.handle(req).await;
        for c in r.headers().get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (k, v) = c.split(';').next().unwrap().split_once('=').unwrap();
            match v.is_empty() {
                true => self.cookies.remove(k),
                false => self.cookies.insert(k.to_owned(), v.to_owned()),
            };
        }
        r
    }

    async fn get(&mut self, path: &str) -> Response<Body> {
        let req = self
            .request("GET", path)
            .body(Empty::<Bytes>::new())
            .unwrap();
        self.send(req).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response<Body> {
        self.post_with(path, form, None).await
    }

    async fn post_with(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        fetch_site: Option<&str>,
    ) -> Response<Body> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut req = self.request("POST", path);
        if let Some(site) = fetch_site {
            req = req.header("sec-fetch-site", site);
        }
        self.send(req.body(Full::new(Bytes::from(body))).unwrap())
            .await
    }

    async fn sign_in(&mut self, api_key: &str) -> Response<Body> {
        let page = text(self.get("/dashboard/login").await).await;
        let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
        let csrf = page[at..at + page[at..].find('"').unwrap()].to_owned();
        let form = [("api_key", api_key), ("csrf", csrf.as_str())];
        self.post("/dashboard/login", &form).await
    }

    /// The CSRF token of this browser's session.
    fn csrf(&self) -> String {
        SessionKeys::new(SECRET).csrf(&self.cookies[crate::session::SESSION_COOKIE])
    }
}

async fn text(r: Response<Body>) -> String {
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn error_code(r: Response<Body>) -> String {
    assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
    let v: serde_json::Value = serde_json::from_str(&text(r).await).unwrap();
    v["error"]["code"].as_str().unwrap().to_owned()
}

fn location(r: &Response<Body>) -> &str {
    r.headers()[header::LOCATION].to_str().unwrap()
}

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_opens_the_page() {
    let (fake, (_stop, rx)) = (Fake::new(), watch::channel(false));
    let d = dashboard(&fake, rx);
    let mut b = Browser::new(&d);
    assert_eq!(location(&b.get("/dashboard").await), "/dashboard/login");

    let r = b.sign_in("admin").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/dashboard");
    let session = r.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(session.starts_with("wsm_session=v1."), "{session}");
    assert!(session.contains("HttpOnly; SameSite=Strict") && session.ends_with("; Secure"));

    let cookie = &b.cookies[crate::session::SESSION_COOKIE];
    let s = SessionKeys::new(SECRET).verify(cookie, 0).unwrap();
    assert_eq!(s.key_id, "id_admin");
    let r = b.get("/dashboard").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-security-policy"], crate::CSP);
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    assert!(text(r).await.contains("id=\"svc-stripe\""));

    // an unknown key, an expired form, a store that cannot answer: the form again, 401
    let mut other = Browser::new(&d);
    assert_eq!(
        other.sign_in("nobody").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(text(other.sign_in("down").await)
        .await
        .contains("store is unavailable"));
    let form = [("api_key", "admin"), ("csrf", "forged")];
    let r = Browser::new(&d).post("/dashboard/login", &form).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_form_above_the_backends_body_limit_is_refused_with_413() {
    let (fake, (_stop, rx)) = (Fake::new(), watch::channel(false));
    let mut b = Browser::new(&dashboard(&fake, rx));
    let big = "x".repeat(2048);
    let r = b.post("/dashboard/login", &[("api_key", &big)]).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(error_code(r).await, "payload_too_large");
}

#[tokio::test]
async fn forms_without_the_csrf_token_or_from_another_site_are_refused() {
    let (fake, (_stop, rx)) = (Fake::new(), watch::channel(false));
    let mut b = Browser::new(&dashboard(&fake, rx));
    b.sign_in("admin").await;
    let form = [("delivery_id", "d1"), ("csrf", "wrong")];
    let r = b.post("/dashboard/replay", &form).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(r).await, "csrf");

    let csrf = b.csrf();
    let form = [("delivery_id", "d1"), ("csrf", csrf.as_str())];
    let r = b
        .post_with("/dashboard/replay", &form, Some("cross-site"))
        .await;
    assert_eq!(error_code(r).await, "csrf");
    assert!(fake.audit.lock().unwrap().is_empty());

    // the right token: replayed (here refused by the backend), audited, a flash on the page
    let r = b.post("/dashboard/replay", &form).await;
    assert_eq!(location(&r), "/dashboard");
    let entry = ("id_admin", "webhook.replay", "d1", "not_found");
    let audit = fake.audit.lock().unwrap().clone();
    let audit: Vec<_> = audit
        .iter()
        .map(|(a, b, c, d)| (&**a, &**b, &**c, &**d))
        .collect();
    assert_eq!(audit, [entry]);
    let page = text(b.get("/dashboard").await).await;
    assert!(page.contains("Replay of delivery d1 refused: no such delivery"));

    // logging out needs the token too
    let r = b.post("/dashboard/logout", &[("csrf", "wrong")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = b
        .post("/dashboard/logout", &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(location(&r), "/dashboard/login");
    assert_eq!(location(&b.get("/dashboard").await), "/dashboard/login");
}

#[tokio::test]
async fn a_read_key_sees_but_cannot_act() {
    let (fake, (_stop, rx)) = (Fake::new(), watch::channel(false));
    let mut b = Browser::new(&dashboard(&fake, rx));
    b.sign_in("reader").await;
    assert_eq!(b.get("/dashboard").await.status(), StatusCode::OK);
    let csrf = b.csrf();
    for (path, field) in [
        ("/dashboard/acknowledge", "incident"),
        ("/dashboard/replay", "delivery_id"),
    ] {
        let r = b.post(path, &[(field, "x"), ("csrf", csrf.as_str())]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(error_code(r).await, "forbidden");
    }
    assert!(fake.audit.lock().unwrap().is_empty());
}

#[tokio::test]
async fn revoking_the_key_ends_the_session() {
    let (fake, (_stop, rx)) = (Fake::new(), watch::channel(false));
    let mut b = Browser::new(&dashboard(&fake, rx));
    b.sign_in("admin").await;
    assert_eq!(b.get("/dashboard").await.status(), StatusCode::OK);
    fake.revoke("admin");
    assert_eq!(location(&b.get("/dashboard").await), "/dashboard/login");
    let r = b.get("/dashboard/events").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(error_code(r).await, "unauthorized");
}

#[tokio::test]
async fn the_stream_starts_with_its_retry_and_ends_on_stop() {
    let (fake, (stop, rx)) = (Fake::new(), watch::channel(false));
    let mut b = Browser::new(&dashboard(&fake, rx));
    b.sign_in("reader").await;
    let r = b.get("/dashboard/events").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "text/event-stream");
    assert_eq!(r.headers()["x-accel-buffering"], "no");
    let mut body = r.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(first, crate::sse::SSE_RETRY.as_bytes());
    let second = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let second = String::from_utf8(second.to_vec()).unwrap();
    assert!(second.starts_with("event: "), "{second}");
    stop.send(true).unwrap();
    let rest = tokio::time::timeout(Duration::from_secs(5), body.collect()).await;
    assert!(rest.is_ok(), "the stream ends when the server stops");
}

#[tokio::test]
async fn public_pages_assets_and_refusals() {
    let (fake, (_stop, rx)) = (Fake::new(), watch::channel(false));
    let mut b = Browser::new(&dashboard(&fake, rx));
    let r = b.get("/status").await;
    assert_eq!(r.headers()[header::CACHE_CONTROL], "public, max-age=15");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let r = b.get("/badge/stripe/status.svg").await;
    assert_eq!(r.headers()[header::CONTENT_TYPE], "image/svg+xml");
    assert_eq!(
        b.get("/badge/nope/status.svg").await.status(),
        StatusCode::NOT_FOUND
    );
    let r = b.get("/dashboard/assets/app.js").await;
    assert_eq!(text(r).await, crate::APP_JS);
    let r = b.post("/status", &[]).await;
    assert_eq!(error_code(r).await, "method_not_allowed");

    let (_stop, rx) = watch::channel(false);
    let gone = dashboard(&Fake::new(), rx);
    let r = Browser::new(&gone).get("/status").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()[header::RETRY_AFTER], "1");
}
