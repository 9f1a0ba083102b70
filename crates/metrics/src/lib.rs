//! `wedsync-metrics`: a small Prometheus registry — counters, gauges and latency histograms with
//! fixed label names — rendered in the text exposition format (version 0.0.4). No dependencies,
//! no runtime: every crate of the workspace can count into it.
//!
//! # Example
//!
//! ```
//! use wedsync_metrics::Registry;
//!
//! let m = Registry::new();
//! m.inc("jobs_total", "Jobs run", &[("kind", "retention")], 1.0);
//! m.set("queue_depth", "Deliveries waiting", &[], 3.0);
//! m.observe("job_seconds", "Job latency", &[("kind", "retention")], 0.004);
//! let text = m.render();
//! assert!(text.contains("# TYPE jobs_total counter\njobs_total{kind=\"retention\"} 1\n"));
//! assert!(text.contains("queue_depth 3\n"));
//! assert!(text.contains("job_seconds_bucket{kind=\"retention\",le=\"0.005\"} 1\n"));
//! ```
//!
//! # Guarantees
//!
//! - Label values should come only from bounded sets the caller controls (route templates,
//!   configured service and provider names, statuses): never from request paths, headers or
//!   payloads, so a secret cannot reach a metric label and cardinality stays bounded. Values are
//!   escaped (`\\`, `\"`, `\n`) as the format requires.
//! - Families render sorted by name, series sorted by labels, so the output is deterministic.
//! - Whole numbers render without a fraction (`3`, not `3.0`); histograms use
//!   [`LATENCY_BUCKETS`] (seconds) and end with `le="+Inf"`, `_sum` and `_count`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Latency buckets in seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Family {
    help: &'static str,
    kind: &'static str,
    counters: BTreeMap<Labels, f64>,
    histograms: BTreeMap<Labels, Histogram>,
}

/// The registry. Cheap enough for every request (one short mutex hold).
#[derive(Debug, Default)]
pub struct Registry {
    families: Mutex<BTreeMap<&'static str, Family>>,
}

fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_family<R>(
        &self,
        name: &'static str,
        kind: &'static str,
        help: &'static str,
        f: impl FnOnce(&mut Family) -> R,
    ) -> R {
        let mut fams = self
            .families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let fam = fams.entry(name).or_insert_with(|| Family {
            help,
            kind,
            ..Family::default()
        });
        f(fam)
    }

    /// Adds `by` to a counter.
    pub fn inc(&self, name: &'static str, help: &'static str, l: &[(&'static str, &str)], by: f64) {
        self.with_family(name, "counter", help, |fam| {
            *fam.counters.entry(labels(l)).or_default() += by;
        });
    }

    /// Sets a gauge.
    pub fn set(&self, name: &'static str, help: &'static str, l: &[(&'static str, &str)], v: f64) {
        self.with_family(name, "gauge", help, |fam| {
            fam.counters.insert(labels(l), v);
        });
    }

    /// Replaces every series of a gauge at once (for state gauges such as breaker states).
    pub fn replace_gauge(
        &self,
        name: &'static str,
        help: &'static str,
        series: Vec<(Vec<(&'static str, String)>, f64)>,
    ) {
        self.with_family(name, "gauge", help, |fam| {
            fam.counters = series.into_iter().collect();
        });
    }

    /// Records one observation (seconds) into a histogram.
    pub fn observe(
        &self,
        name: &'static str,
        help: &'static str,
        l: &[(&'static str, &str)],
        seconds: f64,
    ) {
        self.with_family(name, "histogram", help, |fam| {
            let h = fam
                .histograms
                .entry(labels(l))
                .or_insert_with(|| Histogram {
                    counts: vec![0; LATENCY_BUCKETS.len()],
                    ..Histogram::default()
                });
            for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
                if seconds <= *b {
                    h.counts[i] += 1;
                }
            }
            h.sum += seconds;
            h.count += 1;
        });
    }

    /// Renders the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let fams = self
            .families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = String::with_capacity(4096);
        for (name, fam) in fams.iter() {
            let _ = writeln!(out, "# HELP {name} {}", fam.help);
            let _ = writeln!(out, "# TYPE {name} {}", fam.kind);
            for (l, v) in &fam.counters {
                let _ = writeln!(out, "{name}{} {}", fmt_labels(l, None), fmt_num(*v));
            }
            for (l, h) in &fam.histograms {
                for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "{name}_bucket{} {}",
                        fmt_labels(l, Some(&b.to_string())),
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "{name}_bucket{} {}",
                    fmt_labels(l, Some("+Inf")),
                    h.count
                );
                let _ = writeln!(out, "{name}_sum{} {}", fmt_labels(l, None), fmt_num(h.sum));
                let _ = writeln!(out, "{name}_count{} {}", fmt_labels(l, None), h.count);
            }
        }
        out
    }
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn fmt_labels(l: &Labels, le: Option<&str>) -> String {
    if l.is_empty() && le.is_none() {
        return String::new();
    }
    let mut parts: Vec<String> = l
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    format!("{{{}}}", parts.join(","))
}

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_histograms() {
        let m = Registry::new();
        m.inc("x_total", "things", &[("route", "/a")], 1.0);
        m.inc("x_total", "things", &[("route", "/a")], 2.0);
        m.set("g", "gauge", &[], 0.5);
        m.observe("lat_seconds", "latency", &[("route", "/a")], 0.003);
        let text = m.render();
        assert!(
            text.contains("# TYPE x_total counter\nx_total{route=\"/a\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("g 0.5\n"));
        assert!(text.contains("lat_seconds_bucket{route=\"/a\",le=\"0.0025\"} 0\n"));
        assert!(text.contains("lat_seconds_bucket{route=\"/a\",le=\"0.005\"} 1\n"));
        assert!(text.contains("lat_seconds_bucket{route=\"/a\",le=\"+Inf\"} 1\n"));
        assert!(text.contains("lat_seconds_count{route=\"/a\"} 1\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Registry::new();
        m.set("g", "gauge", &[("s", "a\"b\\c\nd")], 1.0);
        assert!(m.render().contains(r#"g{s="a\"b\\c\nd"} 1"#));
    }
}
