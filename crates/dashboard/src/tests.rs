//! Page-level tests: the DOM contract the browser test relies on, escaping everywhere,
//! fragments against the page, SSE framing, the login and status pages, and property tests.

use proptest::prelude::*;

use crate::fixture::{self, DAY, HOUR, MIN, NOW};
use crate::testutil::{assert_safe_markup, Element};
use crate::*;

fn find(els: &[Element], pred: impl Fn(&Element) -> bool) -> Vec<&Element> {
    els.iter().filter(|e| pred(e)).collect()
}

fn by_id<'a>(els: &'a [Element], id: &str) -> &'a Element {
    let found = find(els, |e| e.attr("id") == Some(id));
    assert_eq!(found.len(), 1, "#{id}");
    found[0]
}

/// The HTML of the element with `id` (from its start tag to its matching end tag).
fn outer<'a>(html: &'a str, tag: &str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<{tag} id=\"{}\"", escape(id)))
        .unwrap_or_else(|| panic!("no <{tag} id={id}>"));
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    let mut depth = 0usize;
    let mut i = start;
    loop {
        let o = html[i..].find(&open).map(|p| p + i);
        let c = html[i..].find(&close).map(|p| p + i).expect("unclosed");
        match o {
            Some(o) if o < c => {
                depth += 1;
                i = o + open.len();
            }
            _ => {
                depth -= 1;
                i = c + close.len();
                if depth == 0 {
                    return &html[start..i];
                }
            }
        }
    }
}

fn hostile() -> String {
    "<script>alert(\"x\")</script>' onmouseover=alert(1) x=\"&amp;".to_owned()
}

/// A view where every string from outside is hostile.
fn hostile_view() -> DashboardView {
    let h = hostile();
    let mut v = fixture::view(3, 3, 3);
    v.zone = format!("Europe/London{h}");
    v.csrf = format!("tok{h}");
    v.flash = Some(format!("flash{h}"));
    v.wedding.today = true;
    v.wedding.policy = vec![format!("policy{h}")];
    v.services[0].name = format!("name{h}");
    v.services[0].status = format!("status{h}");
    v.services[0].detail = Some(format!("detail{h}\n\r\u{2028}"));
    v.services[0].breaker = format!("breaker{h}");
    for inc in &mut v.incidents {
        inc.service = format!("isvc{h}");
        inc.key = format!("key{h}");
        inc.status = format!("istatus{h}");
        inc.summary = format!("summary{h}");
    }
    v.maintenance.push(MaintenanceView {
        service: Some(format!("msvc{h}")),
        start_ms: NOW - HOUR,
        end_ms: NOW + HOUR,
    });
    v.webhooks.providers[0].provider = format!("provider{h}");
    for a in &mut v.webhooks.attention {
        a.delivery_id = format!("dlv{h}");
        a.provider = format!("aprov{h}");
        a.event_type = Some(format!("event{h}"));
        a.status = format!("astatus{h}");
        a.last_error = Some(format!("error{h}"));
    }
    v
}

