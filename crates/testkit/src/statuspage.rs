//! [`FakeStatuspage`]: an Atlassian Statuspage (`/api/v2/status.json`, `/api/v2/summary.json`) and
//! Stripe's `/current`.

use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::fake::{fake_accessors, started, Shared};
use crate::server::{random_token, Incoming, Reply, Responder, Server};
use crate::{FakeHandle, Scenario};

/// A fake provider status page on `127.0.0.1:0`.
///
/// Routes (no credentials; status pages are public):
/// - `GET /api/v2/status.json` → `{"page":{…},"status":{"indicator","description"}}`;
/// - `GET /api/v2/summary.json` → the same plus `components[]`, `incidents[]`,
///   `scheduled_maintenances[]`;
/// - `GET /current` → Stripe's `{"message":"…","UptimeStatus":"up"|"degraded"|"down"}`.
///
/// Scenarios: all generic ones; [`Scenario::PartialOutage`] (indicator `minor`, the affected
/// components `partial_outage`, `/current` `degraded`), [`Scenario::MajorOutage`] (indicator
/// `major`, `major_outage`, an open incident, `/current` `down`) and [`Scenario::Maintenance`]
/// (indicator `maintenance`, `under_maintenance`, a maintenance in progress). The affected
/// components default to the first one; change them with
/// [`set_affected_components`](Self::set_affected_components).
#[derive(Debug)]
pub struct FakeStatuspage {
    server: Server,
    handle: FakeHandle,
    page_name: String,
    components: Vec<String>,
    affected: Shared<Vec<String>>,
}

impl FakeStatuspage {
    /// A generic page named "WedSync Fake" with components `API` and `Dashboard`.
    ///
    /// # Panics
    /// If no loopback port can be bound (see [`try_start_with`](Self::try_start_with)).
    pub async fn start() -> Self {
        Self::start_with("WedSync Fake", &["API", "Dashboard"]).await
    }

    /// A page like `status.twilio.com`: components `REST API`, `SMS`, `Voice`, `Webhooks`.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn twilio() -> Self {
        Self::start_with("Twilio", &["REST API", "SMS", "Voice", "Webhooks"]).await
    }

    /// A page like `status.supabase.com`: components `Auth`, `Database`, `REST API`, `Storage`.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn supabase() -> Self {
        Self::start_with("Supabase", &["Auth", "Database", "REST API", "Storage"]).await
    }

    /// A page standing in for `status.stripe.com` (`/current`; also serves the Statuspage routes
    /// with components `API`, `Checkout`, `Webhooks`).
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn stripe() -> Self {
        Self::start_with("Stripe", &["API", "Checkout", "Webhooks"]).await
    }

    /// A page with this name and these components.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start_with(page_name: &str, components: &[&str]) -> Self {
        started(
            "fake status page",
            Self::try_start_with(page_name, components).await,
        )
    }

    /// A page with this name and these components.
    ///
    /// # Errors
    /// When binding `127.0.0.1:0` fails.
    pub async fn try_start_with(page_name: &str, components: &[&str]) -> io::Result<Self> {
        let components: Vec<String> = components.iter().map(|c| (*c).to_owned()).collect();
        let affected = Shared::new(components.iter().take(1).cloned().collect());
        let responder = StatusResponder {
            page_id: random_token(12).to_ascii_lowercase(),
            page_name: page_name.to_owned(),
            components: components
                .iter()
                .map(|name| (random_token(12).to_ascii_lowercase(), name.clone()))
                .collect(),
            affected: affected.clone(),
        };
        let (server, handle) = Server::start_single(responder, "statuspage").await?;
        Ok(Self {
            server,
            handle,
            page_name: page_name.to_owned(),
            components,
            affected,
        })
    }

    fake_accessors!(
        base_url: "`http://127.0.0.1:PORT` (no trailing slash).",
        requests: "The requests received, oldest first."
    );

    /// The page's name (`page.name`).
    #[must_use]
    pub fn page_name(&self) -> &str {
        &self.page_name
    }

    /// The component names, in order.
    #[must_use]
    pub fn components(&self) -> &[String] {
        &self.components
    }

    /// Which components the outage and maintenance scenarios affect (names; unknown ones are
    /// ignored).
    pub fn set_affected_components(&self, names: &[&str]) {
        *self.affected.lock() = names.iter().map(|n| (*n).to_owned()).collect();
    }
}

struct StatusResponder {
    page_id: String,
    page_name: String,
    components: Vec<(String, String)>,
    affected: Shared<Vec<String>>,
}

