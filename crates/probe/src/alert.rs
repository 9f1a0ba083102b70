//! The alert engine: turns classified results into incidents and notifications.
//!
//! Rules (`shared/providers.md` §5):
//! - `unhealthy` and `auth_failed` count as failures; `healthy` and `degraded` as successes;
//!   `rate_limited` and `unknown` are neutral (they neither open nor resolve anything).
//! - An incident opens after [`AlertConfig::failures_to_open`] consecutive failures
//!   ([`AlertConfig::wedding_failures_to_open`] on wedding days) and resolves after
//!   [`AlertConfig::successes_to_resolve`] consecutive successes.
//! - Notifications go out on state changes only (trigger, resolve); while an incident stays open a
//!   reminder goes out at most every [`AlertConfig::reminder_interval`], and only to sinks that
//!   accept reminders (PagerDuty does not: a reminder must never re-trigger it).
//! - Flapping: when the last [`AlertConfig::flap_window`] failure/success outcomes change state
//!   at least [`AlertConfig::flap_threshold`] times, one `flapping` notice goes out (opening an
//!   incident if none is open) and triggers/resolves are held until the changes fall to half the
//!   threshold.
//! - Maintenance windows silence trigger, reminder and flapping notices (measuring goes on);
//!   resolves still go out so nothing is left open at the receiver.
//! - Incidents are persisted through [`IncidentStore`](crate::store::IncidentStore); at start-up
//!   [`AlertEngine::reconcile`] loads the open ones, so a restart does not re-page, and the next
//!   healthy results resolve an outage that ended while the monitor was down.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::WallClock;
use crate::sink::AlertSink;
use crate::store::{
    ChangeOutcome, Incident, IncidentChange, IncidentState, Notification, NotificationKind,
    OpenOutcome, ProbeStore, StoreError,
};
use crate::{ProbeResult, ProbeStatus};

/// Alert thresholds and windows.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// Consecutive failures that open an incident (default 3).
    pub failures_to_open: u32,
    /// The same on wedding days (default 2).
    pub wedding_failures_to_open: u32,
    /// Consecutive successes that resolve it (default 2).
    pub successes_to_resolve: u32,
    /// Minimum time between notifications about one open incident (default 30 min).
    pub reminder_interval: Duration,
    /// Outcomes looked at for flapping (default 20).
    pub flap_window: usize,
    /// State changes within the window that mean flapping (default 8).
    pub flap_threshold: usize,
    /// Maintenance windows.
    pub maintenance: Vec<MaintenanceWindow>,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            failures_to_open: 3,
            wedding_failures_to_open: 2,
            successes_to_resolve: 2,
            reminder_interval: Duration::from_secs(30 * 60),
            flap_window: 20,
            flap_threshold: 8,
            maintenance: Vec::new(),
        }
    }
}

/// A time range during which alerts about one service (or all) are silenced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceWindow {
    /// The service, or `None` for every service.
    pub service: Option<String>,
    /// Start (unix ms, inclusive).
    pub start_ms: i64,
    /// End (unix ms, exclusive).
    pub end_ms: i64,
}

impl MaintenanceWindow {
    /// Whether the window covers `service` at `now_ms`.
    pub fn covers(&self, service: &str, now_ms: i64) -> bool {
        self.service.as_deref().is_none_or(|s| s == service)
            && now_ms >= self.start_ms
            && now_ms < self.end_ms
    }
}

/// How urgent an alert is (PagerDuty's severities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A provider outage on a wedding day.
    Critical,
    /// A provider outage, or our own misconfiguration.
    Error,
    /// A warning (flapping).
    Warning,
    /// Information (resolved).
    Info,
}

impl Severity {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// The message a notification carries (stored as JSON in the outbox).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Alert {
    /// What it announces.
    pub kind: NotificationKind,
    /// The service.
    pub service: String,
    /// The incident's deterministic dedup key.
    pub dedup_key: String,
    /// The status behind it.
    pub status: ProbeStatus,
    /// Urgency.
    pub severity: Severity,
    /// Redacted one-line detail.
    pub summary: String,
    /// When the incident opened (unix ms).
    pub opened_at_ms: i64,
    /// When this notification was made (unix ms).
    pub at_ms: i64,
    /// Whether it is a wedding day.
    pub wedding_day: bool,
}

