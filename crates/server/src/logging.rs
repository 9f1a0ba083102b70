//! Structured logs (tracing) in which every line passes through the redactor before it is written.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::Secret;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Scrubs one formatted log line: the redactor's text rules plus the exact values of every secret
/// the configuration resolved.
#[derive(Clone)]
pub struct Scrubber {
    secrets: Arc<Vec<String>>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl Scrubber {
    /// A scrubber that also removes these exact secret values.
    pub fn new(secrets: &[Secret]) -> Self {
        let mut v: Vec<String> = secrets
            .iter()
            .map(|s| s.expose().to_string())
            .filter(|s| s.len() >= 4)
            .collect();
        // longest first, so a secret that contains another is removed whole
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Self {
            secrets: Arc::new(v),
        }
    }

    /// Returns the scrubbed line.
    pub fn scrub(&self, line: &str) -> String {
        let mut out = crate::redaction::sanitize_text(line);
        for s in self.secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "[REDACTED]");
            }
        }
        out
    }
}

/// A [`MakeWriter`] whose writers buffer one formatted event and write it scrubbed on drop.
#[derive(Clone)]
pub struct RedactingMakeWriter<W> {
    scrubber: Scrubber,
    inner: W,
}

impl<W> RedactingMakeWriter<W> {
    /// Wraps `inner`.
    pub fn new(scrubber: Scrubber, inner: W) -> Self {
        Self { scrubber, inner }
    }
}

/// The per-event writer of [`RedactingMakeWriter`].
pub struct RedactingWriter<W: Write> {
    buf: Vec<u8>,
    scrubber: Scrubber,
    inner: W,
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buf).into_owned();
        self.buf.clear();
        let clean = self.scrubber.scrub(&text);
        self.inner.write_all(clean.as_bytes())?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

impl<'a, W> MakeWriter<'a> for RedactingMakeWriter<W>
where
    W: MakeWriter<'a>,
{
    type Writer = RedactingWriter<W::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            buf: Vec::with_capacity(256),
            scrubber: self.scrubber.clone(),
            inner: self.inner.make_writer(),
        }
    }
}

/// A log sink that keeps everything in memory (tests read it back).
#[derive(Debug, Clone, Default)]
pub struct CaptureWriter(pub Arc<Mutex<Vec<u8>>>);

impl CaptureWriter {
    /// Everything written so far.
    pub fn contents(&self) -> String {
        let b = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        String::from_utf8_lossy(&b).into_owned()
    }
}

impl Write for CaptureWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CaptureWriter {
    type Writer = CaptureWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_scrubbed_before_they_are_written() {
        let secret = concat!("whsec_", "plantedSecret123");
        let scrub = Scrubber::new(&[Secret::new(secret)]);
        let sink = CaptureWriter::default();
        let make = RedactingMakeWriter::new(scrub, sink.clone());
        {
            let mut w = make.make_writer();
            writeln!(w, "verifying with {secret} now").unwrap();
        }
        let out = sink.contents();
        assert!(!out.contains(secret), "{out}");
        assert!(out.contains("[REDACTED]"));
    }
}
