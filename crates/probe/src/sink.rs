//! Alert sinks: where notifications go. The log sink is always available; Slack, PagerDuty and
//! the signed generic webhook need the `http` feature.

use std::time::Duration;

use async_trait::async_trait;

use crate::alert::Alert;
use crate::store::{Notification, NotificationKind};

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// Worth retrying (429, 5xx, timeout, connection error); `retry_after` when the receiver said.
    #[error("retryable: {message}")]
    Retryable {
        /// What happened (redacted).
        message: String,
        /// The receiver's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help (4xx other than 408/429, bad configuration).
    #[error("permanent: {message}")]
    Permanent {
        /// What happened (redacted).
        message: String,
    },
}

impl SendError {
    /// Classifies an HTTP answer: 2xx is `Ok`, 408/429/5xx retryable, anything else permanent.
    pub fn from_http_status(
        status: u16,
        body_hint: &str,
        retry_after: Option<Duration>,
    ) -> Result<(), SendError> {
        let message = crate::sanitize_detail(&format!("HTTP {status} {body_hint}"));
        match status {
            200..=299 => Ok(()),
            408 | 429 | 500..=599 => Err(SendError::Retryable {
                message: message.trim_end().to_owned(),
                retry_after,
            }),
            _ => Err(SendError::Permanent {
                message: message.trim_end().to_owned(),
            }),
        }
    }
}

/// A destination for alert notifications.
#[async_trait]
pub trait AlertSink: Send + Sync {
    /// The sink's name; notifications are addressed to it (`Notification::sink`).
    fn name(&self) -> &str;

    /// Whether this sink wants notifications of `kind` (PagerDuty takes no reminders: they would
    /// re-trigger the incident).
    fn accepts(&self, kind: NotificationKind) -> bool {
        let _ = kind;
        true
    }

    /// Delivers one notification. Must be idempotent on `notification.id` where the receiver
    /// supports it: the outbox may deliver twice if a process dies between sending and recording.
    async fn send(&self, notification: &Notification, alert: &Alert) -> Result<(), SendError>;
}

/// Writes every notification to the log (`tracing`, target `wedsync_probe::alert`).
#[derive(Debug, Clone)]
pub struct LogSink {
    name: String,
}

impl LogSink {
    /// A log sink named `"log"`.
    pub fn new() -> Self {
        LogSink { name: "log".into() }
    }
}

impl Default for LogSink {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl AlertSink for LogSink {
    fn name(&self) -> &str {
        &self.name
    }
    async fn send(&self, n: &Notification, alert: &Alert) -> Result<(), SendError> {
        tracing::warn!(
            target: "wedsync_probe::alert",
            kind = n.kind.as_str(),
            service = %alert.service,
            status = alert.status.as_str(),
            severity = alert.severity.as_str(),
            dedup_key = %alert.dedup_key,
            wedding_day = alert.wedding_day,
            "{}",
            alert.text()
        );
        Ok(())
    }
}

/// Signs a message the Standard Webhooks way: `v1,` + base64(HMAC-SHA256(key, "{id}.{ts}.{body}")).
///
/// `secret` is `whsec_<base64 key>` (the key is the decoded part) or, without the prefix, a
/// base64 key (also `v1,whsec_…`); a secret that is not base64 is a [`SendError::Permanent`].
/// The scheme is implemented once, in [`wedsync_secret::standard_webhooks`].
///
/// ```
/// let sig = wedsync_probe::sink::sign_standard_webhook(
///     "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
///     "msg_p5jXN8AQM9LWM0D4loKWxJek",
///     1614265330,
///     br#"{"test": 2432232314}"#,
/// )
/// .expect("a valid whsec_ secret");
/// assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
/// ```
pub fn sign_standard_webhook(
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SendError> {
    // One implementation of the scheme for the whole project, in the leaf crate wedsync-secret.
    wedsync_secret::standard_webhooks::sign(secret, msg_id, timestamp, body).map_err(|e| {
        SendError::Permanent {
            message: format!("webhook sink secret: {e}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_status_classification() {
        assert!(SendError::from_http_status(200, "ok", None).is_ok());
        assert!(SendError::from_http_status(202, "", None).is_ok());
        assert!(matches!(
            SendError::from_http_status(429, "", Some(Duration::from_secs(3))),
            Err(SendError::Retryable { retry_after: Some(d), .. }) if d == Duration::from_secs(3)
        ));
        assert!(matches!(
            SendError::from_http_status(503, "", None),
            Err(SendError::Retryable { .. })
        ));
        assert!(matches!(
            SendError::from_http_status(410, "channel_is_archived", None),
            Err(SendError::Permanent { .. })
        ));
        assert!(matches!(
            SendError::from_http_status(302, "", None),
            Err(SendError::Permanent { .. })
        ));
    }
}
