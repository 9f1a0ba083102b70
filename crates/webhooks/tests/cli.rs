//! The `wedsync-webhooks` binary: `sign` output fed back into `verify`.
#![cfg(feature = "cli")]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use base64::Engine as _;

const BIN: &str = env!("CARGO_BIN_EXE_wedsync-webhooks");
const STRIPE_BODY: &[u8] = include_bytes!("fixtures/stripe_payment_intent_payment_failed.json");
const TWILIO_FORM: &[u8] = include_bytes!("fixtures/twilio_sms_status_undelivered.form");

fn run(args: &[&str], secret: &str, stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("WH_SECRET", secret)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wedsync-webhooks");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn header_args(stdout: &[u8]) -> Vec<String> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .flat_map(|l| ["--header".to_owned(), l.to_owned()])
        .collect()
}

fn round_trip(provider: &str, secret: &str, body: &[u8], extra: &[&str], sign_only: &[&str]) {
    let mut sign = vec![
        "sign",
        "--provider",
        provider,
        "--secret-env",
        "WH_SECRET",
        "--timestamp",
        "1764268800",
    ];
    sign.extend_from_slice(extra);
    sign.extend_from_slice(sign_only);
    let out = run(&sign, secret, body);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let headers = header_args(&out.stdout);
    assert!(!headers.is_empty());
    let mut verify = vec![
        "verify",
        "--provider",
        provider,
        "--secret-env",
        "WH_SECRET",
        "--now",
        "1764268900",
    ];
    verify.extend(headers.iter().map(String::as_str));
    verify.extend_from_slice(extra);
    let ok = run(&verify, secret, body);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let mut tampered = body.to_vec();
    tampered[0] ^= 0x20;
    let bad = run(&verify, secret, &tampered);
    assert_eq!(bad.status.code(), Some(1));
    let reason = String::from_utf8_lossy(&bad.stderr);
    assert!(reason.contains("not verified"), "{reason}");
    assert!(
        !reason.contains(secret),
        "the reason never echoes the secret"
    );
}

fn svix_secret() -> String {
    format!(
        "{}{}",
        "whsec_",
        base64::engine::general_purpose::STANDARD.encode([9u8; 32])
    )
}

#[test]
fn stripe_sign_then_verify() {
    let secret = format!("{}{}", "whsec_", "cli_fixture_secret");
    round_trip("stripe", &secret, STRIPE_BODY, &[], &[]);
    // A recorded request checked a day later: too old.
    let out = run(
        &[
            "sign",
            "--provider",
            "stripe",
            "--secret-env",
            "WH_SECRET",
            "--timestamp",
            "1000",
        ],
        &secret,
        b"{}",
    );
    let mut verify = vec![
        "verify",
        "--provider",
        "stripe",
        "--secret-env",
        "WH_SECRET",
        "--now",
        "90000",
    ];
    let headers = header_args(&out.stdout);
    verify.extend(headers.iter().map(String::as_str));
    let old = run(&verify, &secret, b"{}");
    assert_eq!(old.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&old.stderr).contains("timestamp too old"));
}

#[test]
fn resend_and_standard_sign_then_verify() {
    round_trip(
        "resend",
        &svix_secret(),
        b"{\"type\":\"email.bounced\"}",
        &[],
        &["--id", "msg_cli"],
    );
    let supabase_form = format!("v1,{}", svix_secret());
    round_trip("standard", &supabase_form, b"{\"user\":{}}", &[], &[]);
}

#[test]
fn twilio_sign_then_verify() {
    let token = format!("{}{}", "cli-twilio-", "token");
    round_trip(
        "twilio",
        &token,
        TWILIO_FORM,
        &["--url", "https://hooks.example.com/twilio/status"],
        &[],
    );
}

#[test]
fn missing_secret_is_a_usage_error() {
    let out = Command::new(BIN)
        .args([
            "verify",
            "--provider",
            "stripe",
            "--secret-env",
            "WH_NO_SUCH_VAR_X",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
