//! [`Secret`]: a string that never prints.

use std::fmt;

use subtle::ConstantTimeEq;

/// A secret (signing secret, API key, auth token, routing key, shared header secret, webhook URL
/// with a token in it, AEAD key material). `Debug` and `Display` print `***`; the value is
/// reachable only through [`Secret::expose`], to be called only where it is put on the wire.
///
/// The one `Secret` type of the workspace: `wedsync-webhooks`, `wedsync-probe` and the monitor's
/// configuration re-export it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

impl PartialEq for Secret {
    /// Constant-time for equal lengths.
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let s = Secret::new(concat!("whsec_", "c2VjcmV0"));
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert_eq!(s.expose(), concat!("whsec_", "c2VjcmV0"));
        assert_eq!(s, Secret::from(concat!("whsec_", "c2VjcmV0")));
    }
}
