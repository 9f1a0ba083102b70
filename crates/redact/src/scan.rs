//! The text scanner: value detectors over free text.
//!
//! One Aho-Corasick pass finds literal triggers (secret prefixes, `eyJ`, `-----BEGIN `,
//! `Bearer`, `://`, sensitive key words); `memchr` finds `@`; a hand-written digit scanner finds
//! phone numbers, cards (Luhn + issuer prefix), IBANs (mod-97) and IPv4 addresses; IPv6 is
//! checked at `:`. Findings are resolved leftmost-first and applied in one copy.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input, MatchKind};
use memchr::memmem;

use crate::keys::{KeyConfig, Words};
use crate::{Detectors, Kind, Report, SecretKey};

/// How the body after a secret prefix is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// `[A-Za-z0-9]`
    Alnum,
    /// `[A-Za-z0-9_]`
    Word,
    /// `[A-Za-z0-9_-]`
    WordDash,
    /// `[A-Za-z0-9+/=]`
    Base64,
    /// `[A-Za-z0-9/_-]`
    Path,
    /// `[A-Z0-9]`
    Upper,
    /// `[0-9a-f]`
    Hex,
}

impl Body {
    fn accepts(self, b: u8) -> bool {
        match self {
            Body::Alnum => b.is_ascii_alphanumeric(),
            Body::Word => b.is_ascii_alphanumeric() || b == b'_',
            Body::WordDash => b.is_ascii_alphanumeric() || b == b'_' || b == b'-',
            Body::Base64 => b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=',
            Body::Path => b.is_ascii_alphanumeric() || b == b'/' || b == b'_' || b == b'-',
            Body::Upper => b.is_ascii_uppercase() || b.is_ascii_digit(),
            Body::Hex => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pat {
    /// A known secret prefix. The match may begin `back` bytes after the real start, whose
    /// byte must be one of `lead` (`k_live_` after `s` or `r`). `exact` means the body has
    /// exactly `min` characters; `mixed` that it must hold a digit and a letter.
    Prefix {
        body: Body,
        min: usize,
        exact: bool,
        boundary: bool,
        mixed: bool,
        back: usize,
        lead: &'static [u8],
    },
    /// `xox` + one of `bpares` + `-`: Slack tokens.
    Slack,
    Jwt,
    Pem,
    /// `Bearer`/`Basic`; `back` as for prefixes.
    Scheme {
        back: usize,
    },
    Url,
    /// A sensitive key word; `secret` also checks for Stripe client secrets and Supabase keys.
    KeyWord {
        secret: bool,
    },
}

struct PatDef(&'static str, Pat);

const fn prefix(s: &'static str, body: Body, min: usize) -> PatDef {
    PatDef(
        s,
        Pat::Prefix {
            body,
            min,
            exact: false,
            boundary: true,
            mixed: false,
            back: 0,
            lead: b"",
        },
    )
}

const fn exact(s: &'static str, body: Body, len: usize) -> PatDef {
    PatDef(
        s,
        Pat::Prefix {
            body,
            min: len,
            exact: true,
            boundary: true,
            mixed: false,
            back: 0,
            lead: b"",
        },
    )
}

const fn stripe(s: &'static str) -> PatDef {
    PatDef(
        s,
        Pat::Prefix {
            body: Body::Alnum,
            min: 8,
            exact: false,
            boundary: true,
            mixed: false,
            back: 1,
            lead: b"sr",
        },
    )
}

const fn word(s: &'static str) -> PatDef {
    PatDef(s, Pat::KeyWord { secret: false })
}

/// The trigger literals. The automaton is case-sensitive so that its packed (SIMD) prefilter
/// applies; key words are listed in their usual spellings (`token`/`Token` via the suffix
/// `oken`, and `OKEN`). Keep the list at or under 64 patterns.
const BUILTIN: &[PatDef] = &[
    stripe("k_live_"),
    stripe("k_test_"),
    stripe("k_prod_"),
    prefix("whsec_", Body::Base64, 8),
    PatDef(
        "re_",
        Pat::Prefix {
            body: Body::Word,
            min: 16,
            exact: false,
            boundary: true,
            mixed: true,
            back: 0,
            lead: b"",
        },
    ),
    prefix("sbp_", Body::Alnum, 20),
    PatDef("xox", Pat::Slack),
    prefix("xapp-", Body::WordDash, 8),
    PatDef(
        "hooks.slack.com/services/",
        Pat::Prefix {
            body: Body::Path,
            min: 8,
            exact: false,
            boundary: false,
            mixed: false,
            back: 0,
            lead: b"",
        },
    ),
    exact("AKIA", Body::Upper, 16),
    exact("ASIA", Body::Upper, 16),
    prefix("ghp_", Body::Alnum, 20),
    prefix("gho_", Body::Alnum, 20),
    prefix("ghu_", Body::Alnum, 20),
    prefix("ghs_", Body::Alnum, 20),
    prefix("ghr_", Body::Alnum, 20),
    prefix("github_pat_", Body::Word, 20),
    prefix("glpat-", Body::WordDash, 20),
    exact("AIza", Body::WordDash, 35),
    PatDef("eyJ", Pat::Jwt),
    PatDef("-----BEGIN ", Pat::Pem),
    PatDef("://", Pat::Url),
    PatDef("earer", Pat::Scheme { back: 1 }),
    PatDef("EARER", Pat::Scheme { back: 1 }),
    PatDef("basic", Pat::Scheme { back: 0 }),
    PatDef("Basic", Pat::Scheme { back: 0 }),
    PatDef("BASIC", Pat::Scheme { back: 0 }),
    PatDef("ecret", Pat::KeyWord { secret: true }),
    PatDef("ECRET", Pat::KeyWord { secret: true }),
    word("pass"),
    word("Pass"),
    word("PASS"),
    word("pwd"),
    word("Pwd"),
    word("PWD"),
    word("oken"),
    word("OKEN"),
    word("auth"),
    word("Auth"),
    word("AUTH"),
    word("redential"),
    word("REDENTIAL"),
    word("ookie"),
    word("OOKIE"),
    word("ignature"),
    word("IGNATURE"),
    word("otp"),
    word("Otp"),
    word("OTP"),
    word("pin"),
    word("Pin"),
    word("PIN"),
    word("cvc"),
    word("Cvc"),
    word("CVC"),
    word("cvv"),
    word("CVV"),
    word("ssn"),
    word("Ssn"),
    word("SSN"),
    word("key"),
    word("Key"),
    word("KEY"),
];

/// Texts longer than this are verified line-window by line-window after replacement.
const VERIFY_WINDOWED_ABOVE: usize = 4096;

/// Priority of findings: higher wins when two start at the same byte.
const PRIO_URL: u8 = 9;
const PRIO_KV: u8 = 8;
const PRIO_SECRET: u8 = 7;
const PRIO_PII: u8 = 3;

#[derive(Debug, Clone, Copy)]
struct PrefixSpec {
    body: Body,
    min: usize,
    exact: bool,
    boundary: bool,
    mixed: bool,
}

const TWILIO_SK: PrefixSpec = PrefixSpec {
    body: Body::Hex,
    min: 32,
    exact: true,
    boundary: true,
    mixed: false,
};

const WORD_DASH_8: PrefixSpec = PrefixSpec {
    body: Body::WordDash,
    min: 8,
    exact: false,
    boundary: true,
    mixed: false,
};

/// One detected value to replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) kind: Kind,
    /// Bytes at the start that are kept (`sk_live_`, `Bearer `).
    pub(crate) keep_pre: usize,
    /// Bytes at the end that are kept (a PEM END line).
    pub(crate) keep_post: usize,
    prio: u8,
}

impl Finding {
    fn new(start: usize, end: usize, kind: Kind, prio: u8) -> Self {
        Finding {
            start,
            end,
            kind,
            keep_pre: 0,
            keep_post: 0,
            prio,
        }
    }
}

/// Reusable buffers for one sanitising call.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) findings: Vec<Finding>,
    claims: Vec<(usize, usize)>,
    pub(crate) words: Words,
}

/// Which detectors can find anything in a text: each flag false means the detector's trigger
/// bytes do not occur in it, so the detector is skipped. Built per JSON string from a
/// [`TriggerIndex`] of the whole document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hints {
    /// A trigger literal of the automaton starts inside.
    pub(crate) ac: bool,
    /// `@` or `%` (emails, also `%40`).
    pub(crate) email: bool,
    /// `SK` (Twilio API key SIDs).
    pub(crate) sk: bool,
    /// `:` (IPv6).
    pub(crate) colon: bool,
}

impl Hints {
    /// Every detector runs.
    pub(crate) const ALL: Hints = Hints {
        ac: true,
        email: true,
        sk: true,
        colon: true,
    };
}

/// Sorted start offsets of one trigger in a document, with a cursor for spans visited in
/// increasing order.
#[derive(Debug, Default)]
struct Offsets {
    at: Vec<usize>,
    next: usize,
}

impl Offsets {
    /// Whether an offset lies in `a..b`; spans must come in increasing order of `a`.
    fn any_in(&mut self, a: usize, b: usize) -> bool {
        while self.next < self.at.len() && self.at[self.next] < a {
            self.next += 1;
        }
        self.next < self.at.len() && self.at[self.next] < b
    }
}

/// Where each detector's trigger bytes occur in a whole document, found in one pass each, so that
/// the many short strings of a JSON document skip the detectors that cannot match them.
#[derive(Debug, Default)]
pub(crate) struct TriggerIndex {
    ac: Offsets,
    email: Offsets,
    sk: Offsets,
    colon: Offsets,
}

impl TriggerIndex {
    /// Indexes `h` for `scanner`.
    pub(crate) fn new(scanner: &Scanner, h: &[u8]) -> Self {
        let mut ix = TriggerIndex::default();
        ix.ac.at.reserve(16);
        scanner.trigger_starts(h, &mut ix.ac.at);
        if scanner.det.email {
            ix.email.at.extend(memchr::memchr2_iter(b'@', b'%', h));
        }
        if scanner.det.secrets {
            ix.sk.at.extend(scanner.twilio_sk.find_iter(h));
        }
        if scanner.det.ip {
            // One `:` per key in JSON: size the list once instead of growing it.
            ix.colon.at.reserve(h.len() / 24);
            ix.colon.at.extend(memchr::memchr_iter(b':', h));
        }
        ix
    }

