//! Headless Chromium driven through chromedriver (WebDriver) with `fantoccini`, for the dashboard's
//! browser test: finding the browser (or saying loudly why the test is skipped), starting
//! chromedriver on a free `127.0.0.1` port as a child process in a process group of its own,
//! opening a session with a fresh profile directory, bounded waits on page state, screenshots, and
//! cleanup that also happens on panic (dropping a [`Browser`] kills chromedriver's whole process
//! group and every process still using the session's profile directory).
//!
//! `chromium_drives_a_local_page` exercises all of it against a tiny page served here, without the
//! monitor: `cargo test -p wedsync-monitor --all-features --test browser driver -- --nocapture`.

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// Debian's `chromium` package.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's `chromium-driver` package.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Viewport (and so screenshot) width.
pub const WIDTH: u32 = 1400;
/// Viewport (and so screenshot) height.
pub const HEIGHT: u32 = 1000;

/// Whether the browser is here. `false` (after a loud message) when it is not and the browser
/// tests are not required; panics when it is not and `WEDSYNC_BROWSER_TESTS=required` (CI).
pub fn browser_available(test: &str) -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let required = std::env::var("WEDSYNC_BROWSER_TESTS").is_ok_and(|v| v == "required");
    assert!(
        !required,
        "browser test FAILED: {test} needs {} (missing) and WEDSYNC_BROWSER_TESTS=required; \
         install chromium and chromium-driver (apt-get install chromium chromium-driver, or \
         bash scripts/browser-deps.sh)",
        missing.join(" and ")
    );
    let message = format!(
        "browser test SKIPPED: install chromium and chromium-driver (apt-get install chromium \
         chromium-driver, or bash scripts/browser-deps.sh) -- {test}: missing {}",
        missing.join(", ")
    );
    // straight to the terminal: the test harness captures print!/eprintln! of passing tests
    let bar = "!".repeat(100);
    let _ = writeln!(std::io::stderr().lock(), "\n{bar}\n!!! {message}\n{bar}\n");
    false
}

/// Chromium's command line for the session (as root on this machine: `--no-sandbox`).
fn chromium_args(profile: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // screenshots are exactly WIDTH x HEIGHT pixels whatever the host's display says
        "--force-device-scale-factor=1",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    args.push(format!("--window-size={WIDTH},{HEIGHT}"));
    args.push(format!("--user-data-dir={}", profile.display()));
    args
}

/// A free port on 127.0.0.1 (bound, read, released: chromedriver binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0 to find a free port for chromedriver")
        .local_addr()
        .expect("the local address of a bound listener")
        .port()
}

/// Everything still running whose command line names `needle` (our session's profile directory:
/// only processes this harness started have it).
fn processes_naming(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

/// `kill -KILL target` (a pid, or `-pgid` for a whole process group); errors are ignored (the
/// process may be gone already).
fn kill(target: &str) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", target])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The chromedriver child: killed with its process group (Chromium and its helpers) on drop.
struct Driver {
    child: Child,
    port: u16,
    log: PathBuf,
    profile: PathBuf,
}

impl Driver {
    fn spawn(dir: &Path, profile: &Path) -> Self {
        let port = free_port();
        let log = dir.join("chromedriver.log");
        let child = std::os::unix::process::CommandExt::process_group(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            0,
        )
        .spawn()
        .unwrap_or_else(|e| panic!("start {CHROMEDRIVER}: {e}"));
        Self {
            child,
            port,
            log,
            profile: profile.to_path_buf(),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Waits (at most 20 s) until chromedriver answers `GET /status` with `ready: true`.
    async fn wait_ready(&mut self) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("an HTTP client for chromedriver's /status");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "chromedriver exited at start ({status}); its log:\n{}",
                    self.log_tail()
                );
            }
            if let Ok(r) = http.get(format!("{}/status", self.url())).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"] == true {
                        return;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready on {} within 20 s; its log:\n{}",
                self.url(),
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver leads its own process group; Chromium and its helpers are in it
        kill(&format!("-{}", self.child.id()));
        let _ = self.child.kill();
        let _ = self.child.wait();
        // and anything that left the group but still uses this session's profile
        if let Some(profile) = self.profile.to_str() {
            for pid in processes_naming(profile) {
                kill(&pid.to_string());
            }
        }
    }
}

