#![no_main]
//! `Redactor::sanitize_value` on whatever serde_json parses.

use libfuzzer_sys::fuzz_target;
use wedsync_redact::Redactor;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(data) {
        Redactor::default().sanitize_value(&mut v);
        let _ = v.to_string();
    }
});
