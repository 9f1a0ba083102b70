use base64::Engine as _;

use super::*;
use crate::keys::{self, KeyHome};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sections {
    #[serde(default, deserialize_with = "deserialize_webhooks")]
    webhooks: BTreeMap<Provider, WebhookConfig>,
    #[serde(default)]
    worker: WorkerConfig,
    #[serde(default)]
    ingress: IngressConfig,
}

fn sections(text: &str) -> Result<Sections, String> {
    wedsync_config::from_toml_with_env(text, "APP_", []).map_err(|e| e.to_string())
}

fn secrets(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<Secret> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    move |env: &str| map.get(env).map(Secret::new)
}

#[test]
fn the_sections_defaults_are_their_empty_tables() {
    let s = sections("").unwrap();
    assert!(s.webhooks.is_empty());
    let w = WorkerConfig::default();
    assert!(w.enabled && s.worker.enabled);
    assert_eq!(
        (w.concurrency, w.poll_interval, w.lease),
        (4, Duration::from_secs(1), Duration::from_secs(15))
    );
    let i = IngressConfig::default();
    assert_eq!(i.encryption_key_id, "k1");
    assert_eq!(i.raw_body_retention, Duration::from_secs(7 * 86_400));
    assert!(i.encryption_key_env.is_none() && i.old_encryption_keys.is_empty());
    assert!(i.validate().is_ok() && w.validate().is_ok());
    assert!(sections("[worker]\nthreads = 2")
        .unwrap_err()
        .contains("threads"));
}

#[test]
fn webhook_tables_are_keyed_by_provider_and_refuse_standard() {
    let s = sections(
        "[webhooks.stripe]\nsecret_env = \"A, B\"\nhandler_secret_env = \"H\"\n\
         [webhooks.twilio]\nsecret_env = \"T\"\npublic_url = \"https://hooks.example\"\n",
    )
    .unwrap();
    validate_webhooks(&s.webhooks).unwrap();
    assert_eq!(
        s.webhooks[&Provider::Stripe]
            .secret_envs()
            .collect::<Vec<_>>(),
        ["A", "B", "H"]
    );
    for name in ["standard", "paypal"] {
        let e = sections(&format!("[webhooks.{name}]\nsecret_env = \"X\"")).unwrap_err();
        assert!(
            e.contains(&format!(
                "`webhooks.{name}`: unknown provider; use one of stripe"
            )),
            "{e}"
        );
        assert!(!e.contains("| standard"), "{e}");
    }
    let e = sections("[webhooks.stripe]\nforward_to = \"http://x.test\"").unwrap_err();
    assert!(e.contains("secret_env"), "{e}");
}

#[test]
fn webhook_checks_name_the_key_and_never_the_value() {
    let secret = concat!("whsec_", "abcdefghijklmnop");
    for (table, key) in [
        (format!("secret_env = \"A,{secret}\""), "secret_env"),
        (
            "secret_env = \"A\"\nforward_to = \"ftp://x\"".into(),
            "forward_to",
        ),
        (
            format!("secret_env = \"A\"\nhandler_secret_env = \"{secret}\""),
            "handler_secret_env",
        ),
        (
            "secret_env = \"A\"\npublic_url = \"https://u:p@x.test\"".into(),
            "public_url",
        ),
    ] {
        let s = sections(&format!("[webhooks.resend]\n{table}")).unwrap();
        let e = s.webhooks[&Provider::Resend].validate().unwrap_err();
        assert_eq!(e.key(), key, "{e}");
        assert!(!e.to_string().contains(secret), "{e}");
        let e = validate_webhooks(&s.webhooks).unwrap_err();
        assert_eq!(e.key(), format!("webhooks.resend.{key}"));
    }
}

#[test]
fn verifiers_and_handler_secrets_come_from_the_environment() {
    let s =
        sections("[webhooks.resend]\nsecret_env = \"R1, R2\"\nhandler_secret_env = \"H\"").unwrap();
    let w = &s.webhooks[&Provider::Resend];
    let whsec = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode([7; 24])
    );
    let one = secrets(&[("R1", whsec.clone())]);
    let e = w.verifier(Provider::Resend, &one).unwrap_err();
    assert_eq!(e.key(), "secret_env");
    assert!(
        e.message().contains("environment variable R2 is not set"),
        "{e}"
    );
    let both = secrets(&[("R1", whsec.clone()), ("R2", whsec.clone())]);
    assert!(w.verifier(Provider::Resend, &both).is_ok());
    let wrong = secrets(&[("R1", "whsec_!!".into()), ("R2", whsec.clone())]);
    let e = w.verifier(Provider::Resend, &wrong).unwrap_err();
    assert!(
        e.message().starts_with("the secret has the wrong form"),
        "{e}"
    );
    assert!(!e.to_string().contains("whsec_!!"), "{e}");
    assert_eq!(
        w.handler_secret(&both).unwrap_err().key(),
        "handler_secret_env"
    );
    let h = w.handler_secret(&secrets(&[("H", "h".into())])).unwrap();
    assert_eq!(h.map(|s| s.expose().to_owned()).as_deref(), Some("h"));
}