#[test]
fn page_dom_contract() {
    let v = fixture::sample();
    let html = render_page(&v);
    let els = assert_safe_markup(&html);

    assert!(html.starts_with("<!doctype html>\n<html lang=\"en\">"));
    assert!(
        html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
    );
    assert!(html.contains("<link rel=\"stylesheet\" href=\"/dashboard/assets/app.css\">"));
    assert!(html.contains("<script src=\"/dashboard/assets/app.js\" defer></script>"));
    assert!(html.contains("<body data-state=\"live\" data-events=\"/dashboard/events\">"));

    let conn = by_id(&els, "connection");
    assert_eq!(conn.name, "p");
    assert_eq!(conn.attr("role"), Some("status"));
    assert_eq!(conn.attr("aria-live"), Some("polite"));
    assert!(html.contains("Live · last update <time id=\"last-update\" datetime=\"2025-11-08T14:05:03Z\">14:05:03 GMT</time>"));

    let banner = by_id(&els, "wedding-banner");
    assert_eq!(banner.name, "section");
    assert!(banner.has_class("wedding-day"));
    assert!(html.contains("Today is a wedding day (Europe/London)</h2>"));
    assert!(html.contains("<li>Probes every 15 s instead of 30 s</li>"));

    assert_eq!(by_id(&els, "services").name, "table");
    for s in &v.services {
        let row = by_id(&els, &format!("svc-{}", s.name));
        assert_eq!(row.name, "tr");
        assert_eq!(
            row.attr("class"),
            Some(format!("svc state-{}", s.state.as_str()).as_str())
        );
        assert_eq!(row.attr("data-status"), Some(s.status.as_str()));
        assert_eq!(row.attr("data-state"), Some(s.state.as_str()));
        let row_html = outer(&html, "tr", &format!("svc-{}", s.name));
        let cells = assert_safe_markup(row_html);
        for class in [
            "svc-status",
            "svc-breaker",
            "svc-latency",
            "svc-p95",
            "svc-checked",
        ] {
            assert_eq!(find(&cells, |e| e.has_class(class)).len(), 1, "{class}");
        }
        let bars24 = find(&cells, |e| {
            e.name == "ol" && e.has_class("bar") && e.has_class("bar-24h")
        });
        let bars90 = find(&cells, |e| {
            e.name == "ol" && e.has_class("bar") && e.has_class("bar-90d")
        });
        assert_eq!((bars24.len(), bars90.len()), (1, 1));
        assert!(bars24[0]
            .attr("aria-label")
            .unwrap()
            .contains("last 24 hours"));
        let buckets = find(&cells, |e| e.name == "li" && e.has_class("bucket"));
        assert_eq!(buckets.len(), s.hours.len() + s.days.len());
        let stops: Vec<usize> = [s.hours.len() - 1, s.hours.len() + s.days.len() - 1].into();
        for (i, (b, model)) in buckets
            .iter()
            .zip(s.hours.iter().chain(&s.days))
            .enumerate()
        {
            let state = bucket_state(model);
            assert_eq!(
                b.attr("class"),
                Some(format!("bucket state-{}", state.as_str()).as_str())
            );
            // one tab stop per bar (its newest bucket); the others are reached with the arrows
            let want = if stops.contains(&i) { "0" } else { "-1" };
            assert_eq!(b.attr("tabindex"), Some(want), "bucket {i}");
            let label = b.attr("aria-label").unwrap();
            assert_eq!(b.attr("title"), Some(label));
            assert!(label.contains(state.label()), "{label}");
            if state == State::Down {
                assert!(label.contains(". Outage "), "{label}");
                assert!(label.contains(" GMT") || label.contains(" BST"), "{label}");
            }
        }
        assert_eq!(find(&cells, |e| e.name == "details").len(), 1);
        let charts = find(&cells, |e| e.name == "svg");
        assert_eq!(charts.len(), 2);
        for c in charts {
            assert_eq!(c.attr("role"), Some("img"));
            assert!(c.attr("aria-label").is_some());
        }
    }
    // Status words with icons.
    assert!(html.contains("✓</span> Healthy"));
    assert!(
        html.contains("✗</span> Unhealthy<span class=\"svc-detail\"> — timeout after 5 s</span>")
    );
    assert!(html.contains("⚠</span> Degraded"));
    assert!(html.contains("🔒</span> Auth failed"));
    assert!(html.contains("?</span> Unknown"));
    assert!(html.contains("↯ Flapping") && html.contains("🔧 Maintenance window"));
    assert!(html.contains("<td class=\"svc-latency\">—</td>"));
    assert!(html.contains("<td class=\"svc-breaker breaker-open\">Open</td>"));
    assert!(html.contains("<td class=\"svc-breaker breaker-half-open\">Half-open</td>"));
    // Twilio's current hour: outage from the model's outage times, with the zone.
    assert!(
        html.contains("Outage 14:01–14:04 GMT. 8 failed of 10 checks."),
        "outage label"
    );

    // Every header cell is scoped.
    for th in find(&els, |e| e.name == "th") {
        assert!(matches!(th.attr("scope"), Some("col" | "row")), "{th:?}");
    }
    assert!(html.contains("class=\"legend\""));
    assert!(html.contains("id=\"bucket-info\"") && html.contains("aria-live=\"polite\"></p>"));

    // Incidents with timelines.
    assert_eq!(by_id(&els, "incidents").name, "section");
    let incidents = find(&els, |e| {
        e.name == "li" && e.attr("class") == Some("incident")
    });
    assert_eq!(incidents.len(), 2);
    assert_eq!(incidents[0].attr("data-service"), Some("twilio"));
    assert_eq!(
        find(&els, |e| e.name == "ol" && e.has_class("timeline")).len(),
        2
    );
    for class in [
        "tl-opened",
        "tl-alerted",
        "tl-acknowledged",
        "tl-open",
        "tl-resolved",
    ] {
        assert!(html.contains(&format!("<li class=\"{class}\">")), "{class}");
    }
    assert!(html.contains("Opened <time datetime=\"2025-11-08T14:01:03Z\">14:01:03 GMT</time>"));
    assert!(html.contains("Still open"));

    assert_eq!(by_id(&els, "maintenance").name, "section");
    assert!(html.contains("🔧 In progress</span> <strong>supabase</strong> <span class=\"window-time\">13:05–15:05 GMT</span>"));
    assert!(html.contains("<strong>All services</strong>"));

    // Webhooks.
    assert_eq!(by_id(&els, "webhooks").name, "section");
    assert_eq!(find(&els, |e| e.has_class("webhook-table")).len(), 4);
    assert!(html.contains("Retry queue: <strong>7</strong>"));
    assert_eq!(by_id(&els, "attention").name, "ul");
    let items = find(&els, |e| e.attr("class") == Some("attention"));
    assert_eq!(items.len(), 4);
    assert!(items
        .iter()
        .all(|e| e.name == "li" && e.attr("data-delivery").is_some()));
    let forms = find(&els, |e| e.name == "form" && e.has_class("replay"));
    assert_eq!(forms.len(), 4);
    for f in forms {
        assert_eq!(f.attr("method"), Some("post"));
        assert_eq!(f.attr("action"), Some("/dashboard/replay"));
    }
    assert_eq!(
        find(&els, |e| e.name == "input"
            && e.attr("name") == Some("delivery_id")
            && e.attr("type") == Some("hidden"))
        .len(),
        4
    );
    assert!(html.contains("<input type=\"hidden\" name=\"delivery_id\" value=\"dlv_00000000feed0000\"><input type=\"hidden\" name=\"csrf\" value=\"csrf-7f3a9c\"><button type=\"submit\" class=\"replay-button\" title=\"Replay delivery dlv_00000000feed0000\">Replay</button></form>"));

    let flash = by_id(&els, "flash");
    assert_eq!(flash.attr("role"), Some("status"));
    assert!(html.contains("<div id=\"flash\" role=\"status\">Delivery dlv_00000000feed0001 was queued for replay.</div>"));
    assert!(html.contains("<form class=\"logout\" method=\"post\" action=\"/dashboard/logout\"><input type=\"hidden\" name=\"csrf\" value=\"csrf-7f3a9c\">"));
}

