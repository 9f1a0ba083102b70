//! Failure analysis: reliability statistics, failure groups, deliveries needing attention.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::provider::Provider;
use crate::store::{
    Delivery, DeliveryQuery, DeliveryStatus, ErrorKind, Priority, StoreError, WebhookStore,
};

/// Counts and timings over a set of deliveries.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Every delivery received (duplicates and rejected included).
    pub received: u64,
    /// Delivered (2xx).
    pub delivered: u64,
    /// Failed for good.
    pub failed: u64,
    /// Waiting for a retry.
    pub retrying: u64,
    /// Queued, no attempt yet.
    pub pending: u64,
    /// Duplicates (not forwarded).
    pub duplicates: u64,
    /// Rejected by signature verification.
    pub rejected: u64,
    /// `delivered / (delivered + failed + retrying)`; `None` when nothing was attempted.
    pub success_rate: Option<f64>,
    /// Median time from receipt to delivery, in milliseconds.
    pub p50_ms: Option<u64>,
    /// 95th percentile time from receipt to delivery, in milliseconds.
    pub p95_ms: Option<u64>,
}

/// [`Stats`] overall and per provider.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReliabilityReport {
    /// Window start (inclusive).
    pub from: Option<OffsetDateTime>,
    /// Window end (exclusive).
    pub to: Option<OffsetDateTime>,
    /// All providers.
    pub overall: Stats,
    /// Per provider.
    pub per_provider: BTreeMap<Provider, Stats>,
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Statistics over `deliveries`.
pub fn stats<'a>(deliveries: impl IntoIterator<Item = &'a Delivery>) -> Stats {
    let mut s = Stats::default();
    let mut times = Vec::new();
    for d in deliveries {
        s.received += 1;
        match d.status {
            DeliveryStatus::Delivered => {
                s.delivered += 1;
                if let Some(at) = d.delivered_at {
                    let ms = (at - d.received_at).whole_milliseconds().max(0);
                    times.push(u64::try_from(ms).unwrap_or(u64::MAX));
                }
            }
            DeliveryStatus::Failed => s.failed += 1,
            DeliveryStatus::Retrying => s.retrying += 1,
            DeliveryStatus::Pending => s.pending += 1,
            DeliveryStatus::Duplicate => s.duplicates += 1,
            DeliveryStatus::Rejected => s.rejected += 1,
            DeliveryStatus::Received => {}
        }
    }
    let attempted = s.delivered + s.failed + s.retrying;
    s.success_rate = (attempted > 0).then(|| s.delivered as f64 / attempted as f64);
    times.sort_unstable();
    s.p50_ms = percentile(&times, 50.0);
    s.p95_ms = percentile(&times, 95.0);
    s
}

/// Every delivery received in `[from, to)`.
async fn received_in(
    store: &dyn WebhookStore,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<Vec<Delivery>, StoreError> {
    store
        .list_deliveries(&DeliveryQuery {
            received_from: Some(from),
            received_to: Some(to),
            ..Default::default()
        })
        .await
}

/// The report for deliveries received in `[from, to)`.
pub async fn reliability(
    store: &dyn WebhookStore,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<ReliabilityReport, StoreError> {
    let ds = received_in(store, from, to).await?;
    let mut r = report(&ds);
    r.from = Some(from);
    r.to = Some(to);
    Ok(r)
}

/// The report over an already loaded set.
pub fn report(deliveries: &[Delivery]) -> ReliabilityReport {
    let mut by: BTreeMap<Provider, Vec<&Delivery>> = BTreeMap::new();
    for d in deliveries {
        by.entry(d.provider).or_default().push(d);
    }
    ReliabilityReport {
        from: None,
        to: None,
        overall: stats(deliveries),
        per_provider: by.into_iter().map(|(p, v)| (p, stats(v))).collect(),
    }
}

/// `2xx`…`5xx`, or `none` when there was no HTTP answer.
pub fn status_class(status: Option<u16>) -> &'static str {
    match status {
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => "other",
        None => "none",
    }
}

/// Failing deliveries sharing (provider, event type, error kind, status class).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureGroup {
    /// Provider.
    pub provider: Provider,
    /// Event type.
    pub event_type: Option<String>,
    /// Last error kind.
    pub error_kind: Option<ErrorKind>,
    /// Last status class.
    pub status_class: &'static str,
    /// Deliveries in the group.
    pub count: u64,
    /// Earliest receipt in the group.
    pub first_seen: OffsetDateTime,
    /// Latest activity in the group.
    pub last_seen: OffsetDateTime,
    /// One delivery to look at (the most recent).
    pub example_delivery_id: Uuid,
}

/// Group failed and retrying deliveries; largest groups first.
pub fn failure_groups(deliveries: &[Delivery]) -> Vec<FailureGroup> {
    type Key = (Provider, Option<String>, Option<ErrorKind>, &'static str);
    let mut groups: BTreeMap<Key, FailureGroup> = BTreeMap::new();
    for d in deliveries
        .iter()
        .filter(|d| matches!(d.status, DeliveryStatus::Failed | DeliveryStatus::Retrying))
    {
        let class = status_class(d.last_status);
        let key = (d.provider, d.event_type.clone(), d.last_error, class);
        let g = groups.entry(key).or_insert_with(|| FailureGroup {
            provider: d.provider,
            event_type: d.event_type.clone(),
            error_kind: d.last_error,
            status_class: class,
            count: 0,
            first_seen: d.received_at,
            last_seen: d.updated_at,
            example_delivery_id: d.id,
        });
        g.count += 1;
        g.first_seen = g.first_seen.min(d.received_at);
        if d.updated_at >= g.last_seen {
            g.last_seen = d.updated_at;
            g.example_delivery_id = d.id;
        }
    }
    let mut v: Vec<FailureGroup> = groups.into_values().collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_seen.cmp(&a.last_seen)));
    v
}