    /// The hints for the span `a..b` of the indexed document (spans in increasing order).
    pub(crate) fn hints(&mut self, a: usize, b: usize) -> Hints {
        Hints {
            ac: self.ac.any_in(a, b),
            email: self.email.any_in(a, b),
            sk: self.sk.any_in(a, b),
            colon: self.colon.any_in(a, b),
        }
    }
}

/// The compiled detectors.
pub(crate) struct Scanner {
    ac: AhoCorasick,
    pats: Vec<Pat>,
    pub(crate) det: Detectors,
    pub(crate) keys: KeyConfig,
    pub(crate) pseudo: Option<SecretKey>,
    pct40: memmem::Finder<'static>,
    twilio_sk: memmem::Finder<'static>,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("det", &self.det)
            .finish_non_exhaustive()
    }
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// True for the placeholders this crate writes (`[REDACTED]`, `[REDACTED:email:…]`,
/// `[TRUNCATED]`).
pub(crate) fn is_placeholder(s: &str) -> bool {
    let s = s.trim();
    if s == "[TRUNCATED]" {
        return true;
    }
    let Some(rest) = s.strip_prefix("[REDACTED") else {
        return false;
    };
    let Some(inner) = rest.strip_suffix(']') else {
        return false;
    };
    inner.is_empty()
        || (inner.starts_with(':')
            && inner
                .bytes()
                .all(|b| b == b':' || b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// Secret prefixes kept when a value is replaced whole.
const KEEP_PREFIXES: &[&str] = &[
    "sk_live_",
    "sk_test_",
    "sk_prod_",
    "rk_live_",
    "rk_test_",
    "rk_prod_",
    "whsec_",
    "sb_secret_",
    "sbp_",
    "re_",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxr-",
    "xoxs-",
    "xapp-",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "github_pat_",
    "glpat-",
];

const SCHEMES: &[&str] = &["bearer", "basic", "token", "digest", "negotiate", "apikey"];

/// The length of the auth scheme (with its spaces) or secret prefix at the start of `v`.
pub(crate) fn kept_prefix_len(v: &str) -> usize {
    for p in KEEP_PREFIXES {
        if v.starts_with(p) {
            return p.len();
        }
    }
    let b = v.as_bytes();
    let word_end = b
        .iter()
        .position(|c| !c.is_ascii_alphabetic())
        .unwrap_or(b.len());
    if word_end < b.len() && b[word_end] == b' ' {
        let w = &v[..word_end];
        if SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(w)) {
            let mut e = word_end;
            while e < b.len() && b[e] == b' ' {
                e += 1;
            }
            if e < b.len() {
                return e;
            }
        }
    }
    0
}

/// `[REDACTED]` keeping a known prefix or auth scheme: what a sensitive key's value becomes.
pub(crate) fn secret_replacement(v: &str) -> String {
    let keep = kept_prefix_len(v);
    let mut s = String::with_capacity(keep + 10);
    s.push_str(&v[..keep]);
    s.push_str("[REDACTED]");
    s
}

fn luhn(d: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, c) in d.iter().rev().enumerate() {
        let mut v = u32::from(c - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

fn prefix_num(d: &[u8], k: usize) -> u32 {
    d.iter()
        .take(k)
        .fold(0u32, |a, c| a * 10 + u32::from(c - b'0'))
}

/// True when `d` (ASCII digits) starts with a known issuer prefix of a valid length.
pub(crate) fn issuer_ok(d: &[u8]) -> bool {
    let l = d.len();
    if !(12..=19).contains(&l) {
        return false;
    }
    let p2 = prefix_num(d, 2);
    let p3 = prefix_num(d, 3);
    let p4 = prefix_num(d, 4);
    match d[0] {
        b'4' => l == 13 || l == 16 || l == 19,
        b'5' => ((51..=55).contains(&p2) && l == 16) || (p2 == 50 || (56..=58).contains(&p2)),
        b'2' => {
            ((2221..=2720).contains(&p4) && l == 16) || ((2200..=2204).contains(&p4) && l >= 16)
        }
        b'3' => {
            ((p2 == 34 || p2 == 37) && l == 15)
                || ((3528..=3589).contains(&p4) && l >= 16)
                || (((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39) && l >= 14)
        }
        b'6' => {
            ((p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || p2 == 62) && l >= 16)
                || p2 == 63
                || p2 == 67
        }
        _ => false,
    }
}

/// True when `digits` is a card number: Luhn-valid and with a known issuer prefix.
pub(crate) fn is_card(digits: &[u8]) -> bool {
    digits.len() >= 13 && issuer_ok(digits) && luhn(digits)
}

fn iban_ok(c: &[u8]) -> bool {
    if c.len() < 15 || !c[2].is_ascii_digit() || !c[3].is_ascii_digit() {
        return false;
    }
    let mut rem = 0u32;
    for &ch in c[4..].iter().chain(c[..4].iter()) {
        rem = if ch.is_ascii_digit() {
            (rem * 10 + u32::from(ch - b'0')) % 97
        } else {
            (rem * 100 + u32::from(ch - b'A') + 10) % 97
        };
    }
    rem == 1
}

/// The card mask: every digit but the last four becomes `*`, separators stay.
pub(crate) fn card_mask(s: &str, out: &mut String) {
    let total = s.bytes().filter(u8::is_ascii_digit).count();
    let mut seen = 0;
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            seen += 1;
            out.push(if seen + 4 <= total { '*' } else { ch });
        } else {
            out.push(ch);
        }
    }
}

const FILE_EXT: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "ico", "bmp", "tif", "tiff", "pdf", "js",
    "mjs", "css", "map", "json", "html", "htm", "txt", "woff", "woff2", "ttf", "mp4", "mp3",
];

impl Scanner {
    pub(crate) fn new(
        det: Detectors,
        keys: KeyConfig,
        extra_prefixes: &[String],
        extra_words: &[String],
        pseudo: Option<SecretKey>,
    ) -> Self {
        let mut pats: Vec<Pat> = Vec::new();
        let mut strs: Vec<String> = Vec::new();
        for d in BUILTIN {
            strs.push(d.0.to_owned());
            pats.push(d.1);
        }
        for p in extra_prefixes {
            strs.push(p.clone());
            pats.push(Pat::Prefix {
                body: Body::WordDash,
                min: 6,
                exact: false,
                boundary: true,
                mixed: false,
                back: 0,
                lead: b"",
            });
        }
        for w in extra_words {
            let mut words = Words::default();
            words.split(w);
            for i in 0..words.len() {
                let lower = String::from_utf8_lossy(words.get(i)).into_owned();
                let mut cap = lower.clone();
                if let Some(f) = cap.get_mut(..1) {
                    f.make_ascii_uppercase();
                }
                for v in [lower.to_ascii_uppercase(), cap, lower] {
                    if !strs.contains(&v) {
                        strs.push(v);
                        pats.push(Pat::KeyWord { secret: false });
                    }
                }
            }
        }
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostFirst)
            .build(&strs)
            .unwrap_or_else(|_| {
                // Building only fails on absurd pattern sets; fall back to the built-ins.
                AhoCorasick::new(BUILTIN.iter().map(|d| d.0)).unwrap_or_else(|_| {
                    AhoCorasick::new(["://"]).expect("a single literal always builds")
                })
            });
        Scanner {
            ac,
            pats,
            det,
            keys,
            pseudo,
            pct40: memmem::Finder::new(b"%40").into_owned(),
            twilio_sk: memmem::Finder::new(b"SK").into_owned(),
        }
    }

    /// Sanitises `text`; `None` when nothing was found. Runs to a fixpoint so that the result
    /// sanitises to itself.
    pub(crate) fn sanitize(
        &self,
        text: &str,
        s: &mut Scratch,
        report: &mut Report,
    ) -> Option<String> {
        self.sanitize_hinted(text, s, report, Hints::ALL)
    }

    /// As [`Scanner::sanitize`], skipping the detectors `hints` rules out.
    pub(crate) fn sanitize_hinted(
        &self,
        text: &str,
        s: &mut Scratch,
        report: &mut Report,
        hints: Hints,
    ) -> Option<String> {
        self.find_all_hinted(text, s, hints);
        if s.findings.is_empty() {
            return None;
        }
        let mut windows = Vec::new();
        let mut out = self.apply_tracking(text, &s.findings, report, Some(&mut windows));
        if out.len() > VERIFY_WINDOWED_ABOVE && self.verify_windows(&out, &windows, s) {
            return Some(out);
        }
        for _ in 0..4 {
            self.find_all(&out, s);
            if s.findings.is_empty() {
                return Some(out);
            }
            out = self.apply(&out, &s.findings, report);
        }
        // Did not settle: fail closed.
        report.add(Kind::Secret, 1);
        Some(String::from("[REDACTED]"))
    }

    /// Re-scans only the lines that were changed (detectors other than PEM never cross a line
    /// break, and a PEM replacement lies inside its window). True when they are clean.
    fn verify_windows(&self, out: &str, windows: &[(usize, usize)], s: &mut Scratch) -> bool {
        let h = out.as_bytes();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for &(a, b) in windows {
            let a = memchr::memrchr(b'\n', &h[..a]).map_or(0, |p| p + 1);
            let b = memchr::memchr(b'\n', &h[b..]).map_or(h.len(), |p| b + p);
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        merged.iter().all(|&(a, b)| {
            self.find_all(&out[a..b], s);
            s.findings.is_empty()
        })
    }

    fn apply(&self, text: &str, findings: &[Finding], report: &mut Report) -> String {
        self.apply_tracking(text, findings, report, None)
    }

    /// Replaces the findings in `text`, recording the replaced spans (output offsets).
    fn apply_tracking(
        &self,
        text: &str,
        findings: &[Finding],
        report: &mut Report,
        mut spans: Option<&mut Vec<(usize, usize)>>,
    ) -> String {
        let mut out = String::with_capacity(text.len() + 16 * findings.len());
        let mut last = 0;
        for f in findings {
            out.push_str(&text[last..f.start]);
            let a = out.len();
            self.render(&text[f.start..f.end], f, &mut out);
            if let Some(sp) = spans.as_deref_mut() {
                sp.push((a, out.len()));
            }
            report.add(f.kind, 1);
            last = f.end;
        }
        out.push_str(&text[last..]);
        out
    }

    fn render(&self, m: &str, f: &Finding, out: &mut String) {
        out.push_str(&m[..f.keep_pre]);
        let body = &m[f.keep_pre..m.len() - f.keep_post];
        match f.kind {
            Kind::Card => card_mask(body, out),
            k => out.push_str(&self.placeholder(k, body)),
        }
        out.push_str(&m[m.len() - f.keep_post..]);
    }

    /// The placeholder for a personal value of `kind` (a keyed pseudonym when configured).
    pub(crate) fn placeholder(&self, kind: Kind, value: &str) -> String {
        match (&self.pseudo, kind) {
            (Some(key), Kind::Email) => key.pseudonym(kind, value),
            (Some(key), Kind::Phone) => {
                let v = value
                    .strip_prefix("%2B")
                    .or_else(|| value.strip_prefix("%2b"))
                    .map(|r| format!("+{r}"));
                key.pseudonym(kind, v.as_deref().unwrap_or(value))
            }
            _ => kind.placeholder().to_owned(),
        }
    }

    /// Start offsets of trigger literals in `h` (a superset test for [`Hints::ac`]: a string
    /// holding none of them needs no automaton pass).
    pub(crate) fn trigger_starts(&self, h: &[u8], out: &mut Vec<usize>) {
        out.extend(self.ac.find_iter(h).map(|m| m.start()));
    }

    /// Collects and resolves all findings in `text` into `s.findings`.
    pub(crate) fn find_all(&self, text: &str, s: &mut Scratch) {
        self.find_all_hinted(text, s, Hints::ALL);
    }

    /// As [`Scanner::find_all`], skipping the detectors `hints` rules out (the caller knows
    /// their trigger bytes do not occur in `text`).
    pub(crate) fn find_all_hinted(&self, text: &str, s: &mut Scratch, hints: Hints) {
        s.findings.clear();
        s.claims.clear();
        let h = text.as_bytes();
        if hints.ac {
            self.scan_ac(text, s);
        }
        if self.det.secrets && hints.sk && h.len() >= 34 {
            // Twilio API key SIDs: `SK` + 32 hex. Two bytes are too short a literal for the
            // automaton's SIMD prefilter, so they get their own memmem pass.
            let mut from = 0;
            for at in self.twilio_sk.find_iter(h) {
                if at >= from {
                    if let Some(e) = self.prefix_secret(h, at, at + 2, TWILIO_SK, s) {
                        from = e;
                    }
                }
            }
        }
        if self.det.email && hints.email {
            for at in memchr::memchr_iter(b'@', h) {
                if let Some(f) = self.email(h, at, 1) {
                    s.findings.push(f);
                }
            }
            if h.len() >= 3 {
                for at in self.pct40.find_iter(h) {
                    if let Some(f) = self.email(h, at, 3) {
                        s.findings.push(f);
                    }
                }
            }
        }
        if self.det.phone || self.det.card || self.det.iban || self.det.ip {
            self.scan_digits(h, &mut s.findings);
        }
        if self.det.ip && hints.colon {
            self.scan_ipv6(text, &mut s.findings);
        }
        resolve(&mut s.findings, &s.claims);
    }

    fn scan_ac(&self, text: &str, s: &mut Scratch) {
        let h = text.as_bytes();
        let mut pos = 0;
        while pos < h.len() {
            let Some(m) = self.ac.find(Input::new(h).range(pos..)) else {
                break;
            };
            let (ms, me) = (m.start(), m.end());
            let pat = self.pats[m.pattern().as_usize()];
            let next = match pat {
                Pat::Prefix {
                    body,
                    min,
                    exact,
                    boundary,
                    mixed,
                    back,
                    lead,
                } if self.det.secrets => {
                    if back > 0 && (ms < back || !lead.contains(&h[ms - back])) {
                        None
                    } else {
                        let spec = PrefixSpec {
                            body,
                            min,
                            exact,
                            boundary,
                            mixed,
                        };
                        self.prefix_secret(h, ms - back, me, spec, s)
                    }
                }
                Pat::Slack if self.det.secrets => {
                    if me + 1 < h.len() && b"bpares".contains(&h[me]) && h[me + 1] == b'-' {
                        self.prefix_secret(h, ms, me + 2, WORD_DASH_8, s)
                    } else {
                        None
                    }
                }
                Pat::Jwt if self.det.jwt => self.jwt(h, ms, s),
                Pat::Pem if self.det.pem => self.pem(text, ms, me, s),
                Pat::Scheme { back } => {
                    if self.det.auth_schemes
                        && ms >= back
                        && (back == 0 || (h[ms - 1] | 0x20) == b'b')
                    {
                        self.scheme(h, ms - back, me, s)
                    } else {
                        None
                    }
                }
                Pat::Url if self.det.url_userinfo => self.url(text, me, s),
                Pat::KeyWord { secret } => {
                    let mut r = None;
                    if secret
                        && self.det.secrets
                        && ms >= 2
                        && h[ms - 2] == b'_'
                        && h[ms - 1] == b's'
                        && me < h.len()
                        && h[me] == b'_'
                    {
                        r = self.client_secret(h, ms - 2, me + 1, s);
                        if r.is_none() && ms >= 4 && &h[ms - 4..ms - 2] == b"sb" {
                            r = self.prefix_secret(h, ms - 4, me + 1, WORD_DASH_8, s);
                        }
                    }
                    if r.is_none() && self.det.key_value {
                        r = self.key_value(text, ms, me, s);
                    }
                    r
                }
                _ => None,
            };
            pos = next.unwrap_or(ms + 1).max(ms + 1);
        }
    }

    fn prefix_secret(
        &self,
        h: &[u8],
        ms: usize,
        me: usize,
        spec: PrefixSpec,
        s: &mut Scratch,
    ) -> Option<usize> {
        let PrefixSpec {
            body,
            min,
            exact,
            boundary,
            mixed,
        } = spec;
        if boundary && ms > 0 && is_alnum(h[ms - 1]) {
            return None;
        }
        let mut e = me;
        while e < h.len() && body.accepts(h[e]) && (!exact || e - me < min) {
            e += 1;
        }
        let len = e - me;
        if len < min {
            return None;
        }
        if exact && e < h.len() && is_alnum(h[e]) {
            return None;
        }
        if mixed {
            let b = &h[me..e];
            if !b.iter().any(u8::is_ascii_digit) || !b.iter().any(u8::is_ascii_alphabetic) {
                return None;
            }
        }
        let mut f = Finding::new(ms, e, Kind::Secret, PRIO_SECRET);
        f.keep_pre = me - ms;
        s.findings.push(f);
        Some(e)
    }

    fn client_secret(&self, h: &[u8], ms: usize, me: usize, s: &mut Scratch) -> Option<usize> {
        if &h[ms..me] != b"_secret_" {
            return None;
        }
        // Walk back over the object id: `pi_3Nx…`.
        let mut a = ms;
        while a > 0 && is_alnum(h[a - 1]) {
            a -= 1;
        }
        if a == ms || a < 2 || h[a - 1] != b'_' {
            return None;
        }
        let mut p = a - 1;
        while p > 0 && h[p - 1].is_ascii_lowercase() {
            p -= 1;
        }
        let word = &h[p..a - 1];
        if !matches!(word, b"pi" | b"seti" | b"src" | b"pm") {
            return None;
        }
        if p > 0 && is_word(h[p - 1]) {
            return None;
        }
        let mut e = me;
        while e < h.len() && is_alnum(h[e]) {
            e += 1;
        }
        if e - me < 8 {
            return None;
        }
        let mut f = Finding::new(p, e, Kind::Secret, PRIO_SECRET);
        f.keep_pre = me - p;
        s.findings.push(f);
        Some(e)
    }

    fn jwt(&self, h: &[u8], ms: usize, s: &mut Scratch) -> Option<usize> {
        if &h[ms..ms + 3] != b"eyJ" {
            return None;
        }
        let tok = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        if ms > 0 && tok(h[ms - 1]) {
            return None;
        }
        let seg = |mut p: usize| {
            let st = p;
            while p < h.len() && tok(h[p]) {
                p += 1;
            }
            (p, p - st)
        };
        let (e1, l1) = seg(ms);
        if l1 < 10 || e1 >= h.len() || h[e1] != b'.' {
            return None;
        }
        let (e2, l2) = seg(e1 + 1);
        if l2 < 10 {
            return None;
        }
        let mut end = e2;
        if e2 < h.len() && h[e2] == b'.' {
            end = seg(e2 + 1).0;
        } else if l2 < 20 {
            return None;
        }
        s.findings
            .push(Finding::new(ms, end, Kind::Jwt, PRIO_SECRET));
        Some(end)
    }

    fn pem(&self, text: &str, ms: usize, me: usize, s: &mut Scratch) -> Option<usize> {
        let h = text.as_bytes();
        if &h[ms..me] != b"-----BEGIN " {
            return None;
        }
        let limit = (me + 64).min(h.len());
        let close = memmem::find(&h[me..limit], b"-----")? + me;
        let label = &h[me..close];
        memmem::find(label, b"PRIVATE KEY")?;
        let header_end = close + 5;
        let (body_end, end) = match memmem::find(&h[header_end..], b"-----END ") {
            Some(rel) => {
                let end_line = header_end + rel;
                let lim = (end_line + 9 + 64).min(h.len());
                match memmem::find(&h[end_line + 9..lim], b"-----") {
                    Some(r) => (end_line, end_line + 9 + r + 5),
                    None => (end_line, h.len()),
                }
            }
            None => (h.len(), h.len()),
        };
        if is_placeholder(&text[header_end..body_end]) {
            return Some(end);
        }
        let mut f = Finding::new(ms, end, Kind::Secret, PRIO_SECRET);
        f.keep_pre = header_end - ms;
        f.keep_post = end - body_end;
        s.findings.push(f);
        Some(end)
    }

    fn scheme(&self, h: &[u8], ms: usize, me: usize, s: &mut Scratch) -> Option<usize> {
        if ms > 0 && is_alnum(h[ms - 1]) {
            return None;
        }
        let mut p = me;
        while p < h.len() && h[p] == b' ' {
            p += 1;
        }
        if p == me {
            return None;
        }
        let basic = (h[ms] | 0x20) == b'b' && (h[ms + 1] | 0x20) == b'a';
        let ok = |b: u8| {
            b.is_ascii_alphanumeric()
                || b == b'+'
                || b == b'/'
                || b == b'='
                || (!basic && matches!(b, b'.' | b'_' | b'~' | b'-'))
        };
        let mut e = p;
        while e < h.len() && ok(h[e]) {
            e += 1;
        }
        let tok = &h[p..e];
        if tok.len() < 8 || (tok.len() < 24 && !tok.iter().any(u8::is_ascii_digit)) {
            return None;
        }
        if e < h.len() && is_alnum(h[e]) {
            return None;
        }
        let mut f = Finding::new(ms, e, Kind::Secret, PRIO_SECRET);
        f.keep_pre = p - ms;
        s.findings.push(f);
        Some(e)
    }

    fn url(&self, text: &str, me: usize, s: &mut Scratch) -> Option<usize> {
        let h = text.as_bytes();
        let mut e = me;
        while e < h.len()
            && !matches!(
                h[e],
                b'/' | b'?'
                    | b'#'
                    | b'"'
                    | b'\''
                    | b'<'
                    | b'>'
                    | b'\\'
                    | b'`'
                    | b' '
                    | b'\t'
                    | b'\n'
                    | b'\r'
            )
        {
            e += 1;
        }
        let auth = &h[me..e];
        let at = memchr::memrchr(b'@', auth)? + me;
        let colon = colon_outside_brackets(&text[me..at]).map(|c| me + c);
        let user_end = colon.unwrap_or(at);
        let user = &text[me..user_end];
        if !user.is_empty()
            && !is_placeholder(user)
            && (user.contains('@') || user.contains("%40"))
            && self.det.email
        {
            s.findings
                .push(Finding::new(me, user_end, Kind::Email, PRIO_URL));
        }
        if let Some(c) = colon {
            let pw = &text[c + 1..at];
            if !pw.is_empty() && !is_placeholder(pw) {
                s.findings
                    .push(Finding::new(c + 1, at, Kind::Secret, PRIO_URL));
            }
        }
        s.claims.push((me, e));
        Some(me)
    }

    fn key_value(&self, text: &str, ms: usize, me: usize, s: &mut Scratch) -> Option<usize> {
        let h = text.as_bytes();
        let n = h.len();
        let key_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
        let mut ks = ms;
        while ks > 0 && key_char(h[ks - 1]) {
            ks -= 1;
        }
        let mut ke = me;
        while ke < n && key_char(h[ke]) {
            ke += 1;
        }
        s.words.split(&text[ks..ke]);
        if !self.keys.is_sensitive(&s.words) {
            return None;
        }
        let mut p = ke;
        if p < n && (h[p] == b'"' || h[p] == b'\'') {
            p += 1;
        } else if p + 1 < n && h[p] == b'\\' && h[p + 1] == b'"' {
            p += 2;
        }
        while p < n && (h[p] == b' ' || h[p] == b'\t') {
            p += 1;
        }
        if p < n && (h[p] == b'=' || h[p] == b':') {
            p += 1;
        } else {
            return None;
        }
        while p < n && (h[p] == b' ' || h[p] == b'\t') {
            p += 1;
        }
        if p >= n {
            return None;
        }
        let (vs, mut ve, quoted) = if h[p] == b'"' || h[p] == b'\'' {
            let q = h[p];
            let vs = p + 1;
            let mut e = vs;
            while e < n && h[e] != q && h[e] != b'\n' {
                if h[e] == b'\\' && e + 1 < n && h[e + 1].is_ascii() && h[e + 1] != b'\n' {
                    e += 1;
                }
                e += 1;
            }
            (vs, e, true)
        } else if h[p] == b'\\' && p + 1 < n && h[p + 1] == b'"' {
            let vs = p + 2;
            let line_end = memchr::memchr(b'\n', &h[vs..]).map_or(n, |x| vs + x);
            let e = memmem::find(&h[vs..line_end], b"\\\"").map_or(line_end, |x| vs + x);
            (vs, e, true)
        } else if h[p] == b'[' {
            // A placeholder (or a bracketed value): up to the closing bracket.
            let e = memchr::memchr(b']', &h[p..]).map_or(n, |x| p + x + 1);
            if is_placeholder(&text[p..e]) {
                return Some(e);
            }
            let mut e = p;
            while e < n && !value_end(h[e]) {
                e += 1;
            }
            (p, e, false)
        } else {
            let mut e = p;
            while e < n && !value_end(h[e]) {
                e += 1;
            }
            (p, e, false)
        };
        if vs >= ve {
            return None;
        }
        let mut keep = 0;
        let v = &text[vs..ve];
        if matches!(v, "null" | "true" | "false" | "None" | "nil") || is_placeholder(v) {
            return Some(ve);
        }
        // `handler_secret_env: STRIPE_WEBHOOK_SECRET` names a variable, it is not the secret; the
        // other detectors still see the value (an auth scheme word never counts as a name).
        if crate::keys::names_env_var(&s.words)
            && crate::keys::is_env_name(v)
            && !SCHEMES.iter().any(|sc| sc.eq_ignore_ascii_case(v))
        {
            return None;
        }
        if !quoted && ve < n && h[ve] == b' ' && SCHEMES.iter().any(|sc| sc.eq_ignore_ascii_case(v))
        {
            let mut q = ve;
            while q < n && h[q] == b' ' {
                q += 1;
            }
            if q < n && !value_end(h[q]) {
                keep = q - vs;
                let mut e = q;
                while e < n && !value_end(h[e]) {
                    e += 1;
                }
                ve = e;
            }
        } else {
            keep = kept_prefix_len(v);
        }
        let rest = &text[vs + keep..ve];
        if rest.is_empty() || is_placeholder(rest) || rest.starts_with("[REDACTED") {
            return Some(ve);
        }
        let mut f = Finding::new(vs, ve, Kind::Secret, PRIO_KV);
        f.keep_pre = keep;
        s.findings.push(f);
        Some(ve)
    }

    fn email(&self, h: &[u8], at: usize, at_len: usize) -> Option<Finding> {
        let local_char =
            |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-');
        let mut l = at;
        while l > 0 && local_char(h[l - 1]) && at - l < 64 {
            l -= 1;
        }
        while l < at && matches!(h[l], b'.' | b'+' | b'-') {
            l += 1;
        }
        if l == at {
            return None;
        }
        let n = h.len();
        let mut p = at + at_len;
        let mut labels = 0;
        let mut last = (p, p);
        loop {
            let st = p;
            while p < n && (h[p].is_ascii_alphanumeric() || h[p] == b'-') {
                p += 1;
            }
            if p == st {
                if labels > 0 {
                    // a trailing '.' belongs to the sentence
                    p -= 1;
                }
                break;
            }
            labels += 1;
            last = (st, p);
            if p + 1 < n && h[p] == b'.' && h[p + 1].is_ascii_alphanumeric() {
                p += 1;
                continue;
            }
            break;
        }
        if labels < 2 {
            return None;
        }
        let tld = &h[last.0..last.1];
        if tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        if FILE_EXT
            .iter()
            .any(|e| e.as_bytes().eq_ignore_ascii_case(tld))
        {
            return None;
        }
        // `git@github.com:org/repo.git` is an scp-style address, not an email.
        if p + 1 < n
            && h[p] == b':'
            && (h[p + 1].is_ascii_alphanumeric() || matches!(h[p + 1], b'/' | b'~' | b'_' | b'.'))
        {
            return None;
        }
        Some(Finding::new(l, last.1, Kind::Email, PRIO_PII))
    }

    fn scan_digits(&self, h: &[u8], out: &mut Vec<Finding>) {
        let n = h.len();
        let mut i = 0;
        while i < n {
            if !h[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < n && h[j].is_ascii_digit() {
                j += 1;
            }
            i = self.digit_run(h, i, j, out).max(j);
        }
    }

    fn digit_run(&self, h: &[u8], i: usize, j: usize, out: &mut Vec<Finding>) -> usize {
        let n = h.len();
        if self.det.phone {
            let plus = if i >= 1 && h[i - 1] == b'+' {
                Some(i - 1)
            } else if i >= 3 && h[i - 3] == b'%' && h[i - 2] == b'2' && (h[i - 1] | 0x20) == b'b' {
                Some(i - 3)
            } else {
                None
            };
            if let Some(p) = plus {
                if p == 0 || !h[p - 1].is_ascii_digit() {
                    if let Some(end) = phone_end(h, i) {
                        out.push(Finding::new(p, end, Kind::Phone, PRIO_PII));
                        return end;
                    }
                }
            }
        }
        if self.det.iban
            && i >= 2
            && j - i >= 2
            && h[i - 2].is_ascii_uppercase()
            && h[i - 1].is_ascii_uppercase()
            && (i == 2 || !is_alnum(h[i - 3]))
        {
            if let Some(end) = iban_end(h, i - 2) {
                out.push(Finding::new(i - 2, end, Kind::Iban, PRIO_PII));
                return end;
            }
        }
        if i > 0 && (is_word(h[i - 1]) || h[i - 1] == b'.') {
            return j;
        }
        if self.det.ip && j < n && h[j] == b'.' && j - i <= 3 {
            if let Some(end) = ipv4_end(h, i) {
                out.push(Finding::new(i, end, Kind::Ip, PRIO_PII));
                return end;
            }
            return j;
        }
        if self.det.card {
            if let Some((s, e)) = card_span(h, i, j) {
                out.push(Finding::new(s, e, Kind::Card, PRIO_PII));
                return e;
            }
        }
        j
    }

    fn scan_ipv6(&self, text: &str, out: &mut Vec<Finding>) {
        let h = text.as_bytes();
        let n = h.len();
        let tokc = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
        let mut skip = 0;
        for c in memchr::memchr_iter(b':', h) {
            if c < skip {
                continue;
            }
            let mut s = c;
            while s > 0 && tokc(h[s - 1]) {
                s -= 1;
            }
            let mut e = c + 1;
            while e < n && tokc(h[e]) {
                e += 1;
            }
            skip = e;
            while e > s && h[e - 1] == b'.' {
                e -= 1;
            }
            if (s > 0 && is_word(h[s - 1])) || (e < n && is_word(h[e])) {
                continue;
            }
            let tok = &text[s..e];
            let colons = tok.bytes().filter(|b| *b == b':').count();
            let hexd = tok.bytes().filter(u8::is_ascii_hexdigit).count();
            if colons < 2 || hexd < 4 {
                continue;
            }
            if let Ok(ip) = tok.parse::<std::net::Ipv6Addr>() {
                if !ip.is_loopback() && !ip.is_unspecified() {
                    out.push(Finding::new(s, e, Kind::Ip, PRIO_PII));
                }
            }
        }
    }
}

/// The first `:` not inside a placeholder's brackets (`[REDACTED:email]:pw`).
pub(crate) fn colon_outside_brackets(s: &str) -> Option<usize> {
    let mut depth = 0i32;
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'[' => depth += 1,
            b']' => depth -= 1,
            b':' if depth <= 0 => return Some(i),
            _ => {}
        }
    }
    None
}

fn value_end(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t'
            | b'\n'
            | b'\r'
            | b'&'
            | b','
            | b';'
            | b'"'
            | b'\''
            | b'<'
            | b'>'
            | b')'
            | b'}'
            | b']'
            | b'\\'
    )
}

fn resolve(f: &mut Vec<Finding>, claims: &[(usize, usize)]) {
    if !claims.is_empty() {
        f.retain(|x| {
            x.prio >= PRIO_URL
                || !matches!(x.kind, Kind::Email | Kind::Ip)
                || !claims.iter().any(|c| x.start < c.1 && c.0 < x.end)
        });
    }
    if f.len() > 1 {
        f.sort_unstable_by(|a, b| {
            a.start
                .cmp(&b.start)
                .then(b.prio.cmp(&a.prio))
                .then(b.end.cmp(&a.end))
        });
        let mut last_end = 0;
        f.retain(|x| {
            if x.start >= last_end {
                last_end = x.end;
                true
            } else {
                false
            }
        });
    }
}

fn phone_end(h: &[u8], i: usize) -> Option<usize> {
    let n = h.len();
    let mut p = i;
    let mut digits = 0;
    // Group ends where the number could stop (8 to 15 digits so far).
    let mut ends = [0usize; 16];
    let mut ne = 0;
    loop {
        let gs = p;
        while p < n && h[p].is_ascii_digit() {
            p += 1;
        }
        digits += p - gs;
        if digits > 15 {
            break;
        }
        if digits >= 8 && ne < ends.len() {
            ends[ne] = p;
            ne += 1;
        }
        let ss = p;
        while p < n && p - ss < 3 && matches!(h[p], b' ' | b'-' | b'.' | b'(' | b')') {
            p += 1;
        }
        if p == ss || p >= n || !h[p].is_ascii_digit() {
            break;
        }
    }
    // The longest candidate that ends on a boundary (`+44 7700 900123 8f14…` stops before `8`).
    ends[..ne].iter().rev().copied().find(|&end| {
        !(end < n
            && (is_word(h[end]) || (h[end] == b'.' && end + 1 < n && h[end + 1].is_ascii_digit())))
    })
}

fn iban_end(h: &[u8], s: usize) -> Option<usize> {
    let n = h.len();
    let mut c = [0u8; 34];
    let mut len = 0;
    let mut p = s;
    let mut since = 0;
    let mut ends: [(usize, usize); 10] = [(0, 0); 10];
    let mut ne = 0;
    while p < n && len < 34 {
        let b = h[p];
        if b.is_ascii_uppercase() || b.is_ascii_digit() {
            c[len] = b;
            len += 1;
            p += 1;
            since += 1;
        } else if b == b' '
            && since == 4
            && p + 1 < n
            && (h[p + 1].is_ascii_uppercase() || h[p + 1].is_ascii_digit())
            && ne < 9
        {
            ends[ne] = (len, p);
            ne += 1;
            p += 1;
            since = 0;
        } else {
            break;
        }
    }
    ends[ne] = (len, p);
    ne += 1;
    for k in (0..ne).rev() {
        let (l, e) = ends[k];
        if l < 15 {
            break;
        }
        if e < n && is_word(h[e]) {
            continue;
        }
        if iban_ok(&c[..l]) {
            return Some(e);
        }
    }
    None
}

fn ipv4_end(h: &[u8], i: usize) -> Option<usize> {
    let n = h.len();
    let mut p = i;
    let mut oct = [0u32; 4];
    for (k, o) in oct.iter_mut().enumerate() {
        let s = p;
        let mut v = 0u32;
        while p < n && h[p].is_ascii_digit() && p - s < 3 {
            v = v * 10 + u32::from(h[p] - b'0');
            p += 1;
        }
        if p == s || v > 255 || (p < n && h[p].is_ascii_digit()) {
            return None;
        }
        *o = v;
        if k < 3 {
            if p < n && h[p] == b'.' {
                p += 1;
            } else {
                return None;
            }
        }
    }
    if p < n && (is_word(h[p]) || (h[p] == b'.' && p + 1 < n && h[p + 1].is_ascii_digit())) {
        return None;
    }
    if oct[0] == 127 || oct == [0, 0, 0, 0] {
        return None;
    }
    Some(p)
}

fn card_span(h: &[u8], i: usize, j: usize) -> Option<(usize, usize)> {
    let n = h.len();
    let first = j - i;
    if first > 19 {
        return None;
    }
    let sep = if j < n { h[j] } else { 0 };
    let grouped = (sep == b' ' || sep == b'-') && j + 1 < n && h[j + 1].is_ascii_digit();
    if first < 13 && !grouped {
        return None;
    }
    let mut groups = [(0usize, 0usize); 8];
    groups[0] = (i, j);
    let mut g = 1;
    let mut p = j;
    if grouped {
        while g < 8 && p + 1 < n && h[p] == sep && h[p + 1].is_ascii_digit() {
            let s = p + 1;
            let mut e = s;
            while e < n && h[e].is_ascii_digit() {
                e += 1;
            }
            groups[g] = (s, e);
            g += 1;
            p = e;
        }
    }
    let end_ok = |b: usize| {
        b >= n || !(is_word(h[b]) || (h[b] == b'.' && b + 1 < n && h[b + 1].is_ascii_digit()))
    };
    let mut buf = [0u8; 19];
    for s in 0..g {
        let mut total = 0;
        let mut best = None;
        for &(a, b) in &groups[s..g] {
            if total + (b - a) > 19 {
                break;
            }
            buf[total..total + (b - a)].copy_from_slice(&h[a..b]);
            total += b - a;
            if total >= 13 && end_ok(b) && is_card(&buf[..total]) {
                best = Some((groups[s].0, b));
            }
        }
        if best.is_some() {
            return best;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_issuers() {
        assert!(is_card(b"4242424242424242"));
        assert!(is_card(b"5555555555554444"));
        assert!(is_card(b"378282246310005"));
        assert!(!is_card(b"4242424242424241"));
        // epoch milliseconds: Luhn-valid or not, no issuer starts with 1
        assert!(!is_card(b"1717171717000"));
        assert!(!issuer_ok(b"1733000000000"));
    }

    #[test]
    fn trigger_literals_fit_the_simd_prefilter() {
        // Teddy takes at most 64 literals; a literal under 3 bytes weakens its fingerprints.
        assert!(BUILTIN.len() <= 64, "{} trigger literals", BUILTIN.len());
        assert!(BUILTIN.iter().all(|d| d.0.len() >= 3));
    }

    #[test]
    fn iban_mod97() {
        assert!(iban_ok(b"GB82WEST12345698765432"));
        assert!(!iban_ok(b"GB82WEST12345698765433"));
        assert!(iban_ok(b"DE89370400440532013000"));
    }

    #[test]
    fn placeholders() {
        assert!(is_placeholder("[REDACTED]"));
        assert!(is_placeholder("[REDACTED:email]"));
        assert!(is_placeholder("[REDACTED:email:0123456789ab]"));
        assert!(!is_placeholder("[REDACTED:Email]"));
        assert!(!is_placeholder("x[REDACTED]"));
    }
}
