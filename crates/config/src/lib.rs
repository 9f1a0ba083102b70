//! `wedsync-config`: the building blocks every WedSync configuration section is made of, in a leaf
//! crate the libraries and the `wedsync-monitor` server share.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use wedsync_config::{check_env_name, ConfigError};
//!
//! /// `[worker]`.
//! #[derive(Debug, serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct WorkerConfig {
//!     /// How often an idle worker polls (`1s`).
//!     #[serde(default = "one_second", with = "wedsync_config::duration")]
//!     poll_interval: Duration,
//!     /// Environment variable holding the handler's secret.
//!     #[serde(default)]
//!     secret_env: Option<String>,
//! }
//! fn one_second() -> Duration {
//!     Duration::from_secs(1)
//! }
//! wedsync_config::default_is_the_empty_table!(WorkerConfig);
//!
//! impl WorkerConfig {
//!     /// Keys are named relative to the section.
//!     fn validate(&self) -> Result<(), ConfigError> {
//!         wedsync_config::check_optional_env_name("secret_env", self.secret_env.as_deref())
//!     }
//! }
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct File {
//!     #[serde(default)]
//!     worker: WorkerConfig,
//! }
//!
//! assert_eq!(WorkerConfig::default().poll_interval, Duration::from_secs(1));
//! // a TOML text overlaid by APP_* variables (`__` between path segments)
//! let env = [("APP_WORKER__POLL_INTERVAL".to_string(), "250ms".to_string())];
//! let file: File = wedsync_config::from_toml_with_env("[worker]\nsecret_env = \"S\"", "APP_", env)?;
//! assert_eq!(file.worker.poll_interval, Duration::from_millis(250));
//! file.worker.validate().map_err(|e| e.under("worker"))?;
//!
//! // errors name their dotted key and never echo the value
//! let bad = "[worker]\npoll_interval = \"sk_live_oops\"";
//! let err = wedsync_config::from_toml_with_env::<File>(bad, "APP_", []).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "invalid configuration: `worker.poll_interval`: is not a duration (use e.g. 250ms, 30s, 5m, 2h)"
//! );
//! let err = check_env_name("secret_env", "sk_live_oops").unwrap_err().under("worker");
//! assert!(err.to_string().starts_with("`worker.secret_env`: must name an environment variable"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Contents
//!
//! - [`ConfigError`]: a bad value named by its dotted key ([`ConfigError::under`] places a
//!   section's relative key under the section's name).
//! - [`parse_duration`], [`format_duration`] and the serde module [`duration`]: `250ms`, `30s`,
//!   `5m`, `2h`, `1d`; zero is refused.
//! - [`is_env_name`], [`check_env_name`], [`check_optional_env_name`], [`check_http_url`]: the
//!   checks of keys that name environment variables (the file never holds a secret) and URLs;
//!   [`require_secret`] reads such a variable, an unset one an error naming the key.
//! - [`default_is_the_empty_table!`]: a section's `Default` is what its empty table reads as, so
//!   its `#[serde(default …)]` attributes are the one place a default is written.
//! - [`load`] and [`from_toml_with_env`] (feature `load`, on by default): the layered loader.
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `load` | yes | [`load`], [`from_toml_with_env`] and [`LoadError`] (depends on `toml` and `serde_path_to_error`) |

mod check;
pub mod duration;
mod error;
#[cfg(feature = "load")]
mod load;

pub use check::{
    check_env_name, check_http_url, check_optional_env_name, is_env_name, require_secret,
};
pub use duration::{format_duration, parse_duration, DurationError};
pub use error::ConfigError;
#[cfg(feature = "load")]
pub use load::{from_toml_with_env, load, LoadError};

/// `true`, for `#[serde(default = "wedsync_config::default_true")]`.
pub fn default_true() -> bool {
    true
}

/// What an empty table deserialises to: every field's `#[serde(default …)]`. Fails (naming the
/// first field) when a field has no default. [`default_is_the_empty_table!`] builds on it.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Section {
///     #[serde(default = "wedsync_config::default_true")]
///     enabled: bool,
/// }
/// assert!(wedsync_config::from_empty_table::<Section>().unwrap().enabled);
/// ```
pub fn from_empty_table<T: serde::de::DeserializeOwned>() -> Result<T, String> {
    let empty = std::iter::empty::<(String, String)>();
    T::deserialize(serde::de::value::MapDeserializer::<
        _,
        serde::de::value::Error,
    >::new(empty))
    .map_err(|e| e.to_string())
}

/// Implements `Default` for configuration sections as what their empty table deserialises to
/// ([`from_empty_table`]), so the `#[serde(default …)]` of their fields are the one place a
/// default is written. Every field of each type must have a default (a test calling `default()`
/// catches one that does not).
///
/// ```
/// #[derive(Debug, serde::Deserialize)]
/// struct Retention {
///     #[serde(default = "wedsync_config::default_true")]
///     enabled: bool,
///     #[serde(default)]
///     keep: Vec<String>,
/// }
/// wedsync_config::default_is_the_empty_table!(Retention);
/// assert!(Retention::default().enabled);
/// ```
#[macro_export]
macro_rules! default_is_the_empty_table {
    ($($t:ty),+ $(,)?) => {$(
        impl ::core::default::Default for $t {
            fn default() -> Self {
                // every field has a default: an empty table cannot fail to deserialise
                $crate::from_empty_table().expect("every field has a default")
            }
        }
    )+};
}
