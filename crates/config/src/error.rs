//! [`ConfigError`]: one bad value, named by its dotted key.

/// A configuration value that fails validation. The message names the key (`timeout`,
/// `services[2].credential_env`) and never contains a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct ConfigError {
    key: String,
    message: String,
}

impl ConfigError {
    /// An error about `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }

    /// `key` names the environment variable `env`, which is unset: the message names the variable
    /// (never a value) and says where secrets come from.
    pub fn unset_env(key: impl Into<String>, env: &str) -> Self {
        Self::new(
            key,
            format!("environment variable {env} is not set (secrets come from the environment)"),
        )
    }

    /// The offending key, e.g. `services[1].interval`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// What is wrong with it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with its key placed under `prefix`: `timeout` → `services[0].timeout`,
    /// `[2]` → `maintenance[2]`, and an empty key (the whole section) → `prefix`.
    ///
    /// ```
    /// use wedsync_config::ConfigError;
    /// let e = ConfigError::new("lease", "must be at least 3s").under("worker");
    /// assert_eq!(e.to_string(), "`worker.lease`: must be at least 3s");
    /// assert_eq!(ConfigError::new("", "bad").under("wedding_days").key(), "wedding_days");
    /// ```
    pub fn under(mut self, prefix: &str) -> Self {
        self.key = if self.key.is_empty() {
            prefix.to_owned()
        } else if self.key.starts_with('[') {
            format!("{prefix}{}", self.key)
        } else {
            format!("{prefix}.{}", self.key)
        };
        self
    }
}
