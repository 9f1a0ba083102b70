//! The internal handler the server forwards to: a small hyper server on 127.0.0.1 that keeps the
//! books of what reached it.
//!
//! - Each request is identified by the Stripe event id of the forwarded raw body (the top-level
//!   `"id"`; the forwarded body is the provider's raw body), and the `webhook-id` header (stable
//!   per delivery across attempts) is noted.
//! - The first arrival of 1 event in 10 (chosen by a hash of the event id, so the same events on
//!   every run) is refused with 503: the server must retry it on its schedule.
//! - Every answer waits 1–3 ms, so that the same delivery forwarded twice at the same time
//!   overlaps in the in-flight set; every overlap is counted as a violation.
//! - It can be taken down (the listener is dropped and open connections are closed after their
//!   in-flight request, so new connections are refused) and brought back on the same port.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// Prefix of every event id the load sends and expects to be delivered.
pub const CAMPAIGN_PREFIX: &str = "evt_campaign_";

/// One in this many events has its first arrival refused with 503.
pub const REFUSE_ONE_IN: u64 = 10;

/// What the handler saw of one event id.
#[derive(Debug, Default, Clone)]
pub struct EventRecord {
    /// Requests that carried it (any answer).
    pub arrivals: u32,
    /// 2xx answers given for it.
    pub delivered: u32,
    /// When it was first answered 2xx.
    pub first_delivered: Option<Instant>,
    /// When it was answered 2xx again (duplicates).
    pub again_delivered: Vec<Instant>,
    /// 503s given on purpose.
    pub refused: u32,
    /// Distinct `webhook-id` headers seen (one per delivery; more means it was enqueued twice).
    pub webhook_ids: BTreeSet<String>,
    /// The highest `X-Wedsync-Attempt` seen.
    pub max_attempt: u32,
}

/// The handler's books, copied out.
#[derive(Debug, Default, Clone)]
pub struct Books {
    /// Per campaign event id.
    pub events: HashMap<String, EventRecord>,
    /// Event ids that were in flight twice at the same moment (one entry per overlap).
    pub overlaps: Vec<String>,
    /// Requests that were not a campaign event (a malformed request that got through, or a body
    /// without a readable event id): what they carried.
    pub strangers: Vec<String>,
}

#[derive(Debug, Default)]
struct State {
    books: Books,
    in_flight: HashMap<String, u32>,
}

#[derive(Debug)]
struct Ctx {
    state: Mutex<State>,
}

impl Ctx {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Removes its event from the in-flight set when the request ends, however it ends (answered, or
/// dropped because the server went away mid-request).
struct InFlight {
    ctx: Arc<Ctx>,
    id: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.ctx.lock();
        if let Some(n) = s.in_flight.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                s.in_flight.remove(&self.id);
            }
        }
    }
}

/// FNV-1a: a stable hash (std's `DefaultHasher` is not guaranteed stable across releases).
pub fn stable_hash(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Whether the handler refuses the first arrival of `event_id`.
pub fn refused_on_purpose(event_id: &str) -> bool {
    stable_hash(event_id).is_multiple_of(REFUSE_ONE_IN)
}

/// The top-level `id` of a JSON body; for bodies that are not JSON, the first `"id":"evt_…"`.
fn event_id(body: &[u8]) -> Option<String> {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        return v.get("id")?.as_str().map(str::to_owned);
    }
    let text = String::from_utf8_lossy(body);
    let start = text.find("\"id\":\"evt_")? + "\"id\":\"".len();
    let rest = &text[start..];
    let end = rest.find('"')?;
    Some(rest[..end].to_owned())
}

fn answer(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r
}

async fn handle(ctx: Arc<Ctx>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let attempt: u32 = header("x-wedsync-attempt")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let webhook_id = header("webhook-id").unwrap_or_default();
    let body = match Limited::new(req.into_body(), 4 << 20).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return answer(StatusCode::BAD_REQUEST, "unreadable body"),
    };
    let id = match event_id(&body) {
        Some(id) if id.starts_with(CAMPAIGN_PREFIX) => id,
        other => {
            let what = other.unwrap_or_else(|| {
                format!(
                    "<no event id: {}>",
                    String::from_utf8_lossy(&body[..body.len().min(60)])
                )
            });
            ctx.lock().books.strangers.push(what);
            return answer(StatusCode::OK, "not a campaign event");
        }
    };
    let (refuse, delay_ms) = {
        let mut s = ctx.lock();
        let n = s.in_flight.entry(id.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            s.books.overlaps.push(id.clone());
        }
        let rec = s.books.events.entry(id.clone()).or_default();
        rec.arrivals += 1;
        rec.max_attempt = rec.max_attempt.max(attempt);
        if !webhook_id.is_empty() {
            rec.webhook_ids.insert(webhook_id);
        }
        let refuse = rec.refused == 0 && rec.delivered == 0 && refused_on_purpose(&id);
        if refuse {
            rec.refused += 1;
        }
        let delay = 1 + stable_hash(&format!("{id}/{}", rec.arrivals)) % 3;
        (refuse, delay)
    };
    let _in_flight = InFlight {
        ctx: ctx.clone(),
        id: id.clone(),
    };
    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    if refuse {
        return answer(StatusCode::SERVICE_UNAVAILABLE, "refused on purpose");
    }
    {
        let mut s = ctx.lock();
        let rec = s.books.events.entry(id).or_default();
        rec.delivered += 1;
        let now = Instant::now();
        if rec.first_delivered.is_some() {
            rec.again_delivered.push(now);
        } else {
            rec.first_delivered = Some(now);
        }
    }
    answer(StatusCode::OK, "ok")
}

