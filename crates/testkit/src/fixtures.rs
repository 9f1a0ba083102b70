//! Realistic provider payloads, compiled into the crate (names, emails and phone numbers are
//! invented: Ofcom drama numbers `+447700900…`, `example.com` domains).
//!
//! | constant | what |
//! |---|---|
//! | [`STRIPE_CHECKOUT_SESSION_COMPLETED`] | a paid checkout, 12 line items, JSON inside `metadata.couple` (~4.8 KB, the benchmark payload) |
//! | [`STRIPE_PAYMENT_INTENT_PAYMENT_FAILED`] | a declined final balance with `metadata.wedding_date` (wedding-critical) |
//! | [`TWILIO_SMS_STATUS_UNDELIVERED`] | a status callback for an undelivered SMS (form-urlencoded) |
//! | [`TWILIO_SMS_INBOUND`] | an inbound SMS with a message body (form-urlencoded) |
//! | [`RESEND_EMAIL_BOUNCED`] | an invitation email that bounced |
//! | [`SUPABASE_AUTH_HOOK_SEND_SMS`] | a Send-SMS auth hook payload carrying an OTP |
//! | [`SUPABASE_DB_WEBHOOK_INSERT`] | a database webhook for a new guest row |
//!
//! ```
//! use wedsync_testkit::fixtures;
//! let event: serde_json::Value =
//!     serde_json::from_str(fixtures::STRIPE_CHECKOUT_SESSION_COMPLETED).unwrap();
//! assert_eq!(event["type"], "checkout.session.completed");
//! assert!(fixtures::ALL.len() >= 7);
//! ```

/// Stripe `checkout.session.completed` event (JSON).
pub const STRIPE_CHECKOUT_SESSION_COMPLETED: &str =
    include_str!("../fixtures/stripe_checkout_session_completed.json");
/// Stripe `payment_intent.payment_failed` event (JSON).
pub const STRIPE_PAYMENT_INTENT_PAYMENT_FAILED: &str =
    include_str!("../fixtures/stripe_payment_intent_payment_failed.json");
/// Twilio SMS status callback, `MessageStatus=undelivered` (form-urlencoded).
pub const TWILIO_SMS_STATUS_UNDELIVERED: &str =
    include_str!("../fixtures/twilio_sms_status_undelivered.form");
/// Twilio inbound SMS webhook (form-urlencoded).
pub const TWILIO_SMS_INBOUND: &str = include_str!("../fixtures/twilio_sms_inbound.form");
/// Resend `email.bounced` event (JSON).
pub const RESEND_EMAIL_BOUNCED: &str = include_str!("../fixtures/resend_email_bounced.json");
/// Supabase Send-SMS auth hook payload (JSON).
pub const SUPABASE_AUTH_HOOK_SEND_SMS: &str =
    include_str!("../fixtures/supabase_auth_hook_send_sms.json");
/// Supabase database webhook, `INSERT` into `guests` (JSON).
pub const SUPABASE_DB_WEBHOOK_INSERT: &str =
    include_str!("../fixtures/supabase_db_webhook_insert.json");

/// Every fixture as `(file name, contents)`.
pub const ALL: &[(&str, &str)] = &[
    (
        "stripe_checkout_session_completed.json",
        STRIPE_CHECKOUT_SESSION_COMPLETED,
    ),
    (
        "stripe_payment_intent_payment_failed.json",
        STRIPE_PAYMENT_INTENT_PAYMENT_FAILED,
    ),
    (
        "twilio_sms_status_undelivered.form",
        TWILIO_SMS_STATUS_UNDELIVERED,
    ),
    ("twilio_sms_inbound.form", TWILIO_SMS_INBOUND),
    ("resend_email_bounced.json", RESEND_EMAIL_BOUNCED),
    (
        "supabase_auth_hook_send_sms.json",
        SUPABASE_AUTH_HOOK_SEND_SMS,
    ),
    (
        "supabase_db_webhook_insert.json",
        SUPABASE_DB_WEBHOOK_INSERT,
    ),
];

/// The fixture named `name` (a file name from [`ALL`]).
#[must_use]
pub fn by_name(name: &str) -> Option<&'static str> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fixtures_parse_and_forms_decode() {
        for (name, contents) in ALL {
            assert!(!contents.trim().is_empty(), "{name} is empty");
            if name.ends_with(".json") {
                let value: serde_json::Value = serde_json::from_str(contents)
                    .unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
                assert!(value.is_object(), "{name}");
            } else {
                assert!(contents.contains("MessageSid="), "{name}");
                assert!(contents.split('&').all(|p| p.contains('=')), "{name}");
            }
        }
        assert_eq!(by_name("twilio_sms_inbound.form"), Some(TWILIO_SMS_INBOUND));
        assert_eq!(by_name("nope"), None);
    }

    #[test]
    fn every_shipped_fixture_file_is_exposed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "README.md")
            .collect();
        files.sort();
        let mut exposed: Vec<String> = ALL.iter().map(|(n, _)| (*n).to_owned()).collect();
        exposed.sort();
        assert_eq!(files, exposed);
    }
}
