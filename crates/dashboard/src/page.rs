//! The dashboard page and its live fragments. Every section is written by one function that
//! appends to a `String`; the page and the SSE fragments call the same functions, so a fragment
//! is byte for byte the element it replaces.

use crate::chart::write_chart;
use crate::clock::Clock;
use crate::html::{escape_into, push_i64, push_percent, push_u64};
use crate::model::{
    AttentionView, Bucket, DashboardView, IncidentView, MaintenanceView, ProviderWebhooks,
    ServiceView, State, WebhookCounts,
};
use crate::state::{breaker_words, bucket_state, status_words, uptime_percent};

/// Where the page's assets and endpoints live (the server routes them).
pub(crate) const CSS_HREF: &str = "/dashboard/assets/app.css";
pub(crate) const JS_SRC: &str = "/dashboard/assets/app.js";
pub(crate) const EVENTS: &str = "/dashboard/events";

/// Bytes a service row takes, roughly (114 buckets with two labels each, two charts).
const ROW_BYTES: usize = 32 * 1024;

/// Chart sizes on the page.
const CHART_W: u32 = 360;
const CHART_H: u32 = 120;

/// The full dashboard as one HTML document.
///
/// See the crate documentation for the DOM contract. Every string from `v` is escaped; the
/// page has no inline script, no inline event handler and no `style` attribute, so it runs
/// under a CSP of `script-src 'self'; style-src 'self'`.
pub fn render_page(v: &DashboardView) -> String {
    let clock = Clock::new(&v.zone, v.now_ms);
    let mut out = String::with_capacity(16 * 1024 + v.services.len() * ROW_BYTES);
    let mut scratch = String::with_capacity(256);

    write_head(&mut out, "WedSync monitor · dashboard", true);
    out.push_str("<body data-state=\"live\" data-events=\"");
    out.push_str(EVENTS);
    out.push_str("\">\n<a class=\"skip-link\" href=\"#services\">Skip to services</a>\n");

    // Header: title, connection state, sign out.
    out.push_str("<header class=\"top\">\n<div class=\"brand\"><h1>WedSync monitor</h1><p class=\"subtitle\">Stripe · Twilio · Resend · Supabase — times in ");
    escape_into(&mut out, &v.zone);
    out.push_str("</p></div>\n<p id=\"connection\" role=\"status\" aria-live=\"polite\">Live · last update <time id=\"last-update\" datetime=\"");
    crate::clock::iso_utc(&mut out, v.now_ms);
    out.push_str("\">");
    clock.hms_zone(&mut out, v.now_ms);
    out.push_str("</time></p>\n<form class=\"logout\" method=\"post\" action=\"/dashboard/logout\"><input type=\"hidden\" name=\"csrf\" value=\"");
    escape_into(&mut out, &v.csrf);
    out.push_str("\"><button type=\"submit\" class=\"logout-button\">Sign out</button></form>\n</header>\n<main id=\"main\">\n<div id=\"flash\" role=\"status\">");
    if let Some(flash) = &v.flash {
        escape_into(&mut out, flash);
    }
    out.push_str("</div>\n");

    write_banner(&mut out, v);
    out.push('\n');

    // Services.
    out.push_str("<section class=\"services-panel\" aria-labelledby=\"services-title\">\n<div class=\"panel-head\"><h2 id=\"services-title\">Services</h2>");
    write_legend(&mut out);
    out.push_str("</div>\n<div class=\"table-wrap\"><table id=\"services\">\n<caption class=\"visually-hidden\">Health of each external service: current status, circuit breaker, latency and uptime history</caption>\n<thead><tr><th scope=\"col\">Service</th><th scope=\"col\">Status</th><th scope=\"col\">Breaker</th><th scope=\"col\">Latency</th><th scope=\"col\">p95 (1 h)</th><th scope=\"col\">Last checked</th><th scope=\"col\">Last 24 hours</th><th scope=\"col\">Last 90 days</th><th scope=\"col\">Charts</th></tr></thead>\n<tbody>\n");
    for s in &v.services {
        write_service_row(&mut out, &mut scratch, s, &clock);
        out.push('\n');
    }
    out.push_str("</tbody>\n</table></div>\n</section>\n");

    write_incidents(&mut out, v, &clock);
    out.push('\n');
    write_maintenance(&mut out, v, &clock);
    out.push('\n');
    write_webhooks(&mut out, v, &clock);
    out.push_str("\n</main>\n<p id=\"bucket-info\" class=\"bucket-info\" aria-live=\"polite\"></p>\n</body>\n</html>\n");
    out
}

