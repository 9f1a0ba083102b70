//! A streaming JSON tokenizer and rewriter.
//!
//! The input is validated strictly (RFC 8259, as serde_json accepts it) while it is walked once;
//! untouched bytes are copied through in runs, so key order, whitespace and number text are
//! preserved exactly. Only replaced values are re-encoded.

use std::borrow::Cow;

use crate::keys::{KeyClass, Rule};
use crate::scan::{is_card, is_placeholder, secret_replacement, Hints, Scratch, TriggerIndex};
use crate::{Action, Engine, Kind, Report};

/// Why the input is not (acceptable) JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonError {
    Syntax,
    Depth,
}

type R<T> = Result<T, JsonError>;

#[derive(Debug, Clone, Copy)]
enum Seg {
    Key(usize, usize),
    Index(usize),
}

struct Rewriter<'a> {
    eng: &'a Engine,
    text: &'a str,
    src: &'a [u8],
    pos: usize,
    out: Vec<u8>,
    copied: usize,
    changed: bool,
    report: &'a mut Report,
    path: Vec<Seg>,
    norm_path: Vec<String>,
    prefix: &'a str,
    scratch: Scratch,
    skip: u32,
    max_depth: usize,
    key_cache: [Option<(usize, usize, KeyClass)>; KEY_CACHE],
    /// Where the detectors' trigger bytes occur in the document.
    triggers: TriggerIndex,
}

const KEY_CACHE: usize = 64;

fn cache_slot(hash: u32) -> usize {
    (hash >> 26) as usize
}

/// Sanitises the JSON document `text`. `Ok(None)` when nothing changed.
pub(crate) fn rewrite(
    eng: &Engine,
    text: &str,
    base_depth: usize,
    ctx: u8,
    prefix: &str,
    report: &mut Report,
) -> R<Option<Vec<u8>>> {
    let mut local = Report::default();
    let mut w = Rewriter {
        eng,
        text,
        src: text.as_bytes(),
        pos: 0,
        out: Vec::new(),
        copied: 0,
        changed: false,
        report: &mut local,
        path: Vec::new(),
        norm_path: Vec::new(),
        prefix,
        scratch: Scratch::default(),
        skip: 0,
        max_depth: eng.limits.max_depth,
        key_cache: [None; KEY_CACHE],
        triggers: TriggerIndex::new(&eng.scanner, text.as_bytes()),
    };
    w.value(base_depth, Rule::None, ctx)?;
    w.ws();
    if w.pos != w.src.len() {
        return Err(JsonError::Syntax);
    }
    let result = if w.changed {
        let mut out = std::mem::take(&mut w.out);
        out.extend_from_slice(&w.src[w.copied..]);
        Some(out)
    } else {
        None
    };
    // Only a document that parsed contributes to the caller's report.
    report.merge_counts(&local);
    for l in local.locations {
        report.touch(l);
    }
    Ok(result)
}

/// Writes `s` as a JSON string literal.
pub(crate) fn write_json_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let b = s.as_bytes();
    let mut last = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            c if c < 0x20 => {
                out.extend_from_slice(&b[last..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 15)]);
                last = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&b[last..i]);
        out.extend_from_slice(esc);
        last = i + 1;
    }
    out.extend_from_slice(&b[last..]);
    out.push(b'"');
}

fn hex4(b: &[u8]) -> Option<u32> {
    if b.len() < 4 {
        return None;
    }
    let mut v = 0u32;
    for &c in &b[..4] {
        v = v * 16 + char::from(c).to_digit(16)?;
    }
    Some(v)
}

/// Decodes the escapes of a JSON string body; `None` on an invalid escape or lone surrogate.
pub(crate) fn unescape(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(&raw[last..i]);
        let c = *b.get(i + 1)?;
        i += 2;
        match c {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let v = hex4(b.get(i..)?)?;
                i += 4;
                let ch = if (0xD800..0xDC00).contains(&v) {
                    if b.get(i) != Some(&b'\\') || b.get(i + 1) != Some(&b'u') {
                        return None;
                    }
                    let w = hex4(b.get(i + 2..)?)?;
                    if !(0xDC00..0xE000).contains(&w) {
                        return None;
                    }
                    i += 6;
                    char::from_u32(0x10000 + ((v - 0xD800) << 10) + (w - 0xDC00))?
                } else {
                    char::from_u32(v)?
                };
                out.push(ch);
            }
            _ => return None,
        }
        last = i;
    }
    out.push_str(&raw[last..]);
    Some(out)
}