/// A headless Chromium session. Dropping it (also on panic) ends chromedriver and the browser;
/// [`Browser::close`] ends the session politely first.
pub struct Browser {
    client: Client,
    // dropped in this order: the processes first, then their directory
    driver: Driver,
    dir: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and opens a session (at most ~50 s in all).
    pub async fn launch() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("wedsync-browser-")
            .tempdir()
            .expect("a temporary directory for the browser profile");
        let profile = dir.path().join("profile");
        std::fs::create_dir(&profile).expect("create the browser profile directory");
        let mut driver = Driver::spawn(dir.path(), &profile);
        driver.wait_ready().await;

        let mut caps = fantoccini::wd::Capabilities::new();
        caps.insert("browserName".into(), json!("chrome"));
        // dialogs stay open until the test accepts or dismisses them
        caps.insert("unhandledPromptBehavior".into(), json!("ignore"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": chromium_args(&profile) }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut builder = ClientBuilder::new(connector);
        builder.capabilities(caps);
        let url = driver.url();
        let connect = builder.connect(&url);
        let client = match tokio::time::timeout(Duration::from_secs(30), connect).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!(
                "chromedriver could not start a Chromium session: {e}; its log:\n{}",
                driver.log_tail()
            ),
            Err(_) => panic!(
                "no Chromium session within 30 s; chromedriver's log:\n{}",
                driver.log_tail()
            ),
        };
        let browser = Self {
            client,
            driver,
            dir,
        };
        browser.fit_viewport().await;
        browser
    }

    /// Sizes the window so that the viewport (what screenshots show) is `WIDTH` x `HEIGHT`:
    /// headless Chromium's `--window-size` is the outer size, which includes room for a toolbar.
    async fn fit_viewport(&self) {
        for _ in 0..3 {
            let v = self
                .js(
                    "return [window.innerWidth, window.innerHeight, \
                     window.outerWidth, window.outerHeight];",
                    Vec::new(),
                )
                .await;
            let n = |i: usize| v[i].as_u64().unwrap_or(0) as u32;
            let (inner_w, inner_h, outer_w, outer_h) = (n(0), n(1), n(2), n(3));
            if (inner_w, inner_h) == (WIDTH, HEIGHT) {
                return;
            }
            let w = WIDTH + outer_w.saturating_sub(inner_w);
            let h = HEIGHT + outer_h.saturating_sub(inner_h);
            self.client
                .set_window_size(w, h)
                .await
                .expect("WebDriver: set the window size");
        }
        let v = self
            .js(
                "return [window.innerWidth, window.innerHeight];",
                Vec::new(),
            )
            .await;
        panic!("could not make the viewport {WIDTH}x{HEIGHT}: it is {v}");
    }

    /// The WebDriver client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The session's profile directory (every Chromium process names it on its command line).
    pub fn profile(&self) -> PathBuf {
        self.driver.profile.clone()
    }

    /// The session's temporary directory (profile, chromedriver's log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Ends the session (Chromium quits), then chromedriver.
    pub async fn close(self) {
        let client = self.client.clone();
        let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        drop(self);
    }

    /// Opens `url` (at most 20 s).
    pub async fn goto(&self, url: &str) {
        tokio::time::timeout(Duration::from_secs(20), self.client.goto(url))
            .await
            .unwrap_or_else(|_| panic!("opening {url} took more than 20 s"))
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Runs `script` (a function body: `return …;`, arguments in `arguments[i]`) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.try_js(script, args)
            .await
            .unwrap_or_else(|e| panic!("WebDriver: executing a script failed: {e}\n{script}"))
    }

    /// [`js`](Self::js) that returns the error (e.g. while the page navigates or a dialog is open).
    pub async fn try_js(
        &self,
        script: &str,
        args: Vec<Value>,
    ) -> Result<Value, fantoccini::error::CmdError> {
        match tokio::time::timeout(Duration::from_secs(10), self.client.execute(script, args)).await
        {
            Ok(r) => r,
            Err(_) => panic!("WebDriver: a script ran for more than 10 s:\n{script}"),
        }
    }