/// The live regions of the page, each as `(element id, outerHTML)`: `wedding-banner`, one
/// `svc-{name}` per service (the table row), `incidents`, `maintenance` and `webhooks`. The
/// page's script replaces each element by id with the new HTML on every SSE `update`.
pub fn render_fragments(v: &DashboardView) -> Vec<(String, String)> {
    let clock = Clock::new(&v.zone, v.now_ms);
    let mut scratch = String::with_capacity(256);
    let mut frags = Vec::with_capacity(v.services.len() + 4);

    let mut s = String::with_capacity(1024);
    write_banner(&mut s, v);
    frags.push(("wedding-banner".to_owned(), s));
    for svc in &v.services {
        let mut s = String::with_capacity(ROW_BYTES);
        write_service_row(&mut s, &mut scratch, svc, &clock);
        let mut id = String::with_capacity(4 + svc.name.len());
        id.push_str("svc-");
        id.push_str(&svc.name);
        frags.push((id, s));
    }
    let mut s = String::with_capacity(4096);
    write_incidents(&mut s, v, &clock);
    frags.push(("incidents".to_owned(), s));
    let mut s = String::with_capacity(1024);
    write_maintenance(&mut s, v, &clock);
    frags.push(("maintenance".to_owned(), s));
    let mut s = String::with_capacity(8192);
    write_webhooks(&mut s, v, &clock);
    frags.push(("webhooks".to_owned(), s));
    frags
}

/// `<!doctype html>` through `</head>`.
pub(crate) fn write_head(out: &mut String, title: &str, script: bool) {
    out.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"color-scheme\" content=\"light\">\n<meta name=\"robots\" content=\"noindex\">\n<title>");
    escape_into(out, title);
    out.push_str("</title>\n<link rel=\"stylesheet\" href=\"");
    out.push_str(CSS_HREF);
    out.push_str("\">\n");
    if script {
        out.push_str("<script src=\"");
        out.push_str(JS_SRC);
        out.push_str("\" defer></script>\n");
    }
    out.push_str("</head>\n");
}

/// The colour legend: every colour with its icon and word.
pub(crate) fn write_legend(out: &mut String) {
    out.push_str("<ul class=\"legend\" aria-label=\"Legend\">");
    for state in [
        State::Up,
        State::Degraded,
        State::Down,
        State::Maintenance,
        State::NoData,
    ] {
        out.push_str("<li><span class=\"swatch state-");
        out.push_str(state.as_str());
        out.push_str("\" aria-hidden=\"true\"></span>");
        out.push_str(state.label());
        out.push_str("</li>");
    }
    out.push_str("<li class=\"legend-hint\">Hover, tap or focus a bar for details</li></ul>");
}

fn write_banner(out: &mut String, v: &DashboardView) {
    if v.wedding.today {
        out.push_str("<section id=\"wedding-banner\" class=\"banner wedding-day\" aria-labelledby=\"wedding-title\"><h2 id=\"wedding-title\"><span class=\"banner-icon\" aria-hidden=\"true\">💍</span> Today is a wedding day (");
        escape_into(out, &v.zone);
        out.push_str(")</h2>");
        if !v.wedding.policy.is_empty() {
            out.push_str("<ul class=\"policy\">");
            for line in &v.wedding.policy {
                out.push_str("<li>");
                escape_into(out, line);
                out.push_str("</li>");
            }
            out.push_str("</ul>");
        }
    } else {
        out.push_str("<section id=\"wedding-banner\" class=\"banner normal-day\" aria-labelledby=\"wedding-title\"><h2 id=\"wedding-title\">Not a wedding day (");
        escape_into(out, &v.zone);
        out.push_str(") — normal probe intervals and alerting</h2>");
        if !v.wedding.policy.is_empty() {
            out.push_str("<p class=\"policy-note\">On wedding days: ");
            for (i, line) in v.wedding.policy.iter().enumerate() {
                if i > 0 {
                    out.push_str("; ");
                }
                escape_into(out, line);
            }
            out.push_str(".</p>");
        }
    }
    out.push_str("</section>");
}