/// The kind a personal rule writes, if the rule is personal.
pub(crate) fn rule_kind(rule: Rule) -> Option<Kind> {
    Some(match rule {
        Rule::Email => Kind::Email,
        Rule::Phone => Kind::Phone,
        Rule::Name => Kind::Name,
        Rule::Address => Kind::Address,
        Rule::Ip => Kind::Ip,
        Rule::Iban => Kind::Iban,
        Rule::Message => Kind::Message,
        _ => return None,
    })
}

/// The offset of the first `"`, `\\` or control byte (below 0x20) in `b`, 8 bytes at a time.
///
/// For each test the classic "has a zero byte" expression `(v - 0x01…) & !v & 0x80…` flags the
/// lowest matching byte exactly (borrows can only flag bytes above it), so the lowest flag of the
/// three tests together is the first special byte.
fn special(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const QUOTE: u64 = ONES * b'"' as u64;
    const BACKSLASH: u64 = ONES * b'\\' as u64;
    const SPACE: u64 = ONES * 0x20;
    let mut i = 0;
    while i + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        let x = u64::from_le_bytes(w);
        let q = x ^ QUOTE;
        let s = x ^ BACKSLASH;
        let m = ((q.wrapping_sub(ONES) & !q)
            | (s.wrapping_sub(ONES) & !s)
            | (x.wrapping_sub(SPACE) & !x))
            & HI;
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| i + p)
}

fn looks_like_json(s: &str) -> bool {
    // Most strings start with an ASCII character that is neither whitespace nor a bracket.
    if let Some(&b) = s.as_bytes().first() {
        if b.is_ascii() && !b.is_ascii_whitespace() && b != b'{' && b != b'[' && b != 0x0b {
            return false;
        }
    }
    let t = s.trim();
    (t.starts_with('{') && t.ends_with('}')) || (t.starts_with('[') && t.ends_with(']'))
}

