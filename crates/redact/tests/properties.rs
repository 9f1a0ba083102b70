//! Property tests: idempotence, no injected secret or personal value survives, arbitrary input
//! never panics, output stays UTF-8 (and JSON when the input was), and the card scanner agrees
//! with a naive oracle.

use proptest::prelude::*;
use wedsync_redact::{Profile, Redactor};

/// A value that must never appear in any output, and the text to inject.
#[derive(Debug, Clone)]
struct Secret {
    /// What is written into the document.
    text: String,
    /// Substrings that must not survive.
    forbidden: Vec<String>,
}

fn alnum(len: usize) -> impl Strategy<Value = String> + Clone {
    proptest::collection::vec(
        prop_oneof![b'a'..=b'z', b'A'..=b'Z', b'0'..=b'9'].prop_map(char::from),
        len,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn luhn_complete(prefix: &str, len: usize, fill: &[u8]) -> String {
    let mut d: Vec<u8> = prefix.bytes().map(|b| b - b'0').collect();
    let mut i = 0;
    while d.len() < len - 1 {
        d.push(fill[i % fill.len()] % 10);
        i += 1;
    }
    // check digit
    let mut sum = 0u32;
    for (k, v) in d.iter().rev().enumerate() {
        let mut v = u32::from(*v);
        if k % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    d.push(u8::try_from((10 - sum % 10) % 10).unwrap());
    d.iter().map(|v| char::from(b'0' + v)).collect()
}

fn secret() -> impl Strategy<Value = Secret> {
    let body = alnum(24);
    prop_oneof![
        body.clone().prop_map(|b| Secret {
            text: format!("{}{b}", concat!("sk_", "live_")),
            forbidden: vec![b],
        }),
        body.clone().prop_map(|b| Secret {
            text: format!("{}{b}", concat!("wh", "sec_")),
            forbidden: vec![b],
        }),
        body.clone().prop_map(|b| Secret {
            text: format!("{}{b}", concat!("sb_", "secret_")),
            forbidden: vec![b],
        }),
        body.clone().prop_map(|b| Secret {
            text: format!("Bearer {b}9"),
            forbidden: vec![format!("{b}9")],
        }),
        (alnum(10), alnum(30), alnum(20)).prop_map(|(a, b, c)| {
            let jwt = format!("eyJ{a}.eyJ{b}.{c}");
            Secret {
                forbidden: vec![format!("{a}.eyJ{b}"), c.clone()],
                text: jwt,
            }
        }),
        (alnum(12), "[a-z]{3,8}").prop_map(|(pw, host)| Secret {
            text: format!("https://admin:{pw}@{host}.example.net/x?y=1"),
            forbidden: vec![pw],
        }),
        (alnum(8), alnum(12)).prop_map(|(a, b)| Secret {
            text: format!("{}{a}{}{b}", "pi_", concat!("_sec", "ret_")),
            forbidden: vec![b],
        }),
        ("[a-z]{2,10}", "[a-z]{2,10}").prop_map(|(l, d)| {
            let e = format!("{l}.x{l}@{d}mail.com");
            Secret {
                forbidden: vec![e.clone()],
                text: e,
            }
        }),
        proptest::collection::vec(0u8..10, 6).prop_map(|d| {
            let digits: String = d.iter().map(|v| char::from(b'0' + v)).collect();
            Secret {
                text: format!("+44 7700 {digits}"),
                forbidden: vec![format!("7700 {digits}"), format!("7700{digits}")],
            }
        }),
        (
            prop::sample::select(vec!["4", "51", "55", "2221", "34", "37", "6011", "3530"]),
            proptest::collection::vec(0u8..10, 18)
        )
            .prop_map(|(p, fill)| {
                let len = match p {
                    "34" | "37" => 15,
                    _ => 16,
                };
                let n = luhn_complete(p, len, &fill);
                let grouped = n
                    .as_bytes()
                    .chunks(4)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ");
                Secret {
                    forbidden: vec![
                        n[..len - 4].to_string(),
                        grouped[..grouped.len() - 4].to_string(),
                    ],
                    text: if fill[0] % 2 == 0 { n } else { grouped },
                }
            }),
        prop::sample::select(vec![
            "GB82WEST12345698765432",
            "DE89370400440532013000",
            "FR1420041010050500013M02606"
        ])
        .prop_map(|i| Secret {
            text: i.to_string(),
            forbidden: vec![i[4..].to_string()],
        }),
        (1u8..=223, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_filter("not loopback", |(a, ..)| *a != 127)
            .prop_map(|(a, b, c, d)| {
                let ip = format!("{a}.{b}.{c}.{d}");
                Secret {
                    forbidden: vec![ip.clone()],
                    text: ip,
                }
            }),
    ]
}

/// A sensitive key in one of its spellings (raw JSON text, possibly with escapes).
fn sensitive_key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "password",
        "Password",
        "PASSWORD",
        "user_password",
        "userPassword",
        "pass\\u0077ord",
        "x-api-key",
        "apiKey",
        "API_KEY",
        "client_secret",
        "clientSecret",
        "authorization",
        "Cookie",
        "stripe-signature",
        "otp",
        "cvc",
        "access token",
        "refresh.token",
        "privateKey",
        "credentials",
    ])
    .prop_map(str::to_owned)
}

fn plain_key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "id",
        "note",
        "description",
        "message",
        "metadata",
        "data",
        "object",
        "items",
        "key",
        "author",
        "public_key",
        "idempotency_key",
        "max_tokens",
        "created",
        "url",
        "tags",
    ])
    .prop_map(str::to_owned)
}

