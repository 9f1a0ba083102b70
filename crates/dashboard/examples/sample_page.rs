//! Run with: `cargo run -p wedsync-dashboard --example sample_page -- /tmp/dashboard-sample.html`
//!
//! Writes a sample dashboard (a wedding day with services up, down, degraded, in maintenance
//! and without data), its stale variant, the login and status pages, two badges, and the next SSE
//! `update` and `heartbeat` messages, with the assets beside them, so they can be opened from
//! disk or screenshot in a headless browser.

use std::path::{Path, PathBuf};

use wedsync_dashboard::model;
use wedsync_dashboard::{PublicService, PublicView, State};

#[path = "../src/fixture.rs"]
mod fixture;

fn write(path: &Path, contents: &str) {
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    println!("wrote {}", path.display());
}

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/tmp/dashboard-sample.html".to_owned()),
    );
    let dir = out.parent().unwrap_or(Path::new(".")).to_path_buf();
    let stem = out
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("dashboard-sample");

    // Pages link the assets absolutely (/dashboard/assets/…); on disk, point them next door.
    let local = |html: String| {
        html.replace("/dashboard/assets/app.css", "app.css")
            .replace("/dashboard/assets/app.js", "app.js")
    };
    let v = fixture::sample();
    write(&out, &local(wedsync_dashboard::render_page(&v)));
    write(
        &dir.join(format!("{stem}-stale.html")),
        &local(
            wedsync_dashboard::render_page(&v)
                .replace(
                    "data-state=\"live\" data-events",
                    "data-state=\"stale\" data-events",
                )
                .replace(
                    "Live · last update <time id=\"last-update\"",
                    "Connection lost — last update <time id=\"last-update\"",
                )
                .replace(
                    "</time></p>\n<form class=\"logout\"",
                    "</time>. Data may be out of date.</p>\n<form class=\"logout\"",
                ),
        ),
    );
    write(
        &dir.join(format!("{stem}-login.html")),
        &local(wedsync_dashboard::render_login(
            Some("That API key is not valid."),
            "csrf",
        )),
    );
    let public = PublicView {
        now_ms: v.now_ms,
        zone: v.zone.clone(),
        services: v
            .services
            .iter()
            .take(4)
            .map(|s| PublicService {
                name: s.name[..1].to_uppercase() + &s.name[1..],
                state: s.state,
                days: s.days.clone(),
            })
            .collect(),
    };
    write(
        &dir.join(format!("{stem}-status.html")),
        &local(wedsync_dashboard::render_status_page(&public)),
    );
    write(
        &dir.join("badge-status.svg"),
        &wedsync_dashboard::badge_status("twilio", State::Down),
    );
    write(
        &dir.join("badge-uptime.svg"),
        &wedsync_dashboard::badge_uptime("uptime 90d", Some(99.95)),
    );
    // What the event stream sends next: Twilio has recovered.
    let mut next = v.clone();
    next.now_ms += 5_000;
    next.flash = None;
    next.services[1].status = "healthy".to_owned();
    next.services[1].state = State::Up;
    next.services[1].detail = None;
    next.services[1].breaker = "half_open".to_owned();
    write(
        &dir.join(format!("{stem}-update.sse")),
        &wedsync_dashboard::sse_update(&next),
    );
    write(
        &dir.join(format!("{stem}-heartbeat.sse")),
        &wedsync_dashboard::sse_heartbeat(next.now_ms + 5_000, &next.zone),
    );
    write(&dir.join("app.css"), wedsync_dashboard::APP_CSS);
    write(&dir.join("app.js"), wedsync_dashboard::APP_JS);
}
