//! The providers whose webhooks this crate understands.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A webhook sender. Stored, configured (`[webhooks.<provider>]`) and routed
/// (`POST /webhooks/<provider>`) as its [`as_str`](Provider::as_str) form; [`FromStr`] and serde
/// accept exactly those names, so this is the one parser of provider names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Stripe (`Stripe-Signature`).
    Stripe,
    /// Resend, which signs with Svix (`svix-*` / `webhook-*` headers).
    Resend,
    /// Supabase auth hooks (Standard Webhooks, `v1,whsec_…` secrets).
    SupabaseAuth,
    /// Supabase database webhooks (unsigned; shared secret header).
    SupabaseDb,
    /// Twilio (`X-Twilio-Signature`).
    Twilio,
    /// Any other sender using Standard Webhooks.
    Standard,
}

impl Provider {
    /// Every provider, in a stable order.
    pub const ALL: [Provider; 6] = [
        Provider::Stripe,
        Provider::Resend,
        Provider::SupabaseAuth,
        Provider::SupabaseDb,
        Provider::Twilio,
        Provider::Standard,
    ];

    /// The stable lowercase name (`stripe`, `resend`, `supabase_auth`, `supabase_db`, `twilio`,
    /// `standard`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Provider::Stripe => "stripe",
            Provider::Resend => "resend",
            Provider::SupabaseAuth => "supabase_auth",
            Provider::SupabaseDb => "supabase_db",
            Provider::Twilio => "twilio",
            Provider::Standard => "standard",
        }
    }

    /// Every accepted name, joined for an error message: `stripe | resend | … | standard`.
    pub fn names() -> String {
        Provider::ALL.map(Provider::as_str).join(" | ")
    }

    /// How long the sender waits for an answer, when it waits less than the usual HTTP timeouts:
    /// a Supabase auth hook is abandoned after 5 s, so it is answered within 4 s (503 when the
    /// delivery could not be recorded by then).
    pub const fn answer_budget(self) -> Option<std::time::Duration> {
        match self {
            Provider::SupabaseAuth => Some(std::time::Duration::from_millis(4000)),
            _ => None,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when a string names no known value of an enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct ParseEnumError {
    /// Which enum was parsed (`provider`, `status`, …).
    pub kind: &'static str,
    /// The rejected input.
    pub value: String,
}

impl ParseEnumError {
    pub(crate) fn new(kind: &'static str, value: &str) -> Self {
        // Inputs are enum names, never secrets; still cut them to a bound.
        let value: String = value.chars().take(64).collect();
        ParseEnumError { kind, value }
    }
}

impl FromStr for Provider {
    type Err = ParseEnumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ParseEnumError::new("provider", s))
    }
}

/// Implements `as_str`, `Display` and `FromStr` for a fieldless enum.
macro_rules! str_enum {
    ($ty:ident, $kind:literal, { $($variant:ident => $s:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in a stable order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];
            /// The stable lowercase name used in storage and APIs.
            pub const fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $s),+ }
            }
        }
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl ::std::str::FromStr for $ty {
            type Err = $crate::provider::ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok($ty::$variant),)+
                    _ => Err($crate::provider::ParseEnumError::new($kind, s)),
                }
            }
        }
    };
}
pub(crate) use str_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>().unwrap(), p);
        }
        assert!("paypal".parse::<Provider>().is_err());
        assert!("Stripe".parse::<Provider>().is_err(), "names are exact");
        assert_eq!(
            Provider::names(),
            "stripe | resend | supabase_auth | supabase_db | twilio | standard"
        );
        // serde uses the same names (configuration tables, stored JSON)
        for p in Provider::ALL {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{p}\""));
            assert_eq!(serde_json::from_str::<Provider>(&json).unwrap(), p);
        }
        assert!(serde_json::from_str::<Provider>("\"paypal\"").is_err());
    }

    /// Every enum made by `str_enum!` parses its own names back, displays them, and names the
    /// enum (never silently defaults) when the text is unknown.
    #[test]
    fn str_enums_round_trip() {
        use crate::store::{
            AttemptTrigger, DeliveryStatus, ErrorKind, Priority, ReplayJobState, Verdict,
        };
        fn check<T>(all: &[T], kind: &str)
        where
            T: Copy + PartialEq + std::fmt::Debug + fmt::Display + FromStr<Err = ParseEnumError>,
        {
            for &v in all {
                assert_eq!(v.to_string().parse::<T>().unwrap(), v);
            }
            let err = "no-such-value".parse::<T>().unwrap_err();
            assert!(err.to_string().contains(kind), "{err}");
        }
        check(DeliveryStatus::ALL, "delivery status");
        check(Priority::ALL, "priority");
        check(AttemptTrigger::ALL, "attempt trigger");
        check(ErrorKind::ALL, "error kind");
        check(Verdict::ALL, "verdict");
        check(ReplayJobState::ALL, "replay job state");
    }
}