fn filler() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "hello",
        "evt_1NxAbC",
        "2026-11-27T18:41:12Z",
        "1717171717000",
        "ok",
        "",
        "a b c",
        "wed_8842",
        "logo@2x.png",
        "8f14e45f-ceea-467f-a0a5-6b7c2c9e1f3a",
        "line one\nline two",
    ])
    .prop_map(str::to_owned)
}

#[derive(Debug, Clone)]
enum Doc {
    Str(String),
    Num(String),
    Obj(Vec<(String, Doc)>),
    Arr(Vec<Doc>),
    /// A JSON document embedded as a string.
    Embedded(Box<Doc>),
}

fn esc(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

impl Doc {
    fn write(&self, out: &mut String) {
        match self {
            Doc::Str(s) => out.push_str(&esc(s)),
            Doc::Num(n) => out.push_str(n),
            Doc::Obj(kv) => {
                out.push('{');
                for (i, (k, v)) in kv.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('"');
                    out.push_str(k);
                    out.push_str("\":");
                    v.write(out);
                }
                out.push('}');
            }
            Doc::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Doc::Embedded(d) => {
                let mut inner = String::new();
                d.write(&mut inner);
                out.push_str(&esc(&inner));
            }
        }
    }
}

/// A random document and the secrets injected into it.
fn doc() -> impl Strategy<Value = (Doc, Vec<Secret>)> {
    let leaf = prop_oneof![
        3 => filler().prop_map(|s| (Doc::Str(s), vec![])),
        1 => prop::sample::select(vec!["0", "-1.5", "1e2", "42", "1733000000000"]).prop_map(|n| (Doc::Num(n.to_string()), vec![])),
        3 => (secret(), filler(), filler()).prop_map(|(s, a, b)| (Doc::Str(format!("{a} {} {b}", s.text)), vec![s])),
        1 => (secret(), "[a-z]{1,8}").prop_map(|(s, k)| (Doc::Str(format!("{k}={} done", s.text)), vec![s])),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            3 => proptest::collection::vec((plain_key(), inner.clone()), 0..5).prop_map(|kv| {
                let mut all = vec![];
                let obj = kv.into_iter().map(|(k, (d, s))| { all.extend(s); (k, d) }).collect();
                (Doc::Obj(obj), all)
            }),
            1 => (sensitive_key(), alnum(10), inner.clone()).prop_map(|(k, v, (d, s))| {
                let secret = Secret { text: format!("v{v}"), forbidden: vec![format!("v{v}")] };
                (Doc::Obj(vec![(k, Doc::Str(secret.text.clone())), ("n".into(), d)]), { let mut s = s; s.push(secret); s })
            }),
            1 => (sensitive_key(), inner.clone()).prop_map(|(k, (d, s))| {
                // A container under a sensitive key: everything inside goes.
                (Doc::Obj(vec![(k, d)]), s)
            }),
            1 => proptest::collection::vec(inner.clone(), 0..4).prop_map(|items| {
                let mut all = vec![];
                let arr = items.into_iter().map(|(d, s)| { all.extend(s); d }).collect();
                (Doc::Arr(arr), all)
            }),
            1 => inner.prop_map(|(d, s)| (Doc::Embedded(Box::new(d)), s)),
        ]
    })
}

