//! Twilio: `X-Twilio-Signature` = base64 HMAC-SHA1 keyed with the auth token over the full URL
//! Twilio called, followed (for form bodies) by every POST parameter as `name` + `value` sorted by
//! name (repeated names: values sorted). For JSON bodies the URL carries
//! `bodySHA256=<hex sha256(body)>`, no parameters are appended, and the body hash must match.
//! The URL is tried as given, and with the default port added or removed.

use std::borrow::Cow;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{ct_eq, HeaderSource, VerifyError};
use crate::secret::Secret;

/// The header Twilio signs with.
pub const HEADER: &str = "x-twilio-signature";

/// The `bodySHA256` query value of `url`, if present.
pub fn body_sha256_param(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "bodySHA256")
        .map(|(_, v)| v.into_owned())
}

/// `url` with `bodySHA256=<hex sha256(body)>` appended (what Twilio does for JSON bodies).
pub fn url_with_body_hash(url: &str, body: &[u8]) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}bodySHA256={}", hex::encode(Sha256::digest(body)))
}

fn is_json_url(url: &str) -> bool {
    body_sha256_param(url).is_some()
}

/// The signature for a request to `url` with `body`: when the URL carries `bodySHA256` only the URL
/// is signed, otherwise `body` is parsed as `application/x-www-form-urlencoded` and its parameters
/// appended.
///
/// ```
/// use wedsync_webhooks::verify::twilio;
/// let token = concat!("auth", "token", "0123456789abcdef");
/// let sig = twilio::sign(token, "https://hooks.example.com/twilio", b"To=%2B44&Body=hi");
/// assert_eq!(sig.len(), 28); // base64 of a 20-byte SHA-1 MAC
/// ```
pub fn sign(auth_token: &str, url: &str, body: &[u8]) -> String {
    let params = if is_json_url(url) {
        Vec::new()
    } else {
        sorted_params(body)
    };
    B64.encode(mac(&keyed(auth_token), url, &params))
}

/// Sign a URL and explicit parameters (for callers that hold parameters, not a body).
pub fn sign_params(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<Pair<'_>> = params
        .iter()
        .map(|(k, v)| (Cow::Borrowed(k.as_bytes()), Cow::Borrowed(v.as_bytes())))
        .collect();
    pairs.sort_unstable();
    B64.encode(mac(&keyed(auth_token), url, &pairs))
}

/// HMAC-SHA1 keyed with `auth_token`: the key's inner and outer blocks are hashed once here and the
/// state cloned for every message.
fn keyed(auth_token: &str) -> Hmac<Sha1> {
    // HMAC accepts keys of any length: this cannot fail.
    Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length")
}

/// A decoded form parameter.
type Pair<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// The form parameters of `body`, decoded and sorted by name then value (byte order of UTF-8 equals
/// code point order, so this sorts like Twilio's SDKs). Names and values without `+`, `%` or
/// invalid UTF-8 are borrowed, not copied.
fn sorted_params(body: &[u8]) -> Vec<Pair<'_>> {
    let mut params: Vec<Pair<'_>> = Vec::with_capacity(32);
    let mut start = 0;
    for end in memchr::memchr_iter(b'&', body).chain(std::iter::once(body.len())) {
        let pair = &body[start..end];
        start = end + 1;
        if pair.is_empty() {
            continue;
        }
        let (k, v) = match memchr::memchr(b'=', pair) {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[..0]),
        };
        params.push((decode_component(k), decode_component(v)));
    }
    params.sort_unstable();
    params
}

