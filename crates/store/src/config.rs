//! The `wedsync-monitor` configuration sections this crate owns: `[store]` ([`StoreConfig`]: which
//! store, by URL) and `[retention]` ([`RetentionConfig`]: when the retention job runs). Checks name
//! keys relative to the section (`url`); the server places them with [`ConfigError::under`].
//!
//! ```
//! use wedsync_store::config::{StoreConfig, StoreUrl};
//!
//! let mut store = StoreConfig::default();
//! assert_eq!(store.url, "sqlite://wedsync-monitor.db");
//! assert_eq!(StoreUrl::parse(&store.url).ok(), Some(StoreUrl::Sqlite("wedsync-monitor.db")));
//! store.url = "mysql://db".into();
//! assert_eq!(store.validate().unwrap_err().key(), "url");
//! ```

use std::time::Duration;

use serde::Deserialize;
use wedsync_config::ConfigError;

use crate::RetentionPolicy;

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` (default `sqlite://wedsync-monitor.db`), `sqlite::memory:` or
    /// `postgres://user@host/db`.
    #[serde(default = "default_store_url")]
    pub url: String,
}

/// `[retention]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Run the retention job in this process (`true`).
    #[serde(default = "wedsync_config::default_true")]
    pub enabled: bool,
    /// How often it runs (`1h`).
    #[serde(
        default = "default_retention_interval",
        with = "wedsync_config::duration"
    )]
    pub interval: Duration,
}

wedsync_config::default_is_the_empty_table!(StoreConfig, RetentionConfig);

fn default_store_url() -> String {
    "sqlite://wedsync-monitor.db".into()
}

fn default_retention_interval() -> Duration {
    Duration::from_secs(3600)
}

pub use crate::open::StoreUrl;

impl StoreConfig {
    /// Checks that `url` names a store this crate opens (the URL is never echoed: it may hold a
    /// password).
    pub fn validate(&self) -> Result<(), ConfigError> {
        StoreUrl::parse(&self.url)
            .map(drop)
            .map_err(|_| ConfigError::new("url", StoreUrl::EXPECTED))
    }
}

impl RetentionConfig {
    /// What the retention job deletes: the store's [`RetentionPolicy::default`], with raw webhook
    /// bodies kept for `raw_webhook_bodies` (the server's `ingress.raw_body_retention`).
    pub fn policy(&self, raw_webhook_bodies: Duration) -> RetentionPolicy {
        RetentionPolicy {
            raw_webhook_bodies,
            ..RetentionPolicy::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_empty_tables() {
        let r = RetentionConfig::default();
        assert!(r.enabled);
        assert_eq!(r.interval, Duration::from_secs(3600));
        assert_eq!(StoreConfig::default().url, "sqlite://wedsync-monitor.db");
        let week = Duration::from_secs(7 * 86_400);
        let p = r.policy(Duration::from_secs(60));
        assert_eq!(p.raw_webhook_bodies, Duration::from_secs(60));
        assert_eq!(p.sanitized_logs, RetentionPolicy::default().sanitized_logs);
        assert_eq!(RetentionPolicy::default().raw_webhook_bodies, week);
    }

    #[test]
    fn urls_name_their_store_and_others_are_refused() {
        let kind = |url: &str| {
            let s = StoreConfig { url: url.into() };
            s.validate()
                .map(|()| format!("{:?}", StoreUrl::parse(&s.url).ok().unwrap()))
        };
        assert_eq!(kind("sqlite::memory:").unwrap(), "SqliteMemory");
        assert_eq!(kind("sqlite://:memory:").unwrap(), "SqliteMemory");
        assert_eq!(kind("sqlite://data/m.db").unwrap(), "Sqlite(\"data/m.db\")");
        assert_eq!(kind("sqlite:m.db").unwrap(), "Sqlite(\"m.db\")");
        let pg = "postgres://u@h/db";
        assert_eq!(kind(pg).unwrap(), format!("Postgres({pg:?})"));
        assert!(kind("postgresql://h/db").is_ok());
        let secret = concat!("mysql://root:", "hunter2", "@db");
        let e = kind(secret).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`url`: must start with sqlite://, postgres:// or postgresql://"
        );
    }
}
