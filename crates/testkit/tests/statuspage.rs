//! The fake status pages over real HTTP on loopback.

mod common;

use common::{client, send, status_of, Answer};
use wedsync_testkit::{FakeStatuspage, Scenario};

async fn get(page: &FakeStatuspage, path: &str) -> Answer {
    send(client().get(format!("{}{path}", page.base_url()))).await
}

fn component_status(summary: &serde_json::Value, name: &str) -> String {
    status_of(&summary["components"], name)
}

#[tokio::test]
async fn healthy_page() {
    let page = FakeStatuspage::twilio().await;
    let s = get(&page, "/api/v2/status.json").await;
    assert_eq!(s.status, 200);
    assert_eq!(s.json()["status"]["indicator"], "none");
    assert_eq!(s.json()["page"]["name"], "Twilio");
    let sum = get(&page, "/api/v2/summary.json").await.json();
    assert_eq!(sum["components"].as_array().unwrap().len(), 4);
    assert_eq!(component_status(&sum, "SMS"), "operational");
    assert!(sum["incidents"].as_array().unwrap().is_empty());
    assert!(sum["scheduled_maintenances"].as_array().unwrap().is_empty());
    let cur = get(&page, "/current").await.json();
    assert_eq!(cur["UptimeStatus"], "up");
}

#[tokio::test]
async fn outages_hit_the_affected_component_only() {
    let page = FakeStatuspage::supabase().await;
    page.set_affected_components(&["Database"]);
    page.set_scenario(Scenario::MajorOutage);
    let sum = get(&page, "/api/v2/summary.json").await.json();
    assert_eq!(sum["status"]["indicator"], "major");
    assert_eq!(component_status(&sum, "Database"), "major_outage");
    assert_eq!(component_status(&sum, "Auth"), "operational");
    assert_eq!(sum["incidents"].as_array().unwrap().len(), 1);
    assert_eq!(sum["incidents"][0]["components"][0]["name"], "Database");
    assert_eq!(get(&page, "/current").await.json()["UptimeStatus"], "down");

    page.set_scenario(Scenario::PartialOutage);
    let sum = get(&page, "/api/v2/summary.json").await.json();
    assert_eq!(sum["status"]["indicator"], "minor");
    assert_eq!(component_status(&sum, "Database"), "partial_outage");
    assert_eq!(
        get(&page, "/current").await.json()["UptimeStatus"],
        "degraded"
    );

    page.set_scenario(Scenario::Maintenance);
    let sum = get(&page, "/api/v2/summary.json").await.json();
    assert_eq!(component_status(&sum, "Database"), "under_maintenance");
    assert_eq!(sum["scheduled_maintenances"][0]["status"], "in_progress");
    let st = get(&page, "/api/v2/status.json").await.json();
    assert_eq!(st["status"]["indicator"], "maintenance");
}

#[tokio::test]
async fn stripe_current_and_errors() {
    let page = FakeStatuspage::stripe().await;
    let cur = get(&page, "/current").await;
    assert_eq!(cur.status, 200);
    assert!(cur.json()["message"].is_string());
    page.set_scenario(Scenario::ServerError);
    assert_eq!(get(&page, "/current").await.status, 500);
    page.set_scenario(Scenario::ServerErrorHtml);
    assert_eq!(get(&page, "/api/v2/status.json").await.status, 502);
    page.set_scenario(Scenario::rate_limited(60));
    let a = get(&page, "/api/v2/status.json").await;
    assert_eq!((a.status, a.header("retry-after")), (429, Some("60")));
    page.set_scenario(Scenario::Healthy);
    assert_eq!(get(&page, "/nope").await.status, 404);
}
