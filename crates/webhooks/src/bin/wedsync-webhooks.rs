//! `wedsync-webhooks`: sign and verify provider webhooks from the command line.
//!
//! ```text
//! wedsync-webhooks sign   --provider stripe|resend|standard|twilio --secret-env VAR [--timestamp T] [--id ID] [--url URL] < body
//! wedsync-webhooks verify --provider stripe|resend|standard|twilio --secret-env VAR --header 'Name: value'… [--url URL] [--now T] < body
//! ```
//!
//! Secrets are read from the named environment variable, never from the command line (which other
//! users can see in `ps`). For `verify`, the variable may hold several secrets separated by
//! whitespace (rotation).

use std::io::Read;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use time::OffsetDateTime;
use wedsync_webhooks::verify::{
    standard, stripe, twilio, StandardWebhooksVerifier, StripeVerifier, TwilioVerifier,
};

#[derive(Parser)]
#[command(
    name = "wedsync-webhooks",
    version,
    about = "Sign and verify provider webhooks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProviderArg {
    /// `Stripe-Signature`.
    Stripe,
    /// Svix headers (`svix-id`, `svix-timestamp`, `svix-signature`).
    Resend,
    /// Standard Webhooks headers (`webhook-*`), e.g. Supabase auth hooks.
    Standard,
    /// `X-Twilio-Signature` (needs `--url`).
    Twilio,
}

#[derive(Subcommand)]
enum Command {
    /// Read a body on stdin and print the headers the provider would send, one `Name: value` per
    /// line.
    Sign {
        #[arg(long, value_enum)]
        provider: ProviderArg,
        /// Environment variable holding the secret (the first, if several).
        #[arg(long)]
        secret_env: String,
        /// Unix seconds to sign at (default: now).
        #[arg(long)]
        timestamp: Option<i64>,
        /// Message id for resend/standard (default: a random one).
        #[arg(long)]
        id: Option<String>,
        /// The full URL the provider calls (twilio).
        #[arg(long)]
        url: Option<String>,
    },
    /// Read a body on stdin; exit 0 when it verifies, 1 with the reason on stderr when not.
    Verify {
        #[arg(long, value_enum)]
        provider: ProviderArg,
        /// Environment variable holding the secret(s), whitespace-separated.
        #[arg(long)]
        secret_env: String,
        /// A request header, `Name: value` (repeat).
        #[arg(long = "header")]
        headers: Vec<String>,
        /// The full URL the provider called (twilio).
        #[arg(long)]
        url: Option<String>,
        /// Fix the clock (Unix seconds) to check recorded requests later.
        #[arg(long)]
        now: Option<i64>,
    },
}

fn secrets(var: &str) -> anyhow::Result<Vec<String>> {
    let v = std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?;
    let list: Vec<String> = v.split_whitespace().map(str::to_owned).collect();
    if list.is_empty() {
        bail!("environment variable {var} is empty");
    }
    Ok(list)
}

fn stdin_body() -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    std::io::stdin()
        .read_to_end(&mut body)
        .context("reading the body from stdin")?;
    Ok(body)
}

fn is_json(body: &[u8]) -> bool {
    matches!(
        body.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{') | Some(b'[')
    )
}

fn sign(
    provider: ProviderArg,
    secret_env: &str,
    timestamp: Option<i64>,
    id: Option<String>,
    url: Option<String>,
) -> anyhow::Result<()> {
    let secret = secrets(secret_env)?.remove(0);
    let body = stdin_body()?;
    let t = timestamp.unwrap_or_else(|| OffsetDateTime::now_utc().unix_timestamp());
    let lines: Vec<(String, String)> = match provider {
        ProviderArg::Stripe => vec![("Stripe-Signature".into(), stripe::sign(&secret, t, &body))],
        ProviderArg::Resend | ProviderArg::Standard => {
            let (style, default_id) = match provider {
                ProviderArg::Resend => (
                    standard::HeaderStyle::Svix,
                    format!("msg_{}", uuid::Uuid::new_v4().simple()),
                ),
                _ => (
                    standard::HeaderStyle::Standard,
                    uuid::Uuid::new_v4().to_string(),
                ),
            };
            let id = id.unwrap_or(default_id);
            standard::headers(style, &secret, &id, t, &body).context("signing")?
        }
        ProviderArg::Twilio => {
            let Some(mut url) = url else {
                bail!("--url is required for twilio (the full URL Twilio calls)");
            };
            if is_json(&body) && twilio::body_sha256_param(&url).is_none() {
                url = twilio::url_with_body_hash(&url, &body);
                eprintln!("note: JSON body; Twilio calls {url}");
            }
            vec![(
                "X-Twilio-Signature".into(),
                twilio::sign(&secret, &url, &body),
            )]
        }
    };
    for (k, v) in lines {
        println!("{k}: {v}");
    }
    Ok(())
}

/// Returns `Ok(Err(reason))` when the body does not verify.
fn verify(
    provider: ProviderArg,
    secret_env: &str,
    headers: &[String],
    url: Option<String>,
    now: Option<i64>,
) -> anyhow::Result<Result<(), String>> {
    let secrets = secrets(secret_env)?;
    let mut parsed: Vec<(String, String)> = Vec::new();
    for h in headers {
        let Some((k, v)) = h.split_once(':') else {
            bail!("--header must look like 'Name: value'");
        };
        parsed.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let body = stdin_body()?;
    let now = match now {
        Some(t) => OffsetDateTime::from_unix_timestamp(t).context("--now is out of range")?,
        None => OffsetDateTime::now_utc(),
    };
    let result = match provider {
        ProviderArg::Stripe => StripeVerifier::new(secrets).verify(&parsed, &body, now),
        ProviderArg::Resend | ProviderArg::Standard => {
            match StandardWebhooksVerifier::new(secrets) {
                Ok(v) => v.verify(&parsed, &body, now),
                Err(e) => bail!("{e}"),
            }
        }
        ProviderArg::Twilio => {
            let Some(url) = url else {
                bail!("--url is required for twilio (the full URL Twilio called)");
            };
            TwilioVerifier::new(secrets).verify(&url, &parsed, &body)
        }
    };
    Ok(result.map_err(|e| e.to_string()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Sign {
            provider,
            secret_env,
            timestamp,
            id,
            url,
        } => sign(provider, &secret_env, timestamp, id, url).map(|()| Ok(())),
        Command::Verify {
            provider,
            secret_env,
            headers,
            url,
            now,
        } => verify(provider, &secret_env, &headers, url, now),
    };
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(reason)) => {
            eprintln!("not verified: {reason}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
