//! Strip secrets and personal data from JSON, headers, URLs, form bodies and free text before
//! they reach a log line, a database row or a support ticket.
//!
//! # Example
//!
//! ```
//! use wedsync_redact::{Kind, Profile, Redactor};
//!
//! let redactor = Redactor::for_profile(Profile::Stripe);
//! let event = br#"{"id":"evt_1","amount":1e2,"customer_details":{"name":"Emma Wilson","email":"emma@example.com"},"key":"sk_live_4eC39HqLyjWDarjtT1zdp7dc"}"#;
//! let clean = redactor.sanitize_json(event);
//! assert_eq!(
//!     String::from_utf8(clean.output).unwrap(),
//!     r#"{"id":"evt_1","amount":1e2,"customer_details":{"name":"[REDACTED:name]","email":"[REDACTED:email]"},"key":"sk_live_[REDACTED]"}"#
//! );
//! assert_eq!(clean.report.count(Kind::Email), 1);
//! assert!(clean.report.locations.contains(&"$.customer_details.name".to_string()));
//!
//! // Log lines: the default policy.
//! let line = wedsync_redact::text("POST https://admin:hunter2@db.internal/x failed for +447700900123");
//! assert_eq!(line, "POST https://admin:[REDACTED]@db.internal/x failed for [REDACTED:phone]");
//! ```
//!
//! # Guarantees
//!
//! - **Key rules.** A value under a sensitive key (`password`, `token`, `api_key`, `clientSecret`,
//!   `Authorization`, …) is replaced whole. Keys are normalised (case, camelCase, `-`, `_`, `.`,
//!   spaces, JSON escapes, percent-encoding) and matched as whole words: `author`, `public_key`,
//!   `idempotency_key`, `max_tokens` and `has_password` are not sensitive.
//! - **Value detectors** run inside every other string: known-prefix secrets (Stripe, Twilio,
//!   Resend, Supabase, Slack, AWS, GitHub), JWTs, PEM private keys (also without an END line),
//!   `Bearer`/`Basic` credentials, URL passwords, `key=value` pairs in text, emails, phone numbers
//!   in international form, cards (Luhn **and** issuer prefix, also as JSON numbers), IBANs
//!   (mod-97) and IP addresses.
//! - **Output.** Secrets become `[REDACTED]`, keeping known prefixes and auth schemes
//!   (`sk_live_[REDACTED]`, `Bearer [REDACTED]`); personal data becomes a typed placeholder
//!   (`[REDACTED:email]`) or, with a [`SecretKey`], a keyed HMAC-SHA256 pseudonym
//!   (`[REDACTED:email:1f2e3d4c5b6a]`); cards keep their last four digits.
//! - **Byte preserving.** JSON is rewritten by a streaming tokenizer: key order, whitespace and
//!   number text (`1e2`) stay as they were; only replaced values are re-encoded. JSON inside a
//!   JSON string is sanitised as JSON and re-embedded.
//! - **Fail closed.** Input that does not parse in the requested format (truncated, too deep, not
//!   UTF-8) is scanned as text, never passed through raw; input over the size limit is cut and
//!   marked `[TRUNCATED]`. The [`Report`] says so.
//! - **Idempotent.** Sanitising the output again changes nothing.
//! - The report holds counts and locations, never values.
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `cli` | no | the `wedsync-redact` binary (clap, anyhow) |
//! | `logs` | no | [`logs`]: a `tracing-subscriber` writer that redacts every log line (tracing-subscriber) |
//!
//! The policy is data: see [`Policy`] and `docs/redaction.md`.

mod json;
mod keys;
#[cfg(feature = "logs")]
pub mod logs;
mod policy;
mod pseudo;
mod report;
mod scan;
mod url;
mod value;

use std::sync::{Arc, OnceLock};

pub use policy::{Action, Detectors, Limits, PathRule, Policy, PolicyError, Profile};
pub use pseudo::SecretKey;
pub use report::{Kind, Report, Sanitized};

use keys::{KeyConfig, Rule, Words, CTX_ADDRESS, CTX_NONPERSON, CTX_PERSON};
use scan::{Scanner, Scratch};

/// Appended to input cut at the size limit.
const TRUNCATED: &str = "\n[TRUNCATED]";

