//! Deterministic dashboard views for tests, the benchmark and the sample page.
//!
//! Shared by path (`#[path = "../src/fixture.rs"] mod fixture;`): it names the model through
//! `super::model`, which is the crate's own module in unit tests and a `use
//! wedsync_dashboard::model;` at the root of a bench or example.
#![allow(dead_code)]

use super::model::{
    AttentionView, Bucket, DashboardView, IncidentView, LatencyPoint, MaintenanceView,
    ProviderWebhooks, ServiceView, State, WebhookCounts, WebhooksView, WeddingView,
};

/// Tue 4 Nov 2025 14:05:03 GMT.
pub const NOW: i64 = 1_762_265_103_000;
/// Sat 8 Nov 2025 14:05:03 GMT (a wedding day).
pub const SATURDAY: i64 = NOW + 4 * DAY;
pub const MIN: i64 = 60_000;
pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 86_400_000;

/// xorshift64*: deterministic noise.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn bucket(rng: &mut Rng, start_ms: i64, end_ms: i64, checks: u64, trouble: u64) -> Bucket {
    let roll = rng.below(1000);
    let (mut down, mut degraded, mut maintenance, mut outage) = (0, 0, false, None);
    if roll < trouble {
        down = 1 + rng.below(checks / 4);
        let from = start_ms + (rng.below(((end_ms - start_ms) / 2 / MIN) as u64) as i64) * MIN;
        outage = Some((from, from + (down as i64) * 30_000));
    } else if roll < trouble * 3 {
        degraded = 1 + rng.below(checks / 10);
    } else if roll < trouble * 3 + 5 {
        maintenance = true;
    }
    Bucket {
        start_ms,
        end_ms,
        checks,
        healthy: checks - down - degraded,
        degraded,
        down,
        maintenance,
        outage,
    }
}

/// 24 hourly and 90 daily buckets ending at `now`, with `trouble`‰ of buckets failing.
pub fn history(seed: u64, now: i64, trouble: u64) -> (Vec<Bucket>, Vec<Bucket>) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let h0 = now - now.rem_euclid(HOUR);
    let hours = (0..24)
        .map(|i| {
            let start = h0 - (23 - i) * HOUR;
            bucket(&mut rng, start, start + HOUR, 120, trouble)
        })
        .collect();
    let d0 = now - now.rem_euclid(DAY);
    let days = (0..90)
        .map(|i| {
            let start = d0 - (89 - i) * DAY;
            bucket(&mut rng, start, start + DAY, 2880, trouble)
        })
        .collect();
    (hours, days)
}

/// `n` hourly latency points ending at `now`.
pub fn latency(seed: u64, now: i64, n: i64, base: u64) -> Vec<LatencyPoint> {
    let mut rng = Rng(seed.wrapping_mul(0xD6E8_FEB8_6659_FD93) | 1);
    let h0 = now - now.rem_euclid(HOUR);
    (0..n)
        .map(|i| {
            let avg =
                base + rng.below(base / 2 + 1) + if rng.below(20) == 0 { base * 3 } else { 0 };
            LatencyPoint {
                at_ms: h0 - (n - 1 - i) * HOUR,
                avg_ms: avg,
                max_ms: avg * 2 + rng.below(avg * 3 + 1),
            }
        })
        .collect()
}

const STATES: [(&str, State, Option<&str>, &str); 6] = [
    ("healthy", State::Up, None, "closed"),
    ("healthy", State::Up, None, "closed"),
    (
        "degraded",
        State::Degraded,
        Some("p95 2.3 s above the 2 s threshold"),
        "closed",
    ),
    ("unhealthy", State::Down, Some("timeout after 5 s"), "open"),
    (
        "rate_limited",
        State::Up,
        Some("HTTP 429, retry after 30 s"),
        "closed",
    ),
    (
        "auth_failed",
        State::Degraded,
        Some("HTTP 401 from /v1/balance"),
        "closed",
    ),
];

