//! The `wedsync-redact` binary end to end (built with the `cli` feature).
#![cfg(feature = "cli")]

use std::io::Write;
use std::process::{Command, Stdio};

fn run(args: &[&str], env: &[(&str, &str)], input: &[u8]) -> (String, String, bool) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wedsync-redact"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn wedsync-redact");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    (
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
        out.status.success(),
    )
}

#[test]
fn text_is_the_default_format() {
    let (out, err, ok) = run(&[], &[], b"login as emma@example.com password=hunter2\n");
    assert!(ok, "{err}");
    assert_eq!(out, "login as [REDACTED:email] password=[REDACTED]\n");
    assert!(err.is_empty());
}

#[test]
fn json_with_profile_and_report() {
    let (out, err, ok) = run(
        &["--format", "json", "--profile", "stripe", "--report"],
        &[],
        br#"{"customer_details":{"name":"Emma Wilson"},"n":1e2}"#,
    );
    assert!(ok, "{err}");
    assert_eq!(
        out,
        r#"{"customer_details":{"name":"[REDACTED:name]"},"n":1e2}"#
    );
    let report: serde_json::Value = serde_json::from_str(err.trim()).expect("report is JSON");
    assert_eq!(report["counts"]["name"], 1);
    assert_eq!(report["locations"][0], "$.customer_details.name");
    assert!(!err.contains("Emma"));
}

/// Runs the binary with `args` on `input` and checks that it succeeds, printing `want`.
fn assert_redacts(args: &[&str], input: &[u8], want: &str) {
    let (out, err, ok) = run(args, &[], input);
    assert!(ok, "{err}");
    assert_eq!(out, want);
}

#[test]
fn form_headers_and_url_formats() {
    assert_redacts(
        &["--format", "form", "--profile", "twilio"],
        b"To=%2B447700900123&Body=hi+there&SmsStatus=sent",
        "To=[REDACTED:phone]&Body=[REDACTED]&SmsStatus=sent",
    );
    assert_redacts(
        &["--format", "headers"],
        b"Authorization: Bearer abc.def.ghi\nContent-Type: application/json\n",
        "Authorization: Bearer [REDACTED]\nContent-Type: application/json\n",
    );
    assert_redacts(
        &["--format", "url"],
        b"https://u:pw@example.com/?token=abc&x=1\nhttps://example.com/ok\n",
        "https://u:[REDACTED]@example.com/?token=[REDACTED]&x=1\nhttps://example.com/ok\n",
    );
}

#[test]
fn pseudonym_key_from_env() {
    let env = [(
        "WEDSYNC_TEST_PSEUDONYM_KEY",
        "test-only-key-0123456789abcdef",
    )];
    let args = ["--pseudonym-key-env", "WEDSYNC_TEST_PSEUDONYM_KEY"];
    let (a, _, ok) = run(&args, &env, b"mail Emma@Example.com");
    assert!(ok);
    let (b, _, _) = run(&args, &env, b"mail emma@example.com");
    assert!(
        a.starts_with("mail [REDACTED:email:") && a.len() == "mail [REDACTED:email:]".len() + 12,
        "{a}"
    );
    assert_eq!(a, b);
    let (_, err, ok) = run(
        &["--pseudonym-key-env", "WEDSYNC_TEST_UNSET_VAR"],
        &[],
        b"x",
    );
    assert!(!ok);
    assert!(err.contains("WEDSYNC_TEST_UNSET_VAR"));
}
