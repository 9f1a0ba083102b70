//! The `wedsync-monitor` binary: `serve`, `migrate`, `api-key`, `check` and `demo`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use wedsync_monitor::admin::Scope;
use wedsync_monitor::config::Config;
use wedsync_monitor::logging::{self, LogFormat, Scrubber};

/// Watches Stripe, Twilio, Resend and Supabase, trips circuit breakers, raises alerts and receives
/// their webhooks without losing one.
#[derive(Debug, Parser)]
#[command(name = "wedsync-monitor", version, propagate_version = true)]
struct Cli {
    /// Configuration file (TOML); `WEDSYNC_*` environment variables overlay it.
    #[arg(long, global = true, env = "WEDSYNC_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    /// Store URL (`sqlite://PATH` or `postgres://…`); overrides `store.url`.
    #[arg(long, global = true, env = "WEDSYNC_STORE_URL", value_name = "URL")]
    store_url: Option<String>,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "WEDSYNC_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API, webhook ingress, monitor, delivery worker and retention job.
    Serve {
        /// Listen address; overrides `server.listen`.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Apply the store's migrations.
    Migrate,
    /// Manage API keys.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Run every configured probe once, print a table, exit non-zero if any is unhealthy.
    Check,
    /// Raw-body encryption keys: generate one, check the stored bodies, re-seal after a rotation.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Play the newcomer's demo: fake providers, a Saturday Stripe outage, webhooks, a replay.
    Demo {
        /// End the demo by itself after this many seconds (default: run until Ctrl-C).
        #[arg(long, value_name = "SECONDS")]
        duration: Option<u64>,
        /// Port for the demo's API (default: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Create a key; it is printed once and stored hashed.
    Create {
        /// A name to recognise the key by.
        #[arg(long)]
        name: String,
        /// Scopes: monitoring:read, monitoring:admin (repeatable).
        #[arg(long = "scope", required = true, value_parser = parse_scope)]
        scopes: Vec<Scope>,
    },
    /// List keys (never the keys themselves).
    List,
    /// Revoke a key by id.
    Revoke {
        /// The key id (`key_…`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Print a fresh random key (base64, 32 bytes) for `ingress.encryption_key_env` or a key file.
    Generate,
    /// Try to open every stored raw body with the configured keys; exit 1 if any does not open.
    Check,
    /// Re-seal the bodies of older keys with the current key (then the old key can be removed);
    /// exit 1 if any body opens with no configured key.
    Reseal,
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    Scope::parse(s)
        .ok_or_else(|| format!("`{s}` is not a scope (monitoring:read | monitoring:admin)"))
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut cfg = Config::load(cli.config.as_deref())?;
    if let Some(url) = &cli.store_url {
        cfg.store.url.clone_from(url);
        cfg.validate()?;
    }
    Ok(cfg)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(real_main(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn real_main(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Demo { duration, port } = cli.command {
        logging::init_level(cli.log_format, Scrubber::new::<_, &str>([]), "error");
        return demo(duration, port).await;
    }
    if let Command::Keys(KeysCommand::Generate) = cli.command {
        use base64::Engine as _;
        let key = wedsync_webhooks::crypto::BodyCipher::generate_key();
        println!("{}", base64::engine::general_purpose::STANDARD.encode(key));
        return Ok(ExitCode::SUCCESS);
    }
    let cfg = load_config(&cli)?;
    logging::init(
        cli.log_format,
        Scrubber::new(cfg.known_secrets().iter().map(|s| s.expose())),
    );
    match cli.command {
        Command::Serve { listen } => {
            let mut cfg = cfg;
            if let Some(l) = listen {
                cfg.server.listen = l;
                cfg.validate()?;
            }
            wedsync_monitor::run(cfg, None).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            wedsync_monitor::Components::migrate(&cfg)
                .await
                .context("migrating the store")?;
            let url = wedsync_redact::Redactor::default().sanitize_url(&cfg.store.url);
            println!("migrations applied to {}", url.output);
            Ok(ExitCode::SUCCESS)
        }
        Command::ApiKey(cmd) => api_key(&cfg, cmd).await.map(|()| ExitCode::SUCCESS),
        Command::Check => {
            let healthy = wedsync_monitor::check::run(&cfg, &mut std::io::stdout()).await?;
            Ok(exit_code(healthy))
        }
        Command::Keys(cmd) => keys(&cfg, cmd).await,
        Command::Demo { .. } => unreachable!("handled above"),
    }
}

/// 0 when all is well, 1 when not.
fn exit_code(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `demo`: the story, when the binary was built with the `demo` feature.
async fn demo(duration: Option<u64>, port: u16) -> anyhow::Result<ExitCode> {
    #[cfg(feature = "demo")]
    return wedsync_monitor::demo::run(duration.map(std::time::Duration::from_secs), port)
        .await
        .map(|()| ExitCode::SUCCESS);
    #[cfg(not(feature = "demo"))]
    {
        let _ = (duration, port);
        anyhow::bail!(
            "this wedsync-monitor was built without the `demo` feature (the fake providers); \
             build it with default features to play the demo"
        );
    }
}

/// `api-key create | list | revoke`.
async fn api_key(cfg: &Config, cmd: ApiKeyCommand) -> anyhow::Result<()> {
    let admin = wedsync_monitor::Components::build(cfg).await?.admin;
    match cmd {
        ApiKeyCommand::Create { name, scopes } => {
            let new = admin.create_key(&name, &scopes).await?;
            let scopes = new.info.scopes.join(",");
            println!("created API key {} ({scopes})", new.info.id);
            println!("\n    {}\n", new.secret.expose());
            println!("It is shown only this once; the store keeps its SHA-256 hash.");
        }
        ApiKeyCommand::List => {
            let header = ("ID", "NAME", "SCOPES", "STATE");
            println!(
                "{:<22} {:<20} {:<34} {:<10} CREATED",
                header.0, header.1, header.2, header.3
            );
            for k in admin.list_keys().await? {
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                let scopes = k.scopes.join(",");
                println!(
                    "{:<22} {:<20} {scopes:<34} {state:<10} {}",
                    k.id, k.name, k.created_at
                );
            }
        }
        ApiKeyCommand::Revoke { id } => {
            if !admin.revoke_key(&id).await? {
                anyhow::bail!("no API key with id {id}");
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}

/// `keys check | reseal`: every stored raw body tried with the configured key ring.
async fn keys(cfg: &Config, cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    use wedsync_webhooks::keys::{rekey, RekeyMode};
    let components = wedsync_monitor::Components::build(cfg).await?;
    let ring = wedsync_monitor::bodykeys::existing_key_ring(cfg, &components.key_home)?.cipher;
    let mode = match cmd {
        KeysCommand::Reseal => RekeyMode::Reseal,
        KeysCommand::Check | KeysCommand::Generate => RekeyMode::Check,
    };
    let report = rekey(&*components.webhook_store, &ring, mode)
        .await
        .context("reading the stored raw bodies")?;
    report.write_table(&mut std::io::stdout())?;
    Ok(exit_code(report.unopenable() == 0))
}