/// Where to cut `s` to at most `max` bytes: at the last whitespace within the final KiB (so no
/// half token, such as a secret cut below its detector's minimum length, survives), else on a
/// character boundary.
fn cut_point(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let floor = end.saturating_sub(1024);
    match s.as_bytes()[floor..end]
        .iter()
        .rposition(u8::is_ascii_whitespace)
    {
        Some(p) => floor + p,
        None => end,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PathSeg {
    One,
    Deep,
    Word(String),
}

/// The compiled policy shared by clones of a [`Redactor`].
#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) scanner: Scanner,
    pub(crate) limits: policy::Limits,
    /// Key classifications shared across documents.
    pub(crate) key_cache: keys::SharedKeyCache,
    rules: Vec<(Vec<PathSeg>, Action)>,
    policy: Policy,
}

fn glob(pat: &[PathSeg], path: &[String]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((PathSeg::Deep, rest)) => (0..=path.len()).any(|i| glob(rest, &path[i..])),
        Some((seg, rest)) => match path.split_first() {
            None => false,
            Some((p, prest)) => {
                (matches!(seg, PathSeg::One) || matches!(seg, PathSeg::Word(w) if w == p))
                    && glob(rest, prest)
            }
        },
    }
}

impl Engine {
    fn build(policy: Policy, pseudo: Option<SecretKey>) -> Result<Engine, PolicyError> {
        policy.validate()?;
        let keys = KeyConfig::new(policy.profile, &policy.sensitive_keys, &policy.allowed_keys);
        let scanner = Scanner::new(
            policy.detectors,
            keys,
            &policy.secret_prefixes,
            &policy.sensitive_keys,
            pseudo,
        );
        let mut words = Words::default();
        let rules = policy
            .rules
            .iter()
            .map(|r| {
                let segs = r
                    .path
                    .split('.')
                    .map(|seg| match seg.trim() {
                        "*" => PathSeg::One,
                        "**" => PathSeg::Deep,
                        s => {
                            words.split(s);
                            PathSeg::Word(words.joined())
                        }
                    })
                    .collect();
                (segs, r.action)
            })
            .collect();
        Ok(Engine {
            scanner,
            limits: policy.limits,
            key_cache: keys::SharedKeyCache::new(),
            rules,
            policy,
        })
    }

    /// The action of the first path rule matching `path` (normalised keys).
    pub(crate) fn path_action(&self, path: &[String]) -> Option<Action> {
        self.rules
            .iter()
            .find(|(pat, _)| glob(pat, path))
            .map(|(_, a)| *a)
    }

    /// The rule for the value under `key` and the context for its children. When path rules
    /// exist this pushes the normalised key onto `norm_path` (the caller pops it).
    pub(crate) fn key_rule(
        &self,
        key: &str,
        ctx: u8,
        words: &mut Words,
        norm_path: &mut Vec<String>,
    ) -> (Rule, u8) {
        let class = self.classify_key(key, words);
        self.apply_class(class, ctx, words, norm_path)
    }

    /// Splits and classifies `key` (JSON escapes already decoded).
    pub(crate) fn classify_key(&self, key: &str, words: &mut Words) -> keys::KeyClass {
        let key = keys::decode_key(key);
        words.split(&key);
        self.scanner.keys.classify(words)
    }

    /// The rule for a classified key under `ctx`; see [`Engine::key_rule`]. `words` must hold
    /// the key's words when path rules exist.
    pub(crate) fn apply_class(
        &self,
        class: keys::KeyClass,
        ctx: u8,
        words: &Words,
        norm_path: &mut Vec<String>,
    ) -> (Rule, u8) {
        let mut rule = match class.rule {
            Rule::NameIfPerson => {
                if ctx & CTX_PERSON != 0 && ctx & CTX_NONPERSON == 0 {
                    Rule::Name
                } else {
                    Rule::None
                }
            }
            Rule::AddressLine => {
                if ctx & CTX_ADDRESS != 0 && ctx & CTX_NONPERSON == 0 {
                    Rule::Address
                } else {
                    Rule::None
                }
            }
            Rule::Name | Rule::Address
                if ctx & CTX_NONPERSON != 0 && class.ctx & CTX_PERSON == 0 =>
            {
                Rule::None
            }
            r => r,
        };
        if !self.rules.is_empty() {
            norm_path.push(words.joined());
            if let Some(action) = self.path_action(norm_path) {
                rule = json::action_rule(action);
            }
        }
        let mut child = ctx & !CTX_ADDRESS;
        if class.ctx_set {
            child = (child & !(CTX_PERSON | CTX_NONPERSON))
                | (class.ctx & (CTX_PERSON | CTX_NONPERSON));
        }
        child |= class.ctx & CTX_ADDRESS;
        (rule, child)
    }