/// Deliveries that need a person: failed for good, or critical and retrying. Critical first,
/// then most recent.
pub fn needs_attention(deliveries: &[Delivery]) -> Vec<&Delivery> {
    let mut v: Vec<&Delivery> = deliveries
        .iter()
        .filter(|d| {
            d.status == DeliveryStatus::Failed
                || (d.priority == Priority::Critical && d.status == DeliveryStatus::Retrying)
        })
        .collect();
    v.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(b.updated_at.cmp(&a.updated_at))
    });
    v
}

/// Most deliveries a [`FailureReport`] lists as needing attention.
pub const ATTENTION_LISTED: usize = 100;

/// One delivery as an operator sees it in a report: no headers, no bodies; times in RFC 3339.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliverySummary {
    /// The delivery.
    pub id: Uuid,
    /// Its provider.
    pub provider: Provider,
    /// The provider's event id.
    pub event_id: Option<String>,
    /// The event type.
    pub event_type: Option<String>,
    /// Its status.
    pub status: DeliveryStatus,
    /// Its priority.
    pub priority: Priority,
    /// Attempts over its life.
    pub attempts: u32,
    /// The last error kind.
    pub last_error: Option<ErrorKind>,
    /// When it was received.
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// When it was delivered.
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
    /// When it is attempted next.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
}

impl From<&Delivery> for DeliverySummary {
    fn from(d: &Delivery) -> Self {
        DeliverySummary {
            id: d.id,
            provider: d.provider,
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            status: d.status,
            priority: d.priority,
            attempts: d.attempt_count,
            last_error: d.last_error,
            received_at: d.received_at,
            delivered_at: d.delivered_at,
            next_attempt_at: d.next_attempt_at,
        }
    }
}

/// What is failing, for deliveries received in a window: the [`failure_groups`] and the first
/// [`ATTENTION_LISTED`] deliveries that [`needs_attention`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureReport {
    /// Failing deliveries grouped, largest groups first.
    pub groups: Vec<FailureGroup>,
    /// Deliveries that need a person, critical first.
    pub needs_attention: Vec<DeliverySummary>,
}

/// The [`FailureReport`] for deliveries received in `[from, to)`.
pub async fn failure_report(
    store: &dyn WebhookStore,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<FailureReport, StoreError> {
    let ds = received_in(store, from, to).await?;
    Ok(FailureReport {
        groups: failure_groups(&ds),
        needs_attention: needs_attention(&ds)
            .into_iter()
            .take(ATTENTION_LISTED)
            .map(DeliverySummary::from)
            .collect(),
    })
}

/// A statistics window, as the admin API names it (`1h`, `24h`, `7d`, `30d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timeframe {
    /// One hour.
    Hour,
    /// 24 hours (default).
    #[default]
    Day,
    /// Seven days.
    Week,
    /// 30 days.
    Month,
}

impl Timeframe {
    /// Every window, shortest first.
    pub const ALL: [Timeframe; 4] = [Self::Hour, Self::Day, Self::Week, Self::Month];

    /// The window's length.
    pub fn duration(self) -> time::Duration {
        match self {
            Timeframe::Hour => time::Duration::hours(1),
            Timeframe::Day => time::Duration::hours(24),
            Timeframe::Week => time::Duration::days(7),
            Timeframe::Month => time::Duration::days(30),
        }
    }

    /// The wire name (`1h`, `24h`, `7d`, `30d`).
    pub fn as_str(self) -> &'static str {
        match self {
            Timeframe::Hour => "1h",
            Timeframe::Day => "24h",
            Timeframe::Week => "7d",
            Timeframe::Month => "30d",
        }
    }
}

/// A timeframe that is not `1h`, `24h`, `7d` or `30d`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`timeframe` must be one of 1h, 24h, 7d, 30d")]
pub struct TimeframeError;

impl std::str::FromStr for Timeframe {
    type Err = TimeframeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(TimeframeError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeframes_parse_their_wire_names_and_nothing_else() {
        for t in Timeframe::ALL {
            assert_eq!(t.as_str().parse::<Timeframe>(), Ok(t));
        }
        assert_eq!(Timeframe::default(), Timeframe::Day);
        assert!("2h".parse::<Timeframe>().is_err());
        assert!("".parse::<Timeframe>().is_err());
    }

    #[test]
    fn nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 95.0), Some(95));
        assert_eq!(percentile(&[7], 95.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[tokio::test]
    async fn failure_report_lists_summaries_in_rfc3339() {
        use crate::store::{InMemoryStore, NewDelivery};
        let store = InMemoryStore::new();
        let t0 = OffsetDateTime::from_unix_timestamp(1_764_000_000).unwrap();
        let new = NewDelivery::verified(Uuid::new_v4(), Provider::Stripe, "evt_r", None, t0);
        store.insert_delivery(new).await.unwrap();
        let r = failure_report(&store, t0, t0 + time::Duration::seconds(1))
            .await
            .unwrap();
        assert!(r.groups.is_empty() && r.needs_attention.is_empty());
        let d = store
            .list_deliveries(&DeliveryQuery::default())
            .await
            .unwrap()
            .remove(0);
        let v = serde_json::to_value(DeliverySummary::from(&d)).unwrap();
        assert_eq!(v["received_at"], "2025-11-24T16:00:00Z");
        assert_eq!(v["provider"], "stripe");
        assert_eq!(v["status"], d.status.as_str());
        assert_eq!(v["delivered_at"], serde_json::Value::Null);
    }
}