/// `application/x-www-form-urlencoded` decoding of one name or value, exactly as the `url`
/// crate's `form_urlencoded::parse` does it (`+` → space, `%XX` → byte, invalid UTF-8 replaced),
/// without copying the common case (no `+`, no `%`, valid UTF-8).
fn decode_component(raw: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr2(b'+', b'%', raw).is_none() && std::str::from_utf8(raw).is_ok() {
        return Cow::Borrowed(raw);
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < raw.len() => match (hex(raw[i + 1]), hex(raw[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    match String::from_utf8_lossy(&out) {
        Cow::Borrowed(_) => Cow::Owned(out),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    }
}

/// The reference (slow, obviously correct) form of the bytes appended to the URL, for tests.
#[doc(hidden)]
pub fn signed_params_oracle(url: &str, body: &[u8]) -> Vec<u8> {
    if is_json_url(url) {
        return Vec::new();
    }
    let mut params: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.sort();
    params
        .into_iter()
        .flat_map(|(k, v)| [k, v])
        .collect::<String>()
        .into_bytes()
}

/// The bytes the fast path appends to the URL (`name` + `value` of the sorted parameters; nothing
/// for JSON bodies), exposed for the oracle property test.
#[doc(hidden)]
pub fn signed_params_fast(url: &str, body: &[u8]) -> Vec<u8> {
    if is_json_url(url) {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(body.len());
    for (k, v) in sorted_params(body) {
        out.extend_from_slice(&k);
        out.extend_from_slice(&v);
    }
    out
}

/// The MAC over `url` followed by each parameter's name and value, fed to a clone of the keyed
/// state without concatenating them first.
fn mac(keyed: &Hmac<Sha1>, url: &str, params: &[Pair<'_>]) -> [u8; 20] {
    let mut m = keyed.clone();
    m.update(url.as_bytes());
    for (k, v) in params {
        m.update(k);
        m.update(v);
    }
    m.finalize().into_bytes().into()
}

/// The URL variants tried: as given, and with the scheme's default port toggled.
pub fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    out.extend(toggled_port(url));
    out
}

/// `url` with the scheme's default port added (when it has none) or removed (when it is the
/// default); `None` for other ports and schemes.
fn toggled_port(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let (userinfo, hostport) = authority.split_at(host_start);
    // IPv6 literals contain ':'; a port follows the closing bracket.
    let port_sep = match hostport.rfind(']') {
        Some(b) => hostport[b..].find(':').map(|i| b + i),
        None => hostport.rfind(':'),
    };
    match port_sep {
        Some(i) if &hostport[i + 1..] == default => {
            Some(format!("{scheme}://{userinfo}{}{tail}", &hostport[..i]))
        }
        Some(_) => None,
        None => Some(format!("{scheme}://{userinfo}{hostport}:{default}{tail}")),
    }
}

/// Verifies `X-Twilio-Signature`.
#[derive(Clone)]
pub struct TwilioVerifier {
    /// One keyed HMAC-SHA1 state per auth token (the tokens themselves are not kept).
    keyed: Vec<Hmac<Sha1>>,
    public_base: Option<String>,
}

impl std::fmt::Debug for TwilioVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioVerifier")
            .field("tokens", &self.keyed.len())
            .field("public_base", &self.public_base)
            .finish()
    }
}

impl TwilioVerifier {
    /// Accept a signature made with any of `auth_tokens`.
    pub fn new<S: Into<Secret>>(auth_tokens: impl IntoIterator<Item = S>) -> Self {
        TwilioVerifier {
            keyed: auth_tokens
                .into_iter()
                .map(|t| keyed(t.into().expose()))
                .collect(),
            public_base: None,
        }
    }

    /// Behind a proxy: the public `scheme://host[:port]` Twilio calls (e.g.
    /// `https://hooks.wedsync.com`). [`public_url`](Self::public_url) joins it with a request's path
    /// and query.
    pub fn with_public_base(mut self, base: impl Into<String>) -> Self {
        let mut base = base.into();
        while base.ends_with('/') {
            base.pop();
        }
        self.public_base = Some(base);
        self
    }

    /// The URL Twilio called for a request whose path and query are `path_and_query`, when a
    /// public base is configured.
    pub fn public_url(&self, path_and_query: &str) -> Option<String> {
        self.public_base.as_ref().map(|b| {
            if path_and_query.starts_with('/') {
                format!("{b}{path_and_query}")
            } else {
                format!("{b}/{path_and_query}")
            }
        })
    }

    /// Verify a request to the full `url` Twilio called.
    pub fn verify(
        &self,
        url: &str,
        headers: &dyn HeaderSource,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        let sig = headers
            .header(HEADER)
            .ok_or(VerifyError::MissingHeader("X-Twilio-Signature"))?;
        self.verify_signature(url, sig, body)
    }

    /// Verify with the signature value given directly.
    ///
    /// The body is parsed and sorted once; each configured token is tried against the URL as
    /// given and then with the default port toggled, stopping at the first match (every
    /// comparison is constant-time; which token or URL form matched is not secret).
    pub fn verify_signature(
        &self,
        url: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        if self.keyed.is_empty() {
            return Err(VerifyError::NoSecretConfigured);
        }
        let malformed = VerifyError::MalformedHeader {
            header: "X-Twilio-Signature",
            reason: "not base64",
        };
        let signature = signature.trim();
        let mut given = [0u8; 20];
        match B64.decode_slice(signature.as_bytes(), &mut given) {
            Ok(20) => {}
            // Valid base64 of another length can match no HMAC-SHA1.
            Ok(_) => return Err(self.no_match()),
            Err(base64::DecodeSliceError::DecodeError(_)) => return Err(malformed),
            // Longer than a MAC: is it base64 at all?
            Err(_) => {
                return Err(match B64.decode(signature) {
                    Ok(_) => self.no_match(),
                    Err(_) => malformed,
                })
            }
        }
        let params = match body_sha256_param(url) {
            Some(expected_hash) => {
                let actual = hex::encode(Sha256::digest(body));
                if !ct_eq(
                    actual.as_bytes(),
                    expected_hash.to_ascii_lowercase().as_bytes(),
                ) {
                    return Err(VerifyError::BodyHashMismatch);
                }
                Vec::new()
            }
            // The URL variants differ only by the port, never by `bodySHA256`.
            None => sorted_params(body),
        };
        let matches = |u: &str| {
            self.keyed
                .iter()
                .any(|k| ct_eq(&mac(k, u, &params), &given))
        };
        if matches(url) || toggled_port(url).is_some_and(|u| matches(&u)) {
            Ok(())
        } else {
            Err(self.no_match())
        }
    }

    fn no_match(&self) -> VerifyError {
        VerifyError::NoMatchingSignature {
            candidates: 1,
            secrets: self.keyed.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_documented_example() {
        // The example from Twilio's security documentation.
        let token = ["12345"].concat();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let body = b"CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212";
        assert_eq!(sign(&token, url, body), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        let v = TwilioVerifier::new([token.as_str()]);
        assert_eq!(
            v.verify_signature(url, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", body),
            Ok(())
        );
    }

    #[test]
    fn ports() {
        assert_eq!(
            url_variants("https://a.example.com/x?y=1"),
            vec![
                "https://a.example.com/x?y=1",
                "https://a.example.com:443/x?y=1"
            ]
        );
        assert_eq!(
            url_variants("http://a.example.com:80"),
            vec!["http://a.example.com:80", "http://a.example.com"]
        );
        assert_eq!(url_variants("https://a.example.com:8443/x").len(), 1);
        assert_eq!(
            url_variants("https://[::1]/x"),
            vec!["https://[::1]/x", "https://[::1]:443/x"]
        );
    }

    #[test]
    fn json_body_hash() {
        let token = ["tok", "en"].concat();
        let body = br#"{"a":1}"#;
        let url = url_with_body_hash("https://h.example.com/t?x=1", body);
        let sig = sign(&token, &url, body);
        let v = TwilioVerifier::new([token.as_str()]);
        assert_eq!(v.verify_signature(&url, &sig, body), Ok(()));
        assert_eq!(
            v.verify_signature(&url, &sig, br#"{"a":2}"#),
            Err(VerifyError::BodyHashMismatch)
        );
    }
}
