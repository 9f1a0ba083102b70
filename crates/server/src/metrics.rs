//! The `/metrics` registry: a [`wedsync_metrics::Registry`] (Prometheus text format 0.0.4, label
//! values only from bounded sets the server controls). The delivery worker counts into it
//! directly (`wedsync_webhooks::forward::Counters` is implemented for the registry).

pub use wedsync_metrics::{Registry, LATENCY_BUCKETS};

/// The server's registry (the name the server's modules use).
pub type Metrics = Registry;