    /// Cuts `input` at the size limit (on a character boundary).
    fn cut<'a>(&self, input: &'a str) -> Option<&'a str> {
        let max = self.limits.max_input_bytes;
        if input.len() <= max {
            return None;
        }
        Some(&input[..cut_point(input, max.saturating_sub(TRUNCATED.len()))])
    }

    fn text(&self, input: &str, report: &mut Report) -> String {
        let mut s = Scratch::default();
        if let Some(head) = self.cut(input) {
            report.truncated = true;
            let mut out = self
                .scanner
                .sanitize(head, &mut s, report)
                .unwrap_or_else(|| head.to_owned());
            // Placeholders may have grown the text: cut again and settle.
            for _ in 0..3 {
                let max = self.limits.max_input_bytes - TRUNCATED.len();
                if out.len() > max {
                    let end = cut_point(&out, max);
                    out.truncate(end);
                }
                match self.scanner.sanitize(&out, &mut s, report) {
                    Some(n) => out = n,
                    None => break,
                }
            }
            out.push_str(TRUNCATED);
            return out;
        }
        self.scanner
            .sanitize(input, &mut s, report)
            .unwrap_or_else(|| input.to_owned())
    }

    fn json(&self, input: &[u8], report: &mut Report) -> Vec<u8> {
        let text = match std::str::from_utf8(input) {
            Ok(t) if input.len() <= self.limits.max_input_bytes => t,
            Ok(t) => return self.json_fallback(t, report),
            Err(_) => return self.json_fallback(&String::from_utf8_lossy(input), report),
        };
        match json::rewrite(self, text, 0, 0, "$", report) {
            Ok(None) => input.to_vec(),
            Ok(Some(out)) => out,
            Err(_) => self.json_fallback(text, report),
        }
    }

    /// Fail closed for a form body that is not UTF-8 or over the size limit: scan as text, then
    /// (when the result fits the limit) sanitise that as a form too, since sanitising the
    /// output again takes the form path: the result is a fixpoint.
    fn form_fallback(&self, text: &str, report: &mut Report) -> Vec<u8> {
        report.fell_back_to_text = true;
        let t = self.text(text, report);
        if self.cut(&t).is_none() {
            let mut s = Scratch::default();
            if let Some(o) = self.sanitize_pairs(&t, true, &mut s, report) {
                return o.into_bytes();
            }
        }
        t.into_bytes()
    }

    /// Fail closed: scan as text; if that yields JSON, sanitise it as JSON too (so that the
    /// result is a fixpoint).
    fn json_fallback(&self, text: &str, report: &mut Report) -> Vec<u8> {
        report.fell_back_to_text = true;
        let t = self.text(text, report);
        match json::rewrite(self, &t, 0, 0, "$", report) {
            Ok(Some(out)) => out,
            _ => t.into_bytes(),
        }
    }
}

/// The sanitiser. Cheap to clone (an `Arc` inside), `Send + Sync`; build one per policy and
/// share it.
#[derive(Debug, Clone)]
pub struct Redactor {
    inner: Arc<Engine>,
}

impl Default for Redactor {
    /// The generic profile with every detector on.
    fn default() -> Self {
        Redactor::for_profile(Profile::Generic)
    }
}

impl Redactor {
    /// Compiles `policy`.
    pub fn new(policy: Policy) -> Result<Self, PolicyError> {
        Ok(Redactor {
            inner: Arc::new(Engine::build(policy, None)?),
        })
    }

    /// The built-in policy for a provider profile.
    pub fn for_profile(profile: Profile) -> Self {
        match Engine::build(Policy::for_profile(profile), None) {
            Ok(e) => Redactor { inner: Arc::new(e) },
            // The built-in policies always validate.
            Err(_) => unreachable!("built-in policies are valid"),
        }
    }

    /// Returns a redactor that writes keyed pseudonyms (`[REDACTED:email:<12 hex>]`) for emails
    /// and phone numbers: HMAC-SHA256 under `key` over the normalised value (emails trimmed and
    /// lowercased, phones reduced to `+` and digits), so one guest correlates across records.
    pub fn with_pseudonym_key(&self, key: SecretKey) -> Self {
        let policy = self.inner.policy.clone();
        match Engine::build(policy, Some(key)) {
            Ok(e) => Redactor { inner: Arc::new(e) },
            Err(_) => unreachable!("the policy was validated when this redactor was built"),
        }
    }

    /// The policy this redactor was built from.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Sanitises a JSON document, bytes to bytes. Untouched bytes are preserved exactly; input
    /// that is not valid JSON (or too deep, or not UTF-8) is scanned as text instead.
    pub fn sanitize_json(&self, input: &[u8]) -> Sanitized<Vec<u8>> {
        let mut report = Report::default();
        let output = self.inner.json(input, &mut report);
        Sanitized { output, report }
    }

