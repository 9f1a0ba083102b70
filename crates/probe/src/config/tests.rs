use super::*;

fn parse(toml_text: &str) -> Result<Vec<ServiceSpec>, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        services: Vec<ServiceSpec>,
    }
    toml::from_str::<File>(toml_text)
        .map(|f| f.services)
        .map_err(|e| e.to_string())
}

const EVERY_KIND: &str = r#"
[[services]]
name = "stripe"
kind = "stripe"
base_url = "https://api.stripe.com"
credential_env = "STRIPE_SECRET_KEY"
interval = "30s"
timeout = "5s"
public = true

[[services]]
name = "twilio"
kind = "twilio"
base_url = "https://api.twilio.com"
credential_env = "TWILIO_AUTH_TOKEN"
account_sid_env = "TWILIO_ACCOUNT_SID"

[[services]]
name = "resend"
kind = "resend"
base_url = "https://api.resend.com"
credential_env = "RESEND_API_KEY"
domain = "mail.wedsync.example"
interval = "60s"

[[services]]
name = "supabase_auth"
kind = "supabase_auth"
base_url = "https://project-ref.supabase.co"
credential_env = "SUPABASE_ANON_KEY"

[[services]]
name = "supabase_data"
kind = "supabase_data"
base_url = "https://project-ref.supabase.co"
credential_env = "SUPABASE_ANON_KEY"
table = "weddings"
timeout = "800ms"
interval = "2s"

[[services]]
name = "website"
kind = "http"
base_url = "https://wedsync.example/health"

[[services]]
name = "website-authed"
kind = "http"
base_url = "https://wedsync.example/health"
credential_env = "HEALTH_TOKEN"

[[services]]
name = "stripe-status"
kind = "statuspage"
base_url = "https://status.stripe.com"

[[services]]
name = "db"
kind = "tcp"
base_url = "127.0.0.1:5432"
interval = "1d"
timeout = "2h"
"#;

#[test]
fn every_kind_parses_from_toml_with_the_servers_defaults() {
    let specs = parse(EVERY_KIND).unwrap();
    let kinds: Vec<_> = specs.iter().map(ServiceSpec::kind).collect();
    let mut expected = ServiceSpec::KINDS.to_vec();
    expected.insert(5, "http"); // http twice: with and without a credential
    assert_eq!(kinds, expected);
    validate_services(&specs).unwrap();
    assert_eq!(
        specs[0],
        ServiceSpec::Stripe {
            common: ServiceCommon {
                name: "stripe".into(),
                base_url: "https://api.stripe.com".into(),
                interval: Duration::from_secs(30),
                timeout: Duration::from_secs(5),
                public: true,
            },
            credential_env: "STRIPE_SECRET_KEY".into(),
        }
    );
    // defaults: 30 s / 5 s, not public
    assert_eq!(specs[1].cadence(), Cadence::default());
    assert!(!specs[1].common().public);
    assert_eq!(specs[2].cadence().interval, Duration::from_secs(60));
    assert_eq!(
        specs[4].cadence(),
        Cadence::new(Duration::from_secs(2), Duration::from_millis(800))
    );
    assert!(matches!(&specs[4], ServiceSpec::SupabaseData { table, .. } if table == "weddings"));
    assert!(matches!(
        &specs[5],
        ServiceSpec::Http {
            credential_env: None,
            ..
        }
    ));
    assert_eq!(specs[6].secret_envs(), [("credential_env", "HEALTH_TOKEN")]);
    assert_eq!(
        specs[1].secret_envs(),
        [
            ("credential_env", "TWILIO_AUTH_TOKEN"),
            ("account_sid_env", "TWILIO_ACCOUNT_SID")
        ]
    );
    assert_eq!(
        specs[8].cadence(),
        Cadence::new(Duration::from_secs(86_400), Duration::from_secs(7200))
    );
}

fn one(kind_and_fields: &str) -> Result<ServiceSpec, String> {
    parse(&format!(
        "[[services]]\nname = \"svc\"\nbase_url = \"https://x.example\"\n{kind_and_fields}"
    ))
    .map(|mut v| v.remove(0))
}