#[test]
fn no_replay_forms_without_can_act() {
    let mut v = fixture::sample();
    v.can_act = false;
    v.flash = None;
    let html = render_page(&v);
    let els = assert_safe_markup(&html);
    assert!(!html.contains("/dashboard/replay") && !html.contains("replay-button"));
    assert!(
        find(&els, |e| e.name == "form").len() == 1,
        "only the logout form"
    );
    assert_eq!(
        find(&els, |e| e.attr("class") == Some("attention")).len(),
        4
    );
    assert!(html.contains("<div id=\"flash\" role=\"status\"></div>"));
}

#[test]
fn acknowledge_forms_only_for_open_unacknowledged_incidents_and_admins() {
    let mut v = fixture::sample();
    v.can_act = true;
    let open: Vec<_> = v
        .incidents
        .iter()
        .filter(|i| i.resolved_at_ms.is_none())
        .map(|i| i.key.clone())
        .collect();
    assert!(!open.is_empty(), "the sample has an open incident");
    for i in &mut v.incidents {
        i.acknowledged_at_ms = None;
    }
    let html = render_page(&v);
    assert_safe_markup(&html);
    assert_eq!(html.matches("class=\"ack\"").count(), open.len());
    for key in &open {
        assert!(html.contains(&format!("name=\"incident\" value=\"{}\"", escape(key))));
    }
    // acknowledged: the timeline says when, the form is gone
    let at = v.now_ms - 60_000;
    for i in &mut v.incidents {
        i.acknowledged_at_ms = Some(at);
    }
    let html = render_page(&v);
    assert!(!html.contains("class=\"ack\""));
    assert!(html.contains("tl-acknowledged"));
    // read scope: never a form
    for i in &mut v.incidents {
        i.acknowledged_at_ms = None;
    }
    v.can_act = false;
    assert!(!render_page(&v).contains("/dashboard/acknowledge"));
}

