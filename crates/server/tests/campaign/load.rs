//! The load: `clients` concurrent senders posting signed Stripe webhooks with unique event ids,
//! offered at a target total rate (open loop: event `n` is due at `n / rate` seconds, whatever the
//! server does; a backlog built while it is down is drained as fast as the clients can).
//!
//! The clients behave like the provider: a 2xx is an acknowledgement (recorded with its time);
//! anything else (503, refused connection, timeout, reset) means "not acknowledged" and the same
//! event is sent again 200 ms later (to the next server, when there are several), until the end of
//! the load plus a grace period. About 2 % of the requests are malformed; those are sent once and
//! must never be answered 2xx.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{stripe_event, stripe_secret};

/// Prefix of the malformed requests' event ids (the handler must never see one).
pub const MALFORMED_PREFIX: &str = "evt_malformed_";

/// How the load runs.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Run id, part of every event id.
    pub run: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Target requests per second, all clients together.
    pub rate: f64,
    /// How long new events are sent.
    pub duration: Duration,
    /// After `duration`, how long unacknowledged events are still retried.
    pub grace: Duration,
    /// How long a client waits before sending an unacknowledged event again.
    pub retry_after: Duration,
    /// One request in this many is malformed.
    pub malformed_every: u64,
    /// The servers' base URLs (`http://127.0.0.1:PORT`); client `i` starts at `i % len` and moves
    /// to the next one after each failure (a load balancer without health checks).
    pub targets: Vec<String>,
    /// `server.body_limit_bytes`: the oversized request is one KiB above it.
    pub body_limit: usize,
}

/// The kinds of malformed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Malformed {
    /// Signed with the wrong secret.
    BadSignature,
    /// Correctly signed, but the JSON is cut in half.
    Truncated,
    /// Correctly signed, but not JSON at all (`application/xml`).
    WrongContent,
    /// Correctly signed JSON one KiB above the body limit.
    Oversized,
    /// No `Stripe-Signature` header.
    MissingHeader,
}

impl Malformed {
    const ALL: [Malformed; 5] = [
        Malformed::BadSignature,
        Malformed::Truncated,
        Malformed::WrongContent,
        Malformed::Oversized,
        Malformed::MissingHeader,
    ];

    fn name(self) -> &'static str {
        match self {
            Malformed::BadSignature => "bad_signature",
            Malformed::Truncated => "truncated_json",
            Malformed::WrongContent => "wrong_content",
            Malformed::Oversized => "oversized",
            Malformed::MissingHeader => "missing_header",
        }
    }
}

/// What the load saw.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Acknowledged event id → when the 2xx arrived.
    pub acked: HashMap<String, Instant>,
    /// Events never acknowledged (retries ran out of time).
    pub unacked: Vec<String>,
    /// Events created.
    pub events: u64,
    /// Campaign requests sent (first sends and retries).
    pub requests: u64,
    /// Answers to campaign requests: `200`, `503`, `connect`, `timeout`, … → count.
    pub answers: BTreeMap<String, u64>,
    /// 2xx answers whose status was `duplicate` (the server had recorded an earlier send whose
    /// answer was lost).
    pub duplicate_acks: u64,
    /// Malformed requests: (kind, answer) → count.
    pub malformed: BTreeMap<(String, String), u64>,
    /// Malformed requests answered 2xx: "kind id".
    pub malformed_acked: Vec<String>,
}

impl LoadReport {
    fn merge(&mut self, other: LoadReport) {
        self.acked.extend(other.acked);
        self.unacked.extend(other.unacked);
        self.events += other.events;
        self.requests += other.requests;
        for (k, v) in other.answers {
            *self.answers.entry(k).or_default() += v;
        }
        self.duplicate_acks += other.duplicate_acks;
        for (k, v) in other.malformed {
            *self.malformed.entry(k).or_default() += v;
        }
        self.malformed_acked.extend(other.malformed_acked);
    }

    /// Malformed requests sent.
    pub fn malformed_sent(&self) -> u64 {
        self.malformed.values().sum()
    }
}

struct Shared {
    plan: LoadPlan,
    /// The next event number to send; event `n` is due at `start + n / rate`.
    next: AtomicU64,
    start: Instant,
    load_end: Instant,
    retry_end: Instant,
}

impl Shared {
    fn due(&self, n: u64) -> Instant {
        self.start + Duration::from_secs_f64(n as f64 / self.plan.rate)
    }

    /// Takes the next event if it is due (events are offered at the target rate whatever the
    /// server does: open loop, like a provider; a backlog built during an outage is sent as fast
    /// as the clients can once the server answers again).
    fn take_due(&self, now: Instant) -> Option<u64> {
        loop {
            let n = self.next.load(Ordering::Acquire);
            let due = self.due(n);
            if due > now || due >= self.load_end {
                return None;
            }
            if self
                .next
                .compare_exchange(n, n + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Some(n);
            }
        }
    }

    /// When the next event is due, if there is one left.
    fn next_due(&self) -> Option<Instant> {
        let due = self.due(self.next.load(Ordering::Acquire));
        (due < self.load_end).then_some(due)
    }
}

/// Runs the load to its end (events offered for `plan.duration`, then retries for up to
/// `plan.grace`).
pub async fn run(plan: LoadPlan) -> LoadReport {
    assert!(plan.rate > 0.0 && plan.clients > 0 && !plan.targets.is_empty());
    let start = Instant::now();
    let shared = Arc::new(Shared {
        start,
        load_end: start + plan.duration,
        retry_end: start + plan.duration + plan.grace,
        next: AtomicU64::new(0),
        plan,
    });
    let mut tasks = Vec::new();
    for i in 0..shared.plan.clients {
        tasks.push(tokio::spawn(client(i, shared.clone())));
    }
    let mut report = LoadReport::default();
    for t in tasks {
        report.merge(t.await.expect("a load client panicked"));
    }
    report
}

