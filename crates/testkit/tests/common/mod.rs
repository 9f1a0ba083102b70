//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::time::Duration;

/// A client with a short timeout, no proxy, no pooling surprises.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// A client whose timeout is `ms` milliseconds.
pub fn client_with_timeout(ms: u64) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(ms))
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// Status, lowercase headers and body text.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn send(req: reqwest::RequestBuilder) -> Answer {
    let resp = req.send().await.expect("request failed");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.expect("body");
    Answer {
        status,
        headers,
        body,
    }
}

/// `POST` `body` as JSON to `url`.
pub async fn post_json(url: impl reqwest::IntoUrl, body: &serde_json::Value) -> Answer {
    send(client().post(url).json(body)).await
}

/// The `status` of the entry named `name` in the JSON array `list` (entries with `name` and
/// `status`, as status pages list components and Resend lists domains).
pub fn status_of(list: &serde_json::Value, name: &str) -> String {
    list.as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == name)
        .map(|entry| entry["status"].as_str().unwrap().to_owned())
        .unwrap()
}

/// The `error.message` of an error answer (Stripe's shape).
pub fn error_message(answer: &Answer) -> String {
    answer.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned()
}