#[test]
fn empty_and_normal_day() {
    let mut v = fixture::view(0, 0, 0);
    v.webhooks = WebhooksView::default();
    v.maintenance.clear();
    let html = render_page(&v);
    let els = assert_safe_markup(&html);
    assert!(by_id(&els, "wedding-banner").has_class("normal-day"));
    assert!(html.contains("Not a wedding day (Europe/London)"));
    assert!(html.contains("No incidents in the last 24 hours"));
    assert!(html.contains("No maintenance scheduled"));
    assert!(html.contains("<ul id=\"attention\" aria-labelledby=\"attention-title\"></ul>"));
    assert!(html.contains("Retry queue: <strong>0</strong>"));
}

#[test]
fn bucket_labels_say_period_state_and_outage() {
    let clock = crate::clock::Clock::new("Europe/London", NOW);
    let h14 = NOW - 5 * MIN - 3_000; // 14:00:00
    let mut out = String::new();
    let mut scratch = String::new();
    let buckets = [
        Bucket {
            start_ms: h14,
            end_ms: h14 + HOUR,
            checks: 120,
            healthy: 100,
            degraded: 0,
            down: 20,
            maintenance: false,
            outage: Some((h14 + 5 * MIN, h14 + 40 * MIN)),
        },
        Bucket {
            start_ms: h14,
            end_ms: h14 + HOUR,
            checks: 120,
            healthy: 100,
            degraded: 20,
            down: 0,
            maintenance: false,
            outage: None,
        },
        Bucket {
            start_ms: h14,
            end_ms: h14 + HOUR,
            checks: 0,
            healthy: 0,
            degraded: 0,
            down: 0,
            maintenance: true,
            outage: None,
        },
        Bucket {
            start_ms: h14,
            end_ms: h14 + HOUR,
            checks: 120,
            healthy: 120,
            degraded: 0,
            down: 0,
            maintenance: false,
            outage: None,
        },
        Bucket::empty(h14, h14 + HOUR),
    ];
    crate::page::write_bar(
        &mut out,
        &mut scratch,
        &buckets,
        &clock,
        crate::page::Bar::Hours,
        "stripe",
    );
    let els = assert_safe_markup(&out);
    let labels: Vec<&str> = find(&els, |e| e.name == "li")
        .iter()
        .map(|e| e.attr("title").unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "Tue 4 Nov 14:00–15:00 GMT: Down. Outage 14:05–14:40 GMT. 20 failed of 120 checks.",
            "Tue 4 Nov 14:00–15:00 GMT: Degraded. Degraded performance 14:00–15:00 GMT. 20 degraded of 120 checks.",
            "Tue 4 Nov 14:00–15:00 GMT: Maintenance. Maintenance window 14:00–15:00 GMT.",
            "Tue 4 Nov 14:00–15:00 GMT: Up. 120 checks.",
            "Tue 4 Nov 14:00–15:00 GMT: No data.",
        ]
    );
    assert!(out.starts_with("<ol class=\"bar bar-24h\" aria-label=\"stripe, last 24 hours: 94.44% uptime, 1 hour down, 1 hour degraded\">"));

    // A day without outage times shows the day's bounds; summer times say BST.
    let d = NOW - 120 * DAY - NOW.rem_euclid(DAY) - HOUR; // a midnight in BST
    let day = Bucket {
        start_ms: d,
        end_ms: d + DAY,
        checks: 2880,
        healthy: 2870,
        degraded: 0,
        down: 10,
        maintenance: false,
        outage: None,
    };
    out.clear();
    crate::page::write_bar(
        &mut out,
        &mut scratch,
        &[day],
        &clock,
        crate::page::Bar::Days,
        "x",
    );
    assert!(
        out.contains(
            "title=\"Mon 7 Jul 2025: Down. Outage 00:00–24:00 BST. 10 failed of 2880 checks.\""
        ),
        "{out}"
    );
}