/// One generated service.
pub fn service(i: usize, name: &str, now: i64) -> ServiceView {
    let (status, state, detail, breaker) = STATES[i % STATES.len()];
    let (hours, days) = history(i as u64 + 1, now, if state == State::Down { 60 } else { 8 });
    let base = 80 + (i as u64 % 7) * 40;
    ServiceView {
        name: name.to_owned(),
        status: status.to_owned(),
        state,
        detail: detail.map(str::to_owned),
        breaker: breaker.to_owned(),
        latency_ms: Some(base + 17),
        p95_ms: Some(base * 2),
        checked_at_ms: Some(now - 4_000 - (i as i64 % 25) * 1_000),
        in_maintenance: false,
        flapping: false,
        hours,
        days,
        latency_24h: latency(i as u64 * 2 + 1, now, 24, base),
        latency_7d: latency(i as u64 * 2 + 2, now, 168, base),
    }
}

fn incident(i: usize, service: &str, now: i64) -> IncidentView {
    let opened = now - (i as i64 + 1) * 37 * MIN;
    let resolved = !i.is_multiple_of(3);
    IncidentView {
        key: format!("{service}:unhealthy:{opened}"),
        service: service.to_owned(),
        status: if i.is_multiple_of(2) {
            "unhealthy"
        } else {
            "degraded"
        }
        .to_owned(),
        summary: format!("{service} failed 3 consecutive probes (timeout after 5 s)"),
        opened_at_ms: opened,
        alerted_at_ms: Some(opened + 60_000),
        acknowledged_at_ms: i.is_multiple_of(2).then_some(opened + 4 * MIN),
        resolved_at_ms: resolved.then_some(opened + 25 * MIN),
        wedding_day: i.is_multiple_of(4),
    }
}

fn attention(i: usize, now: i64) -> AttentionView {
    let provider = ["stripe", "twilio", "resend", "supabase"][i % 4];
    AttentionView {
        delivery_id: format!("dlv_{:016x}", 0xfeed_0000 + i as u64),
        provider: provider.to_owned(),
        event_type: Some(
            [
                "payment_intent.succeeded",
                "message.status",
                "email.bounced",
                "auth.user.created",
            ][i % 4]
                .to_owned(),
        ),
        status: if i.is_multiple_of(3) {
            "failed"
        } else {
            "retrying"
        }
        .to_owned(),
        attempts: 1 + (i as u32 % 8),
        last_error: Some(
            if i.is_multiple_of(2) {
                "http 500"
            } else {
                "timeout"
            }
            .to_owned(),
        ),
        received_at_ms: now - (i as i64 + 1) * 7 * MIN,
        critical: i.is_multiple_of(5),
    }
}

fn webhooks(attention_items: usize, now: i64) -> WebhooksView {
    WebhooksView {
        providers: ["stripe", "twilio", "resend", "supabase"]
            .iter()
            .enumerate()
            .map(|(i, p)| ProviderWebhooks {
                provider: (*p).to_owned(),
                hour: WebhookCounts {
                    received: 40 + i as u64 * 13,
                    delivered: 40 + i as u64 * 13 - (i as u64 % 2) * 3,
                    failing: (i as u64 % 2) * 3,
                },
                day: WebhookCounts {
                    received: 900 + i as u64 * 210,
                    delivered: 895 + i as u64 * 210,
                    failing: 5 * (i as u64 % 2),
                },
            })
            .collect(),
        queue_depth: 7,
        attention: (0..attention_items).map(|i| attention(i, now)).collect(),
    }
}

/// A view with `services` generated services, `incidents` incidents and `attention` attention
/// items (the benchmark uses 500 / 20 / 50).
pub fn view(services: usize, incidents: usize, attention_items: usize) -> DashboardView {
    let names = ["stripe", "twilio", "resend", "supabase"];
    let services: Vec<ServiceView> = (0..services)
        .map(|i| match names.get(i) {
            Some(n) => service(i, n, NOW),
            None => service(i, &format!("service-{i:03}"), NOW),
        })
        .collect();
    DashboardView {
        now_ms: NOW,
        zone: "Europe/London".to_owned(),
        wedding: WeddingView {
            today: false,
            policy: vec![
                "probes every 15 s instead of 30 s".to_owned(),
                "alerts page at once".to_owned(),
            ],
        },
        incidents: (0..incidents)
            .map(|i| incident(i, &services[i % services.len().max(1)].name, NOW))
            .collect(),
        services,
        maintenance: vec![MaintenanceView {
            service: Some("supabase".to_owned()),
            start_ms: NOW + DAY,
            end_ms: NOW + DAY + HOUR,
        }],
        webhooks: webhooks(attention_items, NOW),
        can_act: true,
        csrf: "csrf-7f3a9c".to_owned(),
        flash: None,
    }
}

