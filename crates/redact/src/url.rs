//! URLs, query strings and `application/x-www-form-urlencoded` bodies.

use crate::json::action_rule;
use crate::keys::Rule;
use crate::scan::{is_placeholder, secret_replacement, Scratch};
use crate::{Engine, Kind, Report};

fn hexval(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|v| u8::try_from(v).ok())
}

/// Percent-decodes `s` (and `+` as space when `plus_space`); invalid UTF-8 is replaced.
pub(crate) fn percent_decode(s: &str, plus_space: bool) -> String {
    let b = s.as_bytes();
    if !b.iter().any(|&c| c == b'%' || (plus_space && c == b'+')) {
        return s.to_owned();
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hexval(b[i + 1]), hexval(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes `s` for a query or form value; placeholders are written unencoded.
pub(crate) fn encode_component(s: &str, form: bool, out: &mut String) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'[' {
            if let Some(close) = memchr::memchr(b']', &b[i..]) {
                let cand = &s[i..=i + close];
                if is_placeholder(cand) {
                    out.push_str(cand);
                    i += close + 1;
                    continue;
                }
            }
        }
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'*') {
            out.push(char::from(c));
        } else if c == b' ' && form {
            out.push('+');
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(c >> 4)]));
            out.push(char::from(HEX[usize::from(c & 15)]));
        }
        i += 1;
    }
}

/// Encodes a path, keeping `/` separators.
fn encode_path(s: &str, out: &mut String) {
    for (i, seg) in s.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        encode_component(seg, false, out);
    }
}

impl Engine {
    /// The rule for the value of a query or form parameter named `key` (decoded).
    fn param_rule(&self, key: &str, s: &mut Scratch) -> Rule {
        s.words.split(key);
        let class = self.scanner.keys.classify(&s.words);
        let mut rule = match class.rule {
            Rule::NameIfPerson | Rule::AddressLine => Rule::None,
            r => r,
        };
        if !self.rules.is_empty() {
            if let Some(a) = self.path_action(&[s.words.joined()]) {
                rule = action_rule(a);
            }
        }
        rule
    }

    /// Sanitises `a=b&c=d` pairs; `None` when nothing changed.
    pub(crate) fn sanitize_pairs(
        &self,
        raw: &str,
        form: bool,
        s: &mut Scratch,
        report: &mut Report,
    ) -> Option<String> {
        let mut out = String::new();
        let mut changed = false;
        let mut first = true;
        for seg in raw.split('&') {
            if !first {
                out.push('&');
            }
            first = false;
            let Some(eq) = seg.find('=') else {
                // A bare segment: scan it as text.
                let dec = percent_decode(seg, form);
                if let Some(new) = self.scanner.sanitize(&dec, s, report) {
                    encode_component(&new, form, &mut out);
                    changed = true;
                } else {
                    out.push_str(seg);
                }
                continue;
            };
            let (k_raw, v_raw) = (&seg[..eq], &seg[eq + 1..]);
            let key = percent_decode(k_raw, form);
            let mut rule = self.param_rule(&key, s);
            // The key itself may carry data (`?bob@example.com=1`).
            let mut key_out = None;
            if let Some(new_key) = self.scanner.sanitize(&key, s, report) {
                // Sanitising the output again classifies the key as written out (a placeholder
                // carries a word such as `email`): use that rule now too, so the result is a
                // fixpoint, unless it has none and the original key had one.
                let out_rule = self.param_rule(&new_key, s);
                if out_rule != Rule::None {
                    rule = out_rule;
                }
                let mut k = String::new();
                encode_component(&new_key, form, &mut k);
                key_out = Some(k);
            }
            let value = percent_decode(v_raw, form);
            let new_value = if value.is_empty() {
                None
            } else if rule.secret_for(Some(&value)) {
                let r = secret_replacement(&value);
                (r != value).then(|| {
                    report.add(Kind::Secret, 1);
                    r
                })
            } else if let Some(kind) = crate::json::rule_kind(rule) {
                (!is_placeholder(&value)).then(|| {
                    report.add(kind, 1);
                    self.scanner.placeholder(kind, &value)
                })
            } else {
                self.scanner.sanitize(&value, s, report)
            };
            let name = key_out.as_deref().unwrap_or(k_raw);
            if key_out.is_some() || new_value.is_some() {
                changed = true;
                report.touch(percent_decode(name, form));
            }
            out.push_str(name);
            out.push('=');
            match new_value {
                Some(v) => encode_component(&v, form, &mut out),
                None => out.push_str(v_raw),
            }
        }
        changed.then_some(out)
    }