    /// Polls `script` every 50 ms until it returns something truthy (not `null`, `false`, `0` or
    /// `""`), and returns that; after `timeout` panics naming `what`, with the page's URL and
    /// text (and a screenshot in the system's temporary directory, for a look afterwards).
    pub async fn wait_js(&self, what: &str, timeout: Duration, script: &str) -> Value {
        match self.poll_js(timeout, script).await {
            Some(v) => v,
            None => {
                self.fail(&format!("timed out after {timeout:?} waiting for {what}"))
                    .await
            }
        }
    }

    /// [`wait_js`](Self::wait_js) that gives `None` instead of failing after `timeout`.
    pub async fn poll_js(&self, timeout: Duration, script: &str) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(v) = self.try_js(script, Vec::new()).await {
                let truthy = match &v {
                    Value::Null => false,
                    Value::Bool(b) => *b,
                    Value::Number(n) => n.as_f64() != Some(0.0),
                    Value::String(s) => !s.is_empty(),
                    _ => true,
                };
                if truthy {
                    return Some(v);
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Panics with `message`, the page's URL and text, after saving a screenshot of the page.
    pub async fn fail(&self, message: &str) -> ! {
        let url = self
            .client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_else(|e| format!("(no URL: {e})"));
        let text = self
            .try_js(
                "return document.body ? document.body.innerText : document.documentElement.outerHTML;",
                Vec::new(),
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let text: String = text.chars().take(3000).collect();
        let shot = std::env::temp_dir().join("wedsync-browser-failure.png");
        let saved = match self.client.screenshot().await {
            Ok(png) => std::fs::write(&shot, png)
                .map(|()| format!("screenshot: {}", shot.display()))
                .unwrap_or_else(|e| format!("(screenshot not saved: {e})")),
            Err(e) => format!("(no screenshot: {e})"),
        };
        panic!("{message}\npage: {url}\n{saved}\npage text:\n{text}");
    }

    /// Waits (at most `timeout`) until the page's path is `path`.
    pub async fn wait_path(&self, path: &str, timeout: Duration) {
        let script = format!(
            "return location.pathname === {} && document.readyState === 'complete';",
            json!(path)
        );
        self.wait_js(&format!("the page {path}"), timeout, &script)
            .await;
    }

    /// Types `text` into the element `css` (found within 10 s).
    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        el.send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("WebDriver: typing into {css}: {e}"));
    }

    /// Clicks the element `css` (found within 10 s).
    pub async fn click(&self, css: &str) {
        let el = self.find(css).await;
        el.click()
            .await
            .unwrap_or_else(|e| panic!("WebDriver: clicking {css}: {e}"));
    }

    /// The element `css`, waiting at most 10 s for it.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(el) => return el,
                Err(e) if Instant::now() >= deadline => {
                    self.fail(&format!("no element {css} within 10 s: {e}"))
                        .await
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Waits (at most `timeout`) for a JavaScript dialog (`alert`, `confirm`, …); its text.
    pub async fn wait_dialog(&self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            match self.client.get_alert_text().await {
                Ok(text) => return text,
                Err(e) => assert!(
                    Instant::now() < deadline,
                    "no dialog opened within {timeout:?}: {e}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A PNG of the viewport, checked to be `WIDTH` x `HEIGHT`, written to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let png = self
            .client
            .screenshot()
            .await
            .expect("WebDriver: a screenshot");
        let (w, h) = png_size(&png).expect("the screenshot is a PNG");
        assert_eq!(
            (w, h),
            (WIDTH, HEIGHT),
            "the screenshot is {w}x{h}, not {WIDTH}x{HEIGHT}"
        );
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        println!("screenshot: {}", path.display());
    }
}

/// Width and height from a PNG's IHDR chunk.
pub fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    if png.len() < 24 || &png[..8] != b"\x89PNG\r\n\x1a\n" || &png[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&png[16..20]), be(&png[20..24])))
}

/// Polls `f` every 50 ms until it gives `Some`, for at most `timeout`; panics naming `what`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A tiny page server for the self-test: `/` (a form, a `confirm()` on submit, an inline script
/// the CSP must block), `/app.js` (the page's script), `/done` (where the form lands).
mod page {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::{Request, Response};
    use hyper_util::rt::TokioIo;

