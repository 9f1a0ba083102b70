//! What the dashboard shows: plain data the server gathers (from the monitor's snapshot, the
//! probe store's rollups, the alert engine and the webhook store) and the renderer turns into
//! HTML. Nothing here does I/O. All instants are Unix milliseconds (UTC); they are shown in
//! [`DashboardView::zone`] with the zone's abbreviation.

use serde::Serialize;

/// A service's (or a bucket's) state, worst first where [`State::rank`] says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// No data (before the first result, or an empty bucket).
    NoData,
    /// Every result healthy.
    Up,
    /// Covered by a maintenance window.
    Maintenance,
    /// Degraded results (slow, partial).
    Degraded,
    /// Failing results.
    Down,
}

impl State {
    /// Severity for "worst state wins": down > degraded > maintenance > up > no data.
    pub const fn rank(self) -> u8 {
        match self {
            State::NoData => 0,
            State::Up => 1,
            State::Maintenance => 2,
            State::Degraded => 3,
            State::Down => 4,
        }
    }

    /// Stable lowercase name (CSS class suffix, `data-state` value).
    pub const fn as_str(self) -> &'static str {
        match self {
            State::NoData => "nodata",
            State::Up => "up",
            State::Maintenance => "maintenance",
            State::Degraded => "degraded",
            State::Down => "down",
        }
    }
}

/// One service row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceView {
    /// Configured name (`stripe`, `twilio`, …): the row's id is `svc-{name}`.
    pub name: String,
    /// Probe status as the monitor names it: `healthy`, `degraded`, `unhealthy`, `auth_failed`,
    /// `rate_limited`, `unknown`. Shown as text (with the reason) and as `data-status`.
    pub status: String,
    /// The row's state (colour, icon): derived from `status` and maintenance.
    pub state: State,
    /// The latest result's redacted detail (the reason), if any.
    pub detail: Option<String>,
    /// Breaker state (`closed`, `open`, `half_open`, `forced_open`, …).
    pub breaker: String,
    /// Latest latency in ms.
    pub latency_ms: Option<u64>,
    /// p95 latency over the last hour in ms.
    pub p95_ms: Option<u64>,
    /// When the latest result was taken.
    pub checked_at_ms: Option<i64>,
    /// Whether a maintenance window covers it now.
    pub in_maintenance: bool,
    /// Whether it is flapping.
    pub flapping: bool,
    /// The last 24 hours, one bucket per hour, oldest first (24 buckets; the last is the current
    /// hour).
    pub hours: Vec<Bucket>,
    /// The last 90 days, one bucket per day, oldest first (90 buckets; the last is today).
    pub days: Vec<Bucket>,
    /// Latency points for the charts: 24 h (hourly averages) …
    pub latency_24h: Vec<LatencyPoint>,
    /// … and 7 d (hourly averages over the last 168 hours, or daily where hours are gone).
    pub latency_7d: Vec<LatencyPoint>,
}

/// One bucket of an uptime bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// Start of the bucket.
    pub start_ms: i64,
    /// End of the bucket (exclusive).
    pub end_ms: i64,
    /// Checks in the bucket.
    pub checks: u64,
    /// Healthy checks.
    pub healthy: u64,
    /// Degraded checks.
    pub degraded: u64,
    /// Failing checks.
    pub down: u64,
    /// Whether a maintenance window overlapped the bucket.
    pub maintenance: bool,
    /// Where the bucket's outage (its failing part) is known to start and end: the first and last
    /// failing result inside it, when the data has them (hourly rollups do not: then the bucket's
    /// own bounds are shown).
    pub outage: Option<(i64, i64)>,
}

impl Bucket {
    /// A bucket from `start_ms` to `end_ms` with no checks (no data).
    pub const fn empty(start_ms: i64, end_ms: i64) -> Self {
        Bucket {
            start_ms,
            end_ms,
            checks: 0,
            healthy: 0,
            degraded: 0,
            down: 0,
            maintenance: false,
            outage: None,
        }
    }
}

