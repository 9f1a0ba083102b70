//! The pages a visitor sees without a session: the login form and the public status page.
//! Neither loads a script.

use crate::clock::Clock;
use crate::html::{escape_into, push_percent};
use crate::model::{PublicView, State};
use crate::page::{write_bar, write_head, write_legend, Bar};
use crate::state::{uptime_percent, worst};

/// The login page: a form that POSTs `api_key` (a password input, `#api-key`) and the hidden
/// `csrf` token to `/dashboard/login`; the submit button is `#login`. An `error` is shown in
/// `<p id="login-error" role="alert">` (absent when there is none).
///
/// ```
/// let html = wedsync_dashboard::render_login(Some("That key is not valid."), "tok");
/// assert!(html.contains(r#"<p id="login-error" role="alert">That key is not valid.</p>"#));
/// assert!(html.contains(r#"name="api_key""#) && html.contains(r#"id="login""#));
/// ```
pub fn render_login(error: Option<&str>, csrf: &str) -> String {
    let mut out = String::with_capacity(2048);
    write_head(&mut out, "Sign in · WedSync monitor", false);
    out.push_str("<body class=\"login-page\">\n<main class=\"login-card\" aria-labelledby=\"login-title\">\n<h1 id=\"login-title\">WedSync monitor</h1>\n<p class=\"subtitle\">Sign in with an API key that has dashboard access.</p>\n");
    let error = error.filter(|e| !e.is_empty());
    if let Some(e) = error {
        out.push_str("<p id=\"login-error\" role=\"alert\">");
        escape_into(&mut out, e);
        out.push_str("</p>\n");
    }
    out.push_str("<form class=\"login-form\" method=\"post\" action=\"/dashboard/login\">\n<input type=\"hidden\" name=\"csrf\" value=\"");
    escape_into(&mut out, csrf);
    out.push_str("\">\n<label for=\"api-key\">API key</label>\n<input type=\"password\" name=\"api_key\" id=\"api-key\" autocomplete=\"current-password\" spellcheck=\"false\" required autofocus");
    if error.is_some() {
        out.push_str(" aria-invalid=\"true\" aria-describedby=\"login-error\"");
    }
    out.push_str(">\n<button type=\"submit\" id=\"login\">Sign in</button>\n</form>\n</main>\n</body>\n</html>\n");
    out
}

/// The public status page (`/status`): for each opted-in service its name, its state in words
/// ("Operational", "Degraded performance", "Outage", "Under maintenance", "No data") and the
/// 90-day bar (each day's state and, for bad days, the outage times), with an overall line and
/// the 90-day uptime. Nothing else: no reasons, latencies, breaker states or check counts.
///
/// ```
/// use wedsync_dashboard::{render_status_page, PublicService, PublicView, State};
/// let html = render_status_page(&PublicView {
///     now_ms: 1_762_265_103_000,
///     zone: "Europe/London".into(),
///     services: vec![PublicService { name: "Payments".into(), state: State::Degraded, days: vec![] }],
/// });
/// assert!(html.contains("Payments") && html.contains("Degraded performance"));
/// assert!(!html.contains("<script"));
/// ```
pub fn render_status_page(v: &PublicView) -> String {
    let clock = Clock::new(&v.zone, v.now_ms);
    let mut out = String::with_capacity(4096 + v.services.len() * 20 * 1024);
    let mut scratch = String::with_capacity(256);
    write_head(&mut out, "WedSync status", false);
    out.push_str("<body class=\"status-page\">\n<main class=\"status-main\">\n<header class=\"status-head\"><h1>WedSync status</h1>");
    let overall = worst(v.services.iter().map(|s| s.state));
    let (icon, words) = match (overall, v.services.is_empty()) {
        (_, true) => ("?", "No services are listed"),
        (State::Up, _) => ("✓", "All systems operational"),
        (State::Degraded, _) => ("⚠", "Some systems have degraded performance"),
        (State::Down, _) => ("✗", "Some systems are down"),
        (State::Maintenance, _) => ("🔧", "Maintenance in progress"),
        (State::NoData, _) => ("?", "No data yet"),
    };
    out.push_str("<p class=\"overall state-");
    out.push_str(overall.as_str());
    out.push_str("\"><span aria-hidden=\"true\">");
    out.push_str(icon);
    out.push_str("</span> ");
    out.push_str(words);
    out.push_str("</p><p class=\"updated\">Updated ");
    clock.time_el(&mut out, v.now_ms);
    out.push_str("</p></header>\n<ul class=\"public-services\">\n");
    for s in &v.services {
        out.push_str("<li class=\"public-svc\" data-state=\"");
        out.push_str(s.state.as_str());
        out.push_str("\"><div class=\"public-head\"><h2>");
        escape_into(&mut out, &s.name);
        out.push_str("</h2><p class=\"public-state state-");
        out.push_str(s.state.as_str());
        out.push_str("\"><span aria-hidden=\"true\">");
        out.push_str(s.state.icon());
        out.push_str("</span> ");
        out.push_str(s.state.public_label());
        out.push_str("</p></div>");
        write_bar(
            &mut out,
            &mut scratch,
            &s.days,
            &clock,
            Bar::PublicDays,
            &s.name,
        );
        out.push_str("<p class=\"public-axis\"><span>90 days ago</span><span>");
        push_percent(&mut out, uptime_percent(&s.days));
        out.push_str(" uptime</span><span>Today</span></p></li>\n");
    }
    out.push_str("</ul>\n<footer class=\"status-foot\">");
    write_legend(&mut out);
    out.push_str("<p>Times are in ");
    escape_into(&mut out, &v.zone);
    out.push_str(".</p></footer>\n</main>\n</body>\n</html>\n");
    out
}
