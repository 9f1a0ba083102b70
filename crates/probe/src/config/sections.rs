//! The `wedsync-monitor` configuration sections this crate owns: `[wedding_days]`,
//! `[[maintenance]]`, `[alerts]` and `[monitor]`. Their checks name keys relative to the section
//! (`timezone`, `slack_webhook_env`); the server places them with [`ConfigError::under`].

use serde::Deserialize;
use wedsync_config::check_optional_env_name;

use super::{ConfigError, ServiceSpec};
use crate::policy::PolicyError;
use crate::{MaintenanceWindow, WeddingDayPolicy};

/// `[wedding_days]`: which days get the wedding-day policy ([`WeddingDaysConfig::policy`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeddingDaysConfig {
    /// IANA time zone the weekdays are read in (`Europe/London`).
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Weekdays that are wedding days (`["saturday"]`).
    #[serde(default = "default_weekdays")]
    pub weekdays: Vec<String>,
    /// Extra wedding days, `YYYY-MM-DD`.
    #[serde(default)]
    pub dates: Vec<String>,
}

/// `[monitor]`: whether this process runs the probes. (The monitor's own tuning is
/// [`crate::MonitorConfig`], built by [`monitor_settings`].)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// Run the probes in this process (`true`).
    #[serde(default = "wedsync_config::default_true")]
    pub enabled: bool,
}

wedsync_config::default_is_the_empty_table!(WeddingDaysConfig, MonitorConfig);

fn default_timezone() -> String {
    "Europe/London".into()
}

fn default_weekdays() -> Vec<String> {
    vec!["saturday".into()]
}

impl WeddingDaysConfig {
    /// The wedding-day policy this section describes; an error names the offending key relative
    /// to the section (`timezone`, `weekdays[2]`, `dates[0]`).
    ///
    /// ```
    /// use wedsync_probe::config::WeddingDaysConfig;
    /// let mut days = WeddingDaysConfig::default(); // Saturdays in Europe/London
    /// assert!(days.policy().is_ok());
    /// days.weekdays.push("caturday".into());
    /// assert_eq!(days.policy().unwrap_err().key(), "weekdays[1]");
    /// ```
    pub fn policy(&self) -> Result<WeddingDayPolicy, ConfigError> {
        WeddingDayPolicy::new(&self.timezone, &self.weekdays, &self.dates).map_err(|e| {
            let at = |list: &[String], bad: &str, name: &str| {
                let i = list.iter().position(|v| v == bad).unwrap_or(0);
                format!("{name}[{i}]")
            };
            let key = match &e {
                PolicyError::TimeZone(_) => "timezone".to_string(),
                PolicyError::Weekday(v) => at(&self.weekdays, v, "weekdays"),
                PolicyError::Date(v) => at(&self.dates, v, "dates"),
            };
            ConfigError::new(key, e.to_string())
        })
    }

    /// Checks the section: [`WeddingDaysConfig::policy`] builds.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.policy().map(drop)
    }
}

/// One `[[maintenance]]` window: a provider's announced maintenance, during which a failing
/// service opens no incident and shows as "under maintenance".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceConfig {
    /// The service (a `[[services]]` name); absent for every service.
    #[serde(default)]
    pub service: Option<String>,
    /// Start, RFC 3339 with an offset (`2026-12-05T02:00:00Z`).
    pub start: String,
    /// End (exclusive), RFC 3339.
    pub end: String,
}

impl MaintenanceConfig {
    /// The window as Unix milliseconds, or the error naming what is wrong.
    pub fn window_ms(&self) -> Result<(i64, i64), String> {
        let at = |text: &str| {
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
                .map_err(|_| {
                    format!("`{text}` is not an RFC 3339 time such as 2026-12-05T02:00:00Z")
                })
        };
        let (start, end) = (at(&self.start)?, at(&self.end)?);
        if end <= start {
            return Err("ends before it starts".into());
        }
        Ok((start, end))
    }

