//! What a webhook is about: event id, event type, dedupe key and wedding date, per provider.
//!
//! | provider | event id | dedupe key | event type |
//! |---|---|---|---|
//! | Stripe | `id` (`evt_…`) | `id` | `type` (wedding date from `data.object.metadata`) |
//! | Resend (Svix) | `svix-id` / `webhook-id` | the same | `type` |
//! | Standard | `webhook-id` | the same | `type` |
//! | Supabase auth hook | — (`webhook-id` changes per attempt) | `sha256:` + body hash | `hook` |
//! | Supabase database | — | `sha256:` + body hash | `{table}.{insert\|update\|delete}` |
//! | Twilio | `MessageSid` / `SmsSid` | `{sid}:{MessageStatus}` | `MessageStatus` / `SmsStatus` |
//!
//! When the id a provider should carry is missing the dedupe key falls back to the body hash.

use serde_json::Value;
use sha2::{Digest, Sha256};
use time::Date;

use crate::provider::Provider;
use crate::verify::HeaderSource;

/// Facts extracted from a verified webhook.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventInfo {
    /// The provider's event id.
    pub event_id: Option<String>,
    /// The event type.
    pub event_type: Option<String>,
    /// The dedupe key (never empty).
    pub dedupe_key: String,
    /// A wedding date found in the payload's metadata.
    pub wedding_date: Option<Date>,
}

