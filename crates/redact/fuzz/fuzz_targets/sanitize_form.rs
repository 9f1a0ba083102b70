#![no_main]
//! `Redactor::sanitize_form` (Twilio profile): never panics, output is UTF-8, idempotent.

use libfuzzer_sys::fuzz_target;
use wedsync_redact::{Profile, Redactor};

static R: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    // One redactor for the whole run, as a service keeps one.
    let r = R.get_or_init(|| Redactor::for_profile(Profile::Twilio));
    let once = r.sanitize_form(data).output;
    assert!(std::str::from_utf8(&once).is_ok());
    assert_eq!(r.sanitize_form(&once).output, once);
});
