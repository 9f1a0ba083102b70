//! Key names: normalisation into words and classification.

use std::borrow::Cow;
use std::sync::OnceLock;

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
    /// A sensitive key that names an environment variable (`handler_secret_env`,
    /// `api_key_env_var`): its value is the variable's *name*, kept when it has the shape of one
    /// ([`is_env_name`]), otherwise replaced like [`Rule::Sensitive`].
    EnvName,
}

impl Rule {
    /// Whether a value under this rule is a secret replaced whole: always under
    /// [`Rule::Sensitive`]; under [`Rule::EnvName`] unless `value` is a string naming an
    /// environment variable (numbers and containers pass `None` and are replaced).
    pub(crate) fn secret_for(self, value: Option<&str>) -> bool {
        match self {
            Rule::Sensitive => true,
            Rule::EnvName => !value.is_some_and(is_env_name),
            _ => false,
        }
    }
}

/// True when the key's last word is `env` (or its last two are `env var` / `env name`): the key
/// holds the name of an environment variable, not the secret itself.
pub(crate) fn names_env_var(w: &Words) -> bool {
    let n = w.len();
    n >= 2
        && (w.get(n - 1) == b"env"
            || (n >= 3 && w.get(n - 2) == b"env" && matches!(w.get(n - 1), b"var" | b"name")))
}

/// True when `v` has the shape of an environment variable name and not of a secret: 1–64 bytes of
/// `[A-Za-z0-9_]` starting with a letter or `_`, letters all of one case, and a digit only in an
/// upper-case name with an `_` (`PG_PASSWORD_2`). So `STRIPE_WEBHOOK_SECRET` and `forwarded` are
/// names, while `hunter2`, `Tr0ub4dor` and a base32 seed such as `JBSWY3DPEHPK3PXP` are not.
pub(crate) fn is_env_name(v: &str) -> bool {
    let b = v.as_bytes();
    if b.is_empty() || b.len() > 64 || !(b[0].is_ascii_alphabetic() || b[0] == b'_') {
        return false;
    }
    if !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_') {
        return false;
    }
    let upper = b.iter().any(u8::is_ascii_uppercase);
    let lower = b.iter().any(u8::is_ascii_lowercase);
    let digit = b.iter().any(u8::is_ascii_digit);
    if upper && lower {
        return false;
    }
    !digit || (upper && b.contains(&b'_'))
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

/// Classifications of JSON keys seen before, shared by every document one engine sanitises (the
/// keys of a provider's events repeat from event to event). Direct-mapped, set once per slot and
/// never replaced, so a lookup is one atomic load and the memory is fixed; a key whose slot is taken
/// is simply classified again. Only the classification (a pure function of the key and the policy)
/// is cached, never a value.
pub(crate) struct SharedKeyCache {
    slots: Box<[Slot]>,
}

/// One cache slot: a key's raw bytes and its class, set once.
type Slot = OnceLock<(Box<[u8]>, KeyClass)>;

impl SharedKeyCache {
    /// Slots (a power of two).
    const SLOTS: usize = 512;
    /// Longer keys are not cached.
    const MAX_KEY: usize = 48;

    pub(crate) fn new() -> Self {
        SharedKeyCache {
            slots: (0..Self::SLOTS).map(|_| OnceLock::new()).collect(),
        }
    }

    fn slot(&self, hash: u32) -> &Slot {
        &self.slots[(hash as usize) & (Self::SLOTS - 1)]
    }

    /// The cached class of `key` (whose [`key_hash`] is `hash`).
    pub(crate) fn get(&self, hash: u32, key: &[u8]) -> Option<KeyClass> {
        match self.slot(hash).get() {
            Some((k, class)) if **k == *key => Some(*class),
            _ => None,
        }
    }

    /// Remembers `class` for `key` if its slot is free.
    pub(crate) fn insert(&self, hash: u32, key: &[u8], class: KeyClass) {
        if key.len() <= Self::MAX_KEY {
            // A taken slot keeps its key: the other one is classified each time.
            let _ = self.slot(hash).set((key.into(), class));
        }
    }
}

impl std::fmt::Debug for SharedKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let used = self.slots.iter().filter(|s| s.get().is_some()).count();
        f.debug_struct("SharedKeyCache")
            .field("used", &used)
            .finish()
    }
}