#[test]
fn hostile_strings_are_escaped_everywhere() {
    let v = hostile_view();
    let h = hostile();
    let eh = escape(&h);
    let page = render_page(&v);
    // The parser rejects any raw `<` in text, any unquoted attribute, any on*= attribute and
    // any <script> without src: all of which an unescaped hostile string would produce.
    let els = assert_safe_markup(&page);
    assert!(!page.contains("<script>alert"));
    assert!(!page.contains("' onmouseover"));
    for prefix in [
        "name",
        "status",
        "detail",
        "breaker",
        "isvc",
        "key",
        "istatus",
        "summary",
        "msvc",
        "provider",
        "dlv",
        "aprov",
        "event",
        "astatus",
        "error",
        "tok",
        "flash",
        "policy",
        "Europe/London",
    ] {
        assert!(
            page.contains(&format!("{prefix}{eh}")),
            "{prefix} not escaped"
        );
    }
    // The hostile service's row id is its escaped name; a browser decodes it back.
    let id = format!("svc-name{h}");
    by_id(&els, &escape(&id));
    let frags = render_fragments(&v);
    assert!(frags.iter().any(|(fid, _)| *fid == id));
    for (_, f) in &frags {
        assert_safe_markup(f);
    }

    let login = render_login(Some(&format!("err{h}")), &format!("csrf{h}"));
    assert_safe_markup(&login);
    assert!(login.contains(&format!("err{eh}")) && login.contains(&format!("csrf{eh}")));

    let public = render_status_page(&PublicView {
        now_ms: NOW,
        zone: format!("zone{h}"),
        services: vec![PublicService {
            name: format!("pub{h}"),
            state: State::Down,
            days: v.services[1].days.clone(),
        }],
    });
    assert_safe_markup(&public);
    assert!(public.contains(&format!("pub{eh}")) && public.contains(&format!("zone{eh}")));

    for svg in [
        badge_status(&h, State::Up),
        badge_uptime(&h, Some(99.0)),
        latency_chart_svg(&[], 200, 100, &h),
    ] {
        assert_safe_markup(&svg);
        assert!(svg.contains(&eh));
    }
}

#[test]
fn fragments_are_the_pages_elements() {
    let v = fixture::sample();
    let page = render_page(&v);
    let frags = render_fragments(&v);
    let ids: Vec<&str> = frags.iter().map(|(id, _)| id.as_str()).collect();
    let mut want = vec!["wedding-banner".to_owned()];
    want.extend(v.services.iter().map(|s| format!("svc-{}", s.name)));
    want.extend(["incidents", "maintenance", "webhooks"].map(String::from));
    assert_eq!(ids, want);
    for (id, html) in &frags {
        assert!(
            page.contains(html.as_str()),
            "fragment {id} differs from the page"
        );
        let els = assert_safe_markup(html);
        assert_eq!(els[0].attr("id"), Some(escape(id).as_str()), "root of {id}");
        // One root element: the fragment ends where its root closes.
        assert!(html.ends_with(&format!("</{}>", els[0].name)));
    }
}