impl Rewriter<'_> {
    fn ws(&mut self) {
        while self.pos < self.src.len()
            && matches!(self.src[self.pos], b' ' | b'\n' | b'\r' | b'\t')
        {
            self.pos += 1;
        }
    }

    fn peek(&self) -> R<u8> {
        self.src.get(self.pos).copied().ok_or(JsonError::Syntax)
    }

    fn replace(&mut self, a: usize, b: usize, bytes: &[u8]) {
        if self.skip > 0 {
            return;
        }
        if !self.changed {
            self.out.reserve(self.src.len() + 64);
            self.changed = true;
        }
        self.out.extend_from_slice(&self.src[self.copied..a]);
        self.out.extend_from_slice(bytes);
        self.copied = b;
    }

    fn replace_str(&mut self, a: usize, b: usize, s: &str) {
        let mut buf = Vec::with_capacity(s.len() + 2);
        write_json_str(&mut buf, s);
        self.replace(a, b, &buf);
    }

    fn location(&self) -> String {
        let mut s = String::from(self.prefix);
        for seg in &self.path {
            match *seg {
                Seg::Key(a, b) => {
                    let k = &self.text[a..b];
                    if !k.is_empty() && k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
                        s.push('.');
                        s.push_str(k);
                    } else {
                        s.push_str("[\"");
                        s.push_str(k);
                        s.push_str("\"]");
                    }
                }
                Seg::Index(i) => {
                    s.push('[');
                    s.push_str(&i.to_string());
                    s.push(']');
                }
            }
        }
        s
    }

    fn hit(&mut self, kind: Kind) {
        self.report.add(kind, 1);
        let l = self.location();
        self.report.touch(l);
    }

    fn value(&mut self, depth: usize, rule: Rule, ctx: u8) -> R<()> {
        self.ws();
        let start = self.pos;
        match self.peek()? {
            c @ (b'{' | b'[') => {
                if depth + 1 > self.max_depth {
                    return Err(JsonError::Depth);
                }
                if rule.secret_for(None) && self.skip == 0 {
                    self.skip += 1;
                    let r = if c == b'{' {
                        self.object(depth + 1, ctx)
                    } else {
                        self.array(depth + 1, Rule::None, ctx)
                    };
                    self.skip -= 1;
                    r?;
                    self.replace(start, self.pos, b"\"[REDACTED]\"");
                    self.hit(Kind::Secret);
                    Ok(())
                } else if c == b'{' {
                    self.object(depth + 1, ctx)
                } else {
                    let elem = if rule_kind(rule).is_some() {
                        rule
                    } else {
                        Rule::None
                    };
                    self.array(depth + 1, elem, ctx)
                }
            }
            b'"' => {
                let (cs, ce, esc) = self.string()?;
                self.string_value(start, cs, ce, esc, rule, depth, ctx)
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => {
                let (s, e, int) = self.number()?;
                self.number_value(s, e, int, rule);
                Ok(())
            }
            _ => Err(JsonError::Syntax),
        }
    }

    fn literal(&mut self, lit: &[u8]) -> R<()> {
        if self.src[self.pos..].starts_with(lit) {
            self.pos += lit.len();
            Ok(())
        } else {
            Err(JsonError::Syntax)
        }
    }

    fn number(&mut self) -> R<(usize, usize, bool)> {
        let s = self.pos;
        let src = self.src;
        let n = src.len();
        let mut p = s;
        if src[p] == b'-' {
            p += 1;
        }
        match src.get(p) {
            Some(b'0') => p += 1,
            Some(b'1'..=b'9') => p = digits_end(src, p),
            _ => return Err(JsonError::Syntax),
        }
        let mut int = src[s] != b'-';
        if p < n && src[p] == b'.' {
            p = nonempty_digits_end(src, p + 1)?;
            int = false;
        }
        if p < n && (src[p] | 0x20) == b'e' {
            p += 1;
            if p < n && (src[p] == b'+' || src[p] == b'-') {
                p += 1;
            }
            p = nonempty_digits_end(src, p)?;
            int = false;
        }
        self.pos = p;
        Ok((s, p, int))
    }

    /// Lexes a string at `self.pos` (which is `"`); returns the body span and whether it has
    /// escapes. Escaped strings are fully validated (including surrogates).
    fn string(&mut self) -> R<(usize, usize, bool)> {
        let src = self.src;
        let cs = self.pos + 1;
        let mut p = cs;
        let mut esc = false;
        loop {
            p += special(&src[p..]).ok_or(JsonError::Syntax)?;
            match src[p] {
                b'"' => {
                    self.pos = p + 1;
                    if esc && unescape(&self.text[cs..p]).is_none() {
                        return Err(JsonError::Syntax);
                    }
                    return Ok((cs, p, esc));
                }
                b'\\' => {
                    esc = true;
                    match src.get(p + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => p += 2,
                        Some(b'u') => {
                            if src.len() < p + 6
                                || !src[p + 2..p + 6].iter().all(u8::is_ascii_hexdigit)
                            {
                                return Err(JsonError::Syntax);
                            }
                            p += 6;
                        }
                        _ => return Err(JsonError::Syntax),
                    }
                }
                // A raw control character.
                _ => return Err(JsonError::Syntax),
            }
        }
    }

    /// Past the opening `{` or `[` at `pos`: whether the container is empty (and then past its
    /// `close` too).
    #[inline]
    fn open_is_empty(&mut self, close: u8) -> R<bool> {
        self.pos += 1;
        self.ws();
        let empty = self.peek()? == close;
        if empty {
            self.pos += 1;
        }
        Ok(empty)
    }

    /// After a member or element: `true` past a `,` (another follows), `false` past `close`.
    #[inline]
    fn more(&mut self, close: u8) -> R<bool> {
        self.ws();
        match self.peek()? {
            b',' => {
                self.pos += 1;
                Ok(true)
            }
            c if c == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(JsonError::Syntax),
        }
    }

    fn object(&mut self, depth: usize, ctx: u8) -> R<()> {
        if self.open_is_empty(b'}')? {
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek()? != b'"' {
                return Err(JsonError::Syntax);
            }
            let (ks, ke, kesc) = self.string()?;
            self.ws();
            if self.peek()? != b':' {
                return Err(JsonError::Syntax);
            }
            self.pos += 1;
            let (rule, child_ctx) = if self.skip > 0 {
                (Rule::None, ctx)
            } else {
                self.key_rule(ks, ke, kesc, ctx)
            };
            self.path.push(Seg::Key(ks, ke));
            let r = self.value(depth, rule, child_ctx);
            self.path.pop();
            if !self.eng.rules.is_empty() && self.skip == 0 {
                self.norm_path.pop();
            }
            r?;
            if !self.more(b'}')? {
                return Ok(());
            }
        }
    }

    fn key_rule(&mut self, ks: usize, ke: usize, kesc: bool, ctx: u8) -> (Rule, u8) {
        if !kesc && self.eng.rules.is_empty() {
            // Keys repeat (line items, arrays of objects, and from event to event): cache
            // classifications by key bytes, per document and per engine.
            let key = &self.src[ks..ke];
            let hash = crate::keys::key_hash(key);
            let slot = cache_slot(hash);
            let class = match self.key_cache[slot] {
                Some((a, b, class)) if &self.src[a..b] == key => class,
                _ => {
                    let class = match self.eng.key_cache.get(hash, key) {
                        Some(class) => class,
                        None => {
                            let class = self
                                .eng
                                .classify_key(&self.text[ks..ke], &mut self.scratch.words);
                            self.eng.key_cache.insert(hash, key, class);
                            class
                        }
                    };
                    self.key_cache[slot] = Some((ks, ke, class));
                    class
                }
            };
            return self
                .eng
                .apply_class(class, ctx, &self.scratch.words, &mut self.norm_path);
        }
        let text = self.text;
        let decoded: Cow<'_, str> = if kesc {
            Cow::Owned(unescape(&text[ks..ke]).unwrap_or_default())
        } else {
            Cow::Borrowed(&text[ks..ke])
        };
        self.eng
            .key_rule(&decoded, ctx, &mut self.scratch.words, &mut self.norm_path)
    }

    fn array(&mut self, depth: usize, elem: Rule, ctx: u8) -> R<()> {
        if self.open_is_empty(b']')? {
            return Ok(());
        }
        let mut idx = 0;
        loop {
            self.path.push(Seg::Index(idx));
            let r = self.value(depth, elem, ctx);
            self.path.pop();
            r?;
            idx += 1;
            if !self.more(b']')? {
                return Ok(());
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn string_value(
        &mut self,
        start: usize,
        cs: usize,
        ce: usize,
        esc: bool,
        rule: Rule,
        depth: usize,
        ctx: u8,
    ) -> R<()> {
        if self.skip > 0 || cs == ce {
            return Ok(());
        }
        let end = self.pos;
        let text = self.text;
        let decoded: Cow<'_, str> = if esc {
            Cow::Owned(unescape(&text[cs..ce]).unwrap_or_default())
        } else {
            Cow::Borrowed(&text[cs..ce])
        };
        if rule.secret_for(Some(&decoded)) {
            let repl = secret_replacement(&decoded);
            if repl != *decoded {
                self.replace_str(start, end, &repl);
                self.hit(Kind::Secret);
            }
            return Ok(());
        }
        if let Some(kind) = rule_kind(rule) {
            if is_placeholder(&decoded) {
                return Ok(());
            }
            let repl = self.eng.scanner.placeholder(kind, &decoded);
            self.replace_str(start, end, &repl);
            self.hit(kind);
            return Ok(());
        }
        if self.eng.scanner.det.embedded_json && looks_like_json(&decoded) {
            let prefix = self.location();
            let mut sub = Report::default();
            match rewrite(self.eng, &decoded, depth, ctx, &prefix, &mut sub) {
                Ok(Some(out)) => {
                    let s = String::from_utf8_lossy(&out).into_owned();
                    self.replace_str(start, end, &s);
                    self.report.merge_counts(&sub);
                    for l in sub.locations {
                        self.report.touch(l);
                    }
                    return Ok(());
                }
                Ok(None) => return Ok(()),
                Err(_) => {}
            }
        }
        // Which detectors' trigger bytes occur inside this string? Escapes may decode to any
        // byte, so an escaped string gets every detector.
        let hints = self.triggers.hints(cs, ce);
        let hints = if esc { Hints::ALL } else { hints };
        let mut sub = Report::default();
        if let Some(new) =
            self.eng
                .scanner
                .sanitize_hinted(&decoded, &mut self.scratch, &mut sub, hints)
        {
            self.replace_str(start, end, &new);
            self.report.merge_counts(&sub);
            let l = self.location();
            self.report.touch(l);
        }
        Ok(())
    }

    fn number_value(&mut self, s: usize, e: usize, int: bool, rule: Rule) {
        if self.skip > 0 {
            return;
        }
        if rule.secret_for(None) {
            self.replace(s, e, b"\"[REDACTED]\"");
            self.hit(Kind::Secret);
            return;
        }
        if let Some(kind) = rule_kind(rule) {
            let repl = self.eng.scanner.placeholder(kind, &self.text[s..e]);
            self.replace_str(s, e, &repl);
            self.hit(kind);
            return;
        }
        let digits = &self.src[s..e];
        if self.eng.scanner.det.card && int && (13..=19).contains(&digits.len()) && is_card(digits)
        {
            let mut m = String::new();
            crate::scan::card_mask(&self.text[s..e], &mut m);
            self.replace_str(s, e, &m);
            self.hit(Kind::Card);
        }
    }
}

/// The rule a path-rule action imposes.
pub(crate) fn action_rule(a: Action) -> Rule {
    match a {
        Action::Redact => Rule::Sensitive,
        Action::Keep => Rule::None,
        Action::Email => Rule::Email,
        Action::Phone => Rule::Phone,
        Action::Name => Rule::Name,
        Action::Address => Rule::Address,
        Action::Ip => Rule::Ip,
        Action::Message => Rule::Message,
    }
}

/// The end of the run of ASCII digits in `src` from `p` (`p` itself when there is none).
#[inline]
fn digits_end(src: &[u8], mut p: usize) -> usize {
    while p < src.len() && src[p].is_ascii_digit() {
        p += 1;
    }
    p
}

/// [`digits_end`] where at least one digit is required (a fraction or an exponent).
#[inline]
fn nonempty_digits_end(src: &[u8], p: usize) -> R<usize> {
    match digits_end(src, p) {
        end if end == p => Err(JsonError::Syntax),
        end => Ok(end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_handles_surrogates() {
        assert_eq!(unescape(r"a\u0041\n").as_deref(), Some("aA\n"));
        assert_eq!(unescape(r"\ud83d\ude00").as_deref(), Some("😀"));
        assert_eq!(unescape(r"\ud83d"), None);
        assert_eq!(unescape(r"\ude00"), None);
    }

    #[test]
    fn special_finds_the_first_quote_backslash_or_control_byte() {
        let naive = |b: &[u8]| b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        for len in 0..26 {
            assert_eq!(special(&vec![b'a'; len]), None);
            for pos in 0..len {
                for hit in [b'"', b'\\', 0x00, 0x09, 0x1f] {
                    for filler in [b'a', 0x21, 0x7f, 0x80, 0xa0, 0xff, 0x01] {
                        let mut b = vec![filler; len];
                        b[pos] = hit;
                        // a second hit after the first must not matter
                        if pos + 2 < len {
                            b[pos + 2] = b'"';
                        }
                        assert_eq!(special(&b), naive(&b), "{len} {pos} {hit} {filler}");
                    }
                }
            }
        }
    }

    #[test]
    fn looks_like_json_fast_path_agrees() {
        for s in [
            "{}",
            " {\"a\":1} ",
            "[1]",
            "\u{a0}[1]\u{a0}",
            "\u{b}{}",
            "x{}",
            "",
            "{",
            "a",
        ] {
            let t = s.trim();
            let slow = (t.starts_with('{') && t.ends_with('}'))
                || (t.starts_with('[') && t.ends_with(']'));
            assert_eq!(looks_like_json(s), slow, "{s:?}");
        }
    }

    #[test]
    fn escapes_round_trip() {
        let mut out = Vec::new();
        write_json_str(&mut out, "a\"b\\c\n\u{1}é");
        let s = String::from_utf8(out).unwrap();
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\"b\\c\n\u{1}é");
    }
}
