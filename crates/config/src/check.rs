//! Checks of values that name things elsewhere: environment variables and URLs. Their errors
//! never echo the value (a secret pasted into the wrong key must not reach a log).

use crate::ConfigError;

/// Whether `name` can name an environment variable: `A-Z`, `0-9`, `_`, not starting with a digit.
pub fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// `Ok` when `name` is an environment variable name; else an error about `key` that does not
/// echo `name` (it may be a secret pasted into the wrong place).
///
/// ```
/// use wedsync_config::check_env_name;
/// assert!(check_env_name("secret_env", "STRIPE_WEBHOOK_SECRET").is_ok());
/// let e = check_env_name("secret_env", "whsec_abc").unwrap_err();
/// assert_eq!(e.key(), "secret_env");
/// assert!(!e.to_string().contains("whsec_abc"));
/// ```
pub fn check_env_name(key: &str, name: &str) -> Result<(), ConfigError> {
    if is_env_name(name) {
        Ok(())
    } else {
        Err(ConfigError::new(
            key,
            "must name an environment variable (A-Z, 0-9, _); secrets come from the environment, \
             never from this file",
        ))
    }
}

/// [`check_env_name`] for an optional key: `None` is fine.
pub fn check_optional_env_name(key: &str, name: Option<&str>) -> Result<(), ConfigError> {
    name.map_or(Ok(()), |name| check_env_name(key, name))
}

/// The secret held by the environment variable `env`, looked up through `lookup` (the process
/// environment, or a test's map); when it is unset, [`ConfigError::unset_env`] about `key`.
pub fn require_secret<S>(
    lookup: impl Fn(&str) -> Option<S>,
    key: &str,
    env: &str,
) -> Result<S, ConfigError> {
    lookup(env).ok_or_else(|| ConfigError::unset_env(key, env))
}

/// `Ok` when `url` is an `http://` or `https://` URL without credentials; else an error about
/// `key` that does not echo the URL.
pub fn check_http_url(key: &str, url: &str) -> Result<(), ConfigError> {
    if (url.starts_with("http://") || url.starts_with("https://")) && url.len() > 8 {
        if url.contains('@') {
            return Err(ConfigError::new(
                key,
                "must not carry credentials; use the matching *_env key",
            ));
        }
        Ok(())
    } else {
        Err(ConfigError::new(key, "must be an http:// or https:// URL"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls_are_checked_without_echoing_them() {
        assert!(is_env_name("A_1") && !is_env_name("1A") && !is_env_name("") && !is_env_name("a"));
        assert!(check_optional_env_name("k", None).is_ok());
        assert_eq!(
            check_optional_env_name("k", Some("x")).unwrap_err().key(),
            "k"
        );
        let err = check_http_url("base_url", "ftp://example.com").unwrap_err();
        assert!(err.message().contains("http:// or https://"));
        let creds = concat!("https://user:", "hunter2", "@api.example");
        let err = check_http_url("base_url", creds).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(check_http_url("u", "https://api.example").is_ok());
        let e = require_secret(|_| None::<String>, "secret_env", "WHSEC").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`secret_env`: environment variable WHSEC is not set (secrets come from the environment)"
        );
        assert_eq!(require_secret(|v| Some(v.len()), "k", "ABC"), Ok(3));
    }
}
