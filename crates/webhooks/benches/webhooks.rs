//! Criterion benchmarks for `wedsync-webhooks`.
//!
//! Run with: `CARGO_TARGET_DIR=/work/targets/hooks cargo bench -p wedsync-webhooks --bench webhooks -- --warm-up-time 1 --measurement-time 3`
//!
//! `verify_4k`: signature verification of a 4 KB body per scheme (goal ≤ 5 µs each).
//! `ingest_4k/in_memory`: receive → verify → extract → sanitise → seal → record a 4 KB Stripe event
//! on the in-memory store (goal ≥ 20,000 events/s on one core, i.e. ≤ 50 µs per event).
//!
//! Instruction counts (repeatable on a shared machine): with `WEDSYNC_PROFILE=<op>:<n>` the binary
//! runs one operation `n` times on the same inputs instead of criterion, for
//! `valgrind --tool=callgrind` (ops: `stripe`, `svix`, `twilio`, `ingest`, `verify`, `extract`,
//! `sanitize_body`, `sanitize_headers`, `seal`); see `docs/benchmarks.md` for the command.

#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use base64::Engine as _;
use criterion::measurement::Measurement;
use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use time::OffsetDateTime;
use wedsync_webhooks::crypto::BodyCipher;
use wedsync_webhooks::ingest::{Incoming, Receiver};
use wedsync_webhooks::sanitize::{RedactSanitizer, Sanitizer};
use wedsync_webhooks::store::InMemoryStore;
use wedsync_webhooks::verify::{
    standard, stripe, twilio, StandardWebhooksVerifier, StripeVerifier, TwilioVerifier, Verifier,
};
use wedsync_webhooks::Provider;

// The thread-CPU-time measurement of the redact benches (one implementation).
#[path = "../../redact/benches/cpu_time.rs"]
mod cpu_time;

const CHECKOUT: &[u8] = include_bytes!("../tests/fixtures/stripe_checkout_session_completed.json");
const TWILIO_INBOUND: &[u8] = include_bytes!("../tests/fixtures/twilio_sms_inbound.form");
const T: i64 = 1_764_268_800;
const TWILIO_URL: &str = "https://hooks.wedsync.example/twilio/inbound?tenant=7";

fn body_4k(base: &[u8]) -> Vec<u8> {
    let mut b = base[..base.len().min(4096)].to_vec();
    b.resize(4096, b' ');
    b
}

/// Every input the benchmarks use, built once (shared by criterion and the profiling mode).
struct Inputs {
    now: OffsetDateTime,
    json: Vec<u8>,
    stripe: StripeVerifier,
    stripe_header: String,
    svix: StandardWebhooksVerifier,
    svix_sig: String,
    svix_ts: String,
    form: Vec<u8>,
    twilio: TwilioVerifier,
    twilio_sig: String,
    ingest_secret: String,
    ingest_body: Vec<u8>,
    ingest_headers: Vec<(String, String)>,
    sanitizer: Arc<dyn Sanitizer>,
    cipher: BodyCipher,
}

impl Inputs {
    fn new() -> Self {
        let now = OffsetDateTime::from_unix_timestamp(T).expect("valid timestamp");
        let json = body_4k(CHECKOUT);
        let s_secret = format!("{}{}", "whsec_", "bench_secret_value_0123456789");
        let w_secret = format!(
            "{}{}",
            "whsec_",
            base64::engine::general_purpose::STANDARD.encode([7u8; 24])
        );
        // A 4 KB form body: the inbound SMS with a long message (Twilio signs sorted parameters).
        let mut form = TWILIO_INBOUND.to_vec();
        form.extend_from_slice(b"&Body2=");
        form.resize(4096, b'a');
        let token = format!("{}{}", "twilio_bench_", "auth_token_0123");
        let ingest_body = CHECKOUT.to_vec();
        let ingest_headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            (
                "stripe-signature".to_owned(),
                stripe::sign(&s_secret, T, &ingest_body),
            ),
            (
                "user-agent".to_owned(),
                "Stripe/1.0 (+https://stripe.com/docs/webhooks)".to_owned(),
            ),
        ];
        Inputs {
            now,
            stripe: StripeVerifier::new([s_secret.as_str()]),
            stripe_header: stripe::sign(&s_secret, T, &json),
            svix: StandardWebhooksVerifier::new([w_secret.as_str()]).expect("valid secret"),
            svix_sig: standard::sign(&w_secret, "msg_bench", T, &json).expect("valid secret"),
            svix_ts: T.to_string(),
            twilio: TwilioVerifier::new([token.as_str()]),
            twilio_sig: twilio::sign(&token, TWILIO_URL, &form),
            form,
            json,
            ingest_secret: s_secret,
            ingest_body,
            ingest_headers,
            sanitizer: Arc::new(RedactSanitizer::new()),
            cipher: BodyCipher::new("k1", &BodyCipher::generate_key()),
        }
    }

    fn verify_stripe(&self) {
        self.stripe
            .verify_header(
                black_box(&self.stripe_header),
                black_box(&self.json),
                self.now,
            )
            .expect("verifies");
    }

    fn verify_svix(&self) {
        self.svix
            .verify_parts(
                "msg_bench",
                &self.svix_ts,
                black_box(&self.svix_sig),
                black_box(&self.json),
                self.now,
            )
            .expect("verifies");
    }

    fn verify_twilio(&self) {
        self.twilio
            .verify_signature(
                TWILIO_URL,
                black_box(&self.twilio_sig),
                black_box(&self.form),
            )
            .expect("verifies");
    }

    /// A receiver on a fresh in-memory store, so every event is new (no dedupe short cut).
    fn receiver(&self) -> Receiver {
        Receiver::new(Arc::new(InMemoryStore::new()), self.cipher.clone())
            .sanitizer(self.sanitizer.clone())
            .provider(
                Provider::Stripe,
                Verifier::Stripe(StripeVerifier::new([self.ingest_secret.as_str()])),
                true,
            )
    }

    fn ingest(&self, rt: &tokio::runtime::Runtime, receiver: &Receiver) {
        let incoming = Incoming {
            provider: Provider::Stripe,
            headers: &self.ingest_headers,
            body: black_box(&self.ingest_body),
            url: None,
        };
        let r = rt
            .block_on(receiver.receive(&incoming, self.now))
            .expect("receives");
        assert!(r.accepted());
    }
}

