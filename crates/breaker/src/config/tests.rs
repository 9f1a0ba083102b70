use super::*;

#[test]
fn defaults_validate_and_bad_values_do_not() {
    assert!(BreakerConfig::default().validate().is_ok());
    let e = BreakerConfig::builder()
        .failure_rate_threshold(0.0)
        .build()
        .unwrap_err();
    assert!(matches!(e, ConfigError::Threshold { .. }));
    assert_eq!(
        BreakerConfig::builder()
            .sliding_window(SlidingWindow::Count(70_000))
            .build()
            .unwrap_err(),
        ConfigError::WindowSize(70_000)
    );
    assert!(BreakerConfig::builder()
        .sliding_window(SlidingWindow::Time(0))
        .build()
        .is_err());
    assert!(BreakerConfig::builder()
        .permitted_calls_in_half_open(0)
        .build()
        .is_err());
    assert!(BreakerConfig::builder()
        .open_duration(OpenDuration::Exponential {
            initial: Duration::from_secs(2),
            multiplier: 0.5,
            max: Duration::from_secs(10),
            jitter: 0.0
        })
        .build()
        .is_err());
}

#[test]
fn edited_fields_are_clamped_for_breakers() {
    let c = BreakerConfig {
        minimum_calls: 0,
        sliding_window: SlidingWindow::Count(1_000_000),
        failure_rate_threshold: 250.0,
        permitted_calls_in_half_open: 0,
        ..BreakerConfig::default()
    };
    let k = c.clamped();
    assert!(k.validate().is_ok());
    assert_eq!(k.minimum_calls, 1);
    assert_eq!(k.sliding_window, SlidingWindow::Count(MAX_COUNT_WINDOW));
    assert_eq!(k.failure_rate_threshold, 100.0);
}

#[test]
fn exponential_open_duration_grows_and_caps() {
    let d = OpenDuration::Exponential {
        initial: Duration::from_secs(1),
        multiplier: 2.0,
        max: Duration::from_secs(10),
        jitter: 0.0,
    };
    let got: Vec<_> = (1..=6).map(|n| d.for_opening(n, 0.5).as_secs()).collect();
    assert_eq!(got, [1, 2, 4, 8, 10, 10]);
    let j = OpenDuration::Exponential {
        initial: Duration::from_secs(10),
        multiplier: 1.0,
        max: Duration::from_secs(10),
        jitter: 0.2,
    };
    assert_eq!(j.for_opening(1, 0.0), Duration::from_secs(8));
    assert!(j.for_opening(1, 0.999) < Duration::from_secs(12));
}

#[test]
fn wedding_day_overrides_apply_only_in_wedding_mode() {
    let cfg = BreakerConfig::default();
    assert_eq!(cfg.rules(false).failure_rate_threshold, 50.0);
    assert_eq!(cfg.rules(true).failure_rate_threshold, 25.0);
    assert_eq!(
        cfg.rules(true).open,
        OpenDuration::Fixed(Duration::from_secs(30))
    );
    let cfg = BreakerConfig::builder()
        .wedding_day(WeddingDay {
            minimum_calls: Some(5),
            ..WeddingDay::default()
        })
        .build()
        .unwrap();
    assert_eq!(cfg.rules(true).minimum_calls, 5);
    assert_eq!(cfg.rules(true).failure_rate_threshold, 50.0);
}
