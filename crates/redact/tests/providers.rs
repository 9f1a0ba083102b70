//! Realistic payloads per provider (fixtures copied from the providers' documented shapes).

use wedsync_redact::{Kind, Profile, Redactor};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn json(profile: Profile, name: &str) -> (String, wedsync_redact::Report) {
    let r = Redactor::for_profile(profile).sanitize_json(&fixture(name));
    let out = String::from_utf8(r.output).expect("utf-8");
    serde_json::from_str::<serde_json::Value>(&out).expect("still JSON");
    (out, r.report)
}

#[test]
fn explore() {
    for (p, f) in [
        (Profile::Stripe, "stripe_checkout_session_completed.json"),
        (Profile::Stripe, "stripe_payment_intent_payment_failed.json"),
        (Profile::Resend, "resend_email_bounced.json"),
        (Profile::Supabase, "supabase_auth_hook_send_sms.json"),
        (Profile::Supabase, "supabase_db_webhook_insert.json"),
    ] {
        let (out, rep) = json(p, f);
        println!("{f}\n{out}\n{}\n", rep.to_json());
    }
    for f in [
        "twilio_sms_inbound.form",
        "twilio_sms_status_undelivered.form",
    ] {
        let r = Redactor::for_profile(Profile::Twilio).sanitize_form(&fixture(f));
        println!(
            "{f}\n{}\n{}\n",
            String::from_utf8_lossy(&r.output),
            r.report.to_json()
        );
    }
    let _ = Kind::Email;
}