#[test]
fn a_missing_required_field_names_the_key() {
    for (fields, key) in [
        ("kind = \"stripe\"", "credential_env"),
        (
            "kind = \"twilio\"\ncredential_env = \"T\"",
            "account_sid_env",
        ),
        ("kind = \"resend\"\ncredential_env = \"R\"", "domain"),
        ("kind = \"supabase_auth\"", "credential_env"),
        ("kind = \"supabase_data\"\ncredential_env = \"S\"", "table"),
    ] {
        let err = one(fields).unwrap_err();
        assert!(
            err.contains(&format!("missing field `{key}`")),
            "{fields}: {err}"
        );
    }
    let err = parse("[[services]]\nkind = \"tcp\"\nbase_url = \"h:1\"").unwrap_err();
    assert!(err.contains("missing field `name`"), "{err}");
    let err = parse("[[services]]\nname = \"a\"\nbase_url = \"h:1\"").unwrap_err();
    assert!(err.contains("missing field `kind`"), "{err}");
}

#[test]
fn an_unknown_kind_lists_the_kinds() {
    let err = one("kind = \"pingdom\"").unwrap_err();
    assert!(err.contains("pingdom"), "{err}");
    for kind in ServiceSpec::KINDS {
        assert!(err.contains(&format!("`{kind}`")), "{kind}: {err}");
    }
}

#[test]
fn unknown_keys_are_rejected_like_the_servers_table() {
    let err = one("kind = \"tcp\"\nintreval = \"5s\"").unwrap_err();
    assert!(err.contains("intreval"), "{err}");
}

#[test]
fn durations_are_parsed_once_with_the_servers_grammar() {
    for (text, d) in [
        ("250ms", Duration::from_millis(250)),
        ("30s", Duration::from_secs(30)),
        (" 5m ", Duration::from_secs(300)),
        ("2h", Duration::from_secs(7200)),
        ("1d", Duration::from_secs(86_400)),
    ] {
        assert_eq!(parse_duration(text), Ok(d), "{text}");
        assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{text}");
    }
    for bad in [
        "",
        "s",
        "10",
        "10y",
        "0s",
        "0ms",
        "-1s",
        "1.5s",
        "99999999999999999999d",
    ] {
        let err = parse_duration(bad).unwrap_err();
        assert!(
            err.to_string().contains("is not a duration"),
            "{bad}: {err}"
        );
    }
    assert_eq!(format_duration(Duration::from_secs(90)), "90s");
    assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
    let err = one("kind = \"tcp\"\ninterval = \"0s\"").unwrap_err();
    assert!(
        err.contains("is not a duration") && !err.contains("`0s`"),
        "{err}"
    );
    assert!(err.contains("`interval`"), "{err}");
    let err = one("kind = \"tcp\"\ntimeout = \"5y\"").unwrap_err();
    assert!(
        err.contains("`timeout`: is not a duration") && !err.contains("5y"),
        "{err}"
    );
}