fn write_ms_or_dash(out: &mut String, ms: Option<u64>) {
    match ms {
        Some(ms) => {
            push_u64(out, ms);
            out.push_str(" ms");
        }
        None => out.push('—'),
    }
}

fn write_service_row(out: &mut String, scratch: &mut String, s: &ServiceView, clock: &Clock) {
    out.push_str("<tr id=\"svc-");
    escape_into(out, &s.name);
    out.push_str("\" class=\"svc state-");
    out.push_str(s.state.as_str());
    out.push_str("\" data-status=\"");
    escape_into(out, &s.status);
    out.push_str("\" data-state=\"");
    out.push_str(s.state.as_str());
    out.push_str("\">");

    // Name.
    out.push_str("<th scope=\"row\" class=\"svc-name\">");
    escape_into(out, &s.name);
    out.push_str("</th>");

    // Status: icon and words, then the reason.
    out.push_str("<td class=\"svc-status\"><span class=\"status-icon\" aria-hidden=\"true\">");
    write_status_words(out, &s.status);
    if let Some(detail) = s.detail.as_deref().filter(|d| !d.is_empty()) {
        out.push_str("<span class=\"svc-detail\"> — ");
        escape_into(out, detail);
        out.push_str("</span>");
    }
    if s.in_maintenance {
        out.push_str(" <span class=\"tag tag-maintenance\">🔧 Maintenance window</span>");
    }
    if s.flapping {
        out.push_str(" <span class=\"tag tag-flapping\">↯ Flapping</span>");
    }
    out.push_str("</td>");

    // Breaker.
    match breaker_words(&s.breaker) {
        Some((words, class)) => {
            out.push_str("<td class=\"svc-breaker breaker-");
            out.push_str(class);
            out.push_str("\">");
            out.push_str(words);
        }
        None => {
            out.push_str("<td class=\"svc-breaker breaker-other\">");
            escape_into(out, &s.breaker);
        }
    }
    out.push_str("</td>");

    // Latency now and p95.
    out.push_str("<td class=\"svc-latency\">");
    write_ms_or_dash(out, s.latency_ms);
    out.push_str("</td><td class=\"svc-p95\">");
    write_ms_or_dash(out, s.p95_ms);
    out.push_str("</td><td class=\"svc-checked\">");
    match s.checked_at_ms {
        Some(at) => clock.time_el(out, at),
        None => out.push_str("never"),
    }
    out.push_str("</td>");

    // Uptime bars.
    out.push_str("<td class=\"svc-uptime svc-uptime-24h\">");
    write_bar(out, scratch, &s.hours, clock, Bar::Hours, &s.name);
    out.push_str("</td><td class=\"svc-uptime svc-uptime-90d\">");
    write_bar(out, scratch, &s.days, clock, Bar::Days, &s.name);
    out.push_str("</td>");

    // Charts, behind a disclosure.
    out.push_str("<td class=\"svc-charts\"><details class=\"charts\"><summary>Latency<span class=\"visually-hidden\"> charts for ");
    escape_into(out, &s.name);
    out.push_str("</span></summary><div class=\"chart-panel\"><figure><figcaption>Last 24 hours</figcaption>");
    scratch.clear();
    scratch.push_str(&s.name);
    scratch.push_str(" latency, last 24 hours");
    write_chart(out, &s.latency_24h, CHART_W, CHART_H, scratch, clock);
    out.push_str("</figure><figure><figcaption>Last 7 days</figcaption>");
    scratch.clear();
    scratch.push_str(&s.name);
    scratch.push_str(" latency, last 7 days");
    write_chart(out, &s.latency_7d, CHART_W, CHART_H, scratch, clock);
    out.push_str("</figure></div></details></td></tr>");
}

