#![no_main]
//! `Redactor::sanitize_text`: never panics and is idempotent.

use libfuzzer_sys::fuzz_target;
use wedsync_redact::Redactor;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let r = Redactor::default();
    let once = r.sanitize_text(&text).output;
    assert_eq!(r.sanitize_text(&once).output, once);
});
