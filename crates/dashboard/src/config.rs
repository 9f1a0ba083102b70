//! The `wedsync-monitor` configuration section this crate owns: `[dashboard]`
//! ([`DashboardConfig`]), the live dashboard at `/dashboard` and the public status page.
//!
//! ```
//! use std::time::Duration;
//! use wedsync_dashboard::config::DashboardConfig;
//!
//! let d = DashboardConfig::default(); // what an empty `[dashboard]` table reads as
//! assert!(d.enabled && !d.public_status && !d.secure_cookies);
//! assert_eq!(d.session_ttl, Duration::from_secs(12 * 3600));
//! ```

use std::time::Duration;

use serde::Deserialize;

/// `[dashboard]`: the live dashboard at `/dashboard` and the public status page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    /// Serve the dashboard (`true`). It needs an API key to log in, like the API.
    #[serde(default = "wedsync_config::default_true")]
    pub enabled: bool,
    /// Serve the unauthenticated status page `/status` and the badges under `/badge/` for the
    /// services with `public = true` (`false`).
    #[serde(default)]
    pub public_status: bool,
    /// Mark the session cookie `Secure` (`false`): set it when the server is reached over HTTPS
    /// (a TLS-terminating proxy), so the cookie never travels in clear.
    #[serde(default)]
    pub secure_cookies: bool,
    /// How long a browser session lasts (`12h`).
    #[serde(default = "default_session_ttl", with = "wedsync_config::duration")]
    pub session_ttl: Duration,
}

wedsync_config::default_is_the_empty_table!(DashboardConfig);

fn default_session_ttl() -> Duration {
    Duration::from_secs(12 * 3600)
}

#[cfg(feature = "http")]
impl DashboardConfig {
    /// The dashboard service's settings from this section: sessions and CSRF tokens signed with
    /// `secret`, the views described by `spec`.
    pub fn settings(&self, secret: [u8; 32], spec: crate::gather::Spec) -> crate::http::Settings {
        crate::http::Settings {
            secret,
            session_ttl: self.session_ttl,
            secure_cookies: self.secure_cookies,
            public_status: self.public_status,
            spec,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_overrides_the_defaults_and_refuses_unknown_keys() {
        let d: DashboardConfig = serde_json::from_str(
            r#"{"public_status": true, "secure_cookies": true, "session_ttl": "30m"}"#,
        )
        .unwrap();
        assert!(d.enabled && d.public_status && d.secure_cookies);
        assert_eq!(d.session_ttl, Duration::from_secs(1800));
        let e = serde_json::from_str::<DashboardConfig>(r#"{"session_ttl": "0s"}"#).unwrap_err();
        assert!(e.to_string().contains("is not a duration"), "{e}");
        assert!(serde_json::from_str::<DashboardConfig>(r#"{"theme": "dark"}"#).is_err());
    }
}