/// FNV-1a of a key's raw bytes (for the key caches).
pub(crate) fn key_hash(key: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in key {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
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
    b"check",
    b"checks",
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

const F_SENS: u16 = 1;
const F_PAIR_KEY: u16 = 2; // api/access/private/secret + key
const F_PAIR_SECRET: u16 = 4; // client + secret
const F_KEY: u16 = 8;
const F_SECRET: u16 = 16;
const F_FLAG_FIRST: u16 = 32;
const F_FLAG_LAST: u16 = 64;
const F_PERSON: u16 = 128;
const F_NONPERSON: u16 = 256;
const F_ADDRESS: u16 = 512;
const F_NONPERSON_NAME: u16 = 1024;
const F_PAIR_LAST: u16 = 2048;
const F_STREET: u16 = 4096;

#[derive(Debug, Clone, Copy)]
struct WordInfo {
    flags: u16,
    /// The rule when the key is this one word.
    single: Rule,
    /// The rule when this is the last of several words.
    last: Rule,
}

const EMPTY: WordInfo = WordInfo {
    flags: 0,
    single: Rule::None,
    last: Rule::None,
};

const SINGLE: &[(&[u8], Rule)] = &[
    (b"email", Rule::Email),
    (b"emails", Rule::Email),
    (b"mail", Rule::Email),
    (b"phone", Rule::Phone),
    (b"phones", Rule::Phone),
    (b"mobile", Rule::Phone),
    (b"telephone", Rule::Phone),
    (b"tel", Rule::Phone),
    (b"msisdn", Rule::Phone),
    (b"cellphone", Rule::Phone),
    (b"name", Rule::NameIfPerson),
    (b"fullname", Rule::Name),
    (b"firstname", Rule::Name),
    (b"lastname", Rule::Name),
    (b"surname", Rule::Name),
    (b"forename", Rule::Name),
    (b"givenname", Rule::Name),
    (b"familyname", Rule::Name),
    (b"username", Rule::Name),
    (b"nickname", Rule::Name),
    (b"address", Rule::Address),
    (b"street", Rule::Address),
    (b"postcode", Rule::Address),
    (b"zip", Rule::Address),
    (b"zipcode", Rule::Address),
    (b"postalcode", Rule::Address),
    (b"line1", Rule::AddressLine),
    (b"line2", Rule::AddressLine),
    (b"line3", Rule::AddressLine),
    (b"ip", Rule::Ip),
    (b"ipaddress", Rule::Ip),
    (b"ipv4", Rule::Ip),
    (b"ipv6", Rule::Ip),
    (b"iban", Rule::Iban),
];

const LAST: &[(&[u8], Rule)] = &[
    (b"email", Rule::Email),
    (b"emails", Rule::Email),
    (b"phone", Rule::Phone),
    (b"mobile", Rule::Phone),
    (b"ip", Rule::Ip),
    (b"iban", Rule::Iban),
    (b"name", Rule::Name),
    (b"names", Rule::Name),
];

const TABLE_BITS: u32 = 10;

struct Table {
    slots: Vec<Option<(&'static [u8], WordInfo)>>,
}

fn hash(w: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &b in w {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h >> (32 - TABLE_BITS)) as usize
}

impl Table {
    fn build() -> Table {
        let mut entries: Vec<(&'static [u8], WordInfo)> = Vec::new();
        let mut add = |w: &'static [u8], f: &dyn Fn(&mut WordInfo)| match entries
            .iter_mut()
            .find(|(k, _)| *k == w)
        {
            Some((_, info)) => f(info),
            None => {
                let mut info = EMPTY;
                f(&mut info);
                entries.push((w, info));
            }
        };
        for w in SENSITIVE {
            add(w, &|i| i.flags |= F_SENS);
        }
        for w in [&b"api"[..], b"access", b"private", b"secret"] {
            add(w, &|i| i.flags |= F_PAIR_KEY);
        }
        add(b"client", &|i| i.flags |= F_PAIR_SECRET);
        add(b"key", &|i| i.flags |= F_KEY);
        add(b"secret", &|i| i.flags |= F_SECRET);
        for w in FLAG_FIRST {
            add(w, &|i| i.flags |= F_FLAG_FIRST);
        }
        for w in FLAG_LAST {
            add(w, &|i| i.flags |= F_FLAG_LAST);
        }
        for w in PERSON_CTX {
            add(w, &|i| i.flags |= F_PERSON);
        }
        for w in NONPERSON_CTX {
            add(w, &|i| i.flags |= F_NONPERSON);
        }
        for w in [&b"address"[..], b"addresses"] {
            add(w, &|i| i.flags |= F_ADDRESS);
        }
        for w in NONPERSON_NAME {
            add(w, &|i| i.flags |= F_NONPERSON_NAME);
        }
        for w in [
            &b"address"[..],
            b"addr",
            b"code",
            b"number",
            b"line1",
            b"line2",
            b"line3",
        ] {
            add(w, &|i| i.flags |= F_PAIR_LAST);
        }
        add(b"street", &|i| i.flags |= F_STREET);
        for (w, r) in SINGLE {
            let r = *r;
            add(w, &move |i| i.single = r);
        }
        for (w, r) in LAST {
            let r = *r;
            add(w, &move |i| i.last = r);
        }
        let mut slots = vec![None; 1 << TABLE_BITS];
        for (w, info) in entries {
            let mut h = hash(w);
            while slots[h].is_some() {
                h = (h + 1) & ((1 << TABLE_BITS) - 1);
            }
            slots[h] = Some((w, info));
        }
        Table { slots }
    }

    fn get(&self, w: &[u8]) -> WordInfo {
        if w.len() > 16 {
            return EMPTY;
        }
        let mut h = hash(w);
        loop {
            match &self.slots[h] {
                None => return EMPTY,
                Some((k, info)) if *k == w => return *info,
                Some(_) => h = (h + 1) & ((1 << TABLE_BITS) - 1),
            }
        }
    }
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(Table::build)
}

/// Extra rules compiled from the policy.
#[derive(Debug, Default, Clone)]
pub(crate) struct KeyConfig {
    pub(crate) profile: Profile,
    pub(crate) sensitive: Vec<Vec<Vec<u8>>>,
    pub(crate) allowed: Vec<String>,
}

/// At most this many words are classified (longer keys are judged on their first words).
const MAX_WORDS: usize = 16;

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

    fn infos(w: &Words, out: &mut [WordInfo; MAX_WORDS]) -> usize {
        let t = table();
        let n = w.len().min(MAX_WORDS);
        for (i, slot) in out.iter_mut().enumerate().take(n) {
            *slot = t.get(w.get(i));
        }
        n
    }

    fn sensitive_from(&self, w: &Words, info: &[WordInfo]) -> bool {
        let n = info.len();
        if n == 0 {
            return false;
        }
        if !self.allowed.is_empty() && self.allowed.contains(&w.joined()) {
            return false;
        }
        if self.sensitive.iter().any(|p| w.contains_phrase(p)) {
            return true;
        }
        if n > 1 && (info[0].flags & F_FLAG_FIRST != 0 || info[n - 1].flags & F_FLAG_LAST != 0) {
            return false;
        }
        for i in 0..n {
            let f = info[i].flags;
            if f & F_SENS != 0 {
                return true;
            }
            if i + 1 < n {
                let g = info[i + 1].flags;
                if (f & F_PAIR_KEY != 0 && g & F_KEY != 0)
                    || (f & F_PAIR_SECRET != 0 && g & F_SECRET != 0)
                {
                    return true;
                }
            }
        }
        false
    }

    /// True when the key, already split into `w`, names a secret.
    pub(crate) fn is_sensitive(&self, w: &Words) -> bool {
        let mut buf = [EMPTY; MAX_WORDS];
        let n = Self::infos(w, &mut buf);
        self.sensitive_from(w, &buf[..n])
    }

    /// Classifies a key (already split into `w`).
    pub(crate) fn classify(&self, w: &Words) -> KeyClass {
        let mut class = KeyClass {
            rule: Rule::None,
            ctx: 0,
            ctx_set: false,
        };
        let mut buf = [EMPTY; MAX_WORDS];
        let n = Self::infos(w, &mut buf);
        let info = &buf[..n];
        if n == 0 {
            return class;
        }
        for i in info {
            if i.flags & F_PERSON != 0 {
                class.ctx = (class.ctx & !CTX_NONPERSON) | CTX_PERSON;
                class.ctx_set = true;
            } else if i.flags & F_NONPERSON != 0 {
                class.ctx = (class.ctx & !CTX_PERSON) | CTX_NONPERSON;
                class.ctx_set = true;
            }
            if i.flags & F_ADDRESS != 0 {
                class.ctx |= CTX_ADDRESS;
            }
        }
        if self.sensitive_from(w, info) {
            class.rule = if names_env_var(w) {
                Rule::EnvName
            } else {
                Rule::Sensitive
            };
            return class;
        }
        class.rule = self.personal(w, info);
        class
    }

    fn personal(&self, w: &Words, info: &[WordInfo]) -> Rule {
        let n = info.len();
        let first = w.get(0);
        let last = w.get(n - 1);
        if n <= 2 {
            if let Some(r) = self.profile_rule(n, first, last) {
                return r;
            }
        }
        if n == 1 {
            return info[0].single;
        }
        let li = info[n - 1];
        match li.last {
            Rule::None => {}
            Rule::Name => {
                let fi = info[0].flags;
                return if fi & F_NONPERSON_NAME != 0 && fi & F_PERSON == 0 {
                    Rule::None
                } else {
                    Rule::Name
                };
            }
            r => return r,
        }
        if info.iter().any(|i| i.flags & F_STREET != 0) {
            return Rule::Address;
        }
        if li.flags & F_PAIR_LAST == 0 {
            return Rule::None;
        }
        match (w.get(n - 2), last) {
            (b"email", b"address") => Rule::Email,
            (b"ip", b"address") | (b"remote" | b"client", b"addr") => Rule::Ip,
            (b"phone" | b"mobile" | b"telephone", b"number") => Rule::Phone,
            (b"postal" | b"post" | b"zip", b"code") => Rule::Address,
            (b"address", b"line1" | b"line2" | b"line3") => Rule::Address,
            (
                b"billing" | b"shipping" | b"home" | b"street" | b"postal" | b"mailing"
                | b"physical" | b"residential" | b"customer" | b"guest",
                b"address",
            ) if n == 2 => Rule::Address,
            _ => Rule::None,
        }
    }

    fn profile_rule(&self, n: usize, first: &[u8], last: &[u8]) -> Option<Rule> {
        let r = match self.profile {
            Profile::Twilio => match (n, first, last) {
                (1, b"body", _) => Rule::Message,
                (1, b"from" | b"to" | b"caller" | b"called" | b"forwarded", _) => Rule::Phone,
                (2, b"from" | b"to" | b"caller" | b"called", b"zip") => Rule::Address,
                _ => return None,
            },
            Profile::Resend => match (n, first, last) {
                (1, b"to" | b"from" | b"cc" | b"bcc", _) => Rule::Email,
                (2, b"reply", b"to") => Rule::Email,
                _ => return None,
            },
            Profile::Stripe => match (n, first, last) {
                (1, b"dob", _) => Rule::Message,
                (2, b"id", b"number") => Rule::Sensitive,
                _ => return None,
            },
            Profile::Supabase => match (n, first, last) {
                (2, b"email", b"change") | (2, b"new", b"email") => Rule::Email,
                (2, b"phone", b"change") | (2, b"new", b"phone") => Rule::Phone,
                _ => return None,
            },
            Profile::Generic => return None,
        };
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_key_cache_is_set_once_per_slot() {
        let c = SharedKeyCache::new();
        let a = KeyClass {
            rule: Rule::Sensitive,
            ctx: 0,
            ctx_set: false,
        };
        let b = KeyClass {
            rule: Rule::Email,
            ctx: 0,
            ctx_set: false,
        };
        let h = key_hash(b"password");
        assert_eq!(c.get(h, b"password"), None);
        c.insert(h, b"password", a);
        assert_eq!(c.get(h, b"password"), Some(a));
        // Another key landing in the same slot neither hits nor replaces the first.
        assert_eq!(c.get(h, b"email"), None);
        c.insert(h, b"email", b);
        assert_eq!(c.get(h, b"email"), None);
        assert_eq!(c.get(h, b"password"), Some(a));
        // Long keys are not cached.
        let long = [b'k'; 49];
        let hl = key_hash(&long);
        c.insert(hl, &long, b);
        assert_eq!(c.get(hl, &long), None);
        assert!(format!("{c:?}").contains("used"));
    }

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
