//! Verifying Stripe and Resend (Svix / Standard Webhooks) webhooks in your own hyper 1.x service.
//!
//! ```sh
//! # self-test: serves on 127.0.0.1 (a free port), sends itself signed, tampered and stale
//! # webhooks built with the crate's own signing functions, checks the answers and exits
//! cargo run -p wedsync-webhooks --example verify_in_hyper
//!
//! # serve for real on an address of your choice, with the secrets from the environment
//! STRIPE_WEBHOOK_SECRET=whsec_... RESEND_WEBHOOK_SECRET=whsec_... \
//!     cargo run -p wedsync-webhooks --example verify_in_hyper -- --serve 127.0.0.1:8080
//! ```
//!
//! The pattern, whatever your framework:
//!
//! 1. read the body as raw bytes, with a size limit, and do **not** parse it yet;
//! 2. verify those bytes against the headers (`http::HeaderMap` implements
//!    [`HeaderSource`](wedsync_webhooks::verify::HeaderSource), so pass the request's headers
//!    as they are) at the current time;
//! 3. answer 401 on a [`VerifyError`] (its `kind()` is safe to log: it never contains a secret, a
//!    signature or the body) and only parse the JSON once it verified.
//!
//! To record, deduplicate, forward and retry what you verified, hand the same bytes and headers to
//! `wedsync_webhooks::ingest::Receiver::receive` instead (it verifies first too); see
//! `docs/embedding.md`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wedsync_webhooks::verify::standard::{self, HeaderStyle};
use wedsync_webhooks::verify::{stripe, StandardWebhooksVerifier, StripeVerifier, VerifyError};

/// Largest body accepted (providers send a few KB; Stripe's limit is far below this).
const BODY_LIMIT: usize = 1024 * 1024;

/// The verifiers, built once at start-up (each keeps the keyed HMAC state, not the secret).
struct Verifiers {
    stripe: StripeVerifier,
    resend: StandardWebhooksVerifier,
}

/// Errors of this example's `main`.
#[derive(Debug, thiserror::Error)]
enum ExampleError {
    #[error("a webhook secret is not valid: {0}")]
    Secret(#[from] VerifyError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad --serve address: {0}")]
    Addr(#[from] std::net::AddrParseError),
    #[error("--serve needs {0} in the environment")]
    MissingSecret(&'static str),
    #[error("self-test failed: {0}")]
    SelfTest(String),
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(body.into()));
    *res.status_mut() = status;
    res
}

/// The handler: route, read the raw body, verify, and only then parse.
async fn handle(
    verifiers: Arc<Verifiers>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    if parts.method != hyper::Method::POST {
        return Ok(text(StatusCode::METHOD_NOT_ALLOWED, "POST only\n"));
    }
    // 1. The raw bytes, bounded. Nothing has parsed them.
    let body = match Limited::new(body, BODY_LIMIT).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(text(StatusCode::PAYLOAD_TOO_LARGE, "body too large\n")),
    };
    // 2. Verify against the headers, now.
    let now = OffsetDateTime::now_utc();
    let verdict = match parts.uri.path() {
        "/webhooks/stripe" => verifiers.stripe.verify(&parts.headers, &body, now),
        "/webhooks/resend" => verifiers.resend.verify(&parts.headers, &body, now),
        _ => return Ok(text(StatusCode::NOT_FOUND, "no such provider\n")),
    };
    if let Err(e) = verdict {
        eprintln!("rejected {}: {} ({e})", parts.uri.path(), e.kind());
        return Ok(text(
            StatusCode::UNAUTHORIZED,
            format!("invalid signature: {}\n", e.kind()),
        ));
    }
    // 3. Verified: now it is worth parsing.
    let event: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return Ok(text(StatusCode::BAD_REQUEST, "body is not JSON\n")),
    };
    let kind = event
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("(no type)");
    println!("verified {}: {kind}", parts.uri.path());
    Ok(text(StatusCode::OK, "ok\n"))
}

/// Serves `listener` until the process ends.
async fn serve(listener: TcpListener, verifiers: Arc<Verifiers>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let verifiers = verifiers.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(verifiers.clone(), req));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("connection error: {e}");
            }
        });
    }
}

