//! `ReqwestClassifier` against real HTTP exchanges on loopback: statuses, `Retry-After`,
//! transport errors, timeouts and request-building errors.
#![cfg(feature = "reqwest")]

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wedsync_breaker::reqwest::ReqwestClassifier;
use wedsync_breaker::{BreakerConfig, CallError, CircuitBreaker, Classifier, Outcome, State};

/// Answers each request with the canned response its path names; `/hang` never answers.
async fn provider() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = 0;
                while !buf[..got].windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf[got..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got += n,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..got]).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, extra) = match path.as_str() {
                    "/ok" => ("200 OK", ""),
                    "/missing" => ("404 Not Found", ""),
                    "/busy" => ("429 Too Many Requests", "Retry-After: 7\r\n"),
                    "/busy-date" => (
                        "429 Too Many Requests",
                        "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n",
                    ),
                    "/down" => ("503 Service Unavailable", "Retry-After: 86400\r\n"),
                    "/boom" => ("500 Internal Server Error", "Retry-After: 5\r\n"),
                    "/slow" => ("408 Request Timeout", ""),
                    _ => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = conn.write_all(resp.as_bytes()).await;
            });
        }
    });
    base
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap()
}

#[tokio::test]
async fn statuses_and_retry_after_from_real_responses() {
    let base = provider().await;
    let c = ReqwestClassifier {
        max_retry_after: Duration::from_secs(600),
    };
    let cases = [
        ("/ok", Outcome::Success, None),
        ("/missing", Outcome::Success, None),
        ("/slow", Outcome::Failure, None),
        ("/busy", Outcome::Failure, Some(Duration::from_secs(7))),
        ("/busy-date", Outcome::Failure, None), // an HTTP date is not parsed
        ("/down", Outcome::Failure, Some(Duration::from_secs(600))), // capped
        ("/boom", Outcome::Failure, None),      // Retry-After only counts on 429/503
    ];
    for (path, outcome, open) in cases {
        let r = client().get(format!("{base}{path}")).send().await;
        assert!(r.is_ok(), "{path}: {r:?}");
        assert_eq!(c.classify(&r), outcome, "{path}");
        assert_eq!(c.open_for(&r), open, "{path}");
    }
}

#[tokio::test]
async fn error_for_status_errors_are_classified_by_their_status() {
    let base = provider().await;
    let c = ReqwestClassifier::default();
    for (path, outcome) in [("/boom", Outcome::Failure), ("/missing", Outcome::Success)] {
        let r = client()
            .get(format!("{base}{path}"))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status);
        assert!(r.as_ref().is_err_and(|e| e.status().is_some()), "{path}");
        assert_eq!(c.classify(&r), outcome, "{path}");
        assert_eq!(c.open_for(&r), None, "{path}: not a response");
    }
}

#[tokio::test]
async fn transport_errors_fail_and_building_errors_are_ignored() {
    let c = ReqwestClassifier::default();
    // connection refused: a port that was just free
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = client().get(format!("http://{addr}/ok")).send().await;
    assert!(refused.as_ref().is_err_and(reqwest::Error::is_connect));
    assert_eq!(c.classify(&refused), Outcome::Failure);
    // timeout
    let base = provider().await;
    let hung = client().get(format!("{base}/hang")).send().await;
    assert!(hung.as_ref().is_err_and(reqwest::Error::is_timeout));
    assert_eq!(c.classify(&hung), Outcome::Failure);
    // our bug: nothing was sent
    let bad = client().get("http://[::1").send().await;
    assert!(bad.as_ref().is_err_and(reqwest::Error::is_builder));
    assert_eq!(c.classify(&bad), Outcome::Ignored);
}

#[tokio::test]
async fn a_429_opens_the_breaker_for_its_retry_after() {
    let base = provider().await;
    let cb = CircuitBreaker::new("provider", BreakerConfig::default());
    let c = ReqwestClassifier::default();
    let r = cb
        .call_async_with(&c, || client().get(format!("{base}/busy")).send())
        .await;
    assert!(r.is_ok(), "the 429 itself is returned: {r:?}");
    assert_eq!(cb.state(), State::Open);
    let wait = cb.retry_after().unwrap();
    assert!(
        wait > Duration::from_secs(6) && wait <= Duration::from_secs(7),
        "{wait:?}"
    );
    let again = cb
        .call_async_with(&c, || client().get(format!("{base}/ok")).send())
        .await;
    assert!(matches!(again, Err(CallError::Rejected(_))));
}
