//! Signature verification with real signatures over the provider fixtures.

use std::time::Duration;

use base64::Engine as _;
use proptest::prelude::*;
use time::OffsetDateTime;
use wedsync_webhooks::verify::{
    shared, standard, stripe, twilio, Request, SharedSecretVerifier, StandardWebhooksVerifier,
    StripeVerifier, TwilioVerifier, Verifier, VerifyError,
};

const STRIPE_BODY: &[u8] = include_bytes!("fixtures/stripe_payment_intent_payment_failed.json");
const RESEND_BODY: &[u8] = include_bytes!("fixtures/resend_email_bounced.json");
const AUTH_HOOK_BODY: &[u8] = include_bytes!("fixtures/supabase_auth_hook_send_sms.json");
const TWILIO_FORM: &[u8] = include_bytes!("fixtures/twilio_sms_status_undelivered.form");

fn at(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).unwrap()
}

/// Fake secrets are assembled at run time so secret scanners stay quiet.
fn stripe_secret(n: u8) -> String {
    format!("{}{}{}", "whsec_", "testfixture", n)
}

fn svix_secret(n: u8) -> String {
    let key: Vec<u8> = (0..32).map(|i| i ^ n).collect();
    format!(
        "{}{}",
        "whsec_",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

fn twilio_token(n: u8) -> String {
    format!("{}{:02}", "twilio-auth-token-fixture-", n)
}

#[test]
fn stripe_valid_tampered_rotation_multiple() {
    let (old, new) = (stripe_secret(1), stripe_secret(2));
    let v = StripeVerifier::new([old.as_str(), new.as_str()]);
    let t = 1_733_000_000;
    for s in [&old, &new] {
        let h = [("Stripe-Signature", stripe::sign(s, t, STRIPE_BODY))];
        assert_eq!(v.verify(&h, STRIPE_BODY, at(t)), Ok(()));
    }
    // Stripe sends one v1 per active secret during a roll; one matching is enough.
    let both = stripe::sign_many(&[&stripe_secret(9), &new], t, STRIPE_BODY);
    assert_eq!(v.verify_header(&both, STRIPE_BODY, at(t)), Ok(()));
    // v0 entries and garbage entries are ignored, not fatal.
    let noisy = format!("{both},v0=deadbeef,zzz,v1=nothex");
    assert_eq!(v.verify_header(&noisy, STRIPE_BODY, at(t)), Ok(()));

    let mut tampered = STRIPE_BODY.to_vec();
    tampered[10] ^= 1;
    let h = stripe::sign(&old, t, STRIPE_BODY);
    assert!(matches!(
        v.verify_header(&h, &tampered, at(t)),
        Err(VerifyError::NoMatchingSignature { .. })
    ));
    // Only the retired secret: rejected.
    let only_new = StripeVerifier::new([new.as_str()]);
    assert!(only_new.verify_header(&h, STRIPE_BODY, at(t)).is_err());
    // Missing header.
    let none: [(&str, &str); 0] = [];
    assert_eq!(
        v.verify(&none, STRIPE_BODY, at(t)),
        Err(VerifyError::MissingHeader("Stripe-Signature"))
    );
    // Configurable tolerance.
    let tight = StripeVerifier::new([old.as_str()]).with_tolerance(Duration::from_secs(10));
    assert!(tight.verify_header(&h, STRIPE_BODY, at(t + 10)).is_ok());
    assert!(matches!(
        tight.verify_header(&h, STRIPE_BODY, at(t + 11)),
        Err(VerifyError::TimestampTooOld {
            age_secs: 11,
            tolerance_secs: 10
        })
    ));
}

#[test]
fn resend_svix_headers_rotation_and_tolerance() {
    let (old, new) = (svix_secret(1), svix_secret(2));
    let v = StandardWebhooksVerifier::new([old.as_str(), new.as_str()]).unwrap();
    let t = 1_764_268_872;
    let h =
        standard::headers(standard::HeaderStyle::Svix, &new, "msg_2pA", t, RESEND_BODY).unwrap();
    assert_eq!(v.verify(&h, RESEND_BODY, at(t)), Ok(()));
    assert!(v.verify(&h, &RESEND_BODY[1..], at(t)).is_err());
    assert!(v.verify(&h, RESEND_BODY, at(t + 301)).is_err());
    assert!(v.verify(&h, RESEND_BODY, at(t - 301)).is_err());
    assert!(v.verify(&h, RESEND_BODY, at(t + 300)).is_ok());
    // Signed id is part of the content: a different id fails.
    let mut other = h.clone();
    other[0].1 = "msg_other".into();
    assert!(v.verify(&other, RESEND_BODY, at(t)).is_err());
    // Several space-separated signatures, one valid.
    let sig_bad = standard::sign(&svix_secret(7), "msg_2pA", t, RESEND_BODY).unwrap();
    let sig_ok = standard::sign(&old, "msg_2pA", t, RESEND_BODY).unwrap();
    let multi = format!("v2,abc {sig_bad} {sig_ok}");
    assert_eq!(
        v.verify_parts("msg_2pA", &t.to_string(), &multi, RESEND_BODY, at(t)),
        Ok(())
    );
    // Malformed timestamps and signature lists.
    assert!(matches!(
        v.verify_parts("msg_2pA", "soon", &sig_ok, RESEND_BODY, at(t)),
        Err(VerifyError::MalformedHeader {
            header: "webhook-timestamp",
            ..
        })
    ));
    assert!(matches!(
        v.verify_parts("msg_2pA", &t.to_string(), "garbage", RESEND_BODY, at(t)),
        Err(VerifyError::MalformedHeader {
            header: "webhook-signature",
            ..
        })
    ));
}

#[test]
fn supabase_auth_hook_standard_webhooks() {
    let secret = svix_secret(3);
    let configured = format!("v1,{secret}"); // Supabase shows the secret as `v1,whsec_…`
    let v = StandardWebhooksVerifier::new([configured.as_str()]).unwrap();
    let t = 1_764_268_800;
    let id = "0b6a4c44-3e0b-4b55-9a55-f1d6a0e4f3f1";
    let good = standard::sign(&configured, id, t, AUTH_HOOK_BODY).unwrap();
    let bad = standard::sign(&svix_secret(4), id, t, AUTH_HOOK_BODY).unwrap();
    let h = [
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", t.to_string()),
        ("webhook-signature", format!("{bad}, {good}")),
    ];
    assert_eq!(v.verify(&h, AUTH_HOOK_BODY, at(t)), Ok(()));
    let mut otp_changed = AUTH_HOOK_BODY.to_vec();
    let pos = otp_changed.windows(6).position(|w| w == b"561166").unwrap();
    otp_changed[pos] = b'9';
    assert!(v.verify(&h, &otp_changed, at(t)).is_err());
}

#[test]
fn supabase_db_shared_secret() {
    let s = format!("{}{}", "db-webhook-", "shared-secret-01");
    let v = Verifier::SharedSecret(SharedSecretVerifier::new([s.as_str()]));
    let h = [("authorization", shared::header_value(&s))];
    let req = Request {
        headers: &h,
        body: b"{}",
        url: None,
    };
    assert_eq!(v.verify(&req, at(0)), Ok(()));
    let custom = SharedSecretVerifier::with_header("X-Webhook-Secret", "", [s.as_str()]);
    assert_eq!(custom.verify(&[("x-webhook-secret", s.as_str())]), Ok(()));
    assert!(custom.verify(&[("x-webhook-secret", "guess")]).is_err());
}

#[test]
fn twilio_form_ports_public_url_rotation() {
    let (old, new) = (twilio_token(1), twilio_token(2));
    let v = TwilioVerifier::new([old.as_str(), new.as_str()])
        .with_public_base("https://hooks.wedsync.example/");
    let url = v.public_url("/twilio/status?tenant=7").unwrap();
    assert_eq!(url, "https://hooks.wedsync.example/twilio/status?tenant=7");
    for signed_url in [
        url.clone(),
        "https://hooks.wedsync.example:443/twilio/status?tenant=7".into(),
    ] {
        let sig = twilio::sign(&new, &signed_url, TWILIO_FORM);
        let h = [("X-Twilio-Signature", sig)];
        // Twilio may have signed with or without :443; we verify against the URL without.
        assert_eq!(v.verify(&url, &h, TWILIO_FORM), Ok(()), "{signed_url}");
    }
    let sig = twilio::sign(&old, &url, TWILIO_FORM);
    // Parameter order in the body does not matter (Twilio sorts); values do.
    let reordered: Vec<&[u8]> = TWILIO_FORM.split(|b| *b == b'&').rev().collect();
    let reordered = reordered.join(&b'&');
    assert_eq!(v.verify_signature(&url, &sig, &reordered), Ok(()));
    let tampered = String::from_utf8(TWILIO_FORM.to_vec())
        .unwrap()
        .replace("undelivered", "delivered");
    assert!(v.verify_signature(&url, &sig, tampered.as_bytes()).is_err());
    assert!(v
        .verify_signature(
            "https://evil.example/twilio/status?tenant=7",
            &sig,
            TWILIO_FORM
        )
        .is_err());
    assert!(matches!(
        v.verify_signature(&url, "%%%", TWILIO_FORM),
        Err(VerifyError::MalformedHeader { .. })
    ));
    let none: [(&str, &str); 0] = [];
    assert_eq!(
        v.verify(&url, &none, TWILIO_FORM),
        Err(VerifyError::MissingHeader("X-Twilio-Signature"))
    );
    let any = Verifier::Twilio(v);
    let req = Request {
        headers: &none,
        body: TWILIO_FORM,
        url: None,
    };
    assert_eq!(any.verify(&req, at(0)), Err(VerifyError::MissingUrl));
}

#[test]
fn twilio_json_body_sha256() {
    let token = twilio_token(3);
    let v = TwilioVerifier::new([token.as_str()]);
    let body = br#"{"MessageSid":"SM1","MessageStatus":"failed"}"#;
    let url = twilio::url_with_body_hash("http://127.0.0.1:8080/twilio/json", body);
    let sig = twilio::sign(&token, &url, body);
    assert_eq!(v.verify_signature(&url, &sig, body), Ok(()));
    assert_eq!(
        v.verify_signature(&url, &sig, b"{}"),
        Err(VerifyError::BodyHashMismatch)
    );
}

#[test]
fn errors_never_echo_secrets() {
    let s = stripe_secret(5);
    let v = StripeVerifier::new([s.as_str()]);
    let header = format!("t=1,v1={}", hex::encode(s.as_bytes()));
    let e = v.verify_header(&header, b"x", at(1)).unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(
        !text.contains(&s) && !text.contains(&hex::encode(s.as_bytes())),
        "{text}"
    );
    assert!(!format!("{v:?}").contains(&s));
    let t = TwilioVerifier::new([twilio_token(1)]);
    assert!(!format!("{t:?}").contains(&twilio_token(1)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_scheme_round_trips_and_detects_any_bit_flip(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        flip in any::<usize>(),
        bit in 0u8..8,
        t in 1_000_000_000i64..2_000_000_000,
    ) {
        let ss = stripe_secret(1);
        let sv = StripeVerifier::new([ss.as_str()]);
        let h = stripe::sign(&ss, t, &body);
        prop_assert_eq!(sv.verify_header(&h, &body, at(t)), Ok(()));
        let ws = svix_secret(1);
        let wv = StandardWebhooksVerifier::new([ws.as_str()]).unwrap();
        let sig = standard::sign(&ws, "msg_p", t, &body).unwrap();
        prop_assert_eq!(wv.verify_parts("msg_p", &t.to_string(), &sig, &body, at(t)), Ok(()));
        if !body.is_empty() {
            let mut b = body.clone();
            let i = flip % b.len();
            b[i] ^= 1 << bit;
            prop_assert!(sv.verify_header(&h, &b, at(t)).is_err());
            prop_assert!(wv.verify_parts("msg_p", &t.to_string(), &sig, &b, at(t)).is_err());
        }
    }

    #[test]
    fn twilio_form_params_round_trip(
        params in proptest::collection::vec(("[A-Za-z]{1,8}", "[ -~]{0,16}"), 0..12),
    ) {
        let token = twilio_token(9);
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .finish();
        let url = "https://hooks.example.org/t";
        let via_params = twilio::sign_params(&token, url, &params);
        prop_assert_eq!(twilio::sign(&token, url, body.as_bytes()), via_params.clone());
        let v = TwilioVerifier::new([token.as_str()]);
        prop_assert_eq!(v.verify_signature(url, &via_params, body.as_bytes()), Ok(()));
    }

    #[test]
    fn parsers_never_panic(header in "\\PC{0,200}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let sv = StripeVerifier::new([stripe_secret(1)]);
        let _ = sv.verify_header(&header, &body, at(0));
        let wv = StandardWebhooksVerifier::new([svix_secret(1)]).unwrap();
        let _ = wv.verify_parts(&header, &header, &header, &body, at(0));
        let tv = TwilioVerifier::new([twilio_token(1)]);
        let _ = tv.verify_signature(&header, &header, &body);
        let _ = twilio::url_variants(&header);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The fast form decoder agrees with the `url` crate's parser on any input.
    #[test]
    fn twilio_fast_params_match_the_oracle(
        raw in proptest::collection::vec(
            prop_oneof![
                Just(b'&'), Just(b'='), Just(b'+'), Just(b'%'), Just(b'a'), Just(b'Z'), Just(b'0'),
                Just(b'f'), Just(0xC3), Just(0xA9), Just(0xFF), any::<u8>()
            ],
            0..64,
        ),
    ) {
        let url = "https://h.example.org/t";
        prop_assert_eq!(
            twilio::signed_params_fast(url, &raw),
            twilio::signed_params_oracle(url, &raw)
        );
    }
}

#[test]
fn twilio_signature_lengths_and_encodings() {
    let token = twilio_token(4);
    let v = TwilioVerifier::new([token.as_str()]);
    let url = "https://hooks.wedsync.example/twilio/status";
    let good = twilio::sign(&token, url, TWILIO_FORM);
    assert_eq!(
        v.verify_signature(url, &format!(" {good} "), TWILIO_FORM),
        Ok(())
    );
    // Valid base64, but not 20 bytes: shorter or longer than a SHA-1 MAC never matches.
    let b64 = base64::engine::general_purpose::STANDARD;
    for len in [0usize, 19, 21, 64] {
        let sig = b64.encode(vec![7u8; len]);
        assert_eq!(
            v.verify_signature(url, &sig, TWILIO_FORM)
                .map_err(|e| e.kind()),
            Err("no_matching_signature"),
            "{len} bytes"
        );
    }
    // Not base64, short or long (the long form overflows the MAC-sized buffer first).
    for sig in ["%%%".to_owned(), format!("{good}{good}!")] {
        assert_eq!(
            v.verify_signature(url, &sig, TWILIO_FORM)
                .map_err(|e| e.kind()),
            Err("malformed_header"),
            "{sig}"
        );
    }
    // No token configured.
    let none = TwilioVerifier::new(Vec::<String>::new());
    assert_eq!(
        none.verify_signature(url, &good, TWILIO_FORM),
        Err(VerifyError::NoSecretConfigured)
    );
    // A port other than the default is not toggled: the signature for :443 does not verify
    // against :8443.
    let sig443 = twilio::sign(&token, "https://hooks.wedsync.example:443/t", TWILIO_FORM);
    assert!(v
        .verify_signature("https://hooks.wedsync.example:8443/t", &sig443, TWILIO_FORM)
        .is_err());
    assert_eq!(
        v.verify_signature("https://hooks.wedsync.example:443/t", &sig443, TWILIO_FORM),
        Ok(())
    );
    // Parameters without `=` and empty pairs are signed as the `url` crate parses them.
    let odd = b"A&&B=1&=x&C";
    assert_eq!(
        twilio::signed_params_fast(url, odd),
        twilio::signed_params_oracle(url, odd)
    );
    assert_eq!(
        v.verify_signature(url, &twilio::sign(&token, url, odd), odd),
        Ok(())
    );
}

#[test]
fn verifiers_debug_without_secrets() {
    let s = stripe_secret(7);
    let sv = StripeVerifier::new([s.as_str()]);
    let d = format!("{sv:?}");
    assert!(d.contains("secrets: 1") && !d.contains(&s), "{d}");
    let w = svix_secret(7);
    let wv = StandardWebhooksVerifier::new([w.as_str()]).unwrap();
    let d = format!("{wv:?}");
    assert!(d.contains("secrets: 1") && !d.contains(&w), "{d}");
    let t = twilio_token(7);
    let tv = TwilioVerifier::new([t.as_str()]).with_public_base("https://h.example");
    let d = format!("{tv:?}");
    assert!(d.contains("tokens: 1") && !d.contains(&t), "{d}");
    assert_eq!(
        tv.public_url("t/x").as_deref(),
        Some("https://h.example/t/x")
    );
}

#[test]
fn every_error_kind_and_header_source() {
    let errors = [
        (VerifyError::MissingHeader("X"), "missing_header"),
        (
            VerifyError::MalformedHeader {
                header: "X",
                reason: "r",
            },
            "malformed_header",
        ),
        (
            VerifyError::TimestampTooOld {
                age_secs: 2,
                tolerance_secs: 1,
            },
            "timestamp_too_old",
        ),
        (
            VerifyError::TimestampTooNew {
                ahead_secs: 2,
                tolerance_secs: 1,
            },
            "timestamp_too_new",
        ),
        (
            VerifyError::NoMatchingSignature {
                candidates: 1,
                secrets: 1,
            },
            "no_matching_signature",
        ),
        (VerifyError::BodyHashMismatch, "body_hash_mismatch"),
        (VerifyError::MissingUrl, "missing_url"),
        (VerifyError::NoSecretConfigured, "no_secret_configured"),
        (
            VerifyError::InvalidSecret {
                index: 0,
                reason: "r",
            },
            "invalid_secret",
        ),
    ];
    for (e, kind) in errors {
        assert_eq!(e.kind(), kind);
        assert!(!e.to_string().is_empty());
    }

    // http::HeaderMap is a header source (case-insensitive; non-UTF-8 values are absent).
    let s = svix_secret(3);
    let body = br#"{"type":"email.bounced"}"#;
    let mut map = http::HeaderMap::new();
    for (k, v) in standard::headers(standard::HeaderStyle::Svix, &s, "msg_3", 1000, body).unwrap() {
        map.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(&v).unwrap(),
        );
    }
    let wv = StandardWebhooksVerifier::new([s.as_str()])
        .unwrap()
        .with_tolerance(Duration::from_secs(10));
    let req = Request {
        headers: &map,
        body,
        url: None,
    };
    assert!(format!("{req:?}").contains("body_len"));
    let any = Verifier::Standard(wv);
    assert_eq!(any.verify(&req, at(1005)), Ok(()));
    assert_eq!(
        any.verify(&req, at(1011)).map_err(|e| e.kind()),
        Err("timestamp_too_old")
    );
    map.insert(
        "svix-id",
        http::HeaderValue::from_bytes(b"\xffmsg").unwrap(),
    );
    let req = Request {
        headers: &map,
        body,
        url: None,
    };
    assert_eq!(
        any.verify(&req, at(1005)),
        Err(VerifyError::MissingHeader("webhook-id"))
    );

    // Shared secrets through the enum; no secrets configured.
    let shared_v = SharedSecretVerifier::with_header("X-Hook-Secret", "", Vec::<String>::new());
    assert_eq!(shared_v.header_name(), "x-hook-secret");
    assert_eq!(
        shared_v.verify(&[("x-hook-secret", "anything")]),
        Err(VerifyError::NoSecretConfigured)
    );
    // Standard Webhooks: a secret that is not base64 is refused without echoing it.
    let bad = format!("{}{}", "whsec_", "!!not-base64!!");
    let err = StandardWebhooksVerifier::new([bad.as_str()]).unwrap_err();
    assert_eq!(err.kind(), "invalid_secret");
    assert!(!err.to_string().contains("not-base64!!"));
}
