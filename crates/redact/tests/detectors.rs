//! Each detector, output convention and false-positive guard, through the public API.

use wedsync_redact::{Kind, Policy, Profile, Redactor, SecretKey};

fn t(s: &str) -> String {
    wedsync_redact::text(s)
}

fn j(s: &str) -> String {
    String::from_utf8(Redactor::default().sanitize_json(s.as_bytes()).output).unwrap()
}

#[test]
fn known_prefix_secrets_keep_their_prefix() {
    let cases = [
        (
            concat!("sk_", "live_", "4eC39HqLyjWDarjtT1zdp7dc"),
            "sk_live_[REDACTED]",
        ),
        (
            concat!("sk_", "test_", "51HxAbCdEfGh0123456789"),
            "sk_test_[REDACTED]",
        ),
        (
            concat!("rk_", "live_", "51HxAbCdEfGh0123456789"),
            "rk_live_[REDACTED]",
        ),
        (
            concat!("whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "whsec_[REDACTED]",
        ),
        (
            concat!("sb_", "secret_", "N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz"),
            "sb_secret_[REDACTED]",
        ),
        (
            concat!("sbp_", "0102030405060708091011121314151617181920"),
            "sbp_[REDACTED]",
        ),
        (
            concat!("re_", "123456789_", "AbCdEfGhIjKlMnOpQrStUv"),
            "re_[REDACTED]",
        ),
        (
            concat!("SK", "0123456789abcdef0123456789abcdef"),
            "SK[REDACTED]",
        ),
        (
            concat!("xox", "b-", "1234567890-0987654321-AbCdEfGhIjKl"),
            "xoxb-[REDACTED]",
        ),
        (concat!("AKIA", "IOSFODNN7EXAMPLE"), "AKIA[REDACTED]"),
        (
            concat!("ghp_", "abcdefghijklmnopqrstuvwxyz0123456789"),
            "ghp_[REDACTED]",
        ),
    ];
    for (secret, want) in cases {
        assert_eq!(
            t(&format!("key is {secret}.")),
            format!("key is {want}."),
            "{secret}"
        );
    }
    let slack = concat!(
        "https://hooks.slack.com/services/",
        "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
    );
    assert_eq!(
        t(&format!("posting to {slack} failed")),
        "posting to https://hooks.slack.com/services/[REDACTED] failed"
    );
}

#[test]
fn client_secrets_keep_the_object_id() {
    let s = concat!("pi_3NxAbCdEfGhIjKlM1", "_secret_", "Zx9Yw8Vu7Ts6Rq5Po4");
    assert_eq!(t(s), "pi_3NxAbCdEfGhIjKlM1_secret_[REDACTED]");
    let s = concat!("seti_1Nx2", "_secret_", "Zx9Yw8Vu7Ts6Rq5Po4");
    assert_eq!(t(s), "seti_1Nx2_secret_[REDACTED]");
}

#[test]
fn object_ids_and_publishable_keys_stay() {
    for s in [
        "cus_QxYzAbCdEfGh12",
        "pi_3NxAbCdEfGhIjKlM1",
        "evt_1NxAbCdEfGhIjKlMnOpQrSt",
        "cs_live_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ",
        "AC0123456789abcdef0123456789abcdef",
        "SM904dba41ecccc3fc1626e53a13043b02",
        "MG9752274e9e519418a7406176694466fa",
        concat!("pk_", "live_", "51HxAbCdEfGh0123456789"),
        concat!("sb_", "publishable_", "AbCdEfGh0123456789"),
    ] {
        assert_eq!(t(s), s);
        let doc = format!(r#"{{"id":"{s}","publishable_key":"{s}"}}"#);
        assert_eq!(j(&doc), doc);
    }
}

#[test]
fn jwt_pem_and_auth_schemes() {
    let jwt = concat!(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        ".eyJzdWIiOiIxMjM0NTY3ODkwIiwicm9sZSI6InNlcnZpY2Vfcm9sZSJ9",
        ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    );
    assert_eq!(t(&format!("jwt={jwt}")), "jwt=[REDACTED:jwt]");
    assert_eq!(t(&format!("got {jwt} back")), "got [REDACTED:jwt] back");
    assert_eq!(
        t(&format!("Authorization: Bearer {jwt}")),
        "Authorization: Bearer [REDACTED]"
    );
    assert_eq!(
        t("curl -H 'Authorization: Basic dXNlcjpwYXNz'"),
        "curl -H 'Authorization: Basic [REDACTED]'"
    );
    assert_eq!(t("sent Bearer abc123def456ghi"), "sent Bearer [REDACTED]");
    assert_eq!(
        t("the Bearer token was missing"),
        "the Bearer token was missing"
    );

    let begin = concat!("-----BEGIN RSA ", "PRIVATE KEY-----");
    let end = concat!("-----END RSA ", "PRIVATE KEY-----");
    let pem = format!("{begin}\nMIIEpAIBAAKCAQEA7bq\nAbCdEf==\n{end}\nafter");
    assert_eq!(t(&pem), format!("{begin}[REDACTED]{end}\nafter"));
    // END line missing: everything after BEGIN goes.
    let cut = format!("key: {begin}\nMIIEpAIBAAKCAQEA7bq\nAbCd");
    assert_eq!(t(&cut), format!("key: {begin}[REDACTED]"));
    // In JSON the newlines are escapes.
    let doc = format!(r#"{{"pem":"{}"}}"#, pem.replace('\n', "\\n"));
    assert_eq!(
        j(&doc),
        format!(r#"{{"pem":"{begin}[REDACTED]{end}\nafter"}}"#)
    );
}

#[test]
fn url_userinfo_last_at_ends_it() {
    assert_eq!(
        t("connect postgres://monitor:p@ss@w0rd@db.internal:5432/wedsync failed"),
        "connect postgres://monitor:[REDACTED]@db.internal:5432/wedsync failed"
    );
    assert_eq!(
        t("GET https://emma.wilson@example.com:pw@api.example.com/x"),
        "GET https://[REDACTED:email]:[REDACTED]@api.example.com/x"
    );
    assert_eq!(
        t("https://api.example.com/v1?x=1"),
        "https://api.example.com/v1?x=1"
    );
}

#[test]
fn key_value_pairs_in_text() {
    assert_eq!(
        t("login failed password=hunter2 user=7 Pin: 1234"),
        "login failed password=[REDACTED] user=7 Pin: [REDACTED]"
    );
    assert_eq!(
        t(r#"body {"api_key": "abc123", "n": 1}"#),
        r#"body {"api_key": "[REDACTED]", "n": 1}"#
    );
    assert_eq!(t("X-Api-Key: abcdef0123"), "X-Api-Key: [REDACTED]");
    assert_eq!(t("token expired"), "token expired");
    assert_eq!(t("author=jane"), "author=jane");
    assert_eq!(
        t(r#"{\"secret\":\"abc\"}"#),
        r#"{\"secret\":\"[REDACTED]\"}"#
    );
}

#[test]
fn personal_data_in_text() {
    assert_eq!(
        t("mail emma.wilson@example.com now"),
        "mail [REDACTED:email] now"
    );
    assert_eq!(t("call +44 7700 900123."), "call [REDACTED:phone].");
    assert_eq!(t("call +1 (555) 010-4477 now"), "call [REDACTED:phone] now");
    assert_eq!(t("to=%2B447700900123&x=1"), "to=[REDACTED:phone]&x=1");
    assert_eq!(
        t("card 4242 4242 4242 4242 declined"),
        "card **** **** **** 4242 declined"
    );
    assert_eq!(t("card 4242-4242-4242-4242"), "card ****-****-****-4242");
    assert_eq!(t("card 4242424242424242"), "card ************4242");
    assert_eq!(t("amex 378282246310005"), "amex ***********0005");
    assert_eq!(
        t("iban GB82 WEST 1234 5698 7654 32 ok"),
        "iban [REDACTED:iban] ok"
    );
    assert_eq!(t("iban DE89370400440532013000"), "iban [REDACTED:iban]");
    assert_eq!(t("from 203.0.113.9:443"), "from [REDACTED:ip]:443");
    assert_eq!(
        t("from 2001:db8::8a2e:370:7334 ok"),
        "from [REDACTED:ip] ok"
    );
}

#[test]
fn false_positive_guards() {
    for s in [
        "ts=1717171717000 created=1733000000",
        "1733000000000 1717171717123 1700000000000",
        "request 8f14e45f-ceea-467f-a0a5-6b7c2c9e1f3a done",
        "12345678-1234-1234-1234-123456789012",
        "<img src=\"logo@2x.png\">",
        "git clone git@github.com:org/repo.git",
        "at 18:41:12.126Z and 2026-11-27",
        "std::net::Ipv6Addr and a::b",
        "localhost 127.0.0.1:5432 and [::1]:80",
        "GB82 WEST 1234 5698 7654 33",
        "4242 4242 4242 4241",
        "version 1.2.3 and 0.4242424242424242",
        "SmsSid=SM1f0e8a2b3c4d5e6f708192a3b4c5d6e7",
        "the author, monkey, options and spinner",
        "max_tokens=4096 idempotency_key=abc public_key=xyz",
    ] {
        assert_eq!(t(s), s, "false positive in {s:?}");
    }
    let epoch = r#"{"created":1717171717000,"n":1733000000000}"#;
    assert_eq!(j(epoch), epoch);
}

#[test]
fn key_rules_and_value_shapes() {
    assert_eq!(
        j(
            r#"{"password":"x","Password":null,"pass\u0077ord":"y","token":true,"secret":"","apiKey":42,"credentials":{"a":[1,2]},"author":"Jane"}"#
        ),
        r#"{"password":"[REDACTED]","Password":null,"pass\u0077ord":"[REDACTED]","token":true,"secret":"","apiKey":"[REDACTED]","credentials":"[REDACTED]","author":"Jane"}"#
    );
    assert_eq!(
        j(r#"{"authorization":"Bearer abc","stripe_key":"sk_live_xyz12345678"}"#),
        r#"{"authorization":"Bearer [REDACTED]","stripe_key":"sk_live_[REDACTED]"}"#
    );
    assert_eq!(
        j(
            r#"{"has_password":true,"public_key":"pk","max_tokens":5,"idempotency_key":"k-1","key":"v"}"#
        ),
        r#"{"has_password":true,"public_key":"pk","max_tokens":5,"idempotency_key":"k-1","key":"v"}"#
    );
}

#[test]
fn json_preserves_bytes_and_numbers() {
    let doc = "{ \"b\" : 1e2,\n  \"a\": [1.50, -0, 2E-3], \"z\":\"é\\u00e9\", \"email\" : \"x@example.com\" }";
    assert_eq!(
        j(doc),
        "{ \"b\" : 1e2,\n  \"a\": [1.50, -0, 2E-3], \"z\":\"é\\u00e9\", \"email\" : \"[REDACTED:email]\" }"
    );
    // Cards as JSON numbers.
    assert_eq!(
        j(r#"{"n":4242424242424242}"#),
        r#"{"n":"************4242"}"#
    );
}

#[test]
fn names_and_addresses_follow_paths() {
    let r = Redactor::for_profile(Profile::Stripe);
    let doc = r#"{"product":{"name":"Gold package"},"venue":{"name":"Castle Howard","address":{"line1":"York Rd","city":"York"}},"shipping":{"name":"Emma","address":{"line1":"12 Stonegate","postal_code":"YO1 8AS","city":"York","country":"GB"}},"guest_name":"Oliver","product_name":"Gold","name":"top"}"#;
    let out = String::from_utf8(r.sanitize_json(doc.as_bytes()).output).unwrap();
    assert_eq!(
        out,
        r#"{"product":{"name":"Gold package"},"venue":{"name":"Castle Howard","address":{"line1":"York Rd","city":"York"}},"shipping":{"name":"[REDACTED:name]","address":{"line1":"[REDACTED:address]","postal_code":"[REDACTED:address]","city":"York","country":"GB"}},"guest_name":"[REDACTED:name]","product_name":"Gold","name":"top"}"#
    );
}

#[test]
fn embedded_json_is_sanitised_inside_or_scanned_as_text() {
    let doc = r#"{"metadata":{"couple":"{\"partner_a\":{\"name\":\"Emma\",\"n\":1e2}}","note":"{not json, mail a@example.com}"}}"#;
    assert_eq!(
        j(doc),
        r#"{"metadata":{"couple":"{\"partner_a\":{\"name\":\"[REDACTED:name]\",\"n\":1e2}}","note":"{not json, mail [REDACTED:email]}"}}"#
    );
}

#[test]
fn fail_closed_on_unparseable_input() {
    let r = Redactor::default();
    let out = r.sanitize_json(br#"{"password":"hunter2","email":"emma@example.com""#);
    assert!(out.report.fell_back_to_text);
    let s = String::from_utf8(out.output).unwrap();
    assert!(
        !s.contains("hunter2") && !s.contains("emma@example.com"),
        "{s}"
    );
    // Not UTF-8.
    let mut bytes = br#"{"email":"emma@example.com","x":""#.to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, b'"', b'}']);
    let out = r.sanitize_json(&bytes);
    assert!(out.report.fell_back_to_text);
    assert!(!String::from_utf8(out.output).unwrap().contains("emma@"));
    // Too deep.
    let mut p = Policy::default();
    p.limits.max_depth = 4;
    let r = Redactor::new(p).unwrap();
    let out = r.sanitize_json(br#"{"a":{"b":{"c":{"d":{"e":"emma@example.com"}}}}}"#);
    assert!(out.report.fell_back_to_text);
    assert!(!String::from_utf8(out.output).unwrap().contains("emma@"));
}

#[test]
fn size_limit_cuts_and_marks() {
    let mut p = Policy::default();
    p.limits.max_input_bytes = 1024;
    let r = Redactor::new(p).unwrap();
    let big = "emma@example.com ".repeat(200);
    let out = r.sanitize_text(&big);
    assert!(out.report.truncated);
    assert!(out.output.len() <= 1024);
    assert!(out.output.ends_with("[TRUNCATED]"));
    assert!(!out.output.contains("emma@"));
    assert_eq!(r.sanitize_text(&out.output).output, out.output);
}

#[test]
fn headers() {
    let r = Redactor::default();
    let out = r.sanitize_headers([
        ("Authorization", "Bearer abc.def.ghi"),
        ("Cookie", "session=abc; theme=dark"),
        ("Stripe-Signature", "t=1,v1=abcdef"),
        ("X-Forwarded-For", "203.0.113.9"),
        ("Content-Type", "application/json"),
    ]);
    assert_eq!(
        out.output,
        vec![
            ("Authorization".to_string(), "Bearer [REDACTED]".to_string()),
            ("Cookie".to_string(), "[REDACTED]".to_string()),
            ("Stripe-Signature".to_string(), "[REDACTED]".to_string()),
            ("X-Forwarded-For".to_string(), "[REDACTED:ip]".to_string()),
            ("Content-Type".to_string(), "application/json".to_string()),
        ]
    );
    assert_eq!(
        out.report.locations,
        [
            "authorization",
            "cookie",
            "stripe-signature",
            "x-forwarded-for"
        ]
    );
}

#[test]
fn urls_keep_untouched_parameters_byte_for_byte() {
    let r = Redactor::default();
    let u = "https://user:pw@api.example.com/v1/guests/emma%40example.com?a=%41b&token=xyz&to=%2B447700900123&q=a+b#access_token=abc";
    let out = r.sanitize_url(u);
    assert_eq!(
        out.output,
        "https://user:[REDACTED]@api.example.com/v1/guests/[REDACTED:email]?a=%41b&token=[REDACTED]&to=[REDACTED:phone]&q=a+b#access_token=[REDACTED]"
    );
    assert_eq!(r.sanitize_url(&out.output).output, out.output);
    assert!(out.report.locations.contains(&"token".to_string()));
}

#[test]
fn pseudonyms_are_keyed_and_normalised() {
    let key = SecretKey::new(b"test-only-pseudonym-key-0123456789".to_vec()).unwrap();
    let r = Redactor::default().with_pseudonym_key(key);
    let a = r.sanitize_text("mail Emma.Wilson@Example.com").output;
    let b = r
        .sanitize_json(br#"{"email":" emma.wilson@example.com "}"#)
        .output;
    let tag = a.strip_prefix("mail ").unwrap();
    assert!(
        tag.starts_with("[REDACTED:email:") && tag.len() == 29,
        "{tag}"
    );
    assert_eq!(
        String::from_utf8(b).unwrap(),
        format!(r#"{{"email":"{tag}"}}"#)
    );
    let p1 = r.sanitize_text("+44 7700 900123").output;
    let p2 = r.sanitize_json(br#"{"phone":"+447700900123"}"#).output;
    assert!(String::from_utf8(p2).unwrap().contains(&p1));
    // Another key, another pseudonym.
    let other = Redactor::default()
        .with_pseudonym_key(SecretKey::new(b"another-test-key-0123456789abcdef".to_vec()).unwrap());
    assert_ne!(
        other.sanitize_text("mail Emma.Wilson@Example.com").output,
        a
    );
    assert_eq!(r.sanitize_text(&a).output, a);
}

#[test]
fn value_api_matches_bytes_api() {
    let doc = r#"{"customer_details":{"name":"Emma","email":"emma@example.com","phone":"+447700900123"},"password":"x","n":4242424242424242,"note":"call +44 7700 900123","list":[{"token":{"a":1}}]}"#;
    let r = Redactor::for_profile(Profile::Stripe);
    let mut v: serde_json::Value = serde_json::from_str(doc).unwrap();
    let rep = r.sanitize_value(&mut v);
    let from_bytes: serde_json::Value =
        serde_json::from_slice(&r.sanitize_json(doc.as_bytes()).output).unwrap();
    assert_eq!(v, from_bytes);
    assert_eq!(rep.count(Kind::Name), 1);
    assert_eq!(rep.count(Kind::Card), 1);
}

#[test]
fn policy_from_json_and_path_rules() {
    let p = Policy::from_json(
        r#"{"profile":"generic","sensitive_keys":["door code"],"allowed_keys":["token_type"],
            "rules":[{"path":"**.guest_note","action":"message"},{"path":"data.*.label","action":"name"}],
            "secret_prefixes":["wsk_"],"limits":{"max_depth":64}}"#,
    )
    .unwrap();
    let r = Redactor::new(p).unwrap();
    let out = r.sanitize_json(
        br#"{"frontDoorCode":"1234","token_type":"bearer","data":{"x":{"label":"Emma"}},"a":{"guestNote":"hi"},"k":"wsk_abcdef123456"}"#,
    );
    assert_eq!(
        String::from_utf8(out.output).unwrap(),
        r#"{"frontDoorCode":"[REDACTED]","token_type":"bearer","data":{"x":{"label":"[REDACTED:name]"}},"a":{"guestNote":"[REDACTED]"},"k":"wsk_[REDACTED]"}"#
    );
    assert!(Policy::from_json(r#"{"limits":{"max_depth":0}}"#)
        .and_then(Redactor::new)
        .is_err());
    assert!(Policy::from_json(r#"{"unknown":1}"#).is_err());
}

/// JSON strings skip the detectors whose trigger bytes the document index rules out for them:
/// for every detector, a value inside a JSON document (between other strings that do and do not
/// hold triggers) must come out exactly as the text path sanitises it alone.
#[test]
fn json_strings_get_every_detector_the_text_path_applies() {
    let values = [
        "write to emma.wilson@example.com",
        "emma.wilson%40example.com",
        concat!("key ", "SK", "0123456789abcdef0123456789abcdef", " rotated"),
        "from 2001:db8:85a3::8a2e:370:7334 today",
        "call +44 7700 900123",
        "card 4242 4242 4242 4242",
        "iban GB82 WEST 1234 5698 7654 32",
        "seen at 203.0.113.7",
        concat!("Bearer ", "abcdefgh12345678"),
        concat!("sk_", "live_", "4eC39HqLyjWDarjtT1zdp7dc"),
        "https://admin:hunter2@db.internal/x",
        "plain words, nothing here",
    ];
    for v in values {
        let expected = t(v);
        let doc = format!(r#"{{"a":"x:y","note":"{v}","b":"time 12:00","c":"SKU 9","d":"100%"}}"#);
        let out = j(&doc);
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed["note"], expected.as_str(), "{v}: {out}");
    }
}

/// A key ending in `env` names an environment variable: the *name* is not a secret and stays,
/// but anything that does not look like a variable name is still replaced, and the value
/// detectors still run over kept names.
#[test]
fn env_var_name_keys_keep_names_not_secrets() {
    // Free text (the reported false positive) and the `key = "value"` form.
    assert_eq!(
        t("provider=stripe handler_secret_env: forwarded requests are signed"),
        "provider=stripe handler_secret_env: forwarded requests are signed"
    );
    assert_eq!(
        t(r#"handler_secret_env = "STRIPE_WEBHOOK_SECRET""#),
        r#"handler_secret_env = "STRIPE_WEBHOOK_SECRET""#
    );
    // Secrets pasted where a name belongs are still replaced.
    assert_eq!(t("db_password_env=hunter2"), "db_password_env=[REDACTED]");
    assert_eq!(t("db_password_env=Tr0ub4dor"), "db_password_env=[REDACTED]");
    assert_eq!(
        t("client_secret_env: JBSWY3DPEHPK3PXP"),
        "client_secret_env: [REDACTED]"
    );
    assert_eq!(
        t(concat!(
            "api_key_env: sk_",
            "live_",
            "4eC39HqLyjWDarjtT1zdp7dc"
        )),
        "api_key_env: sk_live_[REDACTED]"
    );
    assert_eq!(
        t(concat!("secret_env: Bearer ", "abcdefgh12345678")),
        "secret_env: Bearer [REDACTED]"
    );
    // Without `env` the key holds the secret itself.
    assert_eq!(t("handler_secret: forwarded"), "handler_secret: [REDACTED]");
    // JSON: names stay; other strings, numbers and containers under such keys are replaced.
    assert_eq!(
        j(
            r#"{"handler_secret_env":"DEMO_HANDLER_SECRET","secret_env":"hunter2","x_secret_env":{"a":1},"token_env":12,"api_key_env_var":"PG_PASSWORD_2"}"#
        ),
        r#"{"handler_secret_env":"DEMO_HANDLER_SECRET","secret_env":"[REDACTED]","x_secret_env":"[REDACTED]","token_env":"[REDACTED]","api_key_env_var":"PG_PASSWORD_2"}"#
    );
    let mut v =
        serde_json::json!({"handlerSecretEnv": "STRIPE_WEBHOOK_SECRET", "secretEnv": "hunter2"});
    Redactor::default().sanitize_value(&mut v);
    assert_eq!(
        v,
        serde_json::json!({"handlerSecretEnv": "STRIPE_WEBHOOK_SECRET", "secretEnv": "[REDACTED]"})
    );
    // Form bodies and URLs.
    let form = Redactor::default()
        .sanitize_form(b"handler_secret_env=DEMO_HANDLER_SECRET&secret_env=hunter2");
    assert_eq!(
        String::from_utf8(form.output).unwrap(),
        "handler_secret_env=DEMO_HANDLER_SECRET&secret_env=[REDACTED]"
    );
}

/// Inputs the fuzzers found (2026-11-28) where sanitising twice differed from once.
#[test]
fn fuzz_found_fixpoints() {
    let r = Redactor::default();
    // A URL whose fragment key becomes a placeholder (`[REDACTED:email]`): the value under it is
    // judged by the key as written out, on the first pass as on the second.
    let url = String::from_utf8_lossy(b"-\xcaY\x99#\x99z:://@\xff@=?i").into_owned();
    let once = r.sanitize_url(&url).output;
    assert_eq!(r.sanitize_url(&once).output, once);
    // A "URL" with control bytes is scanned as text; when the result looks like a URL it takes
    // the URL path too, as it would when sanitised again.
    let url =
        String::from_utf8_lossy(b"-lin:2\xd4?:e0z:://@0@-line1z:://@\x00\x00\x00\x000@=?!=?2=?!")
            .into_owned();
    let once = r.sanitize_url(&url).output;
    assert_eq!(r.sanitize_url(&once).output, once);
    // A form body that is not UTF-8 falls back to text, then takes the form path like its
    // (now valid) output would: `email=` values are replaced on the first pass.
    let t = Redactor::for_profile(Profile::Twilio);
    let once = t.sanitize_form(b"email\x0f=\xd2").output;
    assert_eq!(t.sanitize_form(&once).output, once);
    assert!(String::from_utf8_lossy(&once).contains("[REDACTED:email]"));
}
