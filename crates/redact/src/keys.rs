//! Key names: normalisation into words and classification.

use std::borrow::Cow;

use crate::Profile;

/// Lowercased words of a key, reused between calls to avoid allocation.
#[derive(Debug, Default)]
pub(crate) struct Words {
    buf: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Words {
    /// Splits `key` on case changes (`apiKey`, `APIKey`), `-`, `_`, `.`, spaces and any other
    /// ASCII punctuation. Digits stay inside their word (`line1`).
    pub(crate) fn split(&mut self, key: &str) {
        self.buf.clear();
        self.spans.clear();
        let b = key.as_bytes();
        let mut start = 0usize;
        let mut in_word = false;
        for i in 0..b.len() {
            let c = b[i];
            if c < 0x80 && !c.is_ascii_alphanumeric() {
                if in_word {
                    self.spans.push((start, self.buf.len()));
                    in_word = false;
                }
                continue;
            }
            if in_word && c.is_ascii_uppercase() {
                let prev = b[i - 1];
                let next_lower = i + 1 < b.len() && b[i + 1].is_ascii_lowercase();
                if prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_ascii_uppercase() && next_lower)
                {
                    self.spans.push((start, self.buf.len()));
                    start = self.buf.len();
                }
            }
            if !in_word {
                start = self.buf.len();
                in_word = true;
            }
            self.buf.push(c.to_ascii_lowercase());
        }
        if in_word {
            self.spans.push((start, self.buf.len()));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    pub(crate) fn get(&self, i: usize) -> &[u8] {
        let (s, e) = self.spans[i];
        &self.buf[s..e]
    }

    pub(crate) fn last(&self) -> &[u8] {
        self.get(self.len() - 1)
    }

    /// The words joined with `_` (allocates; slow paths only).
    pub(crate) fn joined(&self) -> String {
        let mut s = String::new();
        for i in 0..self.len() {
            if i > 0 {
                s.push('_');
            }
            s.push_str(&String::from_utf8_lossy(self.get(i)));
        }
        s
    }

    /// True when `phrase` (already split) occurs as consecutive whole words.
    pub(crate) fn contains_phrase(&self, phrase: &[Vec<u8>]) -> bool {
        if phrase.is_empty() || phrase.len() > self.len() {
            return false;
        }
        (0..=self.len() - phrase.len()).any(|i| {
            phrase
                .iter()
                .enumerate()
                .all(|(j, w)| self.get(i + j) == &w[..])
        })
    }
}

/// Normalises a key for splitting: percent-decodes it when it contains `%`.
pub(crate) fn decode_key(key: &str) -> Cow<'_, str> {
    if key.contains('%') {
        Cow::Owned(crate::url::percent_decode(key, false))
    } else {
        Cow::Borrowed(key)
    }
}

/// What a key says about its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    None,
    Sensitive,
    Email,
    Phone,
    Name,
    /// `name`: a person's name only under a person container.
    NameIfPerson,
    Address,
    /// `line1`..`line3`: an address line only under an address container.
    AddressLine,
    Ip,
    Iban,
    Message,
}

pub(crate) const CTX_PERSON: u8 = 1;
pub(crate) const CTX_NONPERSON: u8 = 2;
pub(crate) const CTX_ADDRESS: u8 = 4;

/// The rule for a key's own value plus the context bits it gives the container under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyClass {
    pub(crate) rule: Rule,
    pub(crate) ctx: u8,
    /// Bits the key forces on or off (`venue` switches the person context off).
    pub(crate) ctx_set: bool,
}

const SENSITIVE: &[&[u8]] = &[
    b"password",
    b"passwd",
    b"pwd",
    b"passphrase",
    b"passcode",
    b"secret",
    b"secrets",
    b"token",
    b"auth",
    b"authorization",
    b"credential",
    b"credentials",
    b"cookie",
    b"cookies",
    b"signature",
    b"otp",
    b"pin",
    b"cvc",
    b"cvv",
    b"cvc2",
    b"cvv2",
    b"ssn",
    b"apikey",
    b"accesskey",
    b"privatekey",
    b"secretkey",
    b"clientsecret",
    b"accesstoken",
    b"refreshtoken",
    b"authtoken",
    b"apitoken",
    b"sessiontoken",
    b"setcookie",
];

const PAIRS: &[(&[u8], &[u8])] = &[
    (b"api", b"key"),
    (b"access", b"key"),
    (b"private", b"key"),
    (b"client", b"secret"),
    (b"secret", b"key"),
];

/// Leading words that make a key a flag about a secret rather than the secret (`has_password`).
const FLAG_FIRST: &[&[u8]] = &[
    b"has",
    b"is",
    b"was",
    b"should",
    b"can",
    b"requires",
    b"require",
    b"needs",
    b"allow",
    b"allows",
    b"enable",
    b"use",
    b"uses",
];

const FLAG_LAST: &[&[u8]] = &[
    b"enabled",
    b"required",
    b"present",
    b"configured",
    b"set",
    b"count",
    b"length",
];

