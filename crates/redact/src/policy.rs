//! The redaction policy: plain data, (de)serialisable with serde.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A provider profile: the built-in path rules for one provider's payloads.
///
/// Every profile includes the generic rules (sensitive keys, `email`/`phone` keys, names under
/// person containers such as `customer_details`, address lines and postal codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Stripe events and API objects (adds `individual`, `representative`, `dob`, `tax_ids`).
    Stripe,
    /// Twilio form bodies (adds `Body`, `From`, `To`, `Caller`, `Called` and their `*Zip`).
    Twilio,
    /// Resend email events (adds `to`, `from`, `cc`, `bcc`, `reply_to` as email).
    Resend,
    /// Supabase auth hooks and database webhooks (adds `new_email`, `new_phone`, `email_change`).
    Supabase,
    /// The generic rules only.
    #[default]
    Generic,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 5] = [
        Profile::Stripe,
        Profile::Twilio,
        Profile::Resend,
        Profile::Supabase,
        Profile::Generic,
    ];

    /// The lowercase name (`"stripe"`), as accepted by [`FromStr`] and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Stripe => "stripe",
            Profile::Twilio => "twilio",
            Profile::Resend => "resend",
            Profile::Supabase => "supabase",
            Profile::Generic => "generic",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or(PolicyError::UnknownProfile)
    }
}

/// What a path rule does to the value it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Action {
    /// Replace the value whole with `[REDACTED]`, as a sensitive key would.
    Redact,
    /// Exempt the key from key-based rules (value detectors still run).
    Keep,
    /// Treat the value as an email address.
    Email,
    /// Treat the value as a phone number.
    Phone,
    /// Treat the value as a person's name.
    Name,
    /// Treat the value as a postal address.
    Address,
    /// Treat the value as an IP address.
    Ip,
    /// Treat the value as a free-text message (`[REDACTED]`).
    Message,
}

/// A user rule on a JSON path (or a form/query parameter name).
///
/// `path` is dot-separated keys, matched after normalisation (case, camelCase, `-`, `_`, spaces
/// are all equivalent); `*` matches one key and `**` any number of keys. Array indices are
/// transparent: `line_items.*.description` matches every item's description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRule {
    /// The path pattern, for example `data.object.metadata.guest_note` or `**.guest_note`.
    pub path: String,
    /// What to do with a matching value.
    pub action: Action,
}

impl PathRule {
    /// A rule for `path` with `action`.
    pub fn new(path: impl Into<String>, action: Action) -> Self {
        PathRule {
            path: path.into(),
            action,
        }
    }
}

/// Switches for the value detectors. All on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Detectors {
    /// Known-prefix secrets (Stripe, Twilio, Resend, Supabase, Slack, AWS, GitHub, Google).
    pub secrets: bool,
    /// JSON Web Tokens.
    pub jwt: bool,
    /// PEM private keys.
    pub pem: bool,
    /// `Bearer`/`Basic` credentials.
    pub auth_schemes: bool,
    /// Passwords in URL userinfo.
    pub url_userinfo: bool,
    /// `key=value` and `"key": "value"` pairs with a sensitive key inside free text.
    pub key_value: bool,
    /// Email addresses.
    pub email: bool,
    /// Phone numbers in international form.
    pub phone: bool,
    /// Payment card numbers (Luhn and issuer prefix).
    pub card: bool,
    /// IBANs (mod-97).
    pub iban: bool,
    /// IPv4 and IPv6 addresses (loopback and unspecified addresses are kept).
    pub ip: bool,
    /// Sanitise JSON embedded in JSON strings as JSON.
    pub embedded_json: bool,
}

impl Default for Detectors {
    fn default() -> Self {
        Detectors {
            secrets: true,
            jwt: true,
            pem: true,
            auth_schemes: true,
            url_userinfo: true,
            key_value: true,
            email: true,
            phone: true,
            card: true,
            iban: true,
            ip: true,
            embedded_json: true,
        }
    }
}

/// Size and depth limits. Input beyond them is never passed through raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Limits {
    /// Inputs longer than this many bytes are cut to it (then scanned as text and marked
    /// `[TRUNCATED]`). Default 16 MiB; at least 1 KiB.
    pub max_input_bytes: usize,
    /// JSON nested deeper than this is scanned as text. Default 128; between 1 and 512.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 16 * 1024 * 1024,
            max_depth: 128,
        }
    }
}