/// `sha256:<hex>` of the body.
pub fn body_hash_key(body: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(body)))
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Extract [`EventInfo`] from a webhook. Never fails: unparseable bodies get a body-hash key.
pub fn extract(provider: Provider, headers: &dyn HeaderSource, body: &[u8]) -> EventInfo {
    let header = |a: &str, b: &str| {
        headers
            .header(a)
            .or_else(|| headers.header(b))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    match provider {
        Provider::Twilio => twilio(body),
        Provider::Stripe => stripe(body),
        _ => {
            let json: Option<Value> = serde_json::from_slice(body).ok();
            let wedding_date = json.as_ref().and_then(find_wedding_date);
            let j = json.as_ref();
            let (event_id, event_type) = match provider {
                Provider::Resend | Provider::Standard => (
                    header("svix-id", "webhook-id"),
                    j.and_then(|v| str_field(v, "type")),
                ),
                Provider::SupabaseAuth => (None, Some("hook".to_owned())),
                Provider::SupabaseDb => (
                    None,
                    j.and_then(|v| {
                        let table = v.get("table")?.as_str()?;
                        let op = v.get("type")?.as_str()?;
                        Some(format!("{table}.{}", op.to_ascii_lowercase()))
                    }),
                ),
                Provider::Twilio | Provider::Stripe => unreachable!("handled above"),
            };
            let dedupe_key = event_id.clone().unwrap_or_else(|| body_hash_key(body));
            EventInfo {
                event_id,
                event_type,
                dedupe_key,
                wedding_date,
            }
        }
    }
}

/// Stripe events: only `id`, `type` and `data.object.metadata` are materialised; the rest of the
/// body is skipped without building a tree (the ingest hot path).
fn stripe(body: &[u8]) -> EventInfo {
    #[derive(serde::Deserialize)]
    struct Event {
        id: Option<String>,
        #[serde(rename = "type")]
        kind: Option<String>,
        data: Option<Data>,
    }
    #[derive(serde::Deserialize)]
    struct Data {
        object: Option<Object>,
    }
    #[derive(serde::Deserialize)]
    struct Object {
        metadata: Option<Value>,
    }
    match serde_json::from_slice::<Event>(body) {
        Ok(e) => {
            let wedding_date = e
                .data
                .and_then(|d| d.object)
                .and_then(|o| o.metadata)
                .and_then(|m| {
                    find_wedding_date(&Value::Object(
                        std::iter::once(("metadata".to_owned(), m)).collect(),
                    ))
                });
            EventInfo {
                dedupe_key: e.id.clone().unwrap_or_else(|| body_hash_key(body)),
                event_id: e.id,
                event_type: e.kind,
                wedding_date,
            }
        }
        Err(_) => EventInfo {
            dedupe_key: body_hash_key(body),
            ..EventInfo::default()
        },
    }
}

fn twilio(body: &[u8]) -> EventInfo {
    let mut sid = None;
    let mut sms_sid = None;
    let mut status = None;
    let mut sms_status = None;
    for (k, v) in url::form_urlencoded::parse(body) {
        match &*k {
            "MessageSid" => sid = Some(v.into_owned()),
            "SmsSid" => sms_sid = Some(v.into_owned()),
            "MessageStatus" => status = Some(v.into_owned()),
            "SmsStatus" => sms_status = Some(v.into_owned()),
            _ => {}
        }
    }
    let sid = sid.or(sms_sid);
    let status = status.or(sms_status);
    let dedupe_key = match (&sid, &status) {
        (Some(s), Some(st)) => format!("{s}:{st}"),
        (Some(s), None) => s.clone(),
        _ => body_hash_key(body),
    };
    EventInfo {
        event_id: sid,
        event_type: status,
        dedupe_key,
        wedding_date: None,
    }
}

/// Keys that carry a wedding date inside a `metadata` object.
pub const WEDDING_DATE_KEYS: [&str; 3] = ["wedding_date", "weddingDate", "event_date"];

/// Search `metadata` objects (at any depth ≤ 6) for a wedding date (`YYYY-MM-DD`, optionally
/// followed by a time).
pub fn find_wedding_date(v: &Value) -> Option<Date> {
    fn walk(v: &Value, depth: u8, in_metadata: bool) -> Option<Date> {
        if depth > 6 {
            return None;
        }
        match v {
            Value::Object(map) => {
                if in_metadata {
                    for k in WEDDING_DATE_KEYS {
                        if let Some(d) = map.get(k).and_then(Value::as_str).and_then(parse_date) {
                            return Some(d);
                        }
                    }
                }
                map.iter().find_map(|(k, v)| {
                    let meta = k == "metadata" || k.ends_with("_metadata");
                    walk(v, depth + 1, meta)
                })
            }
            Value::Array(items) => items
                .iter()
                .take(64)
                .find_map(|v| walk(v, depth + 1, false)),
            _ => None,
        }
    }
    walk(v, 0, false)
}

fn parse_date(s: &str) -> Option<Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s.get(..10)?, &fmt).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PI_FAILED: &[u8] =
        include_bytes!("../tests/fixtures/stripe_payment_intent_payment_failed.json");
    const TWILIO_UNDELIVERED: &[u8] =
        include_bytes!("../tests/fixtures/twilio_sms_status_undelivered.form");
    const DB_INSERT: &[u8] = include_bytes!("../tests/fixtures/supabase_db_webhook_insert.json");

    #[test]
    fn stripe() {
        let none: [(&str, &str); 0] = [];
        let e = extract(Provider::Stripe, &none, PI_FAILED);
        assert_eq!(e.event_id.as_deref(), Some("evt_3OyBcDeFgHiJkLmNoPqRsTuV"));
        assert_eq!(e.dedupe_key, "evt_3OyBcDeFgHiJkLmNoPqRsTuV");
        assert_eq!(
            e.event_type.as_deref(),
            Some("payment_intent.payment_failed")
        );
        assert_eq!(e.wedding_date, Some(time::macros::date!(2026 - 12 - 05)));
    }

    #[test]
    fn stripe_without_wedding_or_json() {
        let none: [(&str, &str); 0] = [];
        let e = extract(
            Provider::Stripe,
            &none,
            br#"{"id":"evt_9","type":"invoice.paid","data":{"object":{"metadata":{}}}}"#,
        );
        assert_eq!((e.dedupe_key.as_str(), e.wedding_date), ("evt_9", None));
        let e = extract(Provider::Stripe, &none, b"not json");
        assert!(e.dedupe_key.starts_with("sha256:"));
        assert!(e.event_id.is_none());
    }

    #[test]
    fn twilio_status() {
        let none: [(&str, &str); 0] = [];
        let e = extract(Provider::Twilio, &none, TWILIO_UNDELIVERED);
        assert_eq!(
            e.dedupe_key,
            "SM1f0e8a2b3c4d5e6f708192a3b4c5d6e7:undelivered"
        );
        assert_eq!(e.event_type.as_deref(), Some("undelivered"));
    }

    #[test]
    fn twilio_fallbacks() {
        let none: [(&str, &str); 0] = [];
        // SmsSid/SmsStatus stand in for MessageSid/MessageStatus.
        let e = extract(Provider::Twilio, &none, b"SmsSid=SM1&SmsStatus=sent");
        assert_eq!(e.dedupe_key, "SM1:sent");
        // A SID without a status dedupes on the SID alone; no SID at all on the body hash.
        let e = extract(Provider::Twilio, &none, b"MessageSid=SM2&Body=hi");
        assert_eq!((e.dedupe_key.as_str(), e.event_type), ("SM2", None));
        let e = extract(Provider::Twilio, &none, b"MessageStatus=failed");
        assert!(e.dedupe_key.starts_with("sha256:"), "{}", e.dedupe_key);
        assert_eq!(e.event_id, None);
    }

    #[test]
    fn wedding_dates_anywhere_in_metadata() {
        let v: Value = serde_json::from_str(
            r#"{"items":[{"x":1},{"line_metadata":{"weddingDate":"2027-06-12T14:00:00Z"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            find_wedding_date(&v),
            Some(time::macros::date!(2027 - 06 - 12))
        );
        let v: Value = serde_json::from_str(
            r#"{"metadata":{"event_date":"not a date","wedding_date":"2027-01-02"}}"#,
        )
        .unwrap();
        assert_eq!(
            find_wedding_date(&v),
            Some(time::macros::date!(2027 - 01 - 02))
        );
        // Outside metadata, or deeper than the limit, dates do not count.
        let v: Value = serde_json::from_str(r#"{"wedding_date":"2027-01-02"}"#).unwrap();
        assert_eq!(find_wedding_date(&v), None);
        let deep =
            r#"{"a":{"b":{"c":{"d":{"e":{"f":{"metadata":{"wedding_date":"2027-01-02"}}}}}}}}"#;
        let v: Value = serde_json::from_str(deep).unwrap();
        assert_eq!(find_wedding_date(&v), None);
        // Supabase database webhooks carry it in the record's metadata.
        let body = br#"{"type":"UPDATE","table":"bookings","record":{"metadata":{"wedding_date":"2027-03-04"}}}"#;
        let none: [(&str, &str); 0] = [];
        let e = extract(Provider::SupabaseDb, &none, body);
        assert_eq!(e.event_type.as_deref(), Some("bookings.update"));
        assert_eq!(e.wedding_date, Some(time::macros::date!(2027 - 03 - 04)));
        // Standard webhooks without an id header fall back to the body hash.
        let e = extract(Provider::Standard, &none, br#"{"type":"x"}"#);
        assert!(e.dedupe_key.starts_with("sha256:"));
        assert_eq!(e.event_type.as_deref(), Some("x"));
    }

    #[test]
    fn resend_and_supabase() {
        let h = [("svix-id", "msg_2abc")];
        let e = extract(Provider::Resend, &h, br#"{"type":"email.bounced"}"#);
        assert_eq!(e.dedupe_key, "msg_2abc");
        assert_eq!(e.event_type.as_deref(), Some("email.bounced"));
        let e = extract(Provider::SupabaseDb, &h, DB_INSERT);
        assert!(e.dedupe_key.starts_with("sha256:"));
        assert_eq!(e.event_type.as_deref(), Some("guests.insert"));
        // Supabase auth hooks: webhook-id changes per attempt, so the body decides.
        let a = extract(Provider::SupabaseAuth, &[("webhook-id", "1")], b"{}");
        let b = extract(Provider::SupabaseAuth, &[("webhook-id", "2")], b"{}");
        assert_eq!(a.dedupe_key, b.dedupe_key);
        assert!(a.event_id.is_none());
    }
}
