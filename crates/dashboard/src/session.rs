//! Browser sessions for the dashboard, started from an API key (feature `session`).
//!
//! The session is a signed cookie, not server state, so any process sharing the secret accepts
//! it: `wsm_session=v1.<key id>.<expiry>.<mac>` where the MAC is HMAC-SHA256 under a 32-byte
//! secret (the server derives it from its raw-body key, so every process has the same one). The
//! cookie names the API key, never holds it; the server re-reads the key's record on each
//! request, so a revoked key ends its sessions at once. The CSRF token of a session is an HMAC
//! of its cookie, put in every state-changing form and compared in constant time; the login form
//! has its own double-submit token (a random nonce in [`LOGIN_COOKIE`]). Cookies are `HttpOnly`,
//! `SameSite=Strict`, `Path=/`, and `Secure` when asked.
//!
//! Nothing here knows HTTP types: headers come in as strings and `Set-Cookie` values go out as
//! strings.
//!
//! ```
//! use std::time::Duration;
//! use wedsync_dashboard::session::{cookie, Sessions, SESSION_COOKIE};
//!
//! let sessions = Sessions::new([7; 32], Duration::from_secs(3600), true);
//! let [set, _clear_login] = sessions.start("key_abc", 1_000);
//! assert!(set.starts_with("wsm_session=v1.") && set.ends_with("Max-Age=3600; Secure"));
//!
//! // the browser sends the cookie back
//! let header = set.split(';').next().unwrap();
//! let s = sessions.verify(cookie([header], SESSION_COOKIE).unwrap(), 2_000).unwrap();
//! assert_eq!(s.key_id, "key_abc");
//! assert!(sessions.keys().csrf_ok(&s.cookie, &sessions.keys().csrf(&s.cookie)));
//! assert!(sessions.verify(&s.cookie, 4_600).is_none(), "expired");
//! ```

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "wsm_session";
/// The login form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "wsm_login";
/// The flash-message cookie (an action's result, shown once).
pub const FLASH_COOKIE: &str = "wsm_flash";
/// How long the login form's nonce cookie lives (seconds).
pub const LOGIN_FORM_TTL_S: i64 = 3600;
/// How long a flash message waits to be shown (seconds).
pub const FLASH_TTL_S: i64 = 60;
/// The longest flash message accepted back from a cookie (bytes).
pub const FLASH_MAX: usize = 300;

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

    /// The session in `cookie`, if its signature holds and it has not expired at `now`
    /// (Unix seconds).
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

/// The session policy of one dashboard: its keys, how long a session lasts and whether cookies
/// are `Secure`. Every `Set-Cookie` value the dashboard sends is built here.
#[derive(Debug, Clone)]
pub struct Sessions {
    keys: SessionKeys,
    ttl: Duration,
    secure: bool,
}

impl Sessions {
    /// Sessions signed with `secret`, lasting `ttl`, with `Secure` cookies when `secure`.
    pub fn new(secret: [u8; 32], ttl: Duration, secure: bool) -> Self {
        Sessions {
            keys: SessionKeys::new(secret),
            ttl,
            secure,
        }
    }

    /// The signing keys.
    pub fn keys(&self) -> &SessionKeys {
        &self.keys
    }

    /// The session in a `wsm_session` cookie value, if valid at `now_s` (Unix seconds).
    pub fn verify(&self, cookie: &str, now_s: i64) -> Option<Session> {
        self.keys.verify(cookie, now_s)
    }

    /// A `Set-Cookie` value under this policy's `Secure` setting.
    pub fn set_cookie(&self, name: &str, value: &str, max_age: i64) -> String {
        set_cookie(name, value, max_age, self.secure)
    }

    /// A login form for the random `nonce` (see [`nonce`]): its CSRF token and the `Set-Cookie`
    /// value that carries the nonce.
    pub fn login_form(&self, nonce: &str) -> (String, String) {
        (
            self.keys.csrf(nonce),
            self.set_cookie(LOGIN_COOKIE, nonce, LOGIN_FORM_TTL_S),
        )
    }

    /// Whether a login form's `token` matches the nonce in its `wsm_login` cookie.
    pub fn login_ok(&self, nonce: Option<&str>, token: &str) -> bool {
        nonce.is_some_and(|n| !n.is_empty() && self.keys.csrf_ok(n, token))
    }

    /// The `Set-Cookie` values that start a session of `key_id` at `now_s` (Unix seconds): the
    /// session cookie, and the login cookie cleared.
    pub fn start(&self, key_id: &str, now_s: i64) -> [String; 2] {
        let ttl = self.ttl.as_secs();
        let expires = now_s + i64::try_from(ttl).unwrap_or(i64::MAX / 2);
        [
            self.set_cookie(
                SESSION_COOKIE,
                &self.keys.issue(key_id, expires),
                i64::try_from(ttl).unwrap_or(0),
            ),
            self.set_cookie(LOGIN_COOKIE, "", 0),
        ]
    }

