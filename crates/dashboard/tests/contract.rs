//! The public API from the outside: a minimal view through the re-exported model renders the
//! page, its fragments and its SSE messages as the server and the browser test expect.

use wedsync_dashboard::*;

fn view(name: &str) -> DashboardView {
    let now = 1_762_265_103_000; // Tue 4 Nov 2025 14:05:03 GMT
    DashboardView {
        now_ms: now,
        zone: "Europe/London".into(),
        wedding: WeddingView {
            today: false,
            policy: vec![],
        },
        services: vec![ServiceView {
            name: name.into(),
            status: "rate_limited".into(),
            state: State::Up,
            detail: Some("HTTP 429".into()),
            breaker: "closed".into(),
            latency_ms: None,
            p95_ms: None,
            checked_at_ms: None,
            in_maintenance: false,
            flapping: false,
            hours: vec![],
            days: vec![],
            latency_24h: vec![],
            latency_7d: vec![],
        }],
        incidents: vec![],
        maintenance: vec![],
        webhooks: WebhooksView::default(),
        can_act: false,
        csrf: "t".into(),
        flash: None,
    }
}

#[test]
fn page_fragments_and_events_agree() {
    let v = view("resend");
    let page = render_page(&v);
    assert!(page.contains("<tr id=\"svc-resend\" class=\"svc state-up\" data-status=\"rate_limited\" data-state=\"up\">"));
    assert!(page.contains("⏳</span> Rate limited<span class=\"svc-detail\"> — HTTP 429</span>"));
    assert!(!page.contains("style=") && !page.contains("<script>"));
    let frags = render_fragments(&v);
    let ids: Vec<&str> = frags.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "wedding-banner",
            "svc-resend",
            "incidents",
            "maintenance",
            "webhooks"
        ]
    );
    for (_, html) in &frags {
        assert!(page.contains(html.as_str()));
    }
    let msg = sse_update(&v);
    let data = msg
        .strip_prefix("event: update\ndata: ")
        .unwrap()
        .strip_suffix("\n\n")
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(json["at_text"], "14:05:03 GMT");
    assert_eq!(
        json["fragments"]["svc-resend"].as_str(),
        Some(frags[1].1.as_str())
    );
}

#[test]
fn hostile_service_name() {
    let name = "<img src=x onerror=alert(1)>";
    let page = render_page(&view(name));
    assert!(!page.contains(name));
    assert!(page.contains(&format!("id=\"svc-{}\"", escape(name))));
    assert!(render_fragments(&view(name))
        .iter()
        .any(|(id, _)| id == &format!("svc-{name}")));
}
