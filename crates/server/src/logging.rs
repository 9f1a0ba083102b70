//! Structured logs (tracing) in which every line passes through the redactor before it is written
//! (`wedsync_redact::logs`).

use std::io;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;
pub use wedsync_redact::logs::{CaptureWriter, RedactingMakeWriter, RedactingWriter, Scrubber};

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber writing to stderr. `RUST_LOG` overrides the default level
/// (`info`). Returns `false` when a subscriber was already installed.
pub fn init(format: LogFormat, scrubber: Scrubber) -> bool {
    init_with_writer(format, scrubber, io::stderr)
}

/// Like [`init`] with another default level when `RUST_LOG` is unset (the demo uses `warn`).
pub fn init_level(format: LogFormat, scrubber: Scrubber, default: &str) -> bool {
    init_inner(format, scrubber, io::stderr, default)
}

/// Installs the global subscriber writing to `writer` (through the scrubber).
pub fn init_with_writer<W>(format: LogFormat, scrubber: Scrubber, writer: W) -> bool
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    init_inner(format, scrubber, writer, "info")
}

fn init_inner<W>(format: LogFormat, scrubber: Scrubber, writer: W, default: &str) -> bool
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let make = RedactingMakeWriter::new(scrubber, writer);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(make)
        .with_target(true);
    match format {
        LogFormat::Text => builder.with_ansi(false).try_init().is_ok(),
        LogFormat::Json => builder.json().flatten_event(true).try_init().is_ok(),
    }
}