const PERSON_CTX: &[&[u8]] = &[
    b"customer",
    b"customers",
    b"billing",
    b"shipping",
    b"guest",
    b"guests",
    b"partner",
    b"partners",
    b"recipient",
    b"recipients",
    b"contact",
    b"contacts",
    b"user",
    b"users",
    b"owner",
    b"owners",
    b"individual",
    b"individuals",
    b"person",
    b"persons",
    b"people",
    b"member",
    b"members",
    b"attendee",
    b"attendees",
    b"couple",
    b"bride",
    b"groom",
    b"cardholder",
    b"holder",
    b"representative",
    b"sender",
    b"payer",
    b"buyer",
    b"identity",
    b"identities",
    b"profile",
];

const NONPERSON_CTX: &[&[u8]] = &[
    b"product",
    b"products",
    b"price",
    b"prices",
    b"plan",
    b"plans",
    b"venue",
    b"venues",
    b"merchant",
    b"business",
    b"company",
    b"organization",
    b"organisation",
];

/// First words of `*_name` keys that do not name a person.
const NONPERSON_NAME: &[&[u8]] = &[
    b"product",
    b"price",
    b"plan",
    b"venue",
    b"file",
    b"table",
    b"schema",
    b"bucket",
    b"event",
    b"host",
    b"hostname",
    b"service",
    b"app",
    b"application",
    b"brand",
    b"company",
    b"business",
    b"merchant",
    b"bank",
    b"statement",
    b"domain",
    b"device",
    b"tag",
    b"queue",
    b"column",
    b"field",
    b"package",
    b"repo",
    b"branch",
    b"function",
    b"method",
    b"key",
    b"template",
    b"object",
    b"type",
    b"class",
    b"module",
    b"channel",
    b"topic",
    b"index",
    b"database",
    b"db",
    b"server",
    b"region",
    b"zone",
    b"cluster",
    b"project",
    b"org",
    b"organization",
    b"team",
    b"role",
    b"provider",
    b"model",
    b"metric",
    b"job",
    b"task",
    b"step",
    b"stage",
    b"route",
    b"path",
    b"header",
    b"param",
    b"cookie",
    b"secret",
    b"category",
    b"collection",
    b"image",
    b"font",
    b"theme",
    b"color",
    b"colour",
    b"country",
    b"city",
    b"state",
    b"carrier",
    b"network",
    b"display",
];

fn is_in(word: &[u8], set: &[&[u8]]) -> bool {
    set.contains(&word)
}

/// Extra rules compiled from the policy.
#[derive(Debug, Default, Clone)]
pub(crate) struct KeyConfig {
    pub(crate) profile: Profile,
    pub(crate) sensitive: Vec<Vec<Vec<u8>>>,
    pub(crate) allowed: Vec<String>,
}

impl KeyConfig {
    pub(crate) fn new(profile: Profile, sensitive: &[String], allowed: &[String]) -> Self {
        let mut w = Words::default();
        let sensitive = sensitive
            .iter()
            .map(|s| {
                w.split(s);
                (0..w.len()).map(|i| w.get(i).to_vec()).collect()
            })
            .collect();
        let allowed = allowed
            .iter()
            .map(|s| {
                w.split(s);
                w.joined()
            })
            .collect();
        KeyConfig {
            profile,
            sensitive,
            allowed,
        }
    }

    /// True when the key, already split into `w`, names a secret.
    pub(crate) fn is_sensitive(&self, w: &Words) -> bool {
        let n = w.len();
        if n == 0 {
            return false;
        }
        if !self.allowed.is_empty() && self.allowed.contains(&w.joined()) {
            return false;
        }
        if self.sensitive.iter().any(|p| w.contains_phrase(p)) {
            return true;
        }
        if n > 1 && (is_in(w.get(0), FLAG_FIRST) || is_in(w.last(), FLAG_LAST)) {
            return false;
        }
        for i in 0..n {
            let word = w.get(i);
            if is_in(word, SENSITIVE) {
                return true;
            }
            if i + 1 < n {
                let next = w.get(i + 1);
                if PAIRS.iter().any(|(a, b)| *a == word && *b == next) {
                    return true;
                }
            }
        }
        false
    }

    /// Classifies a key (already split into `w`).
    pub(crate) fn classify(&self, w: &Words) -> KeyClass {
        let mut class = KeyClass {
            rule: Rule::None,
            ctx: 0,
            ctx_set: false,
        };
        let n = w.len();
        if n == 0 {
            return class;
        }
        for i in 0..n {
            let word = w.get(i);
            if is_in(word, PERSON_CTX) {
                class.ctx = (class.ctx & !CTX_NONPERSON) | CTX_PERSON;
                class.ctx_set = true;
            } else if is_in(word, NONPERSON_CTX) {
                class.ctx = (class.ctx & !CTX_PERSON) | CTX_NONPERSON;
                class.ctx_set = true;
            }
            if word == b"address" || word == b"addresses" {
                class.ctx |= CTX_ADDRESS;
            }
        }
        if self.is_sensitive(w) {
            class.rule = Rule::Sensitive;
            return class;
        }
        class.rule = self.personal(w);
        class
    }