/// One point of a latency chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LatencyPoint {
    /// Start of the period.
    pub at_ms: i64,
    /// Average latency in the period (ms).
    pub avg_ms: u64,
    /// Highest latency in the period (ms).
    pub max_ms: u64,
}

/// The wedding-day banner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeddingView {
    /// Whether today (in the zone) is a wedding day.
    pub today: bool,
    /// What the tighter policy does, one short line each (e.g. "probes every 15 s instead of
    /// 30 s", "alerts page at once").
    pub policy: Vec<String>,
}

/// One incident with its timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentView {
    /// The incident's dedup key.
    pub key: String,
    /// The service.
    pub service: String,
    /// The status that opened it.
    pub status: String,
    /// Redacted summary.
    pub summary: String,
    /// Opened.
    pub opened_at_ms: i64,
    /// First alert sent (when known).
    pub alerted_at_ms: Option<i64>,
    /// Acknowledged (when known).
    pub acknowledged_at_ms: Option<i64>,
    /// Resolved (`None` while open).
    pub resolved_at_ms: Option<i64>,
    /// Whether it opened on a wedding day.
    pub wedding_day: bool,
}

/// A maintenance window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaintenanceView {
    /// The service, or `None` for all.
    pub service: Option<String>,
    /// Start.
    pub start_ms: i64,
    /// End.
    pub end_ms: i64,
}

/// Webhook counts of one provider over one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct WebhookCounts {
    /// Received (verified, not duplicates).
    pub received: u64,
    /// Delivered to the handler.
    pub delivered: u64,
    /// Failed for good, or currently retrying.
    pub failing: u64,
}

/// One provider's webhook line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderWebhooks {
    /// Provider name (`stripe`, …).
    pub provider: String,
    /// Last hour.
    pub hour: WebhookCounts,
    /// Last 24 hours.
    pub day: WebhookCounts,
}

/// A delivery that needs attention (from failure analysis), with its replay action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttentionView {
    /// Delivery id (the replay form posts it).
    pub delivery_id: String,
    /// Provider.
    pub provider: String,
    /// Event type.
    pub event_type: Option<String>,
    /// Delivery status (`failed`, `retrying`).
    pub status: String,
    /// Attempts so far.
    pub attempts: u32,
    /// Last error kind / status, as text.
    pub last_error: Option<String>,
    /// Received.
    pub received_at_ms: i64,
    /// Whether it is wedding-critical.
    pub critical: bool,
}

/// The webhooks panel.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct WebhooksView {
    /// Per provider.
    pub providers: Vec<ProviderWebhooks>,
    /// Deliveries queued (pending or retrying) now.
    pub queue_depth: u64,
    /// The attention list (at most a few dozen).
    pub attention: Vec<AttentionView>,
}

/// Everything one dashboard page shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DashboardView {
    /// When the view was gathered.
    pub now_ms: i64,
    /// IANA time zone every time is shown in (the wedding-day zone).
    pub zone: String,
    /// The wedding-day banner.
    pub wedding: WeddingView,
    /// One row per service, in configuration order.
    pub services: Vec<ServiceView>,
    /// Open incidents and those resolved in the last 24 h, newest first.
    pub incidents: Vec<IncidentView>,
    /// Current and upcoming maintenance windows.
    pub maintenance: Vec<MaintenanceView>,
    /// The webhooks panel.
    pub webhooks: WebhooksView,
    /// Whether the viewer may act (admin scope): replay buttons are shown only then.
    pub can_act: bool,
    /// The session's CSRF token, put in every state-changing form.
    pub csrf: String,
    /// A one-off message (e.g. the result of a replay).
    pub flash: Option<String>,
}

/// One service on the public status page: no details that help an attacker (no reasons,
/// latencies, breaker states or incident summaries).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicService {
    /// Display name.
    pub name: String,
    /// Current state.
    pub state: State,
    /// 90 daily buckets, oldest first.
    pub days: Vec<Bucket>,
}

/// The public status page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicView {
    /// When it was gathered.
    pub now_ms: i64,
    /// Zone for times.
    pub zone: String,
    /// The opted-in services.
    pub services: Vec<PublicService>,
}