/// Which uptime bar.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bar {
    /// 24 hourly buckets on the dashboard.
    Hours,
    /// 90 daily buckets on the dashboard.
    Days,
    /// 90 daily buckets on the public page (no check counts).
    PublicDays,
}

/// `<ol class="bar bar-24h|bar-90d" aria-label=…>` with one `<li class="bucket …">` per bucket,
/// then (on the dashboard) a caption with the uptime. `name` is the service's.
pub(crate) fn write_bar(
    out: &mut String,
    scratch: &mut String,
    buckets: &[Bucket],
    clock: &Clock,
    bar: Bar,
    name: &str,
) {
    let uptime = uptime_percent(buckets);
    let (mut down, mut degraded) = (0u64, 0u64);
    for b in buckets {
        match bucket_state(b) {
            State::Down => down += 1,
            State::Degraded => degraded += 1,
            _ => {}
        }
    }
    let unit = if bar == Bar::Hours { "hour" } else { "day" };
    out.push_str(if bar == Bar::Hours {
        "<ol class=\"bar bar-24h\" aria-label=\""
    } else {
        "<ol class=\"bar bar-90d\" aria-label=\""
    });
    escape_into(out, name);
    out.push_str(if bar == Bar::Hours {
        ", last 24 hours: "
    } else {
        ", last 90 days: "
    });
    push_percent(out, uptime);
    if uptime.is_some() {
        out.push_str(" uptime");
    }
    for (n, word) in [(down, " down"), (degraded, " degraded")] {
        if n > 0 {
            out.push_str(", ");
            push_u64(out, n);
            out.push(' ');
            out.push_str(unit);
            if n > 1 {
                out.push('s');
            }
            out.push_str(word);
        }
    }
    out.push_str("\">");
    // one tab stop per bar (the newest bucket); the arrow keys move along it (app.js)
    let last = buckets.len().saturating_sub(1);
    for (i, b) in buckets.iter().enumerate() {
        write_bucket(out, scratch, b, clock, bar, i == last);
    }
    out.push_str("</ol>");
    if bar != Bar::PublicDays {
        out.push_str("<span class=\"bar-caption\">");
        out.push_str(if bar == Bar::Hours {
            "24 h · "
        } else {
            "90 d · "
        });
        push_percent(out, uptime);
        out.push_str("</span>");
    }
}

fn write_bucket(
    out: &mut String,
    label: &mut String,
    b: &Bucket,
    clock: &Clock,
    bar: Bar,
    tab_stop: bool,
) {
    let state = bucket_state(b);
    label.clear();
    if bar == Bar::Hours {
        clock.period(label, b.start_ms, b.end_ms);
    } else {
        clock.date_long(label, b.start_ms);
    }
    label.push_str(": ");
    label.push_str(if bar == Bar::PublicDays {
        state.public_label()
    } else {
        state.label()
    });
    let what = match state {
        State::Down => Some(". Outage "),
        State::Degraded => Some(". Degraded performance "),
        State::Maintenance => Some(". Maintenance window "),
        State::Up | State::NoData => None,
    };
    if let Some(what) = what {
        // When the failing part is known, its first and last failing results; else the bounds.
        label.push_str(what);
        // The label starts with the bucket's date: the times need not repeat it.
        let day = clock.local(b.start_ms);
        match (state, b.outage) {
            (State::Down, Some((from, to))) => clock.range_on(label, from, to, &day),
            _ => clock.bounds_on(label, b.start_ms, b.end_ms, &day),
        }
    }
    if bar != Bar::PublicDays && b.checks > 0 {
        label.push_str(". ");
        if b.down > 0 || b.degraded > 0 {
            let mut first = true;
            for (n, word) in [(b.down, " failed"), (b.degraded, " degraded")] {
                if n > 0 {
                    if !first {
                        label.push_str(", ");
                    }
                    first = false;
                    push_u64(label, n);
                    label.push_str(word);
                }
            }
            label.push_str(" of ");
            push_u64(label, b.checks);
            label.push_str(" checks");
        } else {
            push_u64(label, b.checks);
            label.push_str(if b.checks == 1 { " check" } else { " checks" });
        }
    }
    if b.maintenance && state != State::Maintenance {
        label.push_str(". In a maintenance window");
    }
    label.push('.');

    out.push_str("<li class=\"bucket state-");
    out.push_str(state.as_str());
    out.push_str(if tab_stop {
        "\" tabindex=\"0\" aria-label=\""
    } else {
        "\" tabindex=\"-1\" aria-label=\""
    });
    escape_into(out, label);
    out.push_str("\" title=\"");
    escape_into(out, label);
    out.push_str("\"></li>");
}

