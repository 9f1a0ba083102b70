use super::*;

#[test]
fn jitter_stays_in_bounds_and_varies() {
    let d = Duration::from_secs(30);
    let mut seen = HashSet::new();
    for i in 0..1000u64 {
        let j = jittered(d, 0.1, splitmix(i));
        assert!(
            j >= Duration::from_secs(27) && j <= Duration::from_secs(33),
            "{j:?}"
        );
        seen.insert(j.as_millis());
    }
    assert!(seen.len() > 500, "jitter spreads: {} distinct", seen.len());
    assert_eq!(jittered(d, 0.0, 12345), d);
}

#[test]
fn refreshing_in_place_equals_building_anew() {
    let result = |status, detail: &str, rid: Option<&str>| {
        ProbeResult::new("svc", status, detail)
            .with_request_id(rid.map(str::to_owned))
            .with_http_status(503)
            .with_latency(Duration::from_millis(7))
            .at(42)
    };
    let lives = [
        Live::new(State::Closed),
        Live {
            status: ProbeStatus::Unhealthy,
            last: Some(result(ProbeStatus::Unhealthy, "HTTP 503", Some("req_1"))),
            consecutive_failures: 3,
            incident: Some("svc/1".into()),
            in_maintenance: true,
            flapping: true,
            breaker: State::Open,
        },
        Live {
            status: ProbeStatus::Healthy,
            last: Some(result(
                ProbeStatus::Healthy,
                "a much longer detail than before",
                None,
            )),
            consecutive_failures: 0,
            incident: None,
            in_maintenance: false,
            flapping: false,
            breaker: State::HalfOpen,
        },
    ];
    for from in &lives {
        for to in &lives {
            for breaker in [State::Closed, State::ForcedOpen] {
                let mut h = from.health("svc", from.breaker);
                to.refresh(&mut h, breaker);
                assert_eq!(h, to.health("svc", breaker), "{from:?} -> {to:?}");
            }
        }
    }
}

#[test]
fn the_default_breakers_suit_probe_cadence() {
    let cfg = probe_breaker_config();
    assert!(cfg.validate().is_ok(), "{cfg:?}");
    let b = wedsync_breaker::CircuitBreaker::new("svc", cfg);
    for i in 1..=5 {
        assert_eq!(b.state(), State::Closed, "before failing probe {i}");
        b.try_acquire().expect("closed").failure();
    }
    assert_eq!(b.state(), State::Open, "5 failing probes open it");
}

#[test]
fn lag_quantiles() {
    let mut h = LagHist {
        buckets: vec![0; LAG_BUCKETS],
        count: 0,
        max: Duration::ZERO,
    };
    for ms in 0..100u64 {
        h.record(Duration::from_millis(ms));
    }
    assert_eq!(h.quantile(0.5), Duration::from_millis(49));
    assert_eq!(h.quantile(0.99), Duration::from_millis(98));
    assert_eq!(h.max, Duration::from_millis(99));
}
