//! Browser sessions for the dashboard, started from an API key.
//!
//! The session is a signed cookie, not server state, so any process sharing the store accepts it:
//! `wsm_session=v1.<key id>.<expiry>.<mac>` where the MAC is HMAC-SHA256 under a secret derived
//! from the raw-body key (every process has the same one). The cookie names the API key, never
//! holds it; each request re-reads the key's record, so a revoked key ends its sessions at once.
//! The CSRF token of a session is an HMAC of its cookie, put in every state-changing form and
//! compared in constant time; the login form has its own double-submit token. Cookies are
//! `HttpOnly`, `SameSite=Strict`, `Path=/`, and `Secure` when `dashboard.secure_cookies` is set.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "wsm_session";
/// The login form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "wsm_login";

/// Signs and checks session cookies and CSRF tokens.
#[derive(Clone)]
pub struct SessionKeys {
    secret: [u8; 32],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

/// A verified session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The API key's id.
    pub key_id: String,
    /// When it ends (Unix seconds).
    pub expires: i64,
    /// The cookie value (the CSRF token is derived from it).
    pub cookie: String,
}

impl SessionKeys {
    /// Keys from a 32-byte secret.
    pub fn new(secret: [u8; 32]) -> Self {
        SessionKeys { secret }
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as hmac::Mac>::new_from_slice(&self.secret)
            .expect("HMAC takes any key length");
        for p in parts {
            m.update(&(p.len() as u64).to_be_bytes());
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    /// A cookie value for `key_id`, valid until `expires` (Unix seconds).
    pub fn issue(&self, key_id: &str, expires: i64) -> String {
        let id = B64.encode(key_id);
        let exp = expires.to_string();
        let mac = self.mac(&[b"session", id.as_bytes(), exp.as_bytes()]);
        format!("v1.{id}.{exp}.{}", B64.encode(mac))
    }

    /// The session in `cookie`, if its signature holds and it has not expired at `now`.
    pub fn verify(&self, cookie: &str, now: i64) -> Option<Session> {
        let mut parts = cookie.split('.');
        let (v, id, exp, mac) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if v != "v1" || parts.next().is_some() {
            return None;
        }
        let given = B64.decode(mac).ok()?;
        let want = self.mac(&[b"session", id.as_bytes(), exp.as_bytes()]);
        if !bool::from(given.as_slice().ct_eq(&want)) {
            return None;
        }
        let expires: i64 = exp.parse().ok()?;
        if expires <= now {
            return None;
        }
        let key_id = String::from_utf8(B64.decode(id).ok()?).ok()?;
        Some(Session {
            key_id,
            expires,
            cookie: cookie.to_owned(),
        })
    }

    /// The CSRF token of a session (or of a login form's nonce).
    pub fn csrf(&self, cookie: &str) -> String {
        B64.encode(self.mac(&[b"csrf", cookie.as_bytes()]))
    }

    /// Whether `token` is the CSRF token of `cookie` (constant time).
    pub fn csrf_ok(&self, cookie: &str, token: &str) -> bool {
        let want = self.csrf(cookie);
        want.len() == token.len() && bool::from(want.as_bytes().ct_eq(token.as_bytes()))
    }
}

/// A random URL-safe nonce (the login form's double-submit value).
pub fn nonce() -> String {
    B64.encode(uuid::Uuid::new_v4().as_bytes())
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure when `secure`; `max_age`
/// seconds (0 deletes it).
pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_signed_bound_to_their_key_and_expire() {
        let k = SessionKeys::new([1; 32]);
        let c = k.issue("key_abc", 2_000);
        let s = k.verify(&c, 1_000).unwrap();
        assert_eq!((s.key_id.as_str(), s.expires), ("key_abc", 2_000));
        assert!(k.verify(&c, 2_000).is_none(), "expired");
        assert!(
            SessionKeys::new([2; 32]).verify(&c, 1_000).is_none(),
            "another process's secret"
        );
        // tampering with any part breaks it
        let forged = c.replace(&B64.encode("key_abc"), &B64.encode("key_admin"));
        assert!(k.verify(&forged, 1_000).is_none());
        let later = c.replace(".2000.", ".9999.");
        assert!(k.verify(&later, 1_000).is_none());
        for bad in ["", "v1", "v1.a.b", "v2.a.1.b", "v1.a.1.b.c", "v1.!!.1.x"] {
            assert!(k.verify(bad, 0).is_none(), "{bad}");
        }
    }

    #[test]
    fn csrf_tokens_belong_to_one_session() {
        let k = SessionKeys::new([1; 32]);
        let (a, b) = (k.issue("key_a", 10), k.issue("key_b", 10));
        let t = k.csrf(&a);
        assert!(k.csrf_ok(&a, &t));
        assert!(!k.csrf_ok(&b, &t));
        assert!(!k.csrf_ok(&a, ""));
        assert!(!k.csrf_ok(&a, &t[1..]));
    }

    #[test]
    fn cookies_parse_and_are_set_strictly() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            http::HeaderValue::from_static("a=1; wsm_session=v1.x.2.y; b=3"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("v1.x.2.y"));
        assert_eq!(cookie(&h, "c"), None);
        let s = set_cookie(SESSION_COOKIE, "v", 60, true);
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Path=/",
            "Max-Age=60",
        ] {
            assert!(s.contains(part), "{s}");
        }
        assert!(!set_cookie(SESSION_COOKIE, "v", 60, false).contains("Secure"));
    }
}