/// `YYYY-MM-DDTHH:MM:SS.000Z` for a Unix time (UTC), without a date-time crate.
pub(crate) fn rfc3339(unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // civil_from_days (Howard Hinnant), valid for dates after 1970
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        secs / 3_600,
        (secs % 3_600) / 60,
        secs % 60
    )
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl StatusResponder {
    fn page(&self, updated_at: &str) -> Value {
        json!({
            "id": self.page_id,
            "name": self.page_name,
            "url": format!("https://status.{}.example.com", self.page_name.to_ascii_lowercase().replace(' ', "")),
            "time_zone": "Etc/UTC",
            "updated_at": updated_at
        })
    }

    fn route(&self, req: &Incoming, scenario: &Scenario) -> Reply {
        match scenario {
            Scenario::Unauthorized => {
                return Reply::json(401, &json!({ "error": "Unauthorized" }));
            }
            Scenario::RateLimited { retry_after } => {
                return Reply::json(429, &json!({ "error": "Rate limit exceeded" })).with(
                    "retry-after",
                    Scenario::retry_after_secs(*retry_after).to_string(),
                );
            }
            Scenario::ServerError => {
                return Reply::json(500, &json!({ "error": "Internal Server Error" }));
            }
            Scenario::Status(code) => {
                return Reply::json(*code, &json!({ "error": format!("HTTP {code}") }));
            }
            _ => {}
        }
        if req.method != http::Method::GET {
            return Reply::json(405, &json!({ "error": "Method Not Allowed" }));
        }
        let (indicator, description, component_status, uptime, message) = match scenario {
            Scenario::PartialOutage => (
                "minor",
                "Partially Degraded Service",
                "partial_outage",
                "degraded",
                "Some services are experiencing degraded performance.",
            ),
            Scenario::MajorOutage => (
                "major",
                "Partial System Outage",
                "major_outage",
                "down",
                "Some services are down.",
            ),
            Scenario::Maintenance => (
                "maintenance",
                "Service Under Maintenance",
                "under_maintenance",
                "up",
                "Scheduled maintenance is in progress.",
            ),
            _ => (
                "none",
                "All Systems Operational",
                "operational",
                "up",
                "All services are online.",
            ),
        };
        let now = now_unix();
        let updated_at = rfc3339(now);
        let status = json!({ "indicator": indicator, "description": description });
        match req.path.as_str() {
            "/current" | "/current/full" => {
                Reply::json(200, &json!({ "message": message, "UptimeStatus": uptime }))
            }
            "/api/v2/status.json" => Reply::json(
                200,
                &json!({ "page": self.page(&updated_at), "status": status }),
            ),
            "/api/v2/summary.json" => {
                let affected = self.affected.lock().clone();
                let created = rfc3339(1_546_300_800);
                let started = rfc3339(now.saturating_sub(600));
                let components: Vec<Value> = self
                    .components
                    .iter()
                    .enumerate()
                    .map(|(i, (id, name))| {
                        let hit = affected.iter().any(|a| a == name);
                        json!({
                            "id": id,
                            "name": name,
                            "status": if hit { component_status } else { "operational" },
                            "created_at": created,
                            "updated_at": if hit { started.clone() } else { created.clone() },
                            "position": i + 1,
                            "description": null,
                            "showcase": true,
                            "start_date": null,
                            "group_id": null,
                            "page_id": self.page_id,
                            "group": false,
                            "only_show_if_degraded": false
                        })
                    })
                    .collect();
                let affected_components: Vec<Value> = components
                    .iter()
                    .filter(|c| c["status"] != "operational")
                    .cloned()
                    .collect();
                let names = affected.join(", ");
                let incidents = match scenario {
                    Scenario::PartialOutage | Scenario::MajorOutage => vec![json!({
                        "id": random_token(12).to_ascii_lowercase(),
                        "name": format!("Elevated error rates for {names}"),
                        "status": "investigating",
                        "impact": indicator,
                        "created_at": started,
                        "updated_at": updated_at,
                        "monitoring_at": null,
                        "resolved_at": null,
                        "shortlink": "https://stspg.io/fake",
                        "started_at": started,
                        "page_id": self.page_id,
                        "incident_updates": [{
                            "status": "investigating",
                            "body": "We are investigating elevated error rates.",
                            "created_at": started
                        }],
                        "components": affected_components
                    })],
                    _ => vec![],
                };
                let maintenances = match scenario {
                    Scenario::Maintenance => vec![json!({
                        "id": random_token(12).to_ascii_lowercase(),
                        "name": format!("Scheduled maintenance of {names}"),
                        "status": "in_progress",
                        "impact": "maintenance",
                        "scheduled_for": started,
                        "scheduled_until": rfc3339(now + 3_600),
                        "created_at": started,
                        "updated_at": updated_at,
                        "shortlink": "https://stspg.io/fake",
                        "page_id": self.page_id,
                        "incident_updates": [],
                        "components": affected_components
                    })],
                    _ => vec![],
                };
                Reply::json(
                    200,
                    &json!({
                        "page": self.page(&updated_at),
                        "components": components,
                        "incidents": incidents,
                        "scheduled_maintenances": maintenances,
                        "status": status
                    }),
                )
            }
            _ => Reply::json(404, &json!({ "error": "Not Found" })),
        }
    }
}

impl Responder for StatusResponder {
    fn respond(&self, req: &Incoming, scenario: &Scenario) -> Reply {
        self.route(req, scenario)
            .with("cache-control", "max-age=0, private, must-revalidate")
    }
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_798_461_296), "2026-12-28T12:34:56.000Z");
        assert_eq!(rfc3339(1_709_251_199), "2024-02-29T23:59:59.000Z");
    }
}
