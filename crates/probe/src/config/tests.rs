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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sections {
    #[serde(default)]
    wedding_days: WeddingDaysConfig,
    #[serde(default)]
    maintenance: Vec<MaintenanceConfig>,
    #[serde(default)]
    alerts: AlertsConfig,
    #[serde(default)]
    monitor: MonitorConfig,
}

fn sections(text: &str) -> Result<Sections, String> {
    wedsync_config::from_toml_with_env(text, "APP_", []).map_err(|e| e.to_string())
}

#[test]
fn the_sections_defaults_are_their_empty_tables() {
    let s = sections("").unwrap();
    assert_eq!(s.wedding_days.timezone, "Europe/London");
    assert_eq!(s.wedding_days.weekdays, ["saturday"]);
    assert!(s.wedding_days.dates.is_empty() && s.maintenance.is_empty());
    assert!(s.alerts.slack_webhook_env.is_none() && s.alerts.pagerduty_routing_key_env.is_none());
    assert!(s.monitor.enabled && MonitorConfig::default().enabled);
    assert_eq!(WeddingDaysConfig::default().weekdays, ["saturday"]);
    let e = sections("[monitor]\nenabled = true\nintreval = 1").unwrap_err();
    assert!(e.contains("intreval"), "{e}");
}

#[test]
fn wedding_days_errors_name_the_key_relative_to_the_section() {
    let key = |text: &str| {
        sections(text)
            .unwrap()
            .wedding_days
            .validate()
            .unwrap_err()
            .key()
            .to_owned()
    };
    assert_eq!(
        key("[wedding_days]\nweekdays = [\"caturday\"]"),
        "weekdays[0]"
    );
    assert_eq!(
        key("[wedding_days]\nweekdays = [\"friday\", \"sunnday\"]"),
        "weekdays[1]"
    );
    assert_eq!(key("[wedding_days]\ndates = [\"2026-13-01\"]"), "dates[0]");
    assert_eq!(
        key("[wedding_days]\ntimezone = \"Mars/Olympus\""),
        "timezone"
    );
    let ok = sections("[wedding_days]\ntimezone = \"America/New_York\"\nweekdays = [\"friday\", \"saturday\"]\ndates = [\"2026-12-24\"]").unwrap();
    assert!(ok.wedding_days.policy().is_ok());
}

#[test]
fn maintenance_windows_read_and_name_their_entry() {
    let services = parse(EVERY_KIND).unwrap();
    let s = sections(
        "[[maintenance]]\nstart = \"2026-12-05T02:00:00Z\"\nend = \"2026-12-05T03:00:00+00:00\"\n\
         [[maintenance]]\nservice = \"stripe\"\nstart = \"2026-12-05T02:00:00Z\"\nend = \"2026-12-05T02:30:00Z\"\n",
    )
    .unwrap();
    assert_eq!(
        s.maintenance[0].window_ms(),
        Ok((1_796_436_000_000, 1_796_439_600_000))
    );
    let w = s.maintenance[1].window().unwrap();
    assert_eq!(w.service.as_deref(), Some("stripe"));
    validate_maintenance(&s.maintenance, &services).unwrap();
    let tuned = monitor_settings(&s.wedding_days, &s.maintenance).unwrap();
    assert_eq!(tuned.alert.maintenance.len(), 2);

    let mut bad = s.maintenance.clone();
    bad[1].service = Some("paypal".into());
    let e = validate_maintenance(&bad, &services).unwrap_err();
    assert_eq!(e.key(), "maintenance[1].service");
    assert!(e.message().contains("`paypal` is not a configured service"));
    bad[1].end = bad[1].start.clone();
    let e = validate_maintenance(&bad, &services).unwrap_err();
    assert_eq!(
        (e.key(), e.message()),
        ("maintenance[1]", "ends before it starts")
    );
    bad[0].start = "tomorrow".into();
    let e = validate_maintenance(&bad, &services).unwrap_err();
    assert_eq!(e.key(), "maintenance[0]");
    assert!(e.message().contains("is not an RFC 3339 time"), "{e}");
    let days = WeddingDaysConfig {
        timezone: "Nowhere".into(),
        ..WeddingDaysConfig::default()
    };
    let e = monitor_settings(&days, &bad).unwrap_err();
    assert_eq!(e.key(), "wedding_days.timezone");
}

#[test]
fn alerts_name_environment_variables_never_secrets() {
    let secret = concat!("https://hooks.slack.com/services/", "T000/B000/xyz");
    let s = sections(&format!("[alerts]\nslack_webhook_env = \"{secret}\"")).unwrap();
    let e = s.alerts.validate().unwrap_err();
    assert_eq!(e.key(), "slack_webhook_env");
    assert!(!e.to_string().contains(secret), "{e}");
    let s = sections("[alerts]\nslack_webhook_env = \"SLACK\"\npagerduty_routing_key_env = \"PD\"")
        .unwrap();
    s.alerts.validate().unwrap();
    assert_eq!(s.alerts.secret_envs().collect::<Vec<_>>(), ["SLACK", "PD"]);
}

#[cfg(feature = "http")]
#[test]
fn alert_sinks_read_their_secrets() {
    let s = sections("[alerts]\nslack_webhook_env = \"SLACK\"\npagerduty_routing_key_env = \"PD\"")
        .unwrap();
    let e = s
        .alerts
        .sinks(&|env| (env == "SLACK").then(|| crate::Secret::new("https://x.test")))
        .err()
        .unwrap();
    assert_eq!(e.key(), "pagerduty_routing_key_env");
    assert!(
        e.message().contains("environment variable PD is not set"),
        "{e}"
    );
    let all = s
        .alerts
        .sinks(&|_| Some(crate::Secret::new("https://x.test")))
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(AlertsConfig::default().sinks(&|_| None).unwrap().is_empty());
}