#[test]
fn sse_messages_are_single_line_json() {
    for v in [fixture::sample(), hostile_view()] {
        let msg = sse_update(&v);
        assert!(msg.starts_with("event: update\ndata: "));
        assert!(msg.ends_with("\n\n"));
        let body = &msg["event: update\ndata: ".len()..msg.len() - 2];
        assert!(!body.contains(['\n', '\r']));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["at"], v.now_ms);
        assert!(json["at_text"].as_str().unwrap().ends_with(" GMT") || v.zone != "Europe/London");
        let frags = json["fragments"].as_object().unwrap();
        let expected = render_fragments(&v);
        assert_eq!(frags.len(), expected.len());
        for (id, html) in &expected {
            assert_eq!(frags[id].as_str(), Some(html.as_str()));
        }
    }
    let hb = sse_heartbeat(NOW, "Europe/London");
    assert_eq!(
        hb,
        "event: heartbeat\ndata: {\"at\":1762265103000,\"at_text\":\"14:05:03 GMT\"}\n\n"
    );
    let hb = sse_heartbeat(NOW, "\"\n<x>");
    let body = hb
        .strip_prefix("event: heartbeat\ndata: ")
        .unwrap()
        .strip_suffix("\n\n")
        .unwrap();
    assert!(!body.contains('\n'));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(body).unwrap()["at_text"],
        "14:05:03 UTC"
    );
}

#[test]
fn login_page() {
    let html = render_login(None, "tok");
    let els = assert_safe_markup(&html);
    assert!(!html.contains("login-error") && !html.contains("<script"));
    let form = find(&els, |e| e.name == "form")[0];
    assert_eq!(
        (form.attr("method"), form.attr("action")),
        (Some("post"), Some("/dashboard/login"))
    );
    let key = by_id(&els, "api-key");
    assert_eq!(
        (key.attr("type"), key.attr("name")),
        (Some("password"), Some("api_key"))
    );
    assert!(html.contains("<input type=\"hidden\" name=\"csrf\" value=\"tok\">"));
    let button = by_id(&els, "login");
    assert_eq!(
        (button.name.as_str(), button.attr("type")),
        ("button", Some("submit"))
    );
    assert!(html.contains("<label for=\"api-key\">"));

    let html = render_login(Some("Unknown key"), "tok");
    let els = assert_safe_markup(&html);
    assert_eq!(by_id(&els, "login-error").attr("role"), Some("alert"));
    assert_eq!(
        by_id(&els, "api-key").attr("aria-describedby"),
        Some("login-error")
    );
}

#[test]
fn status_page_shows_states_and_bars_only() {
    let v = fixture::sample();
    let states = [
        State::Up,
        State::Degraded,
        State::Down,
        State::Maintenance,
        State::NoData,
    ];
    let public = PublicView {
        now_ms: v.now_ms,
        zone: v.zone.clone(),
        services: v
            .services
            .iter()
            .zip(states.iter().cycle())
            .map(|(s, st)| PublicService {
                name: s.name.clone(),
                state: *st,
                days: s.days.clone(),
            })
            .collect(),
    };
    let html = render_status_page(&public);
    let els = assert_safe_markup(&html);
    for words in [
        "Operational",
        "Degraded performance",
        "Outage",
        "Under maintenance",
        "No data",
    ] {
        assert!(html.contains(&format!("</span> {words}</p>")), "{words}");
    }
    assert!(html.contains("Some systems are down"));
    assert_eq!(
        find(&els, |e| e.has_class("bar-90d")).len(),
        public.services.len()
    );
    assert_eq!(
        find(&els, |e| e.has_class("bucket")).len(),
        90 * public.services.len()
    );
    // No reasons, latencies, breakers, check counts, forms or scripts.
    for leak in [
        "timeout",
        " ms",
        "breaker",
        "Closed",
        "checks",
        "<form",
        "<script",
        "data-status",
        "svc-",
    ] {
        assert!(!html.contains(leak), "status page leaks {leak:?}");
    }
    let empty = render_status_page(&PublicView {
        now_ms: NOW,
        zone: "UTC".into(),
        services: vec![],
    });
    assert!(empty.contains("No services are listed"));
}