    fn personal(&self, w: &Words) -> Rule {
        let n = w.len();
        let first = w.get(0);
        let last = w.last();
        match self.profile {
            Profile::Twilio if n <= 2 => match (first, if n == 2 { Some(last) } else { None }) {
                (b"body", None) => return Rule::Message,
                (b"from" | b"to" | b"caller" | b"called" | b"forwarded", None) => {
                    return Rule::Phone
                }
                (b"from" | b"to" | b"caller" | b"called", Some(b"zip")) => return Rule::Address,
                _ => {}
            },
            Profile::Resend => match (n, first, last) {
                (1, b"to" | b"from" | b"cc" | b"bcc", _) => return Rule::Email,
                (2, b"reply", b"to") => return Rule::Email,
                _ => {}
            },
            Profile::Stripe => match (n, first, last) {
                (1, b"dob", _) => return Rule::Message,
                (2, b"id", b"number") => return Rule::Sensitive,
                _ => {}
            },
            Profile::Supabase => match (n, first, last) {
                (2, b"email", b"change") | (2, b"new", b"email") => return Rule::Email,
                (2, b"phone", b"change") | (2, b"new", b"phone") => return Rule::Phone,
                _ => {}
            },
            _ => {}
        }
        if n == 1 {
            return match first {
                b"email" | b"emails" | b"mail" => Rule::Email,
                b"phone" | b"phones" | b"mobile" | b"telephone" | b"tel" | b"msisdn"
                | b"cellphone" => Rule::Phone,
                b"name" => Rule::NameIfPerson,
                b"fullname" | b"firstname" | b"lastname" | b"surname" | b"forename"
                | b"givenname" | b"familyname" | b"username" | b"nickname" => Rule::Name,
                b"address" | b"street" | b"postcode" | b"zip" | b"zipcode" | b"postalcode" => {
                    Rule::Address
                }
                b"line1" | b"line2" | b"line3" => Rule::AddressLine,
                b"ip" | b"ipaddress" | b"ipv4" | b"ipv6" => Rule::Ip,
                b"iban" => Rule::Iban,
                _ => Rule::None,
            };
        }
        match last {
            b"email" | b"emails" => return Rule::Email,
            b"phone" | b"mobile" => return Rule::Phone,
            b"ip" => return Rule::Ip,
            b"iban" => return Rule::Iban,
            b"name" | b"names" => {
                return if is_in(first, NONPERSON_NAME) && !is_in(first, PERSON_CTX) {
                    Rule::None
                } else {
                    Rule::Name
                }
            }
            _ => {}
        }
        let pair = (w.get(n - 2), last);
        match pair {
            (b"email", b"address") => Rule::Email,
            (b"ip", b"address") | (b"remote", b"addr") | (b"client", b"addr") => Rule::Ip,
            (b"phone" | b"mobile" | b"telephone", b"number") => Rule::Phone,
            (b"postal" | b"post" | b"zip", b"code") => Rule::Address,
            (b"address", b"line1" | b"line2" | b"line3") => Rule::Address,
            (b"street", _) | (_, b"street") => Rule::Address,
            (_, b"address") if n == 2 => match first {
                b"billing" | b"shipping" | b"home" | b"street" | b"postal" | b"mailing"
                | b"physical" | b"residential" | b"customer" | b"guest" => Rule::Address,
                _ => Rule::None,
            },
            _ => Rule::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sensitive(k: &str) -> bool {
        let mut w = Words::default();
        w.split(&decode_key(k));
        KeyConfig::default().is_sensitive(&w)
    }

    #[test]
    fn splits_words() {
        let mut w = Words::default();
        w.split("X-APIKey_value.sub key");
        let v: Vec<&[u8]> = (0..w.len()).map(|i| w.get(i)).collect();
        assert_eq!(v, vec![&b"x"[..], b"api", b"key", b"value", b"sub", b"key"]);
    }

    #[test]
    fn sensitive_keys_match_whole_words() {
        for k in [
            "password",
            "Password",
            "PASSWORD",
            "user_password",
            "userPassword",
            "x-api-key",
            "apiKey",
            "APIKEY",
            "api_key",
            "accessKey",
            "private_key",
            "client_secret",
            "clientSecret",
            "Authorization",
            "auth",
            "Cookie",
            "set-cookie",
            "Stripe-Signature",
            "otp",
            "pin",
            "cvc",
            "ssn",
            "pass%77ord",
            "access token",
            "refresh.token",
            "credentials",
        ] {
            assert!(sensitive(k), "{k} should be sensitive");
        }
        for k in [
            "key",
            "author",
            "public_key",
            "publishable_key",
            "idempotency_key",
            "max_tokens",
            "has_password",
            "spinner",
            "options",
            "authority",
            "monkey",
            "tokenizer",
        ] {
            assert!(!sensitive(k), "{k} should not be sensitive");
        }
    }
}
