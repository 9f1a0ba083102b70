//! Server-rendered HTML for the `wedsync-monitor` live dashboard — the on-call engineer's view
//! of Stripe, Twilio, Resend and Supabase on a wedding day — with its Server-Sent Events
//! updates, the login page, the public status page and status badges.
//!
//! # Example
//!
//! ```
//! use wedsync_dashboard::*;
//!
//! let hour = 3_600_000;
//! let now = 1_762_265_103_000; // Tue 4 Nov 2025 14:05:03 GMT
//! let view = DashboardView {
//!     now_ms: now,
//!     zone: "Europe/London".into(),
//!     wedding: WeddingView { today: true, policy: vec!["probes every 15 s instead of 30 s".into()] },
//!     services: vec![ServiceView {
//!         name: "stripe".into(),
//!         status: "unhealthy".into(),
//!         state: State::Down,
//!         detail: Some("timeout after 5 s".into()),
//!         breaker: "open".into(),
//!         latency_ms: Some(5000),
//!         p95_ms: Some(480),
//!         checked_at_ms: Some(now - 4_000),
//!         in_maintenance: false,
//!         flapping: false,
//!         hours: vec![Bucket { start_ms: now - hour, end_ms: now, checks: 120, healthy: 110,
//!                              degraded: 0, down: 10, maintenance: false,
//!                              outage: Some((now - 40 * 60_000, now - 5 * 60_000)) }],
//!         days: vec![],
//!         latency_24h: vec![LatencyPoint { at_ms: now - hour, avg_ms: 220, max_ms: 5000 }],
//!         latency_7d: vec![],
//!     }],
//!     incidents: vec![],
//!     maintenance: vec![],
//!     webhooks: WebhooksView::default(),
//!     can_act: true,
//!     csrf: "csrf-token".into(),
//!     flash: None,
//! };
//!
//! let html = render_page(&view);
//! assert!(html.contains(r#"<tr id="svc-stripe" class="svc state-down" data-status="unhealthy" data-state="down">"#));
//! assert!(html.contains("✗</span> Unhealthy<span class=\"svc-detail\"> — timeout after 5 s</span>"));
//! assert!(html.contains("Outage 13:25–14:00 GMT"));
//!
//! // Every few seconds the server pushes the live regions again:
//! let msg = sse_update(&view);
//! assert!(msg.starts_with("event: update\ndata: {\"at\":1762265103000,\"at_text\":\"14:05:03 GMT\""));
//! assert!(render_fragments(&view).iter().any(|(id, _)| id == "svc-stripe"));
//! ```
//!
//! # Details
//!
//! - **Model.** A [`DashboardView`] (or a [`PublicView`]) is gathered from the monitor, the
//!   probe store, the alert engine and the webhook store (feature `gather`: `gather::Gatherer`);
//!   the renderer only renders it. All
//!   instants are Unix milliseconds, shown in the view's IANA zone with its abbreviation
//!   (`14:05:03 GMT`, `BST` in summer) from jiff's bundled tzdb.
//! - **Live updates.** [`render_fragments`] renders each live region — `wedding-banner`, one
//!   `svc-{name}` table row per service, `incidents`, `maintenance`, `webhooks` — exactly as
//!   [`render_page`] does; [`sse_update`] sends them all as one SSE message and [`APP_JS`]
//!   replaces each element by id (keeping open chart panels and keyboard focus).
//!   [`sse_heartbeat`] keeps the connection warm every [`HEARTBEAT`]; [`LiveStream`] remembers
//!   what one open page has, so an update carries only the fragments that changed. Without a message for 12 s the page turns grey
//!   and says "Connection lost — last update … Data may be out of date."
//! - **Security.** Every string from the model goes through [`escape`]. Pages carry no inline
//!   script, no inline event handler and no `style` attribute (CSP `script-src 'self';
//!   style-src 'self'` works); state-changing forms (replay, logout) carry the CSRF token; the
//!   replay buttons exist only when [`DashboardView::can_act`]. The public status page shows
//!   states and daily bars only — no reasons, latencies or breakers.
//! - **Accessibility.** Colour is never the only signal: statuses have an icon and words, every
//!   bar segment has a text label (`title`, `aria-label`; each bar is one tab stop and the arrow
//!   keys move along it; focus shows the label), charts have `role="img"` with a summary, tables have scoped headers,
//!   and there is a legend.
//! - **Speed.** Each page is written into one pre-sized `String` without per-bucket
//!   allocations: 500 services with 24 + 90 buckets and 24 + 168 chart points each render in
//!   tens of milliseconds (`cargo bench -p wedsync-dashboard --bench dashboard`).
//! - **Assets.** [`APP_CSS`] and [`APP_JS`] are served at `/dashboard/assets/app.css` and
//!   `/dashboard/assets/app.js` (by `http::Dashboard` with feature `http`); the login and status
//!   pages use the stylesheet too (serve it without a session).
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | — | — | the renderer needs only serde, serde_json and jiff |
//! | `session` | no | `session`: signed session cookies, CSRF tokens and every `Set-Cookie` value (hmac, sha2, subtle, base64) |
//! | `gather` | no | `gather`: builds the views from a `wedsync-probe` monitor and probe store and a `wedsync-webhooks` store, caching the slow parts |
//! | `http` | no | `http`: serves every route ([`Route`]) from an `http::Request` over the embedder's `http::Backend` (API keys, audit log, replay, rate limits); implies `session` and `gather` (async-trait, bytes, http, http-body-util, hyper, thiserror, tokio, tracing, url, uuid) |

pub mod config;
#[cfg(feature = "gather")]
pub mod gather;
#[cfg(feature = "http")]
pub mod http;
pub mod model;
#[cfg(feature = "session")]
pub mod session;
pub mod sse;

mod badge;
mod chart;
mod clock;
mod html;
mod page;
mod public;
mod route;
mod state;

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

pub use badge::{badge_for, badge_status, badge_uptime};
pub use chart::latency_chart_svg;
pub use html::escape;
pub use model::*;
pub use page::{render_fragments, render_page};
pub use public::{render_login, render_status_page};
pub use route::Route;
pub use sse::{sse_heartbeat, sse_update, sse_update_with, LiveStream, HEARTBEAT};
pub use state::{bucket_state, uptime_percent, worst};

/// The dashboard's script (plain JS, no framework): the SSE client that swaps fragments in, the
/// stale-connection watchdog, the replay confirmation and the bucket tooltips. Serve it at
/// `/dashboard/assets/app.js` as `text/javascript`.
pub const APP_JS: &str = include_str!("../assets/app.js");

/// The stylesheet of the dashboard, the login page and the status page. Serve it at
/// `/dashboard/assets/app.css` as `text/css`.
pub const APP_CSS: &str = include_str!("../assets/app.css");

/// The Content-Security-Policy the pages are written for: no inline script or style, nothing
/// from elsewhere, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' \
                       data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                       base-uri 'none'";

/// The headers (lowercase names) every dashboard, login and status response should carry:
/// [`CSP`], no content sniffing, no referrer, no framing.
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
];