    /// Sanitises a URL: userinfo password, query parameters, fragment and path.
    pub(crate) fn url_inner(&self, url: &str, report: &mut Report) -> Option<String> {
        let mut s = Scratch::default();
        let b = url.as_bytes();
        // scheme://authority
        let mut rest_start = 0;
        let mut out = String::with_capacity(url.len() + 16);
        let mut changed = false;
        if let Some(sep) = url.find("://") {
            let scheme_ok = sep > 0
                && b[0].is_ascii_alphabetic()
                && b[..sep]
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
            if scheme_ok {
                let a = sep + 3;
                let e = b[a..]
                    .iter()
                    .position(|c| matches!(c, b'/' | b'?' | b'#'))
                    .map_or(b.len(), |p| a + p);
                out.push_str(&url[..a]);
                let auth = &url[a..e];
                if let Some(at) = auth.rfind('@') {
                    let userinfo = &auth[..at];
                    let (user, pw) = match crate::scan::colon_outside_brackets(userinfo) {
                        Some(c) => (&userinfo[..c], Some(&userinfo[c + 1..])),
                        None => (userinfo, None),
                    };
                    let dec_user = percent_decode(user, false);
                    match self.scanner.sanitize(&dec_user, &mut s, report) {
                        Some(new) => {
                            encode_component(&new, false, &mut out);
                            changed = true;
                        }
                        None => out.push_str(user),
                    }
                    if let Some(pw) = pw {
                        out.push(':');
                        if pw.is_empty() || is_placeholder(pw) {
                            out.push_str(pw);
                        } else {
                            out.push_str("[REDACTED]");
                            report.add(Kind::Secret, 1);
                            report.touch(String::from("userinfo"));
                            changed = true;
                        }
                    }
                    out.push('@');
                    out.push_str(&auth[at + 1..]);
                } else {
                    out.push_str(auth);
                }
                rest_start = e;
            }
        }
        let rest = &url[rest_start..];
        let (before_frag, frag) = match rest.find('#') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (path, query) = match before_frag.find('?') {
            Some(i) => (&before_frag[..i], Some(&before_frag[i + 1..])),
            None => (before_frag, None),
        };
        let dec_path = percent_decode(path, false);
        match self.scanner.sanitize(&dec_path, &mut s, report) {
            Some(new) => {
                encode_path(&new, &mut out);
                changed = true;
            }
            None => out.push_str(path),
        }
        if let Some(q) = query {
            out.push('?');
            match self.sanitize_pairs(q, false, &mut s, report) {
                Some(new) => {
                    out.push_str(&new);
                    changed = true;
                }
                None => out.push_str(q),
            }
        }
        if let Some(f) = frag {
            out.push('#');
            let new = if f.contains('=') {
                self.sanitize_pairs(f, false, &mut s, report)
            } else {
                let dec = percent_decode(f, false);
                self.scanner.sanitize(&dec, &mut s, report).map(|n| {
                    let mut o = String::new();
                    encode_component(&n, false, &mut o);
                    o
                })
            };
            match new {
                Some(n) => {
                    out.push_str(&n);
                    changed = true;
                }
                None => out.push_str(f),
            }
        }
        changed.then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_and_encode() {
        assert_eq!(percent_decode("a%2Bb+c%zz%", true), "a+b c%zz%");
        assert_eq!(percent_decode("a+b", false), "a+b");
        let mut o = String::new();
        encode_component("Hi there, [REDACTED:phone]!", true, &mut o);
        assert_eq!(o, "Hi+there%2C+[REDACTED:phone]%21");
    }
}
