//! Signed webhooks from the fixtures verify with wedsync-webhooks' verifiers and reach a fake
//! handler over loopback intact.
#![cfg(feature = "signed-webhooks")]

use std::time::Duration;

use time::OffsetDateTime;
use wedsync_testkit::{fixtures, signed, FakeWebhookHandler};
use wedsync_webhooks::verify::{
    SharedSecretVerifier, StandardWebhooksVerifier, StripeVerifier, TwilioVerifier, VerifyError,
};

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

#[test]
fn stripe_fixtures_verify_and_tampering_fails() {
    let secret = signed::stripe_secret();
    let verifier = StripeVerifier::new([secret.as_str()]);
    for hook in [
        signed::stripe_checkout_session_completed(&secret),
        signed::stripe_payment_intent_payment_failed(&secret),
    ] {
        assert_eq!(hook.provider, "stripe");
        assert!(hook.dedupe_id.as_deref().unwrap().starts_with("evt_"));
        verifier.verify(&hook.headers, &hook.body, now()).unwrap();
        let mut tampered = hook.body.clone();
        tampered[10] ^= 1;
        assert!(verifier.verify(&hook.headers, &tampered, now()).is_err());
    }
    // another secret does not verify
    let other = StripeVerifier::new([signed::stripe_secret()]);
    let hook = signed::stripe_checkout_session_completed(&secret);
    assert!(other.verify(&hook.headers, &hook.body, now()).is_err());
}

#[test]
fn stripe_old_timestamp_and_rotation() {
    let secret = signed::stripe_secret();
    let verifier = StripeVerifier::new([secret.as_str()]);
    let old = signed::stripe_at(
        &secret,
        fixtures::STRIPE_PAYMENT_INTENT_PAYMENT_FAILED,
        signed::now() - 3_600,
    );
    assert!(matches!(
        verifier.verify(&old.headers, &old.body, now()),
        Err(VerifyError::TimestampTooOld { .. })
    ));
    let new_secret = signed::stripe_secret();
    let rotated = signed::stripe_rotated(
        &[&secret, &new_secret],
        fixtures::STRIPE_PAYMENT_INTENT_PAYMENT_FAILED,
        signed::now(),
    );
    assert_eq!(
        rotated
            .header("stripe-signature")
            .unwrap()
            .matches("v1=")
            .count(),
        2
    );
    StripeVerifier::new([new_secret.as_str()])
        .verify(&rotated.headers, &rotated.body, now())
        .unwrap();
    verifier
        .verify(&rotated.headers, &rotated.body, now())
        .unwrap();
}

#[test]
fn resend_svix_verifies_and_keeps_its_id() {
    let secret = signed::svix_secret();
    let hook = signed::resend_email_bounced(&secret).unwrap();
    assert!(hook.header("svix-id").unwrap().starts_with("msg_"));
    assert_eq!(hook.dedupe_id.as_deref(), hook.header("svix-id"));
    StandardWebhooksVerifier::new([secret.as_str()])
        .unwrap()
        .verify(&hook.headers, &hook.body, now())
        .unwrap();
    let retry = signed::resend_at(
        &secret,
        hook.header("svix-id").unwrap(),
        fixtures::RESEND_EMAIL_BOUNCED,
        signed::now(),
    )
    .unwrap();
    assert_eq!(retry.dedupe_id, hook.dedupe_id);
    assert!(signed::resend("not base64!", "{}").is_err());
}

#[test]
fn supabase_auth_hook_standard_webhooks() {
    let secret = signed::standard_secret();
    let hook = signed::supabase_auth_hook_send_sms(&secret).unwrap();
    assert!(hook.header("webhook-id").is_some());
    assert!(hook.header("webhook-signature").unwrap().starts_with("v1,"));
    assert_eq!(hook.dedupe_id, None);
    StandardWebhooksVerifier::new([secret.as_str()])
        .unwrap()
        .verify(&hook.headers, &hook.body, now())
        .unwrap();
    let again = signed::supabase_auth_hook_send_sms(&secret).unwrap();
    assert_ne!(again.header("webhook-id"), hook.header("webhook-id"));
}