    /// Sanitises a parsed JSON value in place. Containers deeper than the depth limit are
    /// replaced with `"[REDACTED]"`.
    pub fn sanitize_value(&self, value: &mut serde_json::Value) -> Report {
        let mut report = Report::default();
        value::sanitize(&self.inner, value, &mut report);
        report
    }

    /// Sanitises free text: an error message, a log line, a log excerpt.
    pub fn sanitize_text(&self, input: &str) -> Sanitized<String> {
        let mut report = Report::default();
        let output = self.inner.text(input, &mut report);
        Sanitized { output, report }
    }

    /// Sanitises a URL: the userinfo password, query parameters (by key rules and value
    /// detectors), the fragment and the path. Untouched parameters are kept byte for byte and
    /// placeholders are written unencoded. A string that is not a URL (whitespace inside) is
    /// scanned as text.
    pub fn sanitize_url(&self, input: &str) -> Sanitized<String> {
        let mut report = Report::default();
        let is_url = |s: &str| {
            self.inner.cut(s).is_none()
                && !s
                    .trim()
                    .bytes()
                    .any(|b| b.is_ascii_whitespace() || b < 0x20)
        };
        let output = if is_url(input) {
            self.inner
                .url_inner(input, &mut report)
                .unwrap_or_else(|| input.to_owned())
        } else {
            report.fell_back_to_text = true;
            let t = self.inner.text(input, &mut report);
            // Sanitising the result again takes the URL path when it now looks like one (the
            // text scan may have replaced the bytes that did not): take it now too, so the
            // result is a fixpoint.
            if is_url(&t) {
                self.inner.url_inner(&t, &mut report).unwrap_or(t)
            } else {
                t
            }
        };
        Sanitized { output, report }
    }

    /// Sanitises an `application/x-www-form-urlencoded` body (Twilio webhooks). Untouched
    /// parameters are kept byte for byte; placeholders are written unencoded.
    pub fn sanitize_form(&self, input: &[u8]) -> Sanitized<Vec<u8>> {
        let mut report = Report::default();
        let output = match std::str::from_utf8(input) {
            Ok(t) if self.inner.cut(t).is_none() => {
                let mut s = Scratch::default();
                match self.inner.sanitize_pairs(t, true, &mut s, &mut report) {
                    Some(o) => o.into_bytes(),
                    None => input.to_vec(),
                }
            }
            Ok(t) => self.inner.form_fallback(t, &mut report),
            Err(_) => self
                .inner
                .form_fallback(&String::from_utf8_lossy(input), &mut report),
        };
        Sanitized { output, report }
    }

    /// Sanitises HTTP headers. A header whose name is sensitive (`Authorization`, `Cookie`,
    /// `X-Api-Key`, `Stripe-Signature`, …) has its value replaced, keeping the auth scheme
    /// (`Bearer [REDACTED]`); other values go through the value detectors.
    pub fn sanitize_headers<I, N, V>(&self, headers: I) -> Sanitized<Vec<(String, String)>>
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let mut report = Report::default();
        let mut s = Scratch::default();
        let mut out = Vec::new();
        for (name, value) in headers {
            let (name, value) = (name.as_ref(), value.as_ref());
            s.words.split(name);
            let sensitive = self.inner.scanner.keys.is_sensitive(&s.words);
            let new = if value.is_empty() {
                None
            } else if sensitive {
                let r = scan::secret_replacement(value);
                (r != value).then(|| {
                    report.add(Kind::Secret, 1);
                    r
                })
            } else {
                self.inner.scanner.sanitize(value, &mut s, &mut report)
            };
            if new.is_some() {
                report.touch(name.to_ascii_lowercase());
            }
            out.push((name.to_owned(), new.unwrap_or_else(|| value.to_owned())));
        }
        Sanitized {
            output: out,
            report,
        }
    }
}

/// Sanitises a log line (or any text) with the default policy.
///
/// ```
/// assert_eq!(
///     wedsync_redact::text("sent to emma@example.com"),
///     "sent to [REDACTED:email]"
/// );
/// ```
pub fn text(input: &str) -> String {
    static DEFAULT: OnceLock<Redactor> = OnceLock::new();
    DEFAULT
        .get_or_init(Redactor::default)
        .sanitize_text(input)
        .output
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone>() {}

    #[test]
    fn redactor_is_send_sync_clone() {
        assert_send_sync::<Redactor>();
    }

    #[test]
    fn glob_matches() {
        let p = vec![PathSeg::Deep, PathSeg::Word("note".into())];
        assert!(glob(&p, &["a".into(), "b".into(), "note".into()]));
        assert!(glob(&p, &["note".into()]));
        assert!(!glob(&p, &["note".into(), "x".into()]));
    }
}
