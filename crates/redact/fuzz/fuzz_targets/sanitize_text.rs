#![no_main]
//! `Redactor::sanitize_text`: never panics and is idempotent.

use libfuzzer_sys::fuzz_target;
use wedsync_redact::Redactor;

static R: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // One redactor for the whole run, as a service keeps one: its key cache carries over
    // between inputs (and building one per input made the run 100x slower).
    let r = R.get_or_init(Redactor::default);
    let once = r.sanitize_text(&text).output;
    assert_eq!(r.sanitize_text(&once).output, once);
});
