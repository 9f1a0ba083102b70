//! [`FakePagerDuty`]: a PagerDuty Events API v2 receiver (`POST /v2/enqueue`) that records events
//! and tracks incidents by `dedup_key`.

use std::collections::BTreeMap;
use std::io;
use std::time::Duration;

use serde_json::{json, Value};

use crate::fake::{fake_accessors, fake_debug, fake_start, Shared};
use crate::server::{random_hex, Incoming, Reply, Responder, Server};
use crate::{FakeHandle, Scenario};

/// The state of one PagerDuty alert, keyed by `dedup_key`, as the fake sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PagerDutyAlert {
    /// `triggered`, `acknowledged` or `resolved`.
    pub status: String,
    /// How many `trigger` events arrived for this key (a reminder that re-triggers shows here).
    pub triggers: u32,
    /// How many `resolve` events arrived for this key.
    pub resolves: u32,
    /// The `payload.summary` of the last trigger.
    pub summary: String,
    /// The `payload.severity` of the last trigger.
    pub severity: String,
}

/// A fake PagerDuty Events API v2 on `127.0.0.1:0`.
///
/// `POST /v2/enqueue` with `{"routing_key","event_action","dedup_key"?,"payload":{"summary",
/// "source","severity",…}}` → `202 {"status":"success","message":"Event processed",
/// "dedup_key":"…"}` (a key is generated for a trigger without one). Invalid events get
/// `400 {"status":"invalid event","message":"Event object is invalid","errors":[…]}`: a
/// `routing_key` that is not 32 characters or not [`routing_key`](Self::routing_key) *(the
/// wrong-key answer is unverified)*, an unknown `event_action`, a missing `dedup_key` on
/// acknowledge/resolve, a missing `summary`/`source` or a bad `severity` on trigger.
///
/// Scenarios: [`Scenario::RateLimited`] / `Status(429)` answer `429` (`throttle event`);
/// [`Scenario::ServerError`] and `Status(5xx)` a `5xx` JSON error; use [`Scenario::fail_times`] to
/// fail the first N posts. Only accepted events reach [`events`](Self::events) and
/// [`alerts`](Self::alerts).
pub struct FakePagerDuty {
    server: Server,
    handle: FakeHandle,
    routing_key: String,
    state: Shared<PdState>,
}

fake_debug!(FakePagerDuty, fake => {
    "routing_key": &"***",
    "handle": &fake.handle,
});

#[derive(Debug, Default)]
struct PdState {
    events: Vec<Value>,
    alerts: BTreeMap<String, PagerDutyAlert>,
}

impl FakePagerDuty {
    fake_start!("fake PagerDuty");

    /// Start the fake.
    ///
    /// # Errors
    /// When binding `127.0.0.1:0` fails.
    pub async fn try_start() -> io::Result<Self> {
        let routing_key = random_hex(32);
        let state = Shared::<PdState>::default();
        let responder = PdResponder {
            routing_key: routing_key.clone(),
            state: state.clone(),
        };
        let (server, handle) = Server::start_single(responder, "pagerduty").await?;
        Ok(Self {
            server,
            handle,
            routing_key,
            state,
        })
    }

    fake_accessors!(
        base_url: "`http://127.0.0.1:PORT` (no trailing slash): post to `{base_url}/v2/enqueue`.",
        requests: "Every request received (accepted or not), oldest first."
    );

    /// `{base_url}/v2/enqueue`.
    #[must_use]
    pub fn enqueue_url(&self) -> String {
        format!("{}/v2/enqueue", self.server.base_url())
    }

    /// The integration's routing key (32 hex characters).
    #[must_use]
    pub fn routing_key(&self) -> &str {
        &self.routing_key
    }

    /// The accepted events (as posted), oldest first.
    #[must_use]
    pub fn events(&self) -> Vec<Value> {
        self.state.lock().events.clone()
    }

    /// Alerts by `dedup_key`.
    #[must_use]
    pub fn alerts(&self) -> BTreeMap<String, PagerDutyAlert> {
        self.state.lock().alerts.clone()
    }

    /// The `dedup_key`s whose alert is triggered or acknowledged (not resolved).
    #[must_use]
    pub fn open_dedup_keys(&self) -> Vec<String> {
        self.alerts()
            .into_iter()
            .filter(|(_, a)| a.status != "resolved")
            .map(|(k, _)| k)
            .collect()
    }

    /// Wait until at least `count` events were accepted, at most `timeout`; whether they were.
    pub async fn wait_for_events(&self, count: usize, timeout: Duration) -> bool {
        self.handle
            .wait_until(timeout, || self.events().len() >= count)
            .await
    }
}

struct PdResponder {
    routing_key: String,
    state: Shared<PdState>,
}

