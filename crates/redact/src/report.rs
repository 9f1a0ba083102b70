//! The report every entry point returns: what was removed, never the values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The kind of data a redaction removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Kind {
    /// A credential: a known-prefix secret, a value under a sensitive key, a `Bearer`/`Basic`
    /// credential, a URL password or a PEM private key. Written `[REDACTED]`.
    Secret,
    /// A JSON Web Token. Written `[REDACTED:jwt]`.
    Jwt,
    /// An email address. Written `[REDACTED:email]` (or a keyed pseudonym).
    Email,
    /// A phone number. Written `[REDACTED:phone]` (or a keyed pseudonym).
    Phone,
    /// A payment card number (Luhn and issuer checked). Keeps the last 4 digits.
    Card,
    /// An IBAN (mod-97 checked). Written `[REDACTED:iban]`.
    Iban,
    /// An IP address. Written `[REDACTED:ip]`.
    Ip,
    /// A person's name (found by a path rule). Written `[REDACTED:name]`.
    Name,
    /// A postal address line or postal code. Written `[REDACTED:address]`.
    Address,
    /// A free-text message body (for example Twilio's `Body`). Written `[REDACTED]`.
    Message,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 10] = [
        Kind::Secret,
        Kind::Jwt,
        Kind::Email,
        Kind::Phone,
        Kind::Card,
        Kind::Iban,
        Kind::Ip,
        Kind::Name,
        Kind::Address,
        Kind::Message,
    ];

    /// The lowercase name used in placeholders and reports (`"email"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::Jwt => "jwt",
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Card => "card",
            Kind::Iban => "iban",
            Kind::Ip => "ip",
            Kind::Name => "name",
            Kind::Address => "address",
            Kind::Message => "message",
        }
    }

    /// The placeholder written in place of a value of this kind (cards excepted, which keep
    /// their last four digits).
    pub fn placeholder(self) -> &'static str {
        match self {
            Kind::Secret | Kind::Message | Kind::Card => "[REDACTED]",
            Kind::Jwt => "[REDACTED:jwt]",
            Kind::Email => "[REDACTED:email]",
            Kind::Phone => "[REDACTED:phone]",
            Kind::Iban => "[REDACTED:iban]",
            Kind::Ip => "[REDACTED:ip]",
            Kind::Name => "[REDACTED:name]",
            Kind::Address => "[REDACTED:address]",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a sanitising call removed: counts by kind and the places touched (JSON paths such as
/// `$.data.object.customer_details.email`, query/form parameter names, header names). A report
/// never holds a removed value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// How many values of each kind were replaced.
    pub counts: BTreeMap<Kind, usize>,
    /// The locations touched, in input order, each listed once.
    pub locations: Vec<String>,
    /// True when the input could not be parsed in the requested format (truncated, too deep,
    /// not UTF-8) and was scanned as text instead.
    pub fell_back_to_text: bool,
    /// True when the input was larger than the size limit and only its beginning was kept.
    pub truncated: bool,
}

impl Report {
    /// The number of values replaced, all kinds together.
    pub fn total(&self) -> usize {
        self.counts.values().sum()
    }

    /// How many values of `kind` were replaced.
    pub fn count(&self, kind: Kind) -> usize {
        self.counts.get(&kind).copied().unwrap_or(0)
    }

    /// True when nothing was replaced and the input was parsed as asked.
    pub fn is_clean(&self) -> bool {
        self.counts.is_empty() && !self.fell_back_to_text && !self.truncated
    }

    /// The report as a JSON object (what the CLI's `--report` prints).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }

    pub(crate) fn add(&mut self, kind: Kind, n: usize) {
        if n > 0 {
            *self.counts.entry(kind).or_insert(0) += n;
        }
    }

    pub(crate) fn touch(&mut self, location: String) {
        if !self.locations.contains(&location) {
            self.locations.push(location);
        }
    }

    pub(crate) fn merge_counts(&mut self, other: &Report) {
        for (k, n) in &other.counts {
            self.add(*k, *n);
        }
        self.fell_back_to_text |= other.fell_back_to_text;
        self.truncated |= other.truncated;
    }
}

/// A sanitised output together with its [`Report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanitized<T> {
    /// The sanitised output.
    pub output: T,
    /// What was removed.
    pub report: Report,
}

impl<T> Sanitized<T> {
    /// Drops the report, keeping the output.
    pub fn into_output(self) -> T {
        self.output
    }
}