impl Alert {
    /// A one-line human text (Slack, log).
    pub fn text(&self) -> String {
        let wd = if self.wedding_day {
            " [WEDDING DAY]"
        } else {
            ""
        };
        match self.kind {
            NotificationKind::Trigger => format!(
                "{}{wd}: {} is {} — {}",
                self.severity.as_str().to_uppercase(),
                self.service,
                self.status,
                self.summary
            ),
            NotificationKind::Reminder => format!(
                "STILL {}{wd}: {} is {} — {}",
                self.status.as_str().to_uppercase(),
                self.service,
                self.status,
                self.summary
            ),
            NotificationKind::Flapping => format!(
                "FLAPPING{wd}: {} keeps changing state — {}",
                self.service, self.summary
            ),
            NotificationKind::Resolve => format!("RESOLVED{wd}: {} is healthy again", self.service),
        }
    }
}

/// What the engine did with one result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertOutcome {
    /// The open incident's dedup key after this result, if any.
    pub incident: Option<String>,
    /// Kinds of notifications enqueued.
    pub notified: Vec<NotificationKind>,
    /// Whether the service is in a maintenance window.
    pub in_maintenance: bool,
    /// Whether the service is flapping.
    pub flapping: bool,
    /// Consecutive failures so far.
    pub consecutive_failures: u32,
}

#[derive(Debug, Default)]
struct SvcState {
    fails: u32,
    oks: u32,
    window: VecDeque<bool>,
    flapping: bool,
    /// Boxed: most services have none, and 10,000 idle states should not carry its size.
    incident: Option<Box<Incident>>,
}

#[derive(Clone, Copy, PartialEq)]
enum Class {
    Bad,
    Good,
    Neutral,
}

fn class(s: ProbeStatus) -> Class {
    if s.is_alerting() {
        Class::Bad
    } else if s.is_ok() {
        Class::Good
    } else {
        Class::Neutral
    }
}