    const INDEX: &str = r#"<!doctype html>
<html><head><title>driver self-test</title><script src="/app.js"></script></head>
<body data-state="loading">
<h1 id="heading">driver self-test</h1>
<form id="f" method="get" action="/done">
  <input type="password" name="secret" id="secret">
  <button type="submit" id="go">Go</button>
</form>
<script>window.__inline = true;</script>
</body></html>"#;

    const APP_JS: &str = r#"
window.__ready = true;
document.addEventListener('DOMContentLoaded', () => {
  document.body.dataset.state = 'live';
  document.getElementById('f').addEventListener('submit', (e) => {
    if (!window.confirm('Really go?')) { e.preventDefault(); }
  });
  setTimeout(() => { document.getElementById('heading').dataset.late = 'yes'; }, 300);
});
"#;

    async fn answer(
        req: Request<hyper::body::Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let (kind, body): (&str, String) = match req.uri().path() {
            "/" => ("text/html; charset=utf-8", INDEX.to_string()),
            "/app.js" => ("text/javascript", APP_JS.to_string()),
            "/done" => (
                "text/html; charset=utf-8",
                format!(
                    "<!doctype html><title>done</title><p id=\"got\">{}</p>",
                    req.uri().query().unwrap_or_default().len()
                ),
            ),
            _ => ("text/plain", "not found".to_string()),
        };
        Ok(Response::builder()
            .header("content-type", kind)
            .header("content-security-policy", "script-src 'self'")
            .body(Full::new(Bytes::from(body)))
            .expect("a response"))
    }

    /// Serves the pages on 127.0.0.1 until the returned task is aborted; its base URL.
    pub async fn serve() -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0 for the self-test page");
        let addr = listener.local_addr().expect("the page server's address");
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), hyper::service::service_fn(answer))
                        .await;
                });
            }
        });
        (format!("http://{addr}"), task)
    }
}

/// The harness on its own: Chromium loads a local page, runs its script under a CSP that blocks
/// the inline one, types, clicks, accepts a `confirm()`, follows the form, takes a 1400x1000
/// screenshot, and leaves no process behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_drives_a_local_page() {
    if !browser_available("driver self-test") {
        return;
    }
    let (base, server) = page::serve().await;
    let browser = Browser::launch().await;
    let profile = browser.profile();
    let profile = profile.to_str().expect("a UTF-8 temp path").to_string();
    assert!(
        !processes_naming(&profile).is_empty(),
        "Chromium runs with the session's profile directory"
    );

    browser.goto(&format!("{base}/")).await;
    browser
        .wait_js(
            "the page's script",
            Duration::from_secs(5),
            "return document.body.dataset.state === 'live' && window.__ready === true;",
        )
        .await;
    browser
        .wait_js(
            "a change the script makes later",
            Duration::from_secs(5),
            "return document.getElementById('heading').dataset.late === 'yes';",
        )
        .await;
    assert_eq!(
        browser
            .js("return window.__inline === undefined;", Vec::new())
            .await,
        true,
        "the CSP (script-src 'self') blocked the inline script"
    );

    browser.type_into("#secret", "s3cret").await;
    browser.click("#go").await;
    let text = browser.wait_dialog(Duration::from_secs(5)).await;
    assert_eq!(text, "Really go?");
    browser
        .client()
        .accept_alert()
        .await
        .expect("WebDriver: accept the dialog");
    browser.wait_path("/done", Duration::from_secs(10)).await;
    assert_eq!(
        browser
            .js(
                "return document.getElementById('got').textContent;",
                Vec::new()
            )
            .await,
        json!("secret=s3cret".len().to_string())
    );

    let shot = browser.dir().join("self-test.png");
    browser.screenshot(&shot).await;
    assert!(std::fs::metadata(&shot).expect("the screenshot").len() > 100);

    browser.close().await;
    server.abort();
    wait_for(
        "every Chromium process of the session to end",
        Duration::from_secs(10),
        || {
            let left = processes_naming(&profile);
            async move { left.is_empty().then_some(()) }
        },
    )
    .await;
}