/// Few long samples: the thread CPU clock advances in scheduler ticks (~1–4 ms).
fn flat<M: Measurement>(g: &mut criterion::BenchmarkGroup<'_, M>) {
    g.sampling_mode(criterion::SamplingMode::Flat);
    g.sample_size(30);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn verify_4k<M: Measurement>(c: &mut Criterion<M>) {
    let i = Inputs::new();
    let mut g = c.benchmark_group("verify_4k");
    g.throughput(Throughput::Bytes(4096));
    flat(&mut g);
    g.bench_function("stripe", |b| b.iter(|| i.verify_stripe()));
    g.bench_function("svix", |b| b.iter(|| i.verify_svix()));
    g.bench_function("twilio", |b| b.iter(|| i.verify_twilio()));
    g.finish();
}

fn ingest_4k<M: Measurement>(c: &mut Criterion<M>) {
    let rt = runtime();
    let i = Inputs::new();
    let mut g = c.benchmark_group("ingest_4k");
    g.throughput(Throughput::Elements(1));
    flat(&mut g);
    g.bench_function("in_memory", |b| {
        // A fresh store per event, so every event is new (no dedupe short cut) and the store
        // does not grow without bound; building it is not measured.
        b.iter_batched(
            || i.receiver(),
            |receiver| {
                i.ingest(&rt, &receiver);
                receiver
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Where the ingest time goes: each step of `Receiver::receive` alone, side by side.
fn ingest_4k_parts<M: Measurement>(c: &mut Criterion<M>) {
    let i = Inputs::new();
    let id = uuid::Uuid::new_v4();
    let mut g = c.benchmark_group("ingest_4k_parts");
    flat(&mut g);
    for op in PARTS {
        g.bench_function(*op, |b| b.iter(|| part(&i, op, id)));
    }
    g.finish();
}

/// The steps of `Receiver::receive` measured alone.
const PARTS: &[&str] = &[
    "verify",
    "extract",
    "sanitize_body",
    "sanitize_headers",
    "seal",
];

fn part(i: &Inputs, op: &str, id: uuid::Uuid) {
    let (h, body) = (&i.ingest_headers, black_box(&i.ingest_body[..]));
    match op {
        "verify" => i.stripe.verify(h, body, i.now).expect("verifies"),
        "extract" => {
            black_box(wedsync_webhooks::event::extract(Provider::Stripe, h, body));
        }
        "sanitize_body" => {
            black_box(
                i.sanitizer
                    .body(Provider::Stripe, Some("application/json"), body),
            );
        }
        "sanitize_headers" => {
            black_box(i.sanitizer.headers(Provider::Stripe, h));
        }
        "seal" => {
            black_box(i.cipher.seal(id, body).expect("seals"));
        }
        other => panic!("unknown part `{other}`"),
    }
}

/// `WEDSYNC_PROFILE=<op>:<n>`: run `op` `n` times (for callgrind), no criterion. Each run goes
/// through [`measured`], so `--collect-atstart=no --toggle-collect='*measured*'` counts exactly
/// the operations (receivers for `ingest` are built outside it, as in criterion).
fn profile(spec: &str) {
    let (op, n) = spec.split_once(':').unwrap_or((spec, "1000"));
    let n: usize = n.parse().expect("WEDSYNC_PROFILE=<op>:<count>");
    let i = Inputs::new();
    let rt = runtime();
    let id = uuid::Uuid::new_v4();
    for _ in 0..n {
        let receiver = (op == "ingest").then(|| i.receiver());
        measured(&i, &rt, op, id, receiver.as_ref());
    }
}

#[inline(never)]
fn measured(
    i: &Inputs,
    rt: &tokio::runtime::Runtime,
    op: &str,
    id: uuid::Uuid,
    r: Option<&Receiver>,
) {
    match (op, r) {
        ("stripe", _) => i.verify_stripe(),
        ("svix", _) => i.verify_svix(),
        ("twilio", _) => i.verify_twilio(),
        ("ingest", Some(r)) => i.ingest(rt, r),
        (p, _) => part(i, p, id),
    }
}

mod group {
    use super::*;

    fn cpu() -> Criterion<cpu_time::ThreadCpuTime> {
        Criterion::default().with_measurement(cpu_time::ThreadCpuTime)
    }

    criterion_group!(name = benches; config = cpu(); targets = verify_4k, ingest_4k, ingest_4k_parts);
    criterion_group!(wall_benches, verify_4k, ingest_4k, ingest_4k_parts);
}

/// Thread CPU time by default (the figures are "on one core", and the machine they come from is
/// shared by several builders); `WEDSYNC_BENCH_CLOCK=wall` for wall-clock time.
fn main() {
    if let Ok(spec) = std::env::var("WEDSYNC_PROFILE") {
        profile(&spec);
        return;
    }
    if std::env::var("WEDSYNC_BENCH_CLOCK").as_deref() == Ok("wall") {
        group::wall_benches();
    } else {
        group::benches();
    }
    Criterion::default().configure_from_args().final_summary();
}
