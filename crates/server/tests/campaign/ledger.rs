//! The ledger: after the load, wait (bounded) for every acknowledged event to reach the handler,
//! then account for each one — delivered, still scheduled with a reason, late, or missing — from
//! the handler's books and from the store itself (opened by the test, read through
//! `WebhookStore::find_by_dedupe_key` and `list_attempts`).
//!
//! Deadline: an acknowledged event must be delivered within [`DELIVERY_BOUND`] of the later of
//! its acknowledgement and the last restart (of a server or of the database) or server kill. An event still queued at its
//! deadline is acceptable only when it is waiting on the documented retry schedule because the
//! handler refused it or was down (last error `http_5xx`, `connect` or `circuit_open`, a
//! `next_attempt_at`, or claimed again for that retry right now): that is "scheduled with a
//! reason". Anything else still queued is "late" (for example behind a dead worker's lease); an
//! event that is not in the store, or `failed`, is "missing".

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use uuid::Uuid;
use wedsync_webhooks::store::{AttemptRecord, Delivery, DeliveryStatus, ErrorKind, WebhookStore};
use wedsync_webhooks::Provider;

use crate::handler::{Books, Handler};
use crate::load::LoadReport;

/// How long after max(acknowledgement, last restart or kill) an event must be delivered.
pub const DELIVERY_BOUND: Duration = Duration::from_secs(30);

/// How long one store call may take before the ledger stops waiting for it.
const STORE_CALL: Duration = Duration::from_secs(5);

/// How long the ledger spends looking up undelivered events in the store, all together; the
/// events left are reported as not checked.
const LOOKUP_BUDGET: Duration = Duration::from_secs(120);

/// The delivery owning event `id`, bounded in time.
async fn find(store: &dyn WebhookStore, id: &str) -> Result<Option<Delivery>, String> {
    match tokio::time::timeout(STORE_CALL, store.find_by_dedupe_key(Provider::Stripe, id)).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "the store did not answer within {}s",
            STORE_CALL.as_secs()
        )),
    }
}

/// The attempts of delivery `d`, bounded in time.
async fn attempts(store: &dyn WebhookStore, d: &Delivery) -> Result<Vec<AttemptRecord>, String> {
    match tokio::time::timeout(STORE_CALL, store.list_attempts(d.id)).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "the store did not answer within {}s",
            STORE_CALL.as_secs()
        )),
    }
}

/// Failures that the handler causes (refused on purpose, or down): a delivery waiting on the retry
/// schedule after one of these is legitimately still scheduled.
fn handler_caused(kind: Option<ErrorKind>) -> bool {
    matches!(
        kind,
        Some(ErrorKind::Http5xx | ErrorKind::Connect | ErrorKind::CircuitOpen)
    )
}

/// When `id` must have been delivered.
pub fn deadline(acked_at: Instant, last_server_fault: Option<Instant>) -> Instant {
    last_server_fault.map_or(acked_at, |f| f.max(acked_at)) + DELIVERY_BOUND
}

/// An `Instant` as wall-clock time (the store's clock).
fn wall(at: Instant) -> OffsetDateTime {
    let now = Instant::now();
    let wall_now = OffsetDateTime::now_utc();
    if at >= now {
        wall_now + (at - now)
    } else {
        wall_now - (now - at)
    }
}

/// Seconds from now until `t` (negative: in the past).
fn secs_from_now(t: OffsetDateTime) -> f64 {
    (t - OffsetDateTime::now_utc()).as_seconds_f64()
}

enum Progress {
    /// May still be delivered before its deadline.
    Moving,
    /// Cannot be delivered before its deadline (next attempt later, or a dead worker's lease).
    Stuck,
    /// Will never be delivered (not in the store, failed).
    Terminal,
}

fn progress(
    d: &Delivery,
    deadline: OffsetDateTime,
    seen_leases: &mut HashMap<Uuid, Uuid>,
) -> Progress {
    let now = OffsetDateTime::now_utc();
    match d.status {
        DeliveryStatus::Pending | DeliveryStatus::Retrying => {}
        DeliveryStatus::Delivered => return Progress::Moving,
        _ => return Progress::Terminal,
    }
    let leased_until = d
        .lease_expires_at
        .filter(|t| *t > now && d.lease_token.is_some());
    if let (Some(until), Some(token)) = (leased_until, d.lease_token) {
        // the same lease twice, seconds apart, on a handler that answers in milliseconds:
        // its worker is gone, and the lease outlives the deadline
        let same = seen_leases.insert(d.id, token) == Some(token);
        return if same && until > deadline {
            Progress::Stuck
        } else {
            Progress::Moving
        };
    }
    match d.next_attempt_at {
        Some(t) if t > deadline => Progress::Stuck,
        _ => Progress::Moving,
    }
}

