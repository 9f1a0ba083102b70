//! Outside input never panics the simulator or the config parser (a property-based stand-in for
//! a fuzz target): every input ends in `Ok` or a typed error.
#![cfg(feature = "sim")]

use proptest::prelude::*;
use wedsync_breaker::BreakerConfig;

fn event_line() -> impl Strategy<Value = String> {
    let outcome = prop::sample::select(vec!["success", "failure", "ignored", "bogus"]);
    let op = prop::sample::select(vec![
        "force_open",
        "reset",
        "disable",
        "close",
        "metrics_only",
        "half_open",
        "wedding_day_on",
        "wedding_day_off",
        "nope",
    ]);
    prop_oneof![
        (any::<u64>(), outcome, any::<u64>()).prop_map(|(at, o, d)| format!(
            r#"{{"at_ms": {at}, "outcome": "{o}", "duration_ms": {d}}}"#
        )),
        (0u64..100_000, op).prop_map(|(at, o)| format!(r#"{{"at_ms": {at}, "op": "{o}"}}"#)),
        ".{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn the_simulator_never_panics(mut lines in prop::collection::vec(event_line(), 0..40), window in 1u32..5) {
        // Sorted timestamps get further into the script; unsorted ones test the error path.
        if window % 2 == 0 {
            lines.sort();
        }
        let cfg = BreakerConfig::builder()
            .sliding_window(if window % 2 == 0 {
                wedsync_breaker::SlidingWindow::Count(window)
            } else {
                wedsync_breaker::SlidingWindow::Time(window)
            })
            .minimum_calls(2)
            .slow_call_duration_threshold(std::time::Duration::from_millis(10))
            .build()
            .unwrap();
        let input = lines.join("\n");
        let _ = wedsync_breaker::sim::run(&cfg, input.as_bytes(), Vec::new());
    }

    #[test]
    fn config_parsing_never_panics(text in "[a-z_ =\"0-9.\\n\\[\\]-]{0,200}") {
        let _ = toml::from_str::<BreakerConfig>(&text);
    }

    #[test]
    fn numeric_config_values_are_validated_not_trusted(
        size in any::<u32>(), min in any::<u32>(), thr in any::<f32>(), mult in any::<f64>(),
        jitter in any::<f64>(), wait in any::<u64>(), permitted in any::<u32>(),
    ) {
        let text = format!(
            "sliding_window_size = {size}\nminimum_calls = {min}\nfailure_rate_threshold = {thr:?}\n\
             open_duration_multiplier = {mult:?}\nopen_duration_jitter = {jitter:?}\n\
             wait_duration_in_open_ms = {wait}\npermitted_calls_in_half_open = {permitted}\n"
        );
        if let Ok(cfg) = toml::from_str::<BreakerConfig>(&text) {
            prop_assert!(cfg.validate().is_ok());
            // A valid configuration always builds a working breaker.
            let b = wedsync_breaker::CircuitBreaker::new("p", cfg);
            let _ = b.call(|| Err::<(), _>(()));
            let _ = b.metrics();
        }
    }
}
