//! Server-Sent Events messages: `update` (every live fragment) and `heartbeat`, and the state of
//! one open stream ([`LiveStream`]: which fragments the page already has, when to re-check the
//! session).
//!
//! Each message is complete (`event: …\ndata: …\n\n`) with the JSON on one `data:` line:
//! serde_json escapes every control character, so neither `\n` nor `\r` can occur inside it.

use std::collections::HashMap;
use std::time::Duration;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::clock::Clock;
use crate::model::DashboardView;
use crate::page::render_fragments;

/// The fragments as a JSON object in page order.
struct Fragments<'a>(&'a [(String, String)]);

impl Serialize for Fragments<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (id, html) in self.0 {
            map.serialize_entry(id, html)?;
        }
        map.end()
    }
}

#[derive(serde::Serialize)]
struct Update<'a> {
    at: i64,
    at_text: &'a str,
    fragments: Fragments<'a>,
}

#[derive(serde::Serialize)]
struct Heartbeat<'a> {
    at: i64,
    at_text: &'a str,
}

fn message(event: &str, json: &str) -> String {
    debug_assert!(!json.contains(['\n', '\r']));
    let mut out = String::with_capacity(event.len() + json.len() + 16);
    out.push_str("event: ");
    out.push_str(event);
    out.push_str("\ndata: ");
    out.push_str(json);
    out.push_str("\n\n");
    out
}

fn at_text(now_ms: i64, zone: &str) -> String {
    let mut s = String::with_capacity(16);
    Clock::new(zone, now_ms).hms_zone(&mut s, now_ms);
    s
}

/// One SSE `update` message: `event: update\ndata: {"at":…,"at_text":"14:05:03 GMT",
/// "fragments":{"wedding-banner":"<section …>",…}}\n\n`, the fragments being
/// [`render_fragments`] in page order.
///
/// ```
/// # let v = wedsync_dashboard::DashboardView {
/// #     now_ms: 1_762_265_103_000, zone: "Europe/London".into(),
/// #     wedding: wedsync_dashboard::WeddingView { today: false, policy: vec![] },
/// #     services: vec![], incidents: vec![], maintenance: vec![],
/// #     webhooks: Default::default(), can_act: false, csrf: "t".into(), flash: None };
/// let msg = wedsync_dashboard::sse_update(&v);
/// assert!(msg.starts_with("event: update\ndata: {") && msg.ends_with("}\n\n"));
/// assert_eq!(msg.trim_end().lines().count(), 2); // one `event:` line, one `data:` line
/// ```
pub fn sse_update(v: &DashboardView) -> String {
    sse_update_with(v.now_ms, &v.zone, &render_fragments(v))
}

/// An `update` message carrying only `fragments` (element id, outer HTML) — for example those
/// that changed since the stream's previous message, so an open page receives what moved and
/// not the whole page every time.
pub fn sse_update_with(now_ms: i64, zone: &str, fragments: &[(String, String)]) -> String {
    let text = at_text(now_ms, zone);
    let json = serde_json::to_string(&Update {
        at: now_ms,
        at_text: &text,
        fragments: Fragments(fragments),
    })
    .expect("strings and integers always serialise");
    message("update", &json)
}

/// One SSE `heartbeat` message: `event: heartbeat\ndata: {"at":…,"at_text":"14:05:03 GMT"}\n\n`
/// (the time in `zone`, an IANA name; UTC when unknown).
///
/// ```
/// assert_eq!(
///     wedsync_dashboard::sse_heartbeat(1_762_265_103_000, "Europe/London"),
///     "event: heartbeat\ndata: {\"at\":1762265103000,\"at_text\":\"14:05:03 GMT\"}\n\n"
/// );
/// ```
pub fn sse_heartbeat(now_ms: i64, zone: &str) -> String {
    let text = at_text(now_ms, zone);
    let json = serde_json::to_string(&Heartbeat {
        at: now_ms,
        at_text: &text,
    })
    .expect("strings and integers always serialise");
    message("heartbeat", &json)
}

/// How often an open page hears from the server when nothing changes.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// The first message of every stream: the browser reconnects 2 s after a lost connection.
pub const SSE_RETRY: &str = "retry: 2000\n\n";

/// Every this many heartbeats a stream re-checks that its session's key is still valid (a
/// revoked key ends its sessions' streams too).
pub const KEY_CHECK_BEATS: u32 = 3;

/// One open page's stream: the fragments it has (a fragment is sent again only when its HTML
/// changed) and its heartbeat count. The transport (timers, channels) is the caller's.
///
/// ```
/// use wedsync_dashboard::{sse::LiveStream, DashboardView, WeddingView};
///
/// let v = DashboardView {
///     now_ms: 1_762_265_103_000, zone: "Europe/London".into(),
///     wedding: WeddingView { today: false, policy: vec![] },
///     services: vec![], incidents: vec![], maintenance: vec![],
///     webhooks: Default::default(), can_act: false, csrf: "t".into(), flash: None };
/// let mut stream = LiveStream::default();
/// assert!(stream.update(&v, v.now_ms).contains("\"wedding-banner\""));
/// // nothing moved: a heartbeat instead of the same fragments again
/// assert!(stream.update(&v, v.now_ms).starts_with("event: heartbeat\n"));
/// assert_eq!([stream.beat(), stream.beat(), stream.beat()], [false, false, true]);
/// ```
#[derive(Debug, Default)]
pub struct LiveStream {
    sent: HashMap<String, u64>,
    beats: u32,
}

fn digest(html: &str) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    html.hash(&mut h);
    h.finish()
}

impl LiveStream {
    /// The fragments of `v` whose HTML differs from what this stream sent before (remembered
    /// as sent), in page order.
    pub fn changed(&mut self, v: &DashboardView) -> Vec<(String, String)> {
        render_fragments(v)
            .into_iter()
            .filter(|(id, html)| {
                let d = digest(html);
                self.sent.insert(id.clone(), d) != Some(d)
            })
            .collect()
    }

    /// The message for a freshly gathered view: an `update` with the fragments that changed,
    /// or a heartbeat at `now_ms` when none did.
    pub fn update(&mut self, v: &DashboardView, now_ms: i64) -> String {
        let fresh = self.changed(v);
        if fresh.is_empty() {
            sse_heartbeat(now_ms, &v.zone)
        } else {
            sse_update_with(v.now_ms, &v.zone, &fresh)
        }
    }

    /// Counts a heartbeat; `true` when the caller should re-check the session's key now
    /// (every [`KEY_CHECK_BEATS`]).
    pub fn beat(&mut self) -> bool {
        self.beats += 1;
        self.beats.is_multiple_of(KEY_CHECK_BEATS)
    }
}
