//! Criterion benchmarks for `wedsync-webhooks`.
//!
//! Run with: `CARGO_TARGET_DIR=/work/targets/webhooks cargo bench -p wedsync-webhooks --bench webhooks -- --warm-up-time 1 --measurement-time 3`
//!
//! `verify_4k`: signature verification of a 4 KB body per scheme (goal ≤ 5 µs each).
//! `ingest_4k/in_memory`: receive → verify → extract → sanitise → seal → record a 4 KB Stripe event
//! on the in-memory store (goal ≥ 20,000 events/s on one core, i.e. ≤ 50 µs per event).

#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use base64::Engine as _;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use time::OffsetDateTime;
use wedsync_webhooks::crypto::BodyCipher;
use wedsync_webhooks::ingest::{Incoming, Receiver};
use wedsync_webhooks::sanitize::{RedactSanitizer, Sanitizer};
use wedsync_webhooks::store::InMemoryStore;
use wedsync_webhooks::verify::{
    standard, stripe, twilio, StandardWebhooksVerifier, StripeVerifier, TwilioVerifier, Verifier,
};
use wedsync_webhooks::Provider;

const CHECKOUT: &[u8] = include_bytes!("../tests/fixtures/stripe_checkout_session_completed.json");
const TWILIO_INBOUND: &[u8] = include_bytes!("../tests/fixtures/twilio_sms_inbound.form");

fn body_4k(base: &[u8]) -> Vec<u8> {
    let mut b = base[..base.len().min(4096)].to_vec();
    b.resize(4096, b' ');
    b
}

fn verify_4k(c: &mut Criterion) {
    let t = 1_764_268_800;
    let now = OffsetDateTime::from_unix_timestamp(t).unwrap();
    let mut g = c.benchmark_group("verify_4k");
    g.throughput(Throughput::Bytes(4096));

    let json = body_4k(CHECKOUT);
    let s_secret = format!("{}{}", "whsec_", "bench_secret_value_0123456789");
    let sv = StripeVerifier::new([s_secret.as_str()]);
    let s_header = stripe::sign(&s_secret, t, &json);
    g.bench_function("stripe", |b| {
        b.iter(|| {
            sv.verify_header(black_box(&s_header), black_box(&json), now)
                .unwrap()
        })
    });

    let w_secret = format!(
        "{}{}",
        "whsec_",
        base64::engine::general_purpose::STANDARD.encode([7u8; 24])
    );
    let wv = StandardWebhooksVerifier::new([w_secret.as_str()]).unwrap();
    let w_sig = standard::sign(&w_secret, "msg_bench", t, &json).unwrap();
    let ts = t.to_string();
    g.bench_function("svix", |b| {
        b.iter(|| {
            wv.verify_parts("msg_bench", &ts, black_box(&w_sig), black_box(&json), now)
                .unwrap()
        })
    });

    // A 4 KB form body: the inbound SMS with a long message (Twilio signs sorted parameters).
    let mut form = TWILIO_INBOUND.to_vec();
    form.extend_from_slice(b"&Body2=");
    form.resize(4096, b'a');
    let token = format!("{}{}", "twilio_bench_", "auth_token_0123");
    let tv = TwilioVerifier::new([token.as_str()]);
    let url = "https://hooks.wedsync.example/twilio/inbound?tenant=7";
    let t_sig = twilio::sign(&token, url, &form);
    g.bench_function("twilio", |b| {
        b.iter(|| {
            tv.verify_signature(url, black_box(&t_sig), black_box(&form))
                .unwrap()
        })
    });
    g.finish();
}

fn ingest_4k(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let t = 1_764_268_800;
    let now = OffsetDateTime::from_unix_timestamp(t).unwrap();
    let secret = format!("{}{}", "whsec_", "bench_secret_value_0123456789");
    let body = CHECKOUT.to_vec();
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        (
            "stripe-signature".to_owned(),
            stripe::sign(&secret, t, &body),
        ),
        (
            "user-agent".to_owned(),
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)".to_owned(),
        ),
    ];
    let sanitizer: Arc<dyn Sanitizer> = Arc::new(RedactSanitizer::new());
    let cipher = BodyCipher::new("k1", &BodyCipher::generate_key());
    let make = || {
        Receiver::new(Arc::new(InMemoryStore::new()), cipher.clone())
            .sanitizer(sanitizer.clone())
            .provider(
                Provider::Stripe,
                Verifier::Stripe(StripeVerifier::new([secret.as_str()])),
                true,
            )
    };
    let mut g = c.benchmark_group("ingest_4k");
    g.throughput(Throughput::Elements(1));
    g.bench_function("in_memory", |b| {
        // A fresh store per event, so every event is new (no dedupe short cut) and the store
        // does not grow without bound; building it is not measured.
        b.iter_batched(
            make,
            |receiver| {
                let incoming = Incoming {
                    provider: Provider::Stripe,
                    headers: &headers,
                    body: &body,
                    url: None,
                };
                let r = rt.block_on(receiver.receive(&incoming, now)).unwrap();
                assert!(r.accepted());
                receiver
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Where the ingest time goes: each step of `Receiver::receive` alone, side by side.
fn ingest_4k_parts(c: &mut Criterion) {
    let t = 1_764_268_800;
    let now = OffsetDateTime::from_unix_timestamp(t).unwrap();
    let secret = format!("{}{}", "whsec_", "bench_secret_value_0123456789");
    let body = CHECKOUT.to_vec();
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        (
            "stripe-signature".to_owned(),
            stripe::sign(&secret, t, &body),
        ),
    ];
    let sv = StripeVerifier::new([secret.as_str()]);
    let sanitizer = RedactSanitizer::new();
    let cipher = BodyCipher::new("k1", &BodyCipher::generate_key());
    let id = uuid::Uuid::new_v4();
    let mut g = c.benchmark_group("ingest_4k_parts");
    g.bench_function("verify", |b| {
        b.iter(|| sv.verify(&headers, black_box(&body), now).unwrap())
    });
    g.bench_function("extract", |b| {
        b.iter(|| wedsync_webhooks::event::extract(Provider::Stripe, &headers, black_box(&body)))
    });
    g.bench_function("sanitize_body", |b| {
        b.iter(|| sanitizer.body(Provider::Stripe, Some("application/json"), black_box(&body)))
    });
    g.bench_function("sanitize_headers", |b| {
        b.iter(|| sanitizer.headers(Provider::Stripe, black_box(&headers)))
    });
    g.bench_function("seal", |b| {
        b.iter(|| cipher.seal(id, black_box(&body)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, verify_4k, ingest_4k, ingest_4k_parts);
criterion_main!(benches);