    /// The `Set-Cookie` value that ends a session.
    pub fn end(&self) -> String {
        self.set_cookie(SESSION_COOKIE, "", 0)
    }

    /// The `Set-Cookie` value that shows `message` once on the next page.
    pub fn flash(&self, message: &str) -> String {
        self.set_cookie(FLASH_COOKIE, &B64.encode(message), FLASH_TTL_S)
    }

    /// The flash message in a `wsm_flash` cookie value, and the `Set-Cookie` value that clears
    /// it; `None` when there is none (or it is not one this dashboard wrote).
    pub fn take_flash(&self, cookie: Option<&str>) -> Option<(String, String)> {
        let text = decode_flash(cookie?)?;
        Some((text, self.set_cookie(FLASH_COOKIE, "", 0)))
    }
}

fn decode_flash(v: &str) -> Option<String> {
    let bytes = B64.decode(v).ok()?;
    String::from_utf8(bytes)
        .ok()
        .filter(|s| s.len() <= FLASH_MAX)
}

/// A URL-safe nonce from 16 random bytes (the login form's double-submit value).
pub fn nonce(random: [u8; 16]) -> String {
    B64.encode(random)
}

/// The value of cookie `name` in the values of a request's `Cookie` headers.
pub fn cookie<'a, I>(headers: I, name: &str) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    headers
        .into_iter()
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
    use proptest::prelude::*;

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
    fn the_cookie_format_is_stable() {
        // v1.<base64url(key id)>.<expiry>.<base64url(HMAC-SHA256)>: cookies issued by earlier
        // builds keep working
        let c = SessionKeys::new([1; 32]).issue("key_abc", 2_000);
        let parts: Vec<&str> = c.split('.').collect();
        assert_eq!(parts[..3], ["v1", "a2V5X2FiYw", "2000"]);
        assert_eq!(B64.decode(parts[3]).unwrap().len(), 32);
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
        let h = ["a=1; wsm_session=v1.x.2.y; b=3"];
        assert_eq!(cookie(h, SESSION_COOKIE), Some("v1.x.2.y"));
        assert_eq!(cookie(["a=1", "c=2"], "c"), Some("2"));
        assert_eq!(cookie(h, "c"), None);
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

    #[test]
    fn the_policy_builds_every_cookie() {
        let p = Sessions::new([3; 32], Duration::from_secs(60), false);
        let [session, login] = p.start("key_a", 100);
        assert!(session.starts_with("wsm_session=v1.") && session.contains("Max-Age=60"));
        assert_eq!(
            login,
            "wsm_login=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        );
        let value = session.split(';').next().unwrap()["wsm_session=".len()..].to_owned();
        assert_eq!(p.verify(&value, 159).unwrap().expires, 160);
        assert!(p.verify(&value, 160).is_none());
        assert!(p.end().starts_with("wsm_session=;") && p.end().contains("Max-Age=0"));

        let n = nonce([9; 16]);
        let (token, set) = p.login_form(&n);
        assert!(set.starts_with(&format!("wsm_login={n};")) && set.contains("Max-Age=3600"));
        assert!(p.login_ok(Some(&n), &token));
        assert!(!p.login_ok(Some(""), &p.keys().csrf("")));
        assert!(!p.login_ok(None, &token));

        let f = p.flash("Replay of delivery x scheduled");
        let v = f.split(';').next().unwrap()["wsm_flash=".len()..].to_owned();
        assert!(v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        let (text, clear) = p.take_flash(Some(&v)).unwrap();
        assert_eq!(text, "Replay of delivery x scheduled");
        assert!(clear.starts_with("wsm_flash=;") && clear.contains("Max-Age=0"));
        assert_eq!(p.take_flash(Some("!!")), None);
        assert_eq!(p.take_flash(Some(&B64.encode("x".repeat(301)))), None);
        assert_eq!(p.take_flash(None), None);
    }

    proptest! {
        /// Changing any byte of a valid cookie (or cutting or extending it) never yields a
        /// session, whatever the clock says.
        #[test]
        fn a_tampered_cookie_never_verifies(
            key_id in "[a-z_0-9]{1,24}",
            expires in 1i64..4_000_000_000,
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<bool>(),
        ) {
            let k = SessionKeys::new([5; 32]);
            let c = k.issue(&key_id, expires);
            prop_assert!(k.verify(&c, expires - 1).is_some());
            let mut b = c.clone().into_bytes();
            let i = at.index(b.len());
            if cut {
                b.truncate(i);
            } else if b[i] == byte {
                b.push(byte);
            } else {
                b[i] = byte;
            }
            let tampered = String::from_utf8_lossy(&b).into_owned();
            prop_assume!(tampered != c);
            prop_assert!(k.verify(&tampered, 0).is_none(), "{tampered}");
        }
    }
}
