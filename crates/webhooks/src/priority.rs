//! Which deliveries are wedding-critical.

use std::time::Duration;

use time::{Date, OffsetDateTime};

use crate::event::EventInfo;
use crate::provider::Provider;
use crate::store::Priority;

/// Rules marking deliveries [`Priority::Critical`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityRules {
    /// `(provider, event type)` pairs that are always critical.
    pub critical_events: Vec<(Provider, String)>,
    /// A payload whose metadata carries a wedding date from today up to this far ahead is
    /// critical. `None` disables the rule.
    pub wedding_window: Option<Duration>,
}

impl Default for PriorityRules {
    /// Stripe `payment_intent.payment_failed`, `invoice.payment_failed`, `charge.dispute.created`;
    /// Twilio `failed`, `undelivered`; Resend `email.bounced`, `email.delivery_delayed`; and a
    /// wedding date within the next 7 days.
    fn default() -> Self {
        let pairs = [
            (Provider::Stripe, "payment_intent.payment_failed"),
            (Provider::Stripe, "invoice.payment_failed"),
            (Provider::Stripe, "charge.dispute.created"),
            (Provider::Twilio, "failed"),
            (Provider::Twilio, "undelivered"),
            (Provider::Resend, "email.bounced"),
            (Provider::Resend, "email.delivery_delayed"),
        ];
        PriorityRules {
            critical_events: pairs.iter().map(|(p, t)| (*p, (*t).to_owned())).collect(),
            wedding_window: Some(Duration::from_secs(7 * 86_400)),
        }
    }
}

impl PriorityRules {
    /// No rule: everything normal.
    pub fn none() -> Self {
        PriorityRules {
            critical_events: Vec::new(),
            wedding_window: None,
        }
    }

    /// The priority of an event from `provider` received at `now`.
    pub fn classify(&self, provider: Provider, info: &EventInfo, now: OffsetDateTime) -> Priority {
        if let Some(t) = info.event_type.as_deref() {
            if self
                .critical_events
                .iter()
                .any(|(p, e)| *p == provider && e == t)
            {
                return Priority::Critical;
            }
        }
        if let (Some(window), Some(date)) = (self.wedding_window, info.wedding_date) {
            if within(date, now.date(), window) {
                return Priority::Critical;
            }
        }
        Priority::Normal
    }
}

fn within(date: Date, today: Date, window: Duration) -> bool {
    let days = (date - today).whole_days();
    days >= 0 && (days as u64) * 86_400 <= window.as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn info(t: Option<&str>, d: Option<Date>) -> EventInfo {
        EventInfo {
            event_type: t.map(str::to_owned),
            wedding_date: d,
            ..Default::default()
        }
    }

    #[test]
    fn defaults() {
        let r = PriorityRules::default();
        let now = datetime!(2026-11-28 10:00 UTC);
        assert_eq!(
            r.classify(
                Provider::Stripe,
                &info(Some("invoice.payment_failed"), None),
                now
            ),
            Priority::Critical
        );
        assert_eq!(
            r.classify(
                Provider::Resend,
                &info(Some("invoice.payment_failed"), None),
                now
            ),
            Priority::Normal
        );
        assert_eq!(
            r.classify(Provider::Twilio, &info(Some("undelivered"), None), now),
            Priority::Critical
        );
        assert_eq!(
            r.classify(Provider::Stripe, &info(Some("invoice.paid"), None), now),
            Priority::Normal
        );
        for (d, want) in [
            (date!(2026 - 11 - 28), Priority::Critical),
            (date!(2026 - 12 - 05), Priority::Critical),
            (date!(2026 - 12 - 06), Priority::Normal),
            (date!(2026 - 11 - 27), Priority::Normal),
        ] {
            assert_eq!(
                r.classify(Provider::Stripe, &info(Some("invoice.paid"), Some(d)), now),
                want,
                "{d}"
            );
        }
        assert_eq!(
            PriorityRules::none().classify(Provider::Twilio, &info(Some("failed"), None), now),
            Priority::Normal
        );
    }
}