    /// The alert engine's [`MaintenanceWindow`]; an error is about the whole entry (an empty key).
    pub fn window(&self) -> Result<MaintenanceWindow, ConfigError> {
        let (start_ms, end_ms) = self.window_ms().map_err(|e| ConfigError::new("", e))?;
        Ok(MaintenanceWindow {
            service: self.service.clone(),
            start_ms,
            end_ms,
        })
    }
}

/// Checks a `[[maintenance]]` list: each window reads ([`MaintenanceConfig::window`]) and names a
/// configured service, if any. Keys are under `maintenance[i]`, as [`super::validate_services`]
/// names `services[i]`.
pub fn validate_maintenance(
    windows: &[MaintenanceConfig],
    services: &[ServiceSpec],
) -> Result<(), ConfigError> {
    for (i, m) in windows.iter().enumerate() {
        let prefix = format!("maintenance[{i}]");
        m.window().map_err(|e| e.under(&prefix))?;
        if let Some(s) = &m.service {
            if !services.iter().any(|c| c.name() == s) {
                return Err(ConfigError::new(
                    format!("{prefix}.service"),
                    format!("`{s}` is not a configured service"),
                ));
            }
        }
    }
    Ok(())
}

/// The monitor's tuning from `[wedding_days]` (its policy; errors under `wedding_days`) and the
/// `[[maintenance]]` windows (a window that does not read is left out: validation refuses it).
pub fn monitor_settings(
    wedding_days: &WeddingDaysConfig,
    maintenance: &[MaintenanceConfig],
) -> Result<crate::MonitorConfig, ConfigError> {
    Ok(crate::MonitorConfig {
        policy: wedding_days.policy().map_err(|e| e.under("wedding_days"))?,
        alert: crate::AlertConfig {
            maintenance: maintenance.iter().filter_map(|m| m.window().ok()).collect(),
            ..crate::AlertConfig::default()
        },
        ..crate::MonitorConfig::default()
    })
}

/// `[alerts]`: where incidents are sent, besides the log.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Environment variable holding a Slack incoming-webhook URL.
    #[serde(default)]
    pub slack_webhook_env: Option<String>,
    /// Environment variable holding a PagerDuty Events v2 routing key.
    #[serde(default)]
    pub pagerduty_routing_key_env: Option<String>,
}

impl AlertsConfig {
    /// Every key naming an environment variable, with the variable.
    fn envs(&self) -> [(&'static str, Option<&str>); 2] {
        [
            ("slack_webhook_env", self.slack_webhook_env.as_deref()),
            (
                "pagerduty_routing_key_env",
                self.pagerduty_routing_key_env.as_deref(),
            ),
        ]
    }

    /// Checks that each key names an environment variable (keys relative to `[alerts]`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.envs()
            .into_iter()
            .try_for_each(|(key, env)| check_optional_env_name(key, env))
    }

    /// The environment variables the section names (for leak checks and log scrubbing).
    pub fn secret_envs(&self) -> impl Iterator<Item = &str> {
        self.envs().into_iter().filter_map(|(_, env)| env)
    }

    /// The configured alert sinks (Slack, PagerDuty), their secrets read through `secrets`; an
    /// unset variable is an error naming its key (relative to `[alerts]`) and the variable.
    #[cfg(feature = "http")]
    pub fn sinks(
        &self,
        secrets: &dyn Fn(&str) -> Option<crate::Secret>,
    ) -> Result<Vec<std::sync::Arc<dyn crate::AlertSink>>, ConfigError> {
        use std::sync::Arc;
        let require = |key: &str, env: &str| wedsync_config::require_secret(secrets, key, env);
        let mut sinks: Vec<Arc<dyn crate::AlertSink>> = Vec::new();
        if let Some(env) = &self.slack_webhook_env {
            let url = require("slack_webhook_env", env)?;
            sinks.push(Arc::new(crate::SlackSink::new(url)));
        }
        if let Some(env) = &self.pagerduty_routing_key_env {
            let key = require("pagerduty_routing_key_env", env)?;
            sinks.push(Arc::new(crate::PagerDutySink::new(key)));
        }
        Ok(sinks)
    }
}