#[test]
fn validation_names_the_key_and_never_echoes_a_secret() {
    let key = concat!("sk_", "live_", "51Habcdefghijklmnopqrstuvw");
    let specs = parse(&format!(
        "[[services]]\nname = \"stripe\"\nkind = \"stripe\"\nbase_url = \"https://api.stripe.com\"\n\
         credential_env = \"{key}\"\n"
    ))
    .unwrap();
    let err = validate_services(&specs).unwrap_err();
    assert_eq!(err.key(), "services[0].credential_env");
    assert!(!err.to_string().contains(key), "{err}");

    let case = |fields: &str| one(fields).unwrap().validate().unwrap_err();
    let err = case("kind = \"tcp\"\ninterval = \"5s\"\ntimeout = \"5s\"");
    assert_eq!(err.key(), "timeout");
    assert!(err
        .message()
        .contains("shorter than the service's interval"));
    let err = parse("[[services]]\nname = \"db\"\nkind = \"tcp\"\nbase_url = \"localhost\"")
        .unwrap()[0]
        .validate()
        .unwrap_err();
    assert_eq!(err.key(), "base_url", "{err}");
    let err = case("kind = \"http\"\ncredential_env = \"lower\"");
    assert_eq!(err.key(), "credential_env", "{err}");
    let err = case("kind = \"twilio\"\ncredential_env = \"T\"\naccount_sid_env = \"ac123\"");
    assert_eq!(err.key(), "account_sid_env");
    assert!(!err.to_string().contains("ac123"));

    let creds = concat!("https://user:", "hunter2", "@api.example");
    let err = parse(&format!(
        "[[services]]\nname = \"w\"\nkind = \"http\"\nbase_url = \"{creds}\""
    ))
    .unwrap()[0]
        .validate()
        .unwrap_err();
    assert_eq!(err.key(), "base_url");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = check_http_url("base_url", "ftp://example.com").unwrap_err();
    assert!(err.message().contains("http:// or https://"));

    let err = parse("[[services]]\nname = \"Stripe\"\nkind = \"tcp\"\nbase_url = \"h:1\"").unwrap()
        [0]
    .validate()
    .unwrap_err();
    assert_eq!(err.key(), "name");

    let mut twice = parse(EVERY_KIND).unwrap();
    twice.push(twice[0].clone());
    let err = validate_services(&twice).unwrap_err();
    assert_eq!(err.key(), format!("services[{}].name", twice.len() - 1));
}

#[test]
fn common_fields_can_be_changed_in_place() {
    let mut s = one("kind = \"statuspage\"").unwrap();
    s.common_mut().public = true;
    assert!(s.common().public);
    assert_eq!(s.name(), "svc");
}

#[cfg(feature = "http")]
#[test]
fn every_kind_builds_against_nothing() {
    let specs = parse(EVERY_KIND).unwrap();
    let fake = concat!("sk_", "test_", "builds");
    let all = |_: &str| Some(crate::Secret::new(fake));
    for s in &specs {
        let probe = s.build(&all).unwrap();
        assert_eq!(probe.service(), s.name(), "{s:?}");
        assert_eq!(probe.timeout(), s.cadence().timeout, "{s:?}");
    }
    let monitored = specs[0].service_config(specs[0].build(&all).unwrap());
    assert_eq!(
        (monitored.interval, monitored.wedding_interval),
        specs[0].cadence().intervals()
    );
    let none = |_: &str| None;
    for s in &specs {
        match (s.secret_envs().first(), s.build(&none)) {
            (None, Ok(_)) => {}
            (Some((key, env)), Err(e)) => {
                assert_eq!(e.key(), *key, "{s:?}");
                assert!(e.message().contains(env), "{e}");
            }
            (envs, built) => panic!("{s:?}: {envs:?} {:?}", built.err()),
        }
    }
}

#[test]
fn a_list_of_services_names_each_entrys_key() {
    #[derive(Debug, Deserialize)]
    struct File {
        #[serde(default, deserialize_with = "deserialize_services")]
        services: Vec<ServiceSpec>,
    }
    let parse = |text: &str| toml::from_str::<File>(text).map(|f| f.services);
    assert_eq!(parse(EVERY_KIND).unwrap().len(), 9);
    assert!(parse("").unwrap().is_empty());
    let first = "[[services]]\nname = \"db\"\nkind = \"tcp\"\nbase_url = \"db:5432\"\n";
    for (second, needle) in [
        ("kind = \"stripe\"", "`services[1].credential_env`: missing"),
        (
            "kind = \"tcp\"\ninterval = \"0s\"",
            "`services[1].interval`: is not a duration",
        ),
        (
            "kind = \"tcp\"\nintreval = \"5s\"",
            "`services[1].intreval`: unknown key",
        ),
        (
            "kind = \"pingdom\"",
            "`services[1].kind`: unknown variant `pingdom`",
        ),
        ("kind = \"tcp\"\npublic = \"yes\"", "`services[1]`: "),
    ] {
        let text = format!("{first}\n[[services]]\nname = \"x\"\nbase_url = \"h:1\"\n{second}\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains(needle), "{second}: {err}");
    }
}
