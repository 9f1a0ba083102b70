//! shields.io-style "flat" SVG badges: a grey label box and a coloured message box, with a
//! `<title>`, `role="img"` and an `aria-label` that say the same as the picture.

use crate::html::{escape_into, push_percent, push_u64};
use crate::model::{PublicService, State};

/// Approximate advance width of `c` in Verdana 11 px, in tenths of a pixel (shields.io measures
/// the real font; a table of classes is close enough for short labels).
fn char_width(c: char) -> u64 {
    match c {
        'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | 'I' => 30,
        'f' | 't' | 'r' | ' ' | '(' | ')' | '[' | ']' | '-' => 43,
        'm' | 'w' => 98,
        'M' | 'W' | '%' => 108,
        'A'..='Z' => 75,
        '0'..='9' => 70,
        _ if c.is_ascii() => 62,
        // Wide scripts and symbols.
        _ => 90,
    }
}

fn text_width(s: &str) -> u64 {
    s.chars().map(char_width).sum::<u64>().div_ceil(10)
}

const BADGE_CAP: usize = 64;

fn badge(label: &str, message: &str, color: &str) -> String {
    // Text is bounded so that a hostile label cannot make a kilometre-wide badge.
    let label: String = label.chars().take(BADGE_CAP).collect();
    let lw = text_width(&label) + 10;
    let mw = text_width(message) + 10;
    let w = lw + mw;
    let mut out = String::with_capacity(1200 + 4 * label.len());
    out.push_str("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"");
    push_u64(&mut out, w);
    out.push_str("\" height=\"20\" role=\"img\" aria-label=\"");
    escape_into(&mut out, &label);
    out.push_str(": ");
    escape_into(&mut out, message);
    out.push_str("\"><title>");
    escape_into(&mut out, &label);
    out.push_str(": ");
    escape_into(&mut out, message);
    out.push_str("</title><linearGradient id=\"s\" x2=\"0\" y2=\"100%\"><stop offset=\"0\" stop-color=\"#bbb\" stop-opacity=\".1\"/><stop offset=\"1\" stop-opacity=\".1\"/></linearGradient><clipPath id=\"r\"><rect width=\"");
    push_u64(&mut out, w);
    out.push_str("\" height=\"20\" rx=\"3\" fill=\"#fff\"/></clipPath><g clip-path=\"url(#r)\"><rect width=\"");
    push_u64(&mut out, lw);
    out.push_str("\" height=\"20\" fill=\"#555\"/><rect x=\"");
    push_u64(&mut out, lw);
    out.push_str("\" width=\"");
    push_u64(&mut out, mw);
    out.push_str("\" height=\"20\" fill=\"");
    out.push_str(color);
    out.push_str("\"/><rect width=\"");
    push_u64(&mut out, w);
    out.push_str("\" height=\"20\" fill=\"url(#s)\"/></g><g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" text-rendering=\"geometricPrecision\" font-size=\"110\">");
    for (text, x0, width) in [(label.as_str(), 0, lw), (message, lw, mw)] {
        let cx = x0 * 10 + width * 5;
        let tl = (width - 10) * 10;
        for (shadow, y) in [(true, 150), (false, 140)] {
            out.push_str("<text");
            if shadow {
                out.push_str(" aria-hidden=\"true\" fill=\"#010101\" fill-opacity=\".3\"");
            }
            out.push_str(" x=\"");
            push_u64(&mut out, cx);
            out.push_str("\" y=\"");
            push_u64(&mut out, y);
            out.push_str("\" transform=\"scale(.1)\" textLength=\"");
            push_u64(&mut out, tl);
            out.push_str("\">");
            escape_into(&mut out, text);
            out.push_str("</text>");
        }
    }
    out.push_str("</g></svg>");
    out
}

fn status_message(state: State) -> (&'static str, &'static str) {
    match state {
        State::Up => ("operational", "#1a7f37"),
        State::Degraded => ("degraded", "#9a6700"),
        State::Down => ("outage", "#cf222e"),
        State::Maintenance => ("maintenance", "#4f6b7d"),
        State::NoData => ("no data", "#6e7781"),
    }
}

/// A status badge: `label` on grey, the state in words on its colour (`operational` green,
/// `degraded` amber, `outage` red, `maintenance` blue-grey, `no data` grey). Colours are dark
/// enough for white text (≥ 4.5:1).
///
/// ```
/// use wedsync_dashboard::{badge_status, State};
/// let svg = badge_status("stripe", State::Up);
/// assert!(svg.contains(r#"aria-label="stripe: operational""#));
/// assert!(svg.contains("<title>stripe: operational</title>"));
/// ```
pub fn badge_status(label: &str, state: State) -> String {
    let (message, color) = status_message(state);
    badge(label, message, color)
}

/// An uptime badge: `label` and the percentage rounded down to two decimals (`99.95%`; never
/// `100%` unless nothing failed), or `no data`. Green from 99.9 %, olive from 99 %, amber from
/// 95 %, red below.
///
/// ```
/// use wedsync_dashboard::badge_uptime;
/// assert!(badge_uptime("uptime 90d", Some(99.951)).contains("uptime 90d: 99.95%"));
/// assert!(badge_uptime("uptime 90d", None).contains("uptime 90d: no data"));
/// ```
pub fn badge_uptime(label: &str, percent: Option<f64>) -> String {
    let percent = percent.filter(|p| p.is_finite());
    let mut message = String::with_capacity(8);
    push_percent(&mut message, percent);
    let color = match percent {
        None => "#6e7781",
        Some(p) if p >= 99.9 => "#1a7f37",
        Some(p) if p >= 99.0 => "#4d7c0f",
        Some(p) if p >= 95.0 => "#9a6700",
        Some(_) => "#cf222e",
    };
    badge(label, &message, color)
}

/// The badge `file` (`status.svg`, or `uptime.svg` over the daily buckets) of the service
/// `name` among the public status page's `services`; `None` for an unknown service or file.
///
/// ```
/// use wedsync_dashboard::{badge_for, PublicService, State};
/// let s = [PublicService { name: "stripe".into(), state: State::Up, days: vec![] }];
/// assert!(badge_for(&s, "stripe", "status.svg").unwrap().contains("stripe: operational"));
/// assert!(badge_for(&s, "stripe", "uptime.svg").unwrap().contains("stripe: no data"));
/// assert_eq!(badge_for(&s, "twilio", "status.svg"), None);
/// assert_eq!(badge_for(&s, "stripe", "x.svg"), None);
/// ```
pub fn badge_for(services: &[PublicService], name: &str, file: &str) -> Option<String> {
    let s = services.iter().find(|s| s.name == name)?;
    match file {
        "status.svg" => Some(badge_status(&s.name, s.state)),
        "uptime.svg" => Some(badge_uptime(&s.name, crate::uptime_percent(&s.days))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::assert_well_formed;

    #[test]
    fn status_badges_say_label_and_state() {
        for (state, word) in [
            (State::Up, "operational"),
            (State::Degraded, "degraded"),
            (State::Down, "outage"),
            (State::Maintenance, "maintenance"),
            (State::NoData, "no data"),
        ] {
            let svg = badge_status("twilio", state);
            assert_well_formed(&svg);
            assert!(svg.contains("role=\"img\""));
            assert!(
                svg.contains(&format!("aria-label=\"twilio: {word}\"")),
                "{svg}"
            );
            assert!(svg.contains(&format!("<title>twilio: {word}</title>")));
            assert!(svg.contains(&format!(">{word}</text>")));
            assert!(svg.contains(">twilio</text>"));
        }
    }

    #[test]
    fn uptime_badges() {
        for (p, text) in [
            (Some(100.0), "100%"),
            (Some(99.999), "99.99%"),
            (Some(42.0), "42%"),
            (Some(f64::NAN), "no data"),
            (Some(f64::INFINITY), "no data"),
            (None, "no data"),
        ] {
            let svg = badge_uptime("uptime", p);
            assert_well_formed(&svg);
            assert!(
                svg.contains(&format!("<title>uptime: {text}</title>")),
                "{svg}"
            );
            assert!(!svg.contains("NaN"));
        }
    }

    #[test]
    fn hostile_label_is_escaped_and_bounded() {
        let svg = badge_status("<script>\"x'&", State::Down);
        assert_well_formed(&svg);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;&quot;x&#39;&amp;: outage"));
        let long = badge_status(&"w".repeat(10_000), State::Up);
        assert!(long.len() < 4_000);
    }
}