/// Waits until every acknowledged event is delivered, or nothing undelivered can still be
/// delivered before its deadline, or the last deadline passes. Returns why it stopped.
pub async fn wait(
    handler: &Handler,
    acked: &HashMap<String, Instant>,
    last_server_fault: Option<Instant>,
    store: &dyn WebhookStore,
) -> String {
    let mut seen_leases = HashMap::new();
    let mut next_check = Instant::now() + Duration::from_secs(2);
    loop {
        let undelivered = handler.undelivered(acked.keys());
        if undelivered.is_empty() {
            return "every acknowledged event was delivered".into();
        }
        let last_deadline = undelivered
            .iter()
            .map(|id| deadline(acked[id], last_server_fault))
            .max()
            .expect("not empty");
        let now = Instant::now();
        if now >= last_deadline {
            return format!("deadline passed with {} undelivered", undelivered.len());
        }
        if now >= next_check && undelivered.len() <= 5000 {
            let t0 = Instant::now();
            let mut moving = 0usize;
            for id in &undelivered {
                if t0.elapsed() > Duration::from_secs(10) {
                    // a slow store: cannot tell about the rest, keep waiting
                    moving += 1;
                    break;
                }
                let dl = wall(deadline(acked[id], last_server_fault));
                match find(store, id).await {
                    Ok(Some(d)) => {
                        if let Progress::Moving = progress(&d, dl, &mut seen_leases) {
                            moving += 1;
                        }
                    }
                    Ok(None) => {}
                    // the store is not answering: cannot tell, keep waiting
                    Err(_) => moving += 1,
                }
            }
            if moving == 0 {
                return format!(
                    "none of the {} undelivered can be delivered before its deadline",
                    undelivered.len()
                );
            }
            next_check = Instant::now() + (t0.elapsed() * 2).max(Duration::from_secs(2));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Where one acknowledged, undelivered event stands.
#[derive(Debug)]
enum Standing {
    /// Waiting on the retry schedule after handler-caused failures.
    Scheduled(String, f64),
    /// Still queued, but not for an acceptable reason.
    Late(String),
    /// Never going to be delivered.
    Missing(String),
}

fn describe_attempts(d: &Delivery) -> String {
    let status = d.last_status.map(|s| format!(" {s}")).unwrap_or_default();
    match d.last_error {
        Some(e) => format!("{} after {}{status}", d.status.as_str(), e.as_str()),
        None => d.status.as_str().to_owned(),
    }
}

async fn standing(store: &dyn WebhookStore, id: &str) -> Standing {
    let d = match find(store, id).await {
        Ok(Some(d)) => d,
        Ok(None) => return Standing::Missing("not in the store".into()),
        Err(e) => return Standing::Late(format!("not checked: {e}")),
    };
    let now = OffsetDateTime::now_utc();
    match d.status {
        DeliveryStatus::Pending | DeliveryStatus::Retrying => {
            if d.lease_token.is_some() && d.lease_expires_at.is_some_and(|t| t > now) {
                if handler_caused(d.last_error) {
                    // being retried right now, after the handler refused it or was down
                    return Standing::Scheduled(
                        format!("in flight again after {}", describe_attempts(&d)),
                        0.0,
                    );
                }
                let until = d.lease_expires_at.map_or(0.0, secs_from_now);
                return Standing::Late(format!(
                    "claimed (attempt {}), lease held for another {until:.0}s",
                    d.attempt_count
                ));
            }
            let next = d.next_attempt_at.map(secs_from_now);
            match next {
                Some(next) if handler_caused(d.last_error) => {
                    Standing::Scheduled(describe_attempts(&d), next)
                }
                Some(next) if next <= 0.0 => Standing::Late(format!(
                    "{}, due {:.0}s ago and not yet attempted (the workers are behind)",
                    describe_attempts(&d),
                    -next
                )),
                Some(next) => Standing::Late(format!(
                    "{} (next attempt in {next:.0}s)",
                    describe_attempts(&d)
                )),
                None => Standing::Late(format!("{}, no next attempt", describe_attempts(&d))),
            }
        }
        DeliveryStatus::Failed => {
            let excerpt = match attempts(store, &d).await {
                Ok(attempts) => attempts
                    .last()
                    .and_then(|a| a.response_excerpt.clone())
                    .unwrap_or_default(),
                Err(_) => String::new(),
            };
            let excerpt: String = excerpt.chars().take(60).collect();
            Standing::Missing(format!(
                "failed after {} attempts, {}: {excerpt}",
                d.attempt_count,
                d.last_error.map_or("none", |e| e.as_str())
            ))
        }
        DeliveryStatus::Delivered => {
            Standing::Missing("store says delivered, the handler never answered 2xx".into())
        }
        other => Standing::Missing(format!("stored as {}", other.as_str())),
    }
}

/// `text` with every run of digits replaced by `#` (to group reasons that differ only in numbers).
fn blank_numbers(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}

/// The delivery's attempts, times relative to its receipt: `#1 +0.0s connect; #2 +5.1s …`.
async fn history(store: &dyn WebhookStore, id: &str) -> String {
    let Ok(Some(d)) = find(store, id).await else {
        return "not in the store".into();
    };
    let attempts = match attempts(store, &d).await {
        Ok(a) => a,
        Err(e) => return format!("attempts unreadable: {e}"),
    };
    let mut parts: Vec<String> = attempts
        .iter()
        .map(|a| {
            let what = match (a.error_kind, a.response_status) {
                (Some(k), Some(st)) => format!("{} {st}", k.as_str()),
                (Some(k), None) => k.as_str().to_owned(),
                (None, Some(st)) => st.to_string(),
                (None, None) => "ok".to_owned(),
            };
            format!(
                "#{} +{:.1}s {what}",
                a.attempt,
                (a.started_at - d.received_at).as_seconds_f64()
            )
        })
        .collect();
    if let Some(next) = d.next_attempt_at {
        parts.push(format!(
            "next +{:.1}s",
            (next - d.received_at).as_seconds_f64()
        ));
    }
    format!("{} ({})", parts.join("; "), d.status.as_str())
}

/// The accounts of one campaign.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Acknowledged events.
    pub acknowledged: usize,
    /// Of those, answered 2xx by the handler at least once.
    pub delivered: usize,
    /// Still scheduled for an acceptable reason: reason → (count, soonest, latest next attempt).
    pub scheduled: BTreeMap<String, (usize, f64, f64)>,
    /// Still queued for an unacceptable reason, or delivered after the deadline without a
    /// handler-caused failure: "id: reason".
    pub late: Vec<String>,
    /// Never going to be delivered: "id: reason".
    pub missing: Vec<String>,
    /// Extra 2xx answers beyond the first, summed over event ids.
    pub duplicates: u64,
    /// Events delivered under more than one `webhook-id` (enqueued twice).
    pub double_enqueued: usize,
    /// The same delivery in flight twice at once.
    pub overlaps: usize,
    /// Requests at the handler that were not campaign events.
    pub strangers: Vec<String>,
    /// Events delivered that were never acknowledged (the answer was lost; fine).
    pub delivered_unacknowledged: usize,
    /// Last server fault → last first-time delivery of an acknowledged event.
    pub restart_to_last_delivery: Option<Duration>,
    /// One attempt history per kind of undelivered standing (scheduled, late, missing and their
    /// reasons, numbers blanked) → (the standing in full, "id: history").
    pub examples: BTreeMap<String, (String, String)>,
}

impl Ledger {
    /// Scheduled events, all reasons.
    pub fn scheduled_count(&self) -> usize {
        self.scheduled.values().map(|v| v.0).sum()
    }

    /// Accounts for every acknowledged event.
    pub async fn build(
        load: &LoadReport,
        books: &Books,
        handler: &Handler,
        last_server_fault: Option<Instant>,
        store: &dyn WebhookStore,
    ) -> Ledger {
        let mut l = Ledger {
            acknowledged: load.acked.len(),
            overlaps: books.overlaps.len(),
            strangers: books.strangers.clone(),
            ..Ledger::default()
        };
        for (id, rec) in &books.events {
            l.duplicates += u64::from(rec.delivered.saturating_sub(1));
            if rec.webhook_ids.len() > 1 {
                l.double_enqueued += 1;
            }
            if rec.delivered > 0 && !load.acked.contains_key(id) {
                l.delivered_unacknowledged += 1;
            }
        }
        let lookups = Instant::now();
        let mut last_first_delivery: Option<Instant> = None;
        let mut ids: Vec<&String> = load.acked.keys().collect();
        ids.sort();
        for id in ids {
            let acked_at = load.acked[id];
            let rec = books.events.get(id);
            if let Some(first) = rec.and_then(|r| r.first_delivered) {
                l.delivered += 1;
                last_first_delivery = Some(last_first_delivery.map_or(first, |t| t.max(first)));
                if first > deadline(acked_at, last_server_fault) {
                    let refused = rec.is_some_and(|r| r.refused > 0);
                    let handler_failures = match find(store, id).await {
                        Ok(Some(d)) => attempts(store, &d)
                            .await
                            .map(|a| a.iter().any(|a| handler_caused(a.error_kind)))
                            .unwrap_or(false),
                        _ => false,
                    };
                    if !(refused || handler_failures) {
                        let after = first - acked_at;
                        l.late.push(format!(
                            "{id}: delivered {:.1}s after its acknowledgement, past its deadline",
                            after.as_secs_f64()
                        ));
                    }
                }
                continue;
            }
            let s = if lookups.elapsed() < LOOKUP_BUDGET {
                standing(store, id).await
            } else {
                Standing::Late(format!(
                    "not checked: the store lookups ran out of their {}s budget",
                    LOOKUP_BUDGET.as_secs()
                ))
            };
            // delivered while we looked?
            if handler.delivered_among([id]) == 1 {
                l.delivered += 1;
                continue;
            }
            let kind = match &s {
                Standing::Scheduled(r, _) => format!("scheduled: {r}"),
                Standing::Late(r) => format!("late: {r}"),
                Standing::Missing(r) => format!("missing: {r}"),
            };
            let key = blank_numbers(&kind);
            if l.examples.len() < 8 && !l.examples.contains_key(&key) {
                let h = history(store, id).await;
                l.examples.insert(key, (kind, format!("{id}: {h}")));
            }
            match s {
                Standing::Scheduled(reason, next) => {
                    let e = l.scheduled.entry(reason).or_insert((0, next, next));
                    e.0 += 1;
                    e.1 = e.1.min(next);
                    e.2 = e.2.max(next);
                }
                Standing::Late(why) => l.late.push(format!("{id}: {why}")),
                Standing::Missing(why) => l.missing.push(format!("{id}: {why}")),
            }
        }
        l.restart_to_last_delivery = match (last_server_fault, last_first_delivery) {
            (Some(f), Some(d)) if d >= f => Some(d - f),
            (Some(_), Some(_)) => Some(Duration::ZERO),
            _ => None,
        };
        l
    }

    /// `duplicates` as a percentage of acknowledged events.
    pub fn duplicate_percent(&self) -> f64 {
        if self.acknowledged == 0 {
            0.0
        } else {
            self.duplicates as f64 * 100.0 / self.acknowledged as f64
        }
    }

    /// The one-line summary.
    pub fn summary(&self, name: &str, malformed_acked: usize) -> String {
        let reasons = if self.scheduled.is_empty() {
            "none".to_owned()
        } else {
            self.scheduled
                .iter()
                .map(|(r, (n, lo, hi))| {
                    format!("{r}: {n}, next in {:.0}..{:.0}s", lo.max(0.0), hi.max(0.0))
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let restart = self
            .restart_to_last_delivery
            .map_or("n/a".to_owned(), |d| format!("{:.1}s", d.as_secs_f64()));
        format!(
            "campaign {name}: acknowledged={} delivered={} scheduled={} (reasons: {reasons}) \
             late={} missing={} duplicates={} ({:.2}%) overlaps={} malformed_acked={malformed_acked} \
             restart_to_last_delivery={restart}",
            self.acknowledged,
            self.delivered,
            self.scheduled_count(),
            self.late.len(),
            self.missing.len(),
            self.duplicates,
            self.duplicate_percent(),
            self.overlaps,
        )
    }

    /// The reasons of the missing (or late) events, grouped, with up to `n` example ids.
    pub fn grouped(entries: &[String], n: usize) -> String {
        // group on the reason with its numbers blanked out; show the first reason in full
        let mut groups: BTreeMap<String, (&str, Vec<&str>)> = BTreeMap::new();
        for e in entries {
            let (id, why) = e.split_once(": ").unwrap_or((e, ""));
            groups
                .entry(blank_numbers(why))
                .or_insert((why, Vec::new()))
                .1
                .push(id);
        }
        let mut out = String::new();
        for (why, ids) in groups.values() {
            let _ = writeln!(
                out,
                "  {} x {why}  e.g. {}",
                ids.len(),
                ids.iter().take(n).copied().collect::<Vec<_>>().join(" ")
            );
        }
        out
    }
}
