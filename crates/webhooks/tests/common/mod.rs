//! A real HTTP/1.1 handler on 127.0.0.1 for the forwarding tests: records requests, answers from a
//! script.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub delay: Duration,
    pub body: String,
}

impl Answer {
    pub fn status(status: u16) -> Self {
        Answer {
            status,
            retry_after: None,
            delay: Duration::ZERO,
            body: String::new(),
        }
    }
}

/// A received request.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
pub struct TestHandler {
    pub url: String,
    script: Arc<Mutex<VecDeque<Answer>>>,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl TestHandler {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let h = TestHandler {
            url,
            script: Arc::default(),
            received: Arc::default(),
        };
        let me = h.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    continue;
                };
                let me = me.clone();
                tokio::spawn(async move {
                    loop {
                        let Some(req) = read_request(&mut sock).await else {
                            return;
                        };
                        me.received.lock().unwrap().push(req);
                        let a = me
                            .script
                            .lock()
                            .unwrap()
                            .pop_front()
                            .unwrap_or(Answer::status(200));
                        tokio::time::sleep(a.delay).await;
                        let mut resp = format!(
                            "HTTP/1.1 {} X\r\ncontent-length: {}\r\ncontent-type: text/plain\r\n",
                            a.status,
                            a.body.len()
                        );
                        if let Some(ra) = &a.retry_after {
                            resp.push_str(&format!("retry-after: {ra}\r\n"));
                        }
                        resp.push_str("\r\n");
                        resp.push_str(&a.body);
                        if sock.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        h
    }

    pub fn push(&self, a: Answer) {
        self.script.lock().unwrap().push_back(a);
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    Some(Received { headers, body })
}
