#![no_main]
//! `Redactor::sanitize_json`: never panics, output is UTF-8, JSON in gives JSON out, and the
//! output sanitises to itself.

use libfuzzer_sys::fuzz_target;
use wedsync_redact::{Profile, Redactor};

static R: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    // One redactor for the whole run, as a service keeps one: its key cache carries over
    // between inputs (and building one per input made the run 100x slower).
    let r = R.get_or_init(|| Redactor::for_profile(Profile::Stripe));
    let once = r.sanitize_json(data);
    assert!(std::str::from_utf8(&once.output).is_ok());
    if serde_json::from_slice::<serde_json::Value>(data).is_ok() && !once.report.fell_back_to_text {
        assert!(serde_json::from_slice::<serde_json::Value>(&once.output).is_ok());
    }
    assert_eq!(r.sanitize_json(&once.output).output, once.output);
});
