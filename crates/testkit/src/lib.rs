//! Faithful local fakes of the services WedSync depends on — Stripe, Twilio, Resend, Supabase,
//! Statuspage, Slack, PagerDuty and our own webhook handler — on `127.0.0.1:0`, scriptable at run
//! time to fail the ways the real ones do.
//!
//! # Example
//!
//! ```
//! use wedsync_testkit::{FakeStripe, Scenario};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let stripe = FakeStripe::start().await;
//! assert!(stripe.base_url().starts_with("http://127.0.0.1:"));
//! assert!(stripe.secret_key().starts_with("sk_test_"));
//!
//! // Talk to it like any HTTP server (here with a bare TCP stream, to need no client crate).
//! let status = wedsync_testkit::raw_get_status(stripe.addr(), "/v1/balance", &[
//!     ("authorization", &format!("Bearer {}", stripe.secret_key())),
//! ]).await.unwrap();
//! assert_eq!(status, 200);
//!
//! stripe.set_scenario(Scenario::rate_limited(30));
//! let status = wedsync_testkit::raw_get_status(stripe.addr(), "/v1/balance", &[]).await.unwrap();
//! assert_eq!(status, 429);
//! assert_eq!(stripe.request_count(), 2);
//! assert_eq!(stripe.requests()[0].header("authorization"), Some("Bearer ***"));
//! # });
//! ```
//!
//! # Details
//!
//! - Every fake is a real hyper 1.x HTTP/1.1 server bound to `127.0.0.1:0`; its accept loop and all
//!   its connections (hanging ones included) stop when the fake is dropped.
//! - Each fake checks the provider's credentials the provider's way and answers a wrong key with the
//!   provider's real 401 body; success and error bodies, request-id and rate-limit headers follow
//!   `shared/providers.md` §1 and §4.
//! - One [`Scenario`] enum scripts every fake at run time through its [`FakeHandle`] (cloneable;
//!   usable from any task): healthy, slow, hanging, 401, 429 with `Retry-After`, 5xx JSON, 5xx HTML
//!   from a CDN edge, connection reset, flapping every N calls, failing the first N calls, and the
//!   business-degraded cases.
//! - Every handle logs what it received (method, path, query, headers with secrets masked, body),
//!   bounded to the last [`DEFAULT_LOG_CAPACITY`] requests, and counts all of them.
//! - Credentials are generated at run time; no key-shaped literal is in the source.
//! - [`fixtures`] holds realistic provider payloads compiled into the crate.
//!
//! | fake | what it serves |
//! |---|---|
//! | [`FakeStripe`] | `/v1/balance`, `/v1/account` |
//! | [`FakeTwilio`] | `/2010-04-01/Accounts/{sid}.json`, `…/Balance.json` |
//! | [`FakeResend`] | `/domains` |
//! | [`FakeSupabase`] | `/auth/v1/health`, `/rest/v1/{table}` |
//! | [`FakeStatuspage`] | `/api/v2/status.json`, `/api/v2/summary.json`, `/current` |
//! | [`FakeSlack`] | an incoming webhook |
//! | [`FakePagerDuty`] | `/v2/enqueue` |
//! | [`FakeWebhookHandler`] | our internal webhook destination |
//! | [`FakeHttp`] | a generic health endpoint |
//! | [`FakeProviders`] | all of them at once |
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `signed-webhooks` | no | `signed`: realistic signed provider webhooks built from the fixtures with `wedsync-webhooks`' signing functions |
//! | `postgres` | no | per-test PostgreSQL databases (`pg`) |
//! | `demo` | no | `demo`: the newcomer's demo story, played against a running wedsync-monitor over HTTP (reqwest); turns on `signed-webhooks` |

#[cfg(feature = "demo")]
pub mod demo;
mod fake;
pub mod fixtures;
mod handler;
pub mod pagerduty;
mod providers;
pub mod resend;
mod scenario;
mod server;
#[cfg(feature = "signed-webhooks")]
pub mod signed;
mod slack;
pub mod statuspage;
pub mod stripe;
pub mod supabase;
pub mod twilio;

pub use handler::{FakeHttp, FakeWebhookHandler};
pub use pagerduty::{FakePagerDuty, PagerDutyAlert};
pub use providers::FakeProviders;
pub use resend::FakeResend;
pub use scenario::{ParseScenarioError, Scenario};
pub use server::{
    FakeHandle, RecordedRequest, DEFAULT_LOG_CAPACITY, MASKED_HEADERS, MAX_BODY_BYTES,
};
pub use slack::FakeSlack;
pub use statuspage::FakeStatuspage;
pub use stripe::FakeStripe;
pub use supabase::FakeSupabase;
pub use twilio::FakeTwilio;

/// Send a bare `GET path` over HTTP/1.1 to `addr` with `headers` and return the status code.
///
/// A dependency-free helper for doctests and smoke checks (tests should prefer a real client).
///
/// # Errors
/// On connection or I/O errors, or when the answer is not an HTTP/1.1 status line.
pub async fn raw_get_status(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<u16> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).await?;
    parse_status(&head)
}

/// Send a bare `POST` over HTTP/1.1 to `url` (`http://HOST:PORT/path?query`) with `headers` and
/// `body`, and return the status code. Dependency-free, for smoke checks and the signed webhook
/// builders.
///
/// # Errors
/// On a URL that is not `http://…`, connection or I/O errors, or an answer that is not HTTP/1.1.
pub async fn raw_post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> std::io::Result<u16> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_owned());
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid("only http:// URLs are supported"))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_owned()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_owned()),
    };
    if authority.is_empty() {
        return Err(invalid("the URL has no host"));
    }
    let mut stream = tokio::net::TcpStream::connect(authority).await?;
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("host") {
            continue;
        }
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).await?;
    parse_status(&head)
}

fn parse_status(head: &[u8; 12]) -> std::io::Result<u16> {
    if !head.starts_with(b"HTTP/1.") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not an HTTP/1.x answer",
        ));
    }
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad status line"))
}

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(feature = "postgres")]
pub mod pg;
