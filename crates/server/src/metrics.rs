//! The `/metrics` registry: a [`wedsync_metrics::Registry`] (Prometheus text format 0.0.4, label
//! values only from bounded sets the server controls).

pub use wedsync_metrics::{Registry, LATENCY_BUCKETS};

/// The server's registry. A type of this crate, dereferencing to [`Registry`], so that library
/// traits such as the delivery worker's `Counters` can be implemented for it.
#[derive(Debug, Default)]
pub struct Metrics(Registry);

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `by` to a counter ([`Registry::inc`]).
    pub fn inc(&self, name: &'static str, help: &'static str, l: &[(&'static str, &str)], by: f64) {
        self.0.inc(name, help, l, by);
    }
}

impl std::ops::Deref for Metrics {
    type Target = Registry;

    fn deref(&self) -> &Registry {
        &self.0
    }
}
