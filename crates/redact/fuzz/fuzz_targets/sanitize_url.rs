#![no_main]
//! `Redactor::sanitize_url`: never panics and is idempotent.

use libfuzzer_sys::fuzz_target;
use wedsync_redact::Redactor;

static R: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // One redactor for the whole run, as a service keeps one.
    let r = R.get_or_init(Redactor::default);
    let once = r.sanitize_url(&text).output;
    assert_eq!(r.sanitize_url(&once).output, once);
});