/// `35 min`, `2 h 5 min`, `3 d 4 h`.
fn push_duration(out: &mut String, ms: i64) {
    let mins = ms.max(0) / 60_000;
    if mins < 1 {
        out.push_str("under a minute");
    } else if mins < 60 {
        push_i64(out, mins);
        out.push_str(" min");
    } else if mins < 48 * 60 {
        push_i64(out, mins / 60);
        out.push_str(" h");
        if mins % 60 != 0 {
            out.push(' ');
            push_i64(out, mins % 60);
            out.push_str(" min");
        }
    } else {
        push_i64(out, mins / (24 * 60));
        out.push_str(" d");
        let h = (mins / 60) % 24;
        if h != 0 {
            out.push(' ');
            push_i64(out, h);
            out.push_str(" h");
        }
    }
}

fn write_incidents(out: &mut String, v: &DashboardView, clock: &Clock) {
    let open = v
        .incidents
        .iter()
        .filter(|i| i.resolved_at_ms.is_none())
        .count() as u64;
    out.push_str("<section id=\"incidents\" aria-labelledby=\"incidents-title\"><h2 id=\"incidents-title\">Incidents <span class=\"count\">");
    push_u64(out, open);
    out.push_str(" open · ");
    push_u64(out, v.incidents.len() as u64 - open);
    out.push_str(" resolved in the last 24 h</span></h2>");
    if v.incidents.is_empty() {
        out.push_str("<p class=\"empty\">✓ No incidents in the last 24 hours.</p>");
    } else {
        out.push_str("<ul class=\"incident-list\">");
        for inc in &v.incidents {
            write_incident(out, inc, v, clock);
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
}

/// The status's icon (closing the `aria-hidden` span the caller opened) and its words; an
/// unknown status is shown as `?` and its name.
fn write_status_words(out: &mut String, status: &str) {
    match status_words(status) {
        Some((icon, words)) => {
            out.push_str(icon);
            out.push_str("</span> ");
            out.push_str(words);
        }
        None => {
            out.push_str("?</span> ");
            escape_into(out, status);
        }
    }
}

fn write_incident(out: &mut String, inc: &IncidentView, v: &DashboardView, clock: &Clock) {
    let now_ms = v.now_ms;
    let open = inc.resolved_at_ms.is_none();
    out.push_str("<li class=\"incident\" data-service=\"");
    escape_into(out, &inc.service);
    out.push_str("\" data-key=\"");
    escape_into(out, &inc.key);
    out.push_str(if open {
        "\" data-open=\"true\"><h3>"
    } else {
        "\" data-open=\"false\"><h3>"
    });
    out.push_str("<span class=\"incident-service\">");
    escape_into(out, &inc.service);
    out.push_str("</span> <span class=\"incident-status\"><span aria-hidden=\"true\">");
    write_status_words(out, &inc.status);
    out.push_str("</span> ");
    out.push_str(if open {
        "<span class=\"tag tag-open\">Open</span>"
    } else {
        "<span class=\"tag tag-resolved\">✓ Resolved</span>"
    });
    if inc.wedding_day {
        out.push_str(" <span class=\"tag tag-wedding\">💍 Wedding day</span>");
    }
    out.push_str("</h3><p class=\"incident-summary\">");
    escape_into(out, &inc.summary);
    out.push_str("</p><ol class=\"timeline\">");
    out.push_str("<li class=\"tl-opened\">Opened ");
    clock.time_el(out, inc.opened_at_ms);
    out.push_str("</li>");
    if let Some(at) = inc.alerted_at_ms {
        out.push_str("<li class=\"tl-alerted\">Alerted ");
        clock.time_el(out, at);
        out.push_str("</li>");
    }
    if let Some(at) = inc.acknowledged_at_ms {
        out.push_str("<li class=\"tl-acknowledged\">Acknowledged ");
        clock.time_el(out, at);
        out.push_str("</li>");
    }
    match inc.resolved_at_ms {
        Some(at) => {
            out.push_str("<li class=\"tl-resolved\">Resolved ");
            clock.time_el(out, at);
            out.push_str(" <span class=\"duration\">(lasted ");
            push_duration(out, at.saturating_sub(inc.opened_at_ms));
            out.push_str(")</span></li>");
        }
        None => {
            out.push_str("<li class=\"tl-open\">Still open <span class=\"duration\">(for ");
            push_duration(out, now_ms.saturating_sub(inc.opened_at_ms));
            out.push_str(")</span></li>");
        }
    }
    out.push_str("</ol>");
    if open && inc.acknowledged_at_ms.is_none() && v.can_act {
        write_action_form(
            out,
            ActionForm {
                class: "ack",
                action: "/dashboard/acknowledge",
                field: "incident",
                value: &inc.key,
                button: "ack-button",
                label: "Acknowledge",
                title: "Acknowledge incident ",
            },
            &v.csrf,
        );
    }
    out.push_str("</li>");
}

fn write_maintenance(out: &mut String, v: &DashboardView, clock: &Clock) {
    out.push_str("<section id=\"maintenance\" aria-labelledby=\"maintenance-title\"><h2 id=\"maintenance-title\">Maintenance</h2>");
    if v.maintenance.is_empty() {
        out.push_str("<p class=\"empty\">No maintenance scheduled.</p>");
    } else {
        out.push_str("<ul class=\"windows\">");
        for m in &v.maintenance {
            write_window(out, m, v.now_ms, clock);
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
}

fn write_window(out: &mut String, m: &MaintenanceView, now_ms: i64, clock: &Clock) {
    let (phase, words) = if now_ms < m.start_ms {
        ("upcoming", "Upcoming")
    } else if now_ms < m.end_ms {
        ("now", "🔧 In progress")
    } else {
        ("ended", "Ended")
    };
    out.push_str("<li class=\"window\" data-phase=\"");
    out.push_str(phase);
    out.push_str("\" data-service=\"");
    if let Some(s) = &m.service {
        escape_into(out, s);
    }
    out.push_str("\"><span class=\"tag tag-");
    out.push_str(phase);
    out.push_str("\">");
    out.push_str(words);
    out.push_str("</span> <strong>");
    match &m.service {
        Some(s) => escape_into(out, s),
        None => out.push_str("All services"),
    }
    out.push_str("</strong> <span class=\"window-time\">");
    clock.range(out, m.start_ms, m.end_ms);
    out.push_str("</span></li>");
}

fn write_counts_row(out: &mut String, period: &str, c: &WebhookCounts) {
    out.push_str("<tr><th scope=\"row\">");
    out.push_str(period);
    out.push_str("</th><td class=\"count-received\">");
    push_u64(out, c.received);
    out.push_str("</td><td class=\"count-delivered\">");
    push_u64(out, c.delivered);
    out.push_str(if c.failing > 0 {
        "</td><td class=\"count-failing nonzero\">"
    } else {
        "</td><td class=\"count-failing\">"
    });
    push_u64(out, c.failing);
    out.push_str("</td></tr>");
}

fn write_provider(out: &mut String, p: &ProviderWebhooks) {
    out.push_str("<table class=\"webhook-table\" data-provider=\"");
    escape_into(out, &p.provider);
    out.push_str("\"><caption>");
    escape_into(out, &p.provider);
    out.push_str("</caption><thead><tr><th scope=\"col\">Period</th><th scope=\"col\">Received</th><th scope=\"col\">Delivered</th><th scope=\"col\">Failing</th></tr></thead><tbody>");
    write_counts_row(out, "Last hour", &p.hour);
    write_counts_row(out, "Last 24 hours", &p.day);
    out.push_str("</tbody></table>");
}

fn write_attention(out: &mut String, a: &AttentionView, v: &DashboardView, clock: &Clock) {
    out.push_str("<li class=\"attention\" data-delivery=\"");
    escape_into(out, &a.delivery_id);
    out.push_str("\"><div class=\"att-head\"><strong class=\"att-provider\">");
    escape_into(out, &a.provider);
    out.push_str("</strong> <code class=\"att-event\">");
    match &a.event_type {
        Some(t) => escape_into(out, t),
        None => out.push_str("(unknown event)"),
    }
    out.push_str("</code>");
    if a.critical {
        out.push_str(" <span class=\"tag tag-critical\">💍 Wedding-critical</span>");
    }
    out.push_str("</div><div class=\"att-meta\"><span class=\"att-status\">");
    match a.status.as_str() {
        "failed" => out.push_str("✗ Failed"),
        "retrying" => out.push_str("↻ Retrying"),
        other => escape_into(out, other),
    }
    out.push_str("</span> after ");
    push_u64(out, a.attempts.into());
    out.push_str(if a.attempts == 1 {
        " attempt"
    } else {
        " attempts"
    });
    if let Some(e) = &a.last_error {
        out.push_str(" · last error: <span class=\"att-error\">");
        escape_into(out, e);
        out.push_str("</span>");
    }
    out.push_str(" · received ");
    clock.time_el(out, a.received_at_ms);
    out.push_str(" · <code class=\"att-id\">");
    escape_into(out, &a.delivery_id);
    out.push_str("</code></div>");
    if v.can_act {
        write_action_form(
            out,
            ActionForm {
                class: "replay",
                action: "/dashboard/replay",
                field: "delivery_id",
                value: &a.delivery_id,
                button: "replay-button",
                label: "Replay",
                title: "Replay delivery ",
            },
            &v.csrf,
        );
    }
    out.push_str("</li>");
}

/// A one-button POST form acting on one thing (`field` = `value`), with the session's CSRF token.
struct ActionForm<'a> {
    class: &'static str,
    action: &'static str,
    field: &'static str,
    value: &'a str,
    button: &'static str,
    label: &'static str,
    /// The button's title, followed by the value (`Replay delivery …`).
    title: &'static str,
}

fn write_action_form(out: &mut String, f: ActionForm<'_>, csrf: &str) {
    out.push_str("<form class=\"");
    out.push_str(f.class);
    out.push_str("\" method=\"post\" action=\"");
    out.push_str(f.action);
    out.push_str("\"><input type=\"hidden\" name=\"");
    out.push_str(f.field);
    out.push_str("\" value=\"");
    escape_into(out, f.value);
    out.push_str("\"><input type=\"hidden\" name=\"csrf\" value=\"");
    escape_into(out, csrf);
    out.push_str("\"><button type=\"submit\" class=\"");
    out.push_str(f.button);
    out.push_str("\" title=\"");
    out.push_str(f.title);
    escape_into(out, f.value);
    out.push_str("\">");
    out.push_str(f.label);
    out.push_str("</button></form>");
}

fn write_webhooks(out: &mut String, v: &DashboardView, clock: &Clock) {
    let w = &v.webhooks;
    out.push_str("<section id=\"webhooks\" aria-labelledby=\"webhooks-title\"><h2 id=\"webhooks-title\">Webhooks</h2>");
    if w.providers.is_empty() {
        out.push_str("<p class=\"empty\">No webhook providers configured.</p>");
    } else {
        out.push_str("<div class=\"providers\">");
        for p in &w.providers {
            write_provider(out, p);
        }
        out.push_str("</div>");
    }
    out.push_str("<p class=\"queue\">Retry queue: <strong>");
    push_u64(out, w.queue_depth);
    out.push_str("</strong></p><h3 id=\"attention-title\">Needs attention <span class=\"count\">(");
    push_u64(out, w.attention.len() as u64);
    out.push_str(")</span></h3><ul id=\"attention\" aria-labelledby=\"attention-title\">");
    for a in &w.attention {
        write_attention(out, a, v, clock);
    }
    out.push_str("</ul>");
    if w.attention.is_empty() {
        out.push_str("<p class=\"empty\">✓ Nothing needs attention.</p>");
    }
    out.push_str("</section>");
}