fn outcome_label(r: &reqwest::Result<reqwest::Response>) -> String {
    match r {
        Ok(resp) => resp.status().as_u16().to_string(),
        Err(e) if e.is_timeout() => "timeout".into(),
        Err(e) if e.is_connect() => "connect".into(),
        Err(_) => "reset".into(),
    }
}

fn signature(secret: &str, body: &[u8]) -> String {
    let ts = time::OffsetDateTime::now_utc().unix_timestamp();
    let sig = wedsync_webhooks::verify::stripe::sign(secret, ts, body);
    format!("t={ts},v1={sig}")
}

async fn client(index: usize, shared: Arc<Shared>) -> LoadReport {
    let plan = &shared.plan;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .expect("build the load's HTTP client");
    let secret = stripe_secret();
    let mut retries: VecDeque<(String, Instant, usize)> = VecDeque::new();
    let mut report = LoadReport::default();
    loop {
        let now = Instant::now();
        if now >= shared.retry_end {
            break;
        }
        let (id, tries) = if retries.front().is_some_and(|r| r.1 <= now) {
            let (id, _, tries) = retries.pop_front().expect("checked above");
            (id, tries)
        } else if let Some(n) = shared.take_due(now) {
            if n % plan.malformed_every == plan.malformed_every / 2 {
                let kind = Malformed::ALL[(n / plan.malformed_every) as usize % 5];
                let target = &plan.targets[(index + n as usize) % plan.targets.len()];
                malformed(
                    &http,
                    target,
                    kind,
                    &plan.run,
                    n,
                    plan.body_limit,
                    &mut report,
                )
                .await;
                continue;
            }
            report.events += 1;
            (
                format!("{}{}_{n}", crate::handler::CAMPAIGN_PREFIX, plan.run),
                0,
            )
        } else {
            let next = [retries.front().map(|r| r.1), shared.next_due()]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next else {
                break; // nothing left to send or retry
            };
            let wake = next
                .min(now + Duration::from_millis(20))
                .min(shared.retry_end);
            tokio::time::sleep_until(wake.into()).await;
            continue;
        };
        let target = &plan.targets[(index + tries) % plan.targets.len()];
        let body = stripe_event(&id);
        let result = http
            .post(format!("{target}/webhooks/stripe"))
            .header("content-type", "application/json")
            .header("stripe-signature", signature(&secret, body.as_bytes()))
            .body(body)
            .send()
            .await;
        report.requests += 1;
        *report.answers.entry(outcome_label(&result)).or_default() += 1;
        match result {
            Ok(resp) if resp.status().is_success() => {
                let at = Instant::now();
                if let Ok(v) = resp.json::<serde_json::Value>().await {
                    if v["status"] == "duplicate" {
                        report.duplicate_acks += 1;
                    }
                }
                report.acked.insert(id, at);
            }
            other => {
                // drain the answer so the connection can be reused
                if let Ok(resp) = other {
                    let _ = resp.bytes().await;
                }
                retries.push_back((id, Instant::now() + plan.retry_after, tries + 1));
            }
        }
    }
    report
        .unacked
        .extend(retries.into_iter().map(|(id, _, _)| id));
    report
}

async fn malformed(
    http: &reqwest::Client,
    target: &str,
    kind: Malformed,
    run: &str,
    n: u64,
    body_limit: usize,
    report: &mut LoadReport,
) {
    let id = format!("{MALFORMED_PREFIX}{run}_{n}");
    let secret = stripe_secret();
    let event = stripe_event(&id);
    let (content_type, body, sig): (&str, Vec<u8>, Option<String>) = match kind {
        Malformed::BadSignature => {
            let wrong = format!("{secret}-not-ours");
            let sig = signature(&wrong, event.as_bytes());
            ("application/json", event.into_bytes(), Some(sig))
        }
        Malformed::Truncated => {
            let mut cut = event.into_bytes();
            cut.truncate(cut.len() / 2);
            let sig = signature(&secret, &cut);
            ("application/json", cut, Some(sig))
        }
        Malformed::WrongContent => {
            let xml = format!("<event id=\"{id}\" type=\"payment_intent.payment_failed\"/>");
            let sig = signature(&secret, xml.as_bytes());
            ("application/xml", xml.into_bytes(), Some(sig))
        }
        Malformed::Oversized => {
            let padding = "x".repeat(body_limit + 1024);
            let big = serde_json::json!({"id": id, "object": "event", "padding": padding})
                .to_string()
                .into_bytes();
            let sig = signature(&secret, &big);
            ("application/json", big, Some(sig))
        }
        Malformed::MissingHeader => ("application/json", event.into_bytes(), None),
    };
    let mut request = http
        .post(format!("{target}/webhooks/stripe"))
        .header("content-type", content_type)
        .body(body);
    if let Some(sig) = sig {
        request = request.header("stripe-signature", sig);
    }
    let result = request.send().await;
    let label = outcome_label(&result);
    if let Ok(resp) = result {
        if resp.status().is_success() {
            report.malformed_acked.push(format!("{} {id}", kind.name()));
        }
        let _ = resp.bytes().await;
    }
    *report
        .malformed
        .entry((kind.name().to_owned(), label))
        .or_default() += 1;
}