#[test]
fn a_forwarding_table_builds_its_handler() {
    let s = sections(
        "[webhooks.stripe]\nsecret_env = \"S\"\n\
         [webhooks.resend]\nsecret_env = \"R\"\nforward_to = \"http://h.test/r\"\n\
         [webhooks.twilio]\nsecret_env = \"T\"\nforward_to = \"http://h.test/t\"\nhandler_secret_env = \"H\"\n",
    )
    .unwrap();
    let none = secrets(&[]);
    assert!(s.webhooks[&Provider::Stripe]
        .handler(&none)
        .unwrap()
        .is_none());
    let random = s.webhooks[&Provider::Resend]
        .handler(&none)
        .unwrap()
        .unwrap();
    assert!(random.random_secret);
    assert_eq!(random.handler.url, "http://h.test/r");
    assert!(random.handler.signing_secret.expose().starts_with("whsec_"));
    let e = s.webhooks[&Provider::Twilio].handler(&none).unwrap_err();
    assert_eq!(e.key(), "handler_secret_env");
    let set = secrets(&[("H", "whsec_h".into())]);
    let configured = s.webhooks[&Provider::Twilio]
        .handler(&set)
        .unwrap()
        .unwrap();
    assert!(!configured.random_secret);
    assert_eq!(configured.handler.signing_secret.expose(), "whsec_h");
}

#[test]
fn worker_limits_name_their_key() {
    let e = sections("[worker]\nconcurrency = 0")
        .unwrap()
        .worker
        .validate();
    assert_eq!(e.unwrap_err().key(), "concurrency");
    let e = sections("[worker]\nlease = \"2s\"")
        .unwrap()
        .worker
        .validate();
    assert_eq!(e.unwrap_err().to_string(), "`lease`: must be at least 3s");
    let e = sections("[worker]\nlease = \"0s\"").unwrap_err();
    assert!(
        e.contains("`worker.lease`") && e.contains("is not a duration"),
        "{e}"
    );
}

#[test]
fn ingress_key_settings_are_checked_relative_to_the_section() {
    let check = |body: &str| {
        sections(&format!("[ingress]\n{body}"))
            .unwrap()
            .ingress
            .validate()
            .map_err(|e| e.to_string())
    };
    assert!(check("encryption_key_env = \"K\"\nencryption_key_id = \"k-2.b_c\"").is_ok());
    for (body, needle) in [
        (
            "encryption_key_env = \"bad key\"",
            "`encryption_key_env`: must name",
        ),
        (
            "encryption_key_env = \"K\"\nencryption_key_file = \"/k\"",
            "`encryption_key_file`: set either",
        ),
        (
            "encryption_key_id = \"\"",
            "`encryption_key_id`: must be letters",
        ),
        (
            "encryption_key_id = \"k/1\"",
            "`encryption_key_id`: must be letters",
        ),
        (
            "[[ingress.old_encryption_keys]]\nid = \"k1\"\nenv = \"OLD\"",
            "`old_encryption_keys[0].id`: `k1` names two keys",
        ),
        (
            "[[ingress.old_encryption_keys]]\nid = \"k0\"",
            "`old_encryption_keys[0]`: set exactly one of `env` or `file`",
        ),
        (
            "[[ingress.old_encryption_keys]]\nid = \"k0\"\nenv = \"O\"\nfile = \"/o\"",
            "`old_encryption_keys[0]`: set exactly one",
        ),
        (
            "[[ingress.old_encryption_keys]]\nid = \"k0\"\nenv = \"o\"",
            "`old_encryption_keys[0].env`: must name",
        ),
    ] {
        let e = check(body).unwrap_err();
        assert!(e.starts_with(needle), "{body}: {e}");
    }
}

/// `[ingress]` reaches the key ring, and its errors name the key relative to the section.
#[test]
fn ingress_settings_reach_the_ring_and_errors_name_the_key() {
    let b64 = |k: [u8; 32]| base64::engine::general_purpose::STANDARD.encode(k);
    let ingress = sections(
        "[ingress]\nencryption_key_env = \"NEW\"\nencryption_key_id = \"k2\"\n\
         [[ingress.old_encryption_keys]]\nid = \"k1\"\nenv = \"OLD\"\n",
    )
    .unwrap()
    .ingress;
    assert_eq!(ingress.secret_envs().collect::<Vec<_>>(), ["NEW", "OLD"]);
    let make = "wedsync-monitor keys generate";
    let e = ingress.key_settings(true, make, &secrets(&[])).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("`encryption_key_env`: environment variable NEW"),
        "{e}"
    );
    let short = secrets(&[("NEW", b64([2; 32])), ("OLD", "c2hvcnQ=".into())]);
    let settings = ingress.key_settings(true, make, &short).unwrap();
    let e = keys::key_ring(&settings, &KeyHome::Required).unwrap_err();
    assert!(e.to_string().contains("old_encryption_keys[0].env"), "{e}");
    let good = secrets(&[("NEW", b64([2; 32])), ("OLD", b64([1; 32]))]);
    let settings = ingress.key_settings(true, make, &good).unwrap();
    assert_eq!((settings.needed, settings.make_key.as_str()), (true, make));
    let ring = keys::key_ring(&settings, &KeyHome::Required)
        .unwrap()
        .cipher;
    assert_eq!(ring.key_ids().collect::<Vec<_>>(), ["k2", "k1"]);
    // a process that neither receives nor forwards webhooks needs no key
    let idle = IngressConfig::default().key_settings(false, make, &secrets(&[]));
    assert!(keys::key_ring(&idle.unwrap(), &KeyHome::Required).is_ok());
    let needed = IngressConfig::default().key_settings(true, make, &secrets(&[]));
    assert!(keys::key_ring(&needed.unwrap(), &KeyHome::Required).is_err());
}