#[test]
fn supabase_db_shared_secret() {
    let secret = signed::shared_secret();
    let hook = signed::supabase_db_webhook_insert(&secret);
    SharedSecretVerifier::new([secret.as_str()])
        .verify(&hook.headers)
        .unwrap();
    assert!(SharedSecretVerifier::new(["other"])
        .verify(&hook.headers)
        .is_err());
    assert_eq!(hook.body_text(), Some(fixtures::SUPABASE_DB_WEBHOOK_INSERT));
}

#[test]
fn twilio_form_and_json() {
    let token = "0123456789abcdef0123456789abcdef".to_owned();
    let url = "http://127.0.0.1:8080/webhooks/twilio?tenant=7";
    let verifier = TwilioVerifier::new([token.as_str()]);
    for hook in [
        signed::twilio_sms_status_undelivered(&token, url),
        signed::twilio_sms_inbound(&token, url),
    ] {
        verifier.verify(url, &hook.headers, &hook.body).unwrap();
        assert!(verifier
            .verify(url, &hook.headers, b"Body=changed")
            .is_err());
    }
    let status = signed::twilio_sms_status_undelivered(&token, url);
    assert!(status.dedupe_id.unwrap().ends_with(":undelivered"));
    let json = signed::twilio_json(&token, url, r#"{"id":"EV1"}"#);
    let signed_url = json.url.clone().unwrap();
    assert!(signed_url.contains("bodySHA256="));
    verifier
        .verify(&signed_url, &json.headers, &json.body)
        .unwrap();
    assert!(verifier
        .verify(&signed_url, &json.headers, br#"{"id":"EV2"}"#)
        .is_err());
}

#[tokio::test]
async fn signed_webhook_reaches_the_fake_handler_byte_for_byte() {
    let handler = FakeWebhookHandler::start().await;
    let secret = signed::stripe_secret();
    let hook = signed::stripe_checkout_session_completed(&secret);
    let status = hook.post(&handler.url_for("stripe")).await.unwrap();
    assert_eq!(status, 200);
    assert!(handler.wait_for_deliveries(1, Duration::from_secs(2)).await);
    let got = handler.delivered().remove(0);
    assert_eq!(got.body.as_ref(), hook.body.as_slice());
    assert_eq!(
        got.header("stripe-signature"),
        hook.header("stripe-signature")
    );
    // what arrived still verifies
    let headers: Vec<(String, String)> = got.headers.clone();
    StripeVerifier::new([secret.as_str()])
        .verify(&headers, &got.body, now())
        .unwrap();

    let token = "fedcba9876543210fedcba9876543210";
    let url = handler.url_for("twilio");
    let tw = signed::twilio_sms_inbound(token, &url);
    assert_eq!(tw.post(tw.url.as_deref().unwrap()).await.unwrap(), 200);
    let got = handler.delivered().remove(1);
    TwilioVerifier::new([token])
        .verify(&url, &got.headers, &got.body)
        .unwrap();
}

#[tokio::test]
async fn verifying_handler_accepts_only_valid_standard_webhooks() {
    let secret = signed::svix_secret();
    let handler = FakeWebhookHandler::start_verifying(&secret).await.unwrap();
    assert!(handler.is_verifying());
    let url = handler.url_for("stripe");
    let good = signed::standard(&secret, fixtures::STRIPE_CHECKOUT_SESSION_COMPLETED).unwrap();
    assert_eq!(good.post(&url).await.unwrap(), 200);
    let wrong = signed::standard(&signed::svix_secret(), "{}").unwrap();
    assert_eq!(wrong.post(&url).await.unwrap(), 401);
    let stale = signed::standard_at(&secret, "msg_1", "{}", signed::now() - 3_600).unwrap();
    assert_eq!(stale.post(&url).await.unwrap(), 401);
    let unsigned = signed::supabase_db("x", "{}");
    assert_eq!(unsigned.post(&url).await.unwrap(), 401);
    assert_eq!(handler.delivered().len(), 1);
    assert_eq!(handler.request_count(), 4);
    assert!(FakeWebhookHandler::start_verifying("not a secret!")
        .await
        .is_err());
}