#[test]
fn assets_do_what_the_page_needs() {
    for needle in [
        "new EventSource(",
        "document.body.dataset.events",
        "addEventListener(\"update\"",
        "addEventListener(\"heartbeat\"",
        "outerHTML",
        "EventSource.CLOSED",
        "12000",
        "window.confirm(",
        "The handler will receive it again.",
        "form.replay",
        "bucket-info",
        "__dashboard",
        "lastEventAt",
        "Connection lost — last update ",
        "Data may be out of date.",
    ] {
        assert!(APP_JS.contains(needle), "app.js lacks {needle:?}");
    }
    assert!(!APP_JS.contains("setInterval(") || APP_JS.matches("setInterval(").count() == 1);
    for needle in [
        "[data-state=\"stale\"]",
        "grayscale(1)",
        ".state-up",
        ".state-degraded",
        ".state-down",
        ".state-maintenance",
        ".state-nodata",
        ":focus-visible",
        ".bucket:focus",
    ] {
        assert!(APP_CSS.contains(needle), "app.css lacks {needle:?}");
    }
}

#[test]
fn big_view_renders_and_is_well_formed() {
    let v = fixture::view(40, 20, 50);
    let html = render_page(&v);
    let els = assert_safe_markup(&html);
    assert_eq!(find(&els, |e| e.has_class("bucket")).len(), 40 * 114);
    assert!(!html.contains("NaN") && !html.contains("inf\""));
}

fn any_bucket() -> impl Strategy<Value = Bucket> {
    (
        0u64..4,
        0u64..4,
        0u64..4,
        0u64..4,
        any::<bool>(),
        prop::option::of((any::<i64>(), any::<i64>())),
    )
        .prop_map(
            |(checks, healthy, degraded, down, maintenance, outage)| Bucket {
                start_ms: NOW,
                end_ms: NOW + HOUR,
                checks: checks + healthy + degraded + down,
                healthy,
                degraded,
                down,
                maintenance,
                outage,
            },
        )
}

fn one_service_view(name: &str, detail: &str) -> DashboardView {
    let mut v = fixture::view(1, 1, 1);
    v.services[0].name = name.to_owned();
    v.services[0].detail = Some(detail.to_owned());
    v.services[0].hours.truncate(3);
    v.services[0].days.truncate(3);
    v.incidents[0].service = name.to_owned();
    v.incidents[0].summary = detail.to_owned();
    v.webhooks.attention[0].delivery_id = name.to_owned();
    v
}

proptest! {
    #[test]
    fn bucket_state_is_the_worst_state(b in any_bucket()) {
        let mut present = Vec::new();
        if b.down > 0 { present.push(State::Down); }
        if b.degraded > 0 { present.push(State::Degraded); }
        if b.maintenance { present.push(State::Maintenance); }
        if b.checks > 0 { present.push(State::Up); }
        prop_assert_eq!(bucket_state(&b), worst(present));
    }

    #[test]
    fn bucket_state_with_any_counts(checks in any::<u64>(), healthy in any::<u64>(), degraded in any::<u64>(), down in any::<u64>(), maintenance in any::<bool>()) {
        let b = Bucket { start_ms: 0, end_ms: 1, checks, healthy, degraded, down, maintenance, outage: None };
        let want = worst([
            if down > 0 { State::Down } else { State::NoData },
            if degraded > 0 { State::Degraded } else { State::NoData },
            if maintenance { State::Maintenance } else { State::NoData },
            if checks > 0 { State::Up } else { State::NoData },
        ]);
        prop_assert_eq!(bucket_state(&b), want);
        let up = uptime_percent(&[b]);
        prop_assert!(up.is_none_or(|p| (0.0..=100.0).contains(&p)));
    }

    #[test]
    fn model_strings_never_become_markup(name in ".{0,24}", detail in ".{1,24}") {
        let baseline = assert_safe_markup(&render_page(&one_service_view("svc", "detail"))).len();
        let page = render_page(&one_service_view(&name, &detail));
        // Same element structure whatever the strings: nothing they contain became a tag.
        prop_assert_eq!(assert_safe_markup(&page).len(), baseline);
        let row_id = format!("id=\"svc-{}\"", escape(&name));
        prop_assert!(page.contains(&row_id));
    }

    #[test]
    fn tag_like_names_are_escaped(suffix in "[a-z \"'=/>]{0,12}") {
        let name = format!("<zq{suffix}");
        let page = render_page(&one_service_view(&name, &name));
        prop_assert!(!page.contains("<zq"));
        prop_assert!(page.contains(&escape(&name)));
    }
}