/// The redaction policy: a provider profile plus user rules. Build one in code or load it from
/// JSON (see `docs/redaction.md`), then hand it to [`Redactor::new`](crate::Redactor::new).
///
/// ```
/// use wedsync_redact::{Policy, Profile, Redactor};
/// let policy = Policy::from_json(r#"{"profile": "stripe", "sensitive_keys": ["door code"]}"#)?;
/// assert_eq!(policy.profile, Profile::Stripe);
/// let r = Redactor::new(policy)?;
/// let out = r.sanitize_json(br#"{"doorCode":"1234"}"#).output;
/// assert_eq!(out, br#"{"doorCode":"[REDACTED]"}"#);
/// # Ok::<(), wedsync_redact::PolicyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Policy {
    /// The provider profile whose built-in rules apply.
    pub profile: Profile,
    /// Extra sensitive key words or phrases (`"door code"` matches `doorCode`, `door-code`,
    /// `front_door_code`), matched as whole words after normalisation.
    pub sensitive_keys: Vec<String>,
    /// Keys that are never sensitive by name (exact, after normalisation), e.g. `token_type`.
    pub allowed_keys: Vec<String>,
    /// Path rules, checked before the built-in key rules.
    pub rules: Vec<PathRule>,
    /// Extra known secret prefixes (at least 3 characters), e.g. `"wsk_"`. The prefix is kept.
    pub secret_prefixes: Vec<String>,
    /// Which value detectors run.
    pub detectors: Detectors,
    /// Size and depth limits.
    pub limits: Limits,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            profile: Profile::Generic,
            sensitive_keys: Vec::new(),
            allowed_keys: Vec::new(),
            rules: Vec::new(),
            secret_prefixes: Vec::new(),
            detectors: Detectors::default(),
            limits: Limits::default(),
        }
    }
}

impl Policy {
    /// The default policy for `profile`.
    pub fn for_profile(profile: Profile) -> Self {
        Policy {
            profile,
            ..Policy::default()
        }
    }

    /// Parses a policy from JSON; missing fields take their defaults.
    pub fn from_json(json: &str) -> Result<Self, PolicyError> {
        serde_json::from_str(json).map_err(|e| PolicyError::Parse(e.to_string()))
    }

    /// Checks the policy; [`Redactor::new`](crate::Redactor::new) calls this.
    pub fn validate(&self) -> Result<(), PolicyError> {
        for (index, k) in self.sensitive_keys.iter().enumerate() {
            if !k.bytes().any(|b| b.is_ascii_alphanumeric()) {
                return Err(PolicyError::EmptyKey { index });
            }
        }
        for (index, k) in self.allowed_keys.iter().enumerate() {
            if !k.bytes().any(|b| b.is_ascii_alphanumeric()) {
                return Err(PolicyError::EmptyKey { index });
            }
        }
        for (index, r) in self.rules.iter().enumerate() {
            if r.path.trim().is_empty() {
                return Err(PolicyError::InvalidPath {
                    index,
                    reason: "empty path",
                });
            }
            if r.path.split('.').any(|s| s.trim().is_empty()) {
                return Err(PolicyError::InvalidPath {
                    index,
                    reason: "empty segment",
                });
            }
        }
        for (index, p) in self.secret_prefixes.iter().enumerate() {
            if p.len() < 3 || p.chars().any(char::is_whitespace) {
                return Err(PolicyError::ShortPrefix { index });
            }
        }
        if self.limits.max_input_bytes < 1024 {
            return Err(PolicyError::Limit {
                name: "max_input_bytes",
                min: 1024,
                max: usize::MAX,
            });
        }
        if !(1..=512).contains(&self.limits.max_depth) {
            return Err(PolicyError::Limit {
                name: "max_depth",
                min: 1,
                max: 512,
            });
        }
        Ok(())
    }
}

/// Why a policy or key was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The JSON configuration did not parse.
    #[error("invalid policy configuration: {0}")]
    Parse(String),
    /// A profile name that is not one of stripe, twilio, resend, supabase, generic.
    #[error("unknown profile (expected stripe, twilio, resend, supabase or generic)")]
    UnknownProfile,
    /// A sensitive or allowed key with no letters or digits.
    #[error("key rule {index} has no letters or digits")]
    EmptyKey {
        /// Position of the rule in its list.
        index: usize,
    },
    /// A path rule that cannot match anything.
    #[error("path rule {index} is invalid: {reason}")]
    InvalidPath {
        /// Position of the rule.
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A secret prefix shorter than 3 characters or containing whitespace.
    #[error("secret prefix {index} must be at least 3 characters without whitespace")]
    ShortPrefix {
        /// Position of the prefix.
        index: usize,
    },
    /// A limit out of range.
    #[error("limit {name} must be between {min} and {max}")]
    Limit {
        /// The limit's name.
        name: &'static str,
        /// Smallest allowed value.
        min: usize,
        /// Largest allowed value.
        max: usize,
    },
    /// A pseudonym key shorter than 16 bytes.
    #[error("pseudonym key must be at least 16 bytes")]
    ShortKey,
}