fn invalid(errors: &[String]) -> Reply {
    Reply::json(
        400,
        &json!({ "status": "invalid event", "message": "Event object is invalid", "errors": errors }),
    )
}

fn throttled(secs: u64) -> Reply {
    Reply::json(
        429,
        &json!({ "status": "throttle event",
                 "message": "Requests for this service are arriving too quickly.  Please retry later." }),
    )
    .with("retry-after", secs.to_string())
}

fn server_error(code: u16) -> Reply {
    Reply::json(
        code,
        &json!({ "status": "error", "message": "The server encountered an error. Please retry." }),
    )
}

impl PdResponder {
    fn validate(&self, event: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        match event.get("routing_key").and_then(Value::as_str) {
            None | Some("") => errors.push("'routing_key' is missing or blank".to_owned()),
            Some(key) if key.len() != 32 => errors
                .push("Length of 'routing_key' is incorrect (should be 32 characters)".to_owned()),
            Some(key) if key != self.routing_key => errors.push("Invalid routing key".to_owned()),
            Some(_) => {}
        }
        let action = event.get("event_action").and_then(Value::as_str);
        match action {
            Some("trigger") => {
                let payload = event.get("payload");
                for field in ["summary", "source"] {
                    let present = payload
                        .and_then(|p| p.get(field))
                        .and_then(Value::as_str)
                        .is_some_and(|s| !s.is_empty());
                    if !present {
                        errors.push(format!("'payload.{field}' is missing or blank"));
                    }
                }
                let severity = payload
                    .and_then(|p| p.get("severity"))
                    .and_then(Value::as_str);
                if !matches!(severity, Some("critical" | "error" | "warning" | "info")) {
                    errors.push(
                        "'payload.severity' must be one of critical, error, warning or info"
                            .to_owned(),
                    );
                }
            }
            Some("acknowledge" | "resolve") => {
                let has_key = event
                    .get("dedup_key")
                    .and_then(Value::as_str)
                    .is_some_and(|k| !k.is_empty());
                if !has_key {
                    errors.push("'dedup_key' is missing or blank".to_owned());
                }
            }
            _ => errors
                .push("'event_action' must be one of trigger, acknowledge or resolve".to_owned()),
        }
        errors
    }

    fn accept(&self, event: Value) -> String {
        let action = event["event_action"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let dedup_key = event
            .get("dedup_key")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .map_or_else(|| random_hex(32), str::to_owned);
        let mut state = self.state.lock();
        let alert = state
            .alerts
            .entry(dedup_key.clone())
            .or_insert_with(|| PagerDutyAlert {
                status: "resolved".to_owned(),
                triggers: 0,
                resolves: 0,
                summary: String::new(),
                severity: String::new(),
            });
        match action.as_str() {
            "trigger" => {
                alert.triggers += 1;
                alert.summary = event["payload"]["summary"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                alert.severity = event["payload"]["severity"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if alert.status != "acknowledged" {
                    alert.status = "triggered".to_owned();
                }
            }
            "acknowledge" => {
                if alert.status == "triggered" {
                    alert.status = "acknowledged".to_owned();
                }
            }
            _ => {
                alert.resolves += 1;
                alert.status = "resolved".to_owned();
            }
        }
        state.events.push(event);
        dedup_key
    }
}

impl Responder for PdResponder {
    fn respond(&self, req: &Incoming, scenario: &Scenario) -> Reply {
        match scenario {
            Scenario::RateLimited { retry_after } => {
                return throttled(Scenario::retry_after_secs(*retry_after));
            }
            Scenario::ServerError => return server_error(500),
            Scenario::Status(429) => return throttled(1),
            Scenario::Status(code) if *code >= 500 => return server_error(*code),
            Scenario::Status(code) => {
                return Reply::json(
                    *code,
                    &json!({ "status": "error", "message": format!("HTTP {code}") }),
                );
            }
            Scenario::Unauthorized => return invalid(&["Invalid routing key".to_owned()]),
            _ => {}
        }
        if req.path != "/v2/enqueue" {
            return Reply::json(404, &json!({ "status": "error", "message": "Not Found" }));
        }
        if req.method != http::Method::POST {
            return Reply::json(
                405,
                &json!({ "status": "error", "message": "Method Not Allowed" }),
            );
        }
        let Ok(event) = serde_json::from_slice::<Value>(&req.body) else {
            return Reply::json(
                400,
                &json!({ "status": "invalid request", "message": "Invalid JSON" }),
            );
        };
        let errors = self.validate(&event);
        if !errors.is_empty() {
            return invalid(&errors);
        }
        let dedup_key = self.accept(event);
        Reply::json(
            202,
            &json!({ "status": "success", "message": "Event processed", "dedup_key": dedup_key }),
        )
    }
}