/// The sample page: a Saturday (wedding day) with Stripe up, Twilio down, Resend degraded and
/// flapping, Supabase in maintenance and a status page feed with a bad key.
pub fn sample() -> DashboardView {
    let now = SATURDAY;
    let mut stripe = service(0, "stripe", now);
    stripe.latency_ms = Some(182);
    stripe.p95_ms = Some(240);

    let mut twilio = service(3, "twilio", now);
    twilio.latency_ms = None;
    twilio.p95_ms = Some(3_900);
    let last = twilio.hours.len() - 1;
    twilio.hours[last] = Bucket {
        start_ms: twilio.hours[last].start_ms,
        end_ms: twilio.hours[last].end_ms,
        checks: 10,
        healthy: 2,
        degraded: 0,
        down: 8,
        maintenance: false,
        outage: Some((now - 4 * MIN, now - 4_000)),
    };

    let mut resend = service(2, "resend", now);
    resend.flapping = true;
    resend.breaker = "half_open".to_owned();

    let mut supabase = service(1, "supabase", now);
    supabase.state = State::Maintenance;
    supabase.in_maintenance = true;
    supabase.detail = Some("scheduled database upgrade".to_owned());
    for b in supabase.hours.iter_mut().rev().take(2) {
        *b = Bucket {
            maintenance: true,
            down: 0,
            degraded: 0,
            healthy: b.checks,
            outage: None,
            ..*b
        };
    }

    let mut statuspage = service(5, "statuspage", now);
    statuspage.latency_ms = Some(95);
    let mut newcomer = service(0, "openexchange", now);
    newcomer.status = "unknown".to_owned();
    newcomer.state = State::NoData;
    newcomer.latency_ms = None;
    newcomer.p95_ms = None;
    newcomer.checked_at_ms = None;
    newcomer.breaker = "closed".to_owned();
    for b in newcomer.hours.iter_mut().chain(newcomer.days.iter_mut()) {
        *b = Bucket::empty(b.start_ms, b.end_ms);
    }
    newcomer.latency_24h.clear();
    newcomer.latency_7d.truncate(1);

    let mut v = view(0, 0, 0);
    v.now_ms = now;
    v.wedding = WeddingView {
        today: true,
        policy: vec![
            "Probes every 15 s instead of 30 s".to_owned(),
            "Alerts page the on-call engineer at once (no 5-minute grace)".to_owned(),
            "Wedding-critical webhooks are delivered first".to_owned(),
        ],
    };
    v.services = vec![stripe, twilio, resend, supabase, statuspage, newcomer];
    v.incidents = vec![
        IncidentView {
            key: "twilio:unhealthy".to_owned(),
            service: "twilio".to_owned(),
            status: "unhealthy".to_owned(),
            summary: "3 consecutive probes failed: timeout after 5 s".to_owned(),
            opened_at_ms: now - 4 * MIN,
            alerted_at_ms: Some(now - 3 * MIN),
            acknowledged_at_ms: Some(now - MIN),
            resolved_at_ms: None,
            wedding_day: true,
        },
        IncidentView {
            key: "resend:degraded".to_owned(),
            service: "resend".to_owned(),
            status: "degraded".to_owned(),
            summary: "p95 latency above 2 s for 10 minutes".to_owned(),
            opened_at_ms: now - 5 * HOUR,
            alerted_at_ms: Some(now - 5 * HOUR + MIN),
            acknowledged_at_ms: None,
            resolved_at_ms: Some(now - 4 * HOUR - 25 * MIN),
            wedding_day: true,
        },
    ];
    v.maintenance = vec![
        MaintenanceView {
            service: Some("supabase".to_owned()),
            start_ms: now - HOUR,
            end_ms: now + HOUR,
        },
        MaintenanceView {
            service: None,
            start_ms: now + DAY - 12 * HOUR,
            end_ms: now + DAY - 11 * HOUR,
        },
    ];
    v.webhooks = webhooks(4, now);
    v.flash = Some("Delivery dlv_00000000feed0001 was queued for replay.".to_owned());
    v
}
