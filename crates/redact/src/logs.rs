//! Log lines that pass through the redactor before they are written: a [`MakeWriter`] for
//! `tracing-subscriber`'s formatter whose writers buffer one formatted event and write it with the
//! text rules applied and the exact values of known secrets removed.
//!
//! ```
//! use std::io::Write as _;
//! use tracing_subscriber::fmt::MakeWriter as _;
//! use wedsync_redact::logs::{CaptureWriter, RedactingMakeWriter, Scrubber};
//!
//! let secret = concat!("whsec_", "planted1234");
//! let sink = CaptureWriter::default();
//! let make = RedactingMakeWriter::new(Scrubber::new([secret]), sink.clone());
//! writeln!(make.make_writer(), "verifying with {secret}").unwrap();
//! assert!(!sink.contents().contains(secret));
//! ```

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

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
    /// A scrubber that also removes these exact secret values (values shorter than 4 bytes are
    /// ignored: they would match everywhere).
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut v: Vec<String> = secrets
            .into_iter()
            .map(|s| s.as_ref().to_string())
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
        let mut out = crate::text(line);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_scrubbed_before_they_are_written() {
        let secret = concat!("whsec_", "plantedSecret123");
        let scrub = Scrubber::new([secret]);
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

    #[test]
    fn a_secret_inside_another_is_removed_whole_and_short_values_are_ignored() {
        let scrub = Scrubber::new(["abcd", "xxabcdyy", "ab"]);
        assert_eq!(scrub.scrub("k=xxabcdyy ab"), "k=[REDACTED] ab");
    }
}
