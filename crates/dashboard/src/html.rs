//! HTML escaping and the small writers every renderer shares. Everything appends to one `String`.

/// Escapes `s` for HTML text and attribute values: `&`, `<`, `>`, `"` and `'`.
///
/// ```
/// assert_eq!(
///     wedsync_dashboard::escape(r#"<a href="x">Tom & Jerry's</a>"#),
///     "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
/// );
/// ```
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    escape_into(&mut out, s);
    out
}

/// Appends `s` to `out`, escaped as [`escape`] does (no allocation when `out` has room).
pub(crate) fn escape_into(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        // Every escaped byte is ASCII, so `from..i` lies on char boundaries.
        out.push_str(&s[from..i]);
        out.push_str(rep);
        from = i + 1;
    }
    out.push_str(&s[from..]);
}

/// Appends an unsigned integer in decimal.
pub(crate) fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

/// Appends a signed integer in decimal.
pub(crate) fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

/// Appends a number in 0..=99 as two digits.
pub(crate) fn push_2d(out: &mut String, n: i8) {
    let n = n.clamp(0, 99) as u8;
    out.push((b'0' + n / 10) as char);
    out.push((b'0' + n % 10) as char);
}

/// Appends a finite `f64` with one decimal (`12.5`, `-3.0`); non-finite values become `0.0`.
/// SVG coordinates go through here, so no `NaN` or `inf` ever reaches the output.
pub(crate) fn push_f1(out: &mut String, v: f64) {
    let v = if v.is_finite() { v } else { 0.0 };
    let tenths = (v * 10.0).round();
    // Coordinates are small; clamp anyway so the cast below is exact and never saturates oddly.
    let tenths = tenths.clamp(-1e15, 1e15) as i64;
    if tenths < 0 {
        out.push('-');
    }
    let t = tenths.unsigned_abs();
    push_u64(out, t / 10);
    out.push('.');
    out.push((b'0' + (t % 10) as u8) as char);
}

/// Appends a latency in words: `850 ms`, `1.2 s`, `45 s`.
pub(crate) fn push_ms(out: &mut String, ms: u64) {
    if ms < 1000 {
        push_u64(out, ms);
        out.push_str(" ms");
    } else if ms < 10_000 {
        let tenths = (ms + 50) / 100;
        push_u64(out, tenths / 10);
        if !tenths.is_multiple_of(10) {
            out.push('.');
            out.push((b'0' + (tenths % 10) as u8) as char);
        }
        out.push_str(" s");
    } else {
        push_u64(out, ms.saturating_add(500) / 1000);
        out.push_str(" s");
    }
}

/// Appends an uptime percentage, rounded *down* to two decimals so that 99.999 % is never shown
/// as 100 % (`100%`, `99.95%`, `97.5%`), or `no data`.
pub(crate) fn push_percent(out: &mut String, p: Option<f64>) {
    match p {
        Some(p) if p.is_finite() => {
            // The epsilon absorbs binary noise (99.95 is 99.9499…) without rounding 99.999 up.
            let hundredths = (p.clamp(0.0, 100.0) * 100.0 + 1e-6).floor() as u64;
            push_u64(out, hundredths / 100);
            let frac = hundredths % 100;
            if frac != 0 {
                out.push('.');
                out.push((b'0' + (frac / 10) as u8) as char);
                if !frac.is_multiple_of(10) {
                    out.push((b'0' + (frac % 10) as u8) as char);
                }
            }
            out.push('%');
        }
        _ => out.push_str("no data"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut String)) -> String {
        let mut s = String::new();
        f(&mut s);
        s
    }

    #[test]
    fn escapes_all_five() {
        assert_eq!(escape("&<>\"'"), "&amp;&lt;&gt;&quot;&#39;");
        assert_eq!(escape("plain ✓ text"), "plain ✓ text");
        assert_eq!(escape("é<é"), "é&lt;é");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn numbers() {
        assert_eq!(with(|s| push_u64(s, 0)), "0");
        assert_eq!(with(|s| push_u64(s, u64::MAX)), u64::MAX.to_string());
        assert_eq!(with(|s| push_i64(s, i64::MIN)), i64::MIN.to_string());
        assert_eq!(with(|s| push_2d(s, 7)), "07");
        assert_eq!(with(|s| push_f1(s, 12.34)), "12.3");
        assert_eq!(with(|s| push_f1(s, -0.26)), "-0.3");
        assert_eq!(with(|s| push_f1(s, f64::NAN)), "0.0");
        assert_eq!(with(|s| push_f1(s, f64::INFINITY)), "0.0");
        assert_eq!(with(|s| push_ms(s, 850)), "850 ms");
        assert_eq!(with(|s| push_ms(s, 1200)), "1.2 s");
        assert_eq!(with(|s| push_ms(s, 2000)), "2 s");
        assert_eq!(with(|s| push_ms(s, 45_400)), "45 s");
        assert_eq!(with(|s| push_ms(s, u64::MAX)), "18446744073709551 s");
        assert_eq!(with(|s| push_percent(s, Some(100.0))), "100%");
        assert_eq!(with(|s| push_percent(s, Some(99.999))), "99.99%");
        assert_eq!(with(|s| push_percent(s, Some(97.5))), "97.5%");
        assert_eq!(with(|s| push_percent(s, Some(99.95))), "99.95%");
        assert_eq!(with(|s| push_percent(s, Some(f64::NAN))), "no data");
        assert_eq!(with(|s| push_percent(s, None)), "no data");
    }
}