/// The alert engine. Cheap to share (`Arc`); per-service state is serialised per service.
pub struct AlertEngine {
    cfg: AlertConfig,
    store: Arc<dyn ProbeStore>,
    sinks: Vec<Arc<dyn AlertSink>>,
    clock: Arc<dyn WallClock>,
    states: Mutex<HashMap<String, Arc<tokio::sync::Mutex<SvcState>>>>,
    wake: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for AlertEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertEngine")
            .field("cfg", &self.cfg)
            .field(
                "sinks",
                &self.sinks.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl AlertEngine {
    /// An engine writing incidents and notifications to `store`, addressing `sinks`.
    pub fn new(
        cfg: AlertConfig,
        store: Arc<dyn ProbeStore>,
        sinks: Vec<Arc<dyn AlertSink>>,
        clock: Arc<dyn WallClock>,
    ) -> Self {
        AlertEngine {
            cfg,
            store,
            sinks,
            clock,
            states: Mutex::new(HashMap::new()),
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Notified whenever a notification is enqueued (the outbox dispatcher waits on it).
    pub fn wake_handle(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }

    /// The configuration.
    pub fn config(&self) -> &AlertConfig {
        &self.cfg
    }

    fn state(&self, service: &str) -> Arc<tokio::sync::Mutex<SvcState>> {
        let mut g = self.states.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(st) = g.get(service) {
            return st.clone(); // no key copied per result once the service is known
        }
        g.entry(service.to_owned()).or_default().clone()
    }

    /// Loads open incidents from the store (call once at start-up, before results arrive): they
    /// are adopted without notifying, so a restart does not re-page. Returns how many.
    pub async fn reconcile(&self) -> Result<usize, StoreError> {
        let open = self.store.list_open_incidents().await?;
        let n = open.len();
        for inc in open {
            let st = self.state(&inc.service);
            let mut st = st.lock().await;
            st.fails = self
                .cfg
                .failures_to_open
                .max(self.cfg.wedding_failures_to_open);
            st.oks = 0;
            st.incident = Some(Box::new(inc));
        }
        Ok(n)
    }

    /// Whether `service` is in a maintenance window at `now_ms`.
    pub fn in_maintenance(&self, service: &str, now_ms: i64) -> bool {
        self.cfg
            .maintenance
            .iter()
            .any(|w| w.covers(service, now_ms))
    }

    /// Feeds one result. `wedding_day` selects the wedding-day threshold.
    pub async fn on_result(
        &self,
        r: &ProbeResult,
        wedding_day: bool,
    ) -> Result<AlertOutcome, StoreError> {
        let now = self.clock.now_ms();
        let st = self.state(&r.service);
        let mut st = st.lock().await;
        let in_maint = self.in_maintenance(&r.service, now);
        let c = class(r.status);
        match c {
            Class::Bad => {
                st.fails = st.fails.saturating_add(1);
                st.oks = 0;
            }
            Class::Good => {
                st.oks = st.oks.saturating_add(1);
                st.fails = 0;
            }
            Class::Neutral => {}
        }
        let mut newly_flapping = false;
        if c != Class::Neutral {
            st.window.push_back(c == Class::Bad);
            while st.window.len() > self.cfg.flap_window.max(2) {
                st.window.pop_front();
            }
            let changes = st
                .window
                .iter()
                .zip(st.window.iter().skip(1))
                .filter(|(a, b)| a != b)
                .count();
            if !st.flapping && self.cfg.flap_threshold > 0 && changes >= self.cfg.flap_threshold {
                st.flapping = true;
                newly_flapping = true;
            } else if st.flapping && changes <= self.cfg.flap_threshold / 2 {
                st.flapping = false;
            }
        }
        let threshold = if wedding_day {
            self.cfg.wedding_failures_to_open
        } else {
            self.cfg.failures_to_open
        }
        .max(1);
        let mut notified = Vec::new();

        if newly_flapping && !in_maint {
            if st.incident.is_none() {
                let status = if c == Class::Bad {
                    r.status
                } else {
                    ProbeStatus::Unhealthy
                };
                let inc = self.new_incident(r, status, now, wedding_day);
                st.incident = Some(Box::new(
                    match self.open_and_notify(inc, Vec::new()).await? {
                        OpenOutcome::Created(i) | OpenOutcome::AlreadyOpen(i) => i,
                    },
                ));
            }
            if let Some(inc) = st.incident.as_mut() {
                inc.last_notified_at_ms = Some(now);
                inc.updated_at_ms = now;
                let inc = (**inc).clone();
                let ns = self.notifications(
                    &inc,
                    NotificationKind::Flapping,
                    r,
                    now,
                    wedding_day,
                    None,
                )?;
                self.update_and_notify(inc, ns).await?;
                notified.push(NotificationKind::Flapping);
            }
        } else if c == Class::Bad && st.incident.is_none() {
            if st.fails >= threshold && !in_maint && !st.flapping {
                let inc = self.new_incident(r, r.status, now, wedding_day);
                let ns =
                    self.notifications(&inc, NotificationKind::Trigger, r, now, wedding_day, None)?;
                match self.open_and_notify(inc, ns).await? {
                    OpenOutcome::Created(i) => {
                        notified.push(NotificationKind::Trigger);
                        st.incident = Some(Box::new(i));
                    }
                    // another process opened it and notified
                    OpenOutcome::AlreadyOpen(i) => st.incident = Some(Box::new(i)),
                }
            }
        } else if c == Class::Bad {
            let reminder_due = !in_maint && !st.flapping && {
                let last = st
                    .incident
                    .as_ref()
                    .and_then(|i| i.last_notified_at_ms)
                    .unwrap_or(i64::MIN / 2);
                now - last >= self.cfg.reminder_interval.as_millis() as i64
            };
            if let Some(inc) = st.incident.as_mut() {
                inc.status = r.status;
                inc.summary.clone_from(&r.detail);
                inc.updated_at_ms = now;
                if reminder_due {
                    inc.last_notified_at_ms = Some(now);
                }
                let inc = (**inc).clone();
                let ns = if reminder_due {
                    let kind = NotificationKind::Reminder;
                    self.notifications(&inc, kind, r, now, wedding_day, Some(now))?
                } else {
                    Vec::new()
                };
                self.update_and_notify(inc, ns).await?;
                if reminder_due {
                    notified.push(NotificationKind::Reminder);
                }
            }
        } else if c == Class::Good && st.oks >= self.cfg.successes_to_resolve.max(1) && !st.flapping
        {
            if let Some(inc) = st.incident.take() {
                let ns =
                    self.notifications(&inc, NotificationKind::Resolve, r, now, wedding_day, None)?;
                if self
                    .resolve_and_notify(&inc.dedup_key, now, ns)
                    .await?
                    .is_some()
                {
                    notified.push(NotificationKind::Resolve);
                }
            }
        }
        Ok(AlertOutcome {
            incident: st.incident.as_ref().map(|i| i.dedup_key.clone()),
            notified,
            in_maintenance: in_maint,
            flapping: st.flapping,
            consecutive_failures: st.fails,
        })
    }

    fn new_incident(
        &self,
        r: &ProbeResult,
        status: ProbeStatus,
        now: i64,
        wedding_day: bool,
    ) -> Incident {
        Incident {
            dedup_key: Incident::dedup_key_for(&r.service, now),
            service: r.service.clone(),
            state: IncidentState::Open,
            status,
            opened_at_ms: now,
            updated_at_ms: now,
            resolved_at_ms: None,
            last_notified_at_ms: Some(now),
            wedding_day,
            summary: r.detail.clone(),
        }
    }

    /// The notifications of `kind` about `inc`, one per sink that accepts the kind.
    fn notifications(
        &self,
        inc: &Incident,
        kind: NotificationKind,
        r: &ProbeResult,
        now: i64,
        wedding_day: bool,
        seq: Option<i64>,
    ) -> Result<Vec<Notification>, StoreError> {
        let severity = match kind {
            NotificationKind::Resolve => Severity::Info,
            NotificationKind::Flapping => Severity::Warning,
            _ if inc.status == ProbeStatus::Unhealthy && wedding_day => Severity::Critical,
            _ => Severity::Error,
        };
        let alert = Alert {
            kind,
            service: inc.service.clone(),
            dedup_key: inc.dedup_key.clone(),
            status: if kind == NotificationKind::Resolve {
                r.status
            } else {
                inc.status
            },
            severity,
            summary: crate::sanitize_detail(&inc.summary),
            opened_at_ms: inc.opened_at_ms,
            at_ms: now,
            wedding_day,
        };
        let payload =
            serde_json::to_string(&alert).map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(self
            .sinks
            .iter()
            .filter(|s| s.accepts(kind))
            .map(|sink| {
                let mut id = format!("{}/{}/{}", inc.dedup_key, kind.as_str(), sink.name());
                if let Some(seq) = seq {
                    id.push_str(&format!("/{seq}"));
                }
                Notification::pending(
                    id,
                    sink.name(),
                    kind,
                    &inc.dedup_key,
                    &inc.service,
                    payload.as_str(),
                    now,
                )
            })
            .collect())
    }

    /// Applies `change` and enqueues `notifications` when it takes: in one transaction when the
    /// store offers [`IncidentStore::change_incident_and_enqueue`], otherwise one write after
    /// the other (not atomic).
    async fn apply(
        &self,
        change: IncidentChange,
        notifications: Vec<Notification>,
    ) -> Result<ChangeOutcome, StoreError> {
        let outcome = match self
            .store
            .change_incident_and_enqueue(&change, &notifications)
            .await?
        {
            Some(o) => o,
            None => {
                let o = match change {
                    IncidentChange::Open(i) => {
                        ChangeOutcome::Opened(self.store.open_incident(i).await?)
                    }
                    IncidentChange::Update(i) => {
                        self.store.update_incident(&i).await?;
                        ChangeOutcome::Updated
                    }
                    IncidentChange::Resolve {
                        dedup_key,
                        resolved_at_ms,
                    } => ChangeOutcome::Resolved(
                        self.store
                            .resolve_incident(&dedup_key, resolved_at_ms)
                            .await?,
                    ),
                };
                if o.took() {
                    for n in notifications.iter().cloned() {
                        self.store.enqueue(n).await?;
                    }
                }
                o
            }
        };
        if outcome.took() && !notifications.is_empty() {
            self.wake.notify_one();
        }
        Ok(outcome)
    }

    async fn open_and_notify(
        &self,
        inc: Incident,
        notifications: Vec<Notification>,
    ) -> Result<OpenOutcome, StoreError> {
        match self.apply(IncidentChange::Open(inc), notifications).await? {
            ChangeOutcome::Opened(o) => Ok(o),
            other => Err(mismatch(&other)),
        }
    }

    async fn update_and_notify(
        &self,
        inc: Incident,
        notifications: Vec<Notification>,
    ) -> Result<(), StoreError> {
        match self
            .apply(IncidentChange::Update(inc), notifications)
            .await?
        {
            ChangeOutcome::Updated => Ok(()),
            other => Err(mismatch(&other)),
        }
    }

    async fn resolve_and_notify(
        &self,
        dedup_key: &str,
        resolved_at_ms: i64,
        notifications: Vec<Notification>,
    ) -> Result<Option<Incident>, StoreError> {
        let change = IncidentChange::Resolve {
            dedup_key: dedup_key.to_owned(),
            resolved_at_ms,
        };
        match self.apply(change, notifications).await? {
            ChangeOutcome::Resolved(r) => Ok(r),
            other => Err(mismatch(&other)),
        }
    }
}

/// A store answered a change with the outcome of another kind of change.
fn mismatch(outcome: &ChangeOutcome) -> StoreError {
    StoreError::Backend(format!(
        "the store answered an incident change with {outcome:?}"
    ))
}