/// One HTTP/1.1 POST over a plain TCP connection to 127.0.0.1; returns the status code.
async fn post(
    addr: SocketAddr,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<u16, ExampleError> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| ExampleError::SelfTest(format!("not an HTTP answer: {answer:?}")))
}

/// One self-test request: what it is, the path, its headers and body, the status expected.
type Case<'a> = (&'a str, &'a str, &'a [(String, String)], &'a [u8], u16);

/// Sends signed, tampered and stale webhooks to the server at `addr` and checks each answer.
async fn self_test(
    addr: SocketAddr,
    stripe_secret: &str,
    resend_secret: &str,
) -> Result<(), ExampleError> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let stripe_body = br#"{"id":"evt_example","type":"invoice.paid","data":{"object":{}}}"#;
    let resend_body = br#"{"type":"email.delivered","data":{"email_id":"re_example"}}"#;

    let stripe_signed = vec![(
        stripe::HEADER.to_owned(),
        stripe::sign(stripe_secret, now, stripe_body),
    )];
    let resend_signed = standard::headers(
        HeaderStyle::Svix,
        resend_secret,
        "msg_example",
        now,
        resend_body,
    )?;
    let resend_stale = standard::headers(
        HeaderStyle::Svix,
        resend_secret,
        "msg_example",
        now - 3600,
        resend_body,
    )?;
    let tampered = br#"{"id":"evt_example","type":"invoice.paid","data":{"object":{"amount":1}}}"#;

    let cases: [Case<'_>; 5] = [
        (
            "Stripe, signed",
            "/webhooks/stripe",
            &stripe_signed,
            stripe_body,
            200,
        ),
        (
            "Stripe, body changed after signing",
            "/webhooks/stripe",
            &stripe_signed,
            tampered,
            401,
        ),
        (
            "Stripe, no signature header",
            "/webhooks/stripe",
            &[],
            stripe_body,
            401,
        ),
        (
            "Resend (svix-* headers), signed",
            "/webhooks/resend",
            &resend_signed,
            resend_body,
            200,
        ),
        (
            "Resend, signed an hour ago",
            "/webhooks/resend",
            &resend_stale,
            resend_body,
            401,
        ),
    ];
    for (what, path, headers, body, want) in cases {
        let got = post(addr, path, headers, body).await?;
        println!("{what:<40} → {got} (expected {want})");
        if got != want {
            return Err(ExampleError::SelfTest(format!(
                "{what}: {got}, expected {want}"
            )));
        }
    }
    println!("self-test passed");
    Ok(())
}

fn env_secret(name: &'static str) -> Result<String, ExampleError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(ExampleError::MissingSecret(name))
}

#[tokio::main]
async fn main() -> Result<(), ExampleError> {
    let serve_at = std::env::args()
        .skip_while(|a| a != "--serve")
        .nth(1)
        .map(|a| a.parse::<SocketAddr>())
        .transpose()?;

    // Real secrets come from the environment; the self-test makes fake ones at run time.
    let (stripe_secret, resend_secret) = match serve_at {
        Some(_) => (
            env_secret("STRIPE_WEBHOOK_SECRET")?,
            env_secret("RESEND_WEBHOOK_SECRET")?,
        ),
        None => (
            format!("{}{}", "whsec_", "example_stripe_secret"),
            format!("{}{}", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ),
    };
    let verifiers = Arc::new(Verifiers {
        // Several secrets may be given while one is rotated: any of them verifies.
        stripe: StripeVerifier::new([stripe_secret.as_str()]),
        resend: StandardWebhooksVerifier::new([resend_secret.as_str()])?,
    });

    let listener =
        TcpListener::bind(serve_at.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)))).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}/webhooks/{{stripe,resend}}");
    if serve_at.is_some() {
        serve(listener, verifiers).await;
        return Ok(());
    }
    let server = tokio::spawn(serve(listener, verifiers));
    let result = self_test(addr, &stripe_secret, &resend_secret).await;
    server.abort();
    result
}
