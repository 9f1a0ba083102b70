//! `wedsync-redact`: read stdin, write it sanitised to stdout.
//!
//! Support staff use it to clean a log excerpt before pasting it into a ticket:
//!
//! ```text
//! wedsync-redact < excerpt.log > clean.log
//! wedsync-redact --format json --profile stripe --report < event.json
//! WEDSYNC_PSEUDONYM_KEY=… wedsync-redact --pseudonym-key-env WEDSYNC_PSEUDONYM_KEY < excerpt.log
//! ```

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use wedsync_redact::{Policy, Profile, Redactor, Report, SecretKey};

/// Sanitise stdin of secrets and personal data and write it to stdout.
#[derive(Debug, Parser)]
#[command(name = "wedsync-redact", version, about)]
struct Args {
    /// How to read the input.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Provider profile whose path rules apply [default: generic, or the policy file's].
    #[arg(long, value_enum)]
    profile: Option<ProfileArg>,
    /// Turn on keyed pseudonyms; the key (at least 16 bytes) is read from this environment
    /// variable.
    #[arg(long, value_name = "VAR")]
    pseudonym_key_env: Option<String>,
    /// Print the report (counts and locations, never values) as JSON on stderr.
    #[arg(long)]
    report: bool,
    /// A JSON policy file (see docs/redaction.md).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// A JSON document.
    Json,
    /// Free text (log lines, error messages).
    Text,
    /// One URL per line.
    Url,
    /// An application/x-www-form-urlencoded body.
    Form,
    /// HTTP headers, one `Name: value` per line.
    Headers,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProfileArg {
    Stripe,
    Twilio,
    Resend,
    Supabase,
    Generic,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Stripe => Profile::Stripe,
            ProfileArg::Twilio => Profile::Twilio,
            ProfileArg::Resend => Profile::Resend,
            ProfileArg::Supabase => Profile::Supabase,
            ProfileArg::Generic => Profile::Generic,
        }
    }
}

fn redactor(args: &Args) -> Result<Redactor> {
    let mut policy = match &args.policy {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading policy file {}", path.display()))?;
            Policy::from_json(&text).context("parsing the policy file")?
        }
        None => Policy::default(),
    };
    if let Some(p) = args.profile {
        policy.profile = p.into();
    }
    let mut r = Redactor::new(policy).context("invalid policy")?;
    if let Some(var) = &args.pseudonym_key_env {
        let Some(value) = std::env::var_os(var) else {
            bail!("environment variable {var} is not set");
        };
        let key = SecretKey::new(value.into_encoded_bytes())
            .with_context(|| format!("the key in {var} is too short"))?;
        r = r.with_pseudonym_key(key);
    }
    Ok(r)
}

fn run(args: &Args, input: &[u8]) -> Result<(Vec<u8>, Report)> {
    let r = redactor(args)?;
    Ok(match args.format {
        Format::Json => {
            let s = r.sanitize_json(input);
            (s.output, s.report)
        }
        Format::Form => {
            let s = r.sanitize_form(input);
            (s.output, s.report)
        }
        Format::Text => {
            let s = r.sanitize_text(&String::from_utf8_lossy(input));
            (s.output.into_bytes(), s.report)
        }
        Format::Url => {
            let text = String::from_utf8_lossy(input);
            let mut out = String::with_capacity(text.len());
            let mut report = Report::default();
            for line in text.split_inclusive('\n') {
                let (body, nl) = match line.strip_suffix('\n') {
                    Some(b) => (b, "\n"),
                    None => (line, ""),
                };
                let s = r.sanitize_url(body.trim_end_matches('\r'));
                merge(&mut report, s.report);
                out.push_str(&s.output);
                out.push_str(nl);
            }
            (out.into_bytes(), report)
        }
        Format::Headers => {
            let text = String::from_utf8_lossy(input);
            let mut out = String::with_capacity(text.len());
            let mut report = Report::default();
            for line in text.lines() {
                match line.split_once(':') {
                    Some((name, value)) if !name.trim().is_empty() && !name.contains(' ') => {
                        let s = r.sanitize_headers([(name.trim(), value.trim())]);
                        merge(&mut report, s.report);
                        for (n, v) in s.output {
                            out.push_str(&format!("{n}: {v}\n"));
                        }
                    }
                    _ => {
                        let s = r.sanitize_text(line);
                        merge(&mut report, s.report);
                        out.push_str(&s.output);
                        out.push('\n');
                    }
                }
            }
            (out.into_bytes(), report)
        }
    })
}

fn merge(into: &mut Report, from: Report) {
    for (k, n) in from.counts {
        *into.counts.entry(k).or_insert(0) += n;
    }
    for l in from.locations {
        if !into.locations.contains(&l) {
            into.locations.push(l);
        }
    }
    into.fell_back_to_text |= from.fell_back_to_text;
    into.truncated |= from.truncated;
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .context("reading stdin")?;
    let (output, report) = run(&args, &input)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&output).context("writing stdout")?;
    stdout.flush().context("writing stdout")?;
    if args.report {
        eprintln!("{}", report.to_json());
    }
    Ok(())
}
