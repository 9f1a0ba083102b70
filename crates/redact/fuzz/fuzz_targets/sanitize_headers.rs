#![no_main]
//! `Redactor::sanitize_headers` on `Name: value` lines.

use libfuzzer_sys::fuzz_target;
use wedsync_redact::Redactor;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let headers: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .collect();
    let _ = Redactor::default().sanitize_headers(headers);
});