async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// The accept loop: serves until `stop`, then drops the listener and closes every connection
/// after its in-flight request (bounded).
async fn serve(listener: TcpListener, ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // out of descriptors and the like: never spin
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let ctx = ctx.clone();
                let mut stop = stop.clone();
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let ctx = ctx.clone();
                        async move { Ok::<_, Infallible>(handle(ctx, req).await) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        () = stopped(&mut stop) => {
                            conn.as_mut().graceful_shutdown();
                            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                        }
                    }
                });
            }
            () = stopped(&mut stop) => break,
        }
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(6), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
}

struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// The handler server.
pub struct Handler {
    ctx: Arc<Ctx>,
    addr: SocketAddr,
    running: tokio::sync::Mutex<Option<Running>>,
}

impl Handler {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start() -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the handler on 127.0.0.1");
        let addr = listener
            .local_addr()
            .expect("the handler listener's address");
        let ctx = Arc::new(Ctx {
            state: Mutex::new(State::default()),
        });
        let h = Arc::new(Self {
            ctx,
            addr,
            running: tokio::sync::Mutex::new(None),
        });
        *h.running.lock().await = Some(h.spawn(listener));
        h
    }

    fn spawn(&self, listener: TcpListener) -> Running {
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, self.ctx.clone(), rx));
        Running { stop, task }
    }

    /// The URL to configure as `forward_to`.
    pub fn url(&self) -> String {
        format!("http://{}/stripe", self.addr)
    }

    /// Stops accepting: the port refuses connections until [`up`](Self::up).
    pub async fn down(&self) {
        let running = self.running.lock().await.take();
        if let Some(r) = running {
            let _ = r.stop.send(true);
            let _ = r.task.await;
        }
    }

    /// Listens again on the same port (retrying for up to 10 s while the port is busy).
    pub async fn up(&self) {
        let mut guard = self.running.lock().await;
        if guard.is_some() {
            return;
        }
        let give_up = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if Instant::now() < give_up => {
                    eprintln!(
                        "campaign: rebinding the handler on {}: {e}; retrying",
                        self.addr
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot rebind the handler on {}: {e}", self.addr),
            }
        };
        *guard = Some(self.spawn(listener));
    }

    /// A copy of the books.
    pub fn books(&self) -> Books {
        self.ctx.lock().books.clone()
    }

    /// How many of `ids` have been answered 2xx at least once.
    pub fn delivered_among<'a>(&self, ids: impl IntoIterator<Item = &'a String>) -> usize {
        let s = self.ctx.lock();
        ids.into_iter()
            .filter(|id| s.books.events.get(*id).is_some_and(|r| r.delivered > 0))
            .count()
    }

    /// The ids among `ids` not yet answered 2xx.
    pub fn undelivered<'a>(&self, ids: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        let s = self.ctx.lock();
        ids.into_iter()
            .filter(|id| s.books.events.get(*id).is_none_or(|r| r.delivered == 0))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_read_from_json_and_from_broken_bodies() {
        assert_eq!(
            event_id(br#"{"data":{"object":{"id":"pi_1"}},"id":"evt_1"}"#).as_deref(),
            Some("evt_1")
        );
        assert_eq!(
            event_id(br#"{"data":{"id":"pi_1"},"id":"evt_cut"#).as_deref(),
            None,
            "no closing quote"
        );
        assert_eq!(
            event_id(br#"{"data":{"id":"pi_1"},"id":"evt_2","x":"#).as_deref(),
            Some("evt_2")
        );
    }

    #[test]
    fn about_one_in_ten_is_refused() {
        let n = (0..10_000)
            .filter(|i| refused_on_purpose(&format!("evt_campaign_run_{i}")))
            .count();
        assert!((700..1300).contains(&n), "{n}");
    }
}