fn assert_clean(out: &str, secrets: &[Secret]) -> Result<(), TestCaseError> {
    for s in secrets {
        for f in &s.forbidden {
            prop_assert!(!out.contains(f.as_str()), "{f:?} survived in {out}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn json_injected_values_never_survive_and_output_is_idempotent_json((d, secrets) in doc(), profile in prop::sample::select(Profile::ALL.to_vec())) {
        let mut text = String::new();
        d.write(&mut text);
        let r = Redactor::for_profile(profile);
        let once = r.sanitize_json(text.as_bytes());
        prop_assert!(!once.report.fell_back_to_text, "valid input fell back: {text}");
        let out = String::from_utf8(once.output.clone()).expect("utf-8");
        serde_json::from_str::<serde_json::Value>(&out).map_err(|e| TestCaseError::fail(format!("{e}: {out}")))?;
        assert_clean(&out, &secrets)?;
        let twice = r.sanitize_json(&once.output);
        prop_assert_eq!(String::from_utf8(twice.output).unwrap(), out);
    }

    #[test]
    fn value_api_never_leaks((d, secrets) in doc()) {
        let mut text = String::new();
        d.write(&mut text);
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        Redactor::default().sanitize_value(&mut v);
        assert_clean(&v.to_string(), &secrets)?;
    }

    #[test]
    fn text_never_leaks_and_is_idempotent(parts in proptest::collection::vec((secret(), filler(), prop::sample::select(vec![" ", "\n", ", ", " | ", "\t", "; "])), 1..6)) {
        let mut text = String::new();
        let mut secrets = vec![];
        for (s, f, sep) in parts {
            text.push_str(&f);
            text.push_str(sep);
            text.push_str(&s.text);
            text.push_str(sep);
            secrets.push(s);
        }
        let r = Redactor::default();
        let once = r.sanitize_text(&text).output;
        assert_clean(&once, &secrets)?;
        prop_assert_eq!(r.sanitize_text(&once).output, once);
    }

    #[test]
    fn text_soup_is_idempotent(tokens in proptest::collection::vec(prop_oneof![
        prop::sample::select(vec![
            "@", ":", "+", "-", ".", "=", "&", "%40", "%2B", "/", "//", "://", "[", "]", "\"", "'", " ", "\n",
            "token", "password", "Bearer ", "Basic ", "sk_live_", "whsec_", "eyJ", "-----BEGIN RSA PRIVATE KEY-----",
            "-----END RSA PRIVATE KEY-----", "example.com", "x@y.io", "+44", "7700", "4242", "900123",
            "GB82", "WEST", "1234", "5698", "7654", "32", "10.0.0.1", "::", "2001", "db8", "[REDACTED]",
            "[REDACTED:email]", "https", "user", "key", "api_key", "_secret_", "pi_123",
        ]).prop_map(str::to_owned),
        "[ -~]{1,6}",
    ], 0..24)) {
        let text: String = tokens.concat();
        let r = Redactor::default();
        let once = r.sanitize_text(&text).output;
        prop_assert_eq!(r.sanitize_text(&once).output, once);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_utf8(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let r = Redactor::for_profile(Profile::Twilio);
        let j = r.sanitize_json(&bytes);
        prop_assert!(std::str::from_utf8(&j.output).is_ok());
        let f = r.sanitize_form(&bytes);
        prop_assert!(std::str::from_utf8(&f.output).is_ok());
        let s = String::from_utf8_lossy(&bytes);
        let _ = r.sanitize_text(&s);
        let _ = r.sanitize_url(&s);
        let _ = r.sanitize_headers([("X", s.as_ref())]);
        // Whatever came in, the JSON output sanitises to itself.
        prop_assert_eq!(r.sanitize_json(&j.output).output, j.output);
    }

    #[test]
    fn arbitrary_json_stays_valid_json(v in arb_json()) {
        let text = serde_json::to_string(&v).unwrap();
        let out = Redactor::default().sanitize_json(text.as_bytes());
        prop_assert!(!out.report.fell_back_to_text);
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&out.output);
        prop_assert!(parsed.is_ok());
        if out.report.total() == 0 {
            prop_assert_eq!(out.output, text.into_bytes());
        }
    }

    #[test]
    fn card_scanner_agrees_with_naive_oracle(digits in proptest::collection::vec(0u8..10, 13..=19), sep in prop::sample::select(vec!["", " "])) {
        let n: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
        let text = if sep.is_empty() { n.clone() } else {
            n.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(sep)
        };
        let out = Redactor::default().sanitize_text(&format!("card {text} end")).output;
        let redacted = out.contains('*');
        // The oracle: some run of whole groups (the whole number when unseparated) is a card.
        let groups: Vec<&str> = if sep.is_empty() { vec![n.as_str()] } else { text.split(' ').collect() };
        let mut expect = false;
        for i in 0..groups.len() {
            for j in i + 1..=groups.len() {
                expect |= naive_is_card(&groups[i..j].concat());
            }
        }
        prop_assert_eq!(redacted, expect, "{} -> {}", text, out);
    }
}

fn naive_is_card(n: &str) -> bool {
    if !(13..=19).contains(&n.len()) {
        return false;
    }
    let d: Vec<u32> = n.chars().map(|c| c.to_digit(10).unwrap()).collect();
    let l = d.len();
    let luhn = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, v)| {
            if i % 2 == 1 {
                let x = v * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                *v
            }
        })
        .sum::<u32>()
        % 10
        == 0;
    let p = |k: usize| n[..k].parse::<u32>().unwrap();
    let issuer = match d[0] {
        4 => [13, 16, 19].contains(&l),
        5 => ((51..=55).contains(&p(2)) && l == 16) || p(2) == 50 || (56..=58).contains(&p(2)),
        2 => {
            ((2221..=2720).contains(&p(4)) && l == 16) || ((2200..=2204).contains(&p(4)) && l >= 16)
        }
        3 => {
            ([34, 37].contains(&p(2)) && l == 15)
                || ((3528..=3589).contains(&p(4)) && l >= 16)
                || (((300..=305).contains(&p(3)) || [36, 38, 39].contains(&p(2))) && l >= 14)
        }
        6 => {
            ((p(4) == 6011 || (644..=649).contains(&p(3)) || p(2) == 65 || p(2) == 62) && l >= 16)
                || p(2) == 63
                || p(2) == 67
        }
        _ => false,
    };
    luhn && issuer
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(".{0,10}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
