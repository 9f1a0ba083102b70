#![no_main]
//! Policy configuration: parsing and compiling arbitrary JSON never panics.

use libfuzzer_sys::fuzz_target;
use wedsync_redact::{Policy, Redactor};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(policy) = Policy::from_json(text) {
            if let Ok(r) = Redactor::new(policy) {
                let _ = r.sanitize_json(br#"{"a":{"password":"x","name":"y"},"b":"c@d.io"}"#);
            }
        }
    }
});
