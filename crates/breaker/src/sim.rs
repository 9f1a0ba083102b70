//! The engine of the `breaker-sim` binary: replays a JSON-lines script of outcomes and
//! operations against a breaker on a virtual clock (feature `sim`).
//!
//! Input, one JSON object per line (blank lines are skipped):
//!
//! ```text
//! {"at_ms": 0, "outcome": "success"|"failure"|"ignored", "duration_ms": 12}
//! {"at_ms": 0, "op": "force_open"|"reset"|"disable"|"close"|"metrics_only"}
//! ```
//!
//! `at_ms` is the virtual time of the event and must not decrease. A call is admitted or
//! rejected at `at_ms`; when admitted its outcome is recorded at once, with `duration_ms`
//! (default 0) deciding whether it was slow. Besides the five operations above, `half_open`,
//! `wedding_day_on` and `wedding_day_off` are accepted.
//!
//! Output, one JSON object per input line:
//!
//! ```text
//! {"at_ms":0,"admitted":true,"state":"closed","failure_rate":-1,"slow_call_rate":-1}
//! ```
//!
//! `state` is the state after the event; rates are percentages of the current window, `-1` while
//! not available (fewer than `minimum_calls` outcomes). Operation lines echo `"op"` and have
//! `"admitted": false`.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::{BreakerConfig, CircuitBreaker, FakeClock, Outcome};

/// Why a simulation stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A line is not a valid event.
    #[error("line {line}: {message}")]
    Input {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    at_ms: u64,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    duration_ms: Option<u64>,
    #[serde(default)]
    op: Option<String>,
}

fn rate(r: Option<f32>) -> serde_json::Value {
    match r {
        Some(r) => serde_json::Value::from((f64::from(r) * 1000.0).round() / 1000.0),
        None => serde_json::Value::from(-1),
    }
}

/// Replays `input` against a fresh breaker built from `config`, writing one line per event to
/// `output`. Returns the number of events.
pub fn run(
    config: &BreakerConfig,
    input: impl BufRead,
    mut output: impl Write,
) -> Result<usize, SimError> {
    let clock = FakeClock::new();
    let cb = CircuitBreaker::builder("sim")
        .config(config.clone())
        .clock(Arc::new(clock.clone()))
        .build();
    let mut last = 0u64;
    let mut n = 0usize;
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let err = |message: String| SimError::Input {
            line: i + 1,
            message,
        };
        let ev: Line = serde_json::from_str(&line).map_err(|e| err(e.to_string()))?;
        if ev.at_ms < last {
            return Err(err(format!(
                "at_ms {} is earlier than the previous event ({last})",
                ev.at_ms
            )));
        }
        last = ev.at_ms;
        clock.set(Duration::from_millis(ev.at_ms));
        let mut out = serde_json::Map::new();
        out.insert("at_ms".into(), ev.at_ms.into());
        let admitted = match (&ev.outcome, &ev.op) {
            (Some(o), None) => {
                let outcome = match o.as_str() {
                    "success" => Outcome::Success,
                    "failure" => Outcome::Failure,
                    "ignored" => Outcome::Ignored,
                    other => return Err(err(format!("unknown outcome `{other}`"))),
                };
                match cb.try_acquire() {
                    Ok(p) => {
                        p.record_elapsed(
                            outcome,
                            Duration::from_millis(ev.duration_ms.unwrap_or(0)),
                        );
                        true
                    }
                    Err(_) => false,
                }
            }
            (None, Some(op)) => {
                match op.as_str() {
                    "force_open" => cb.force_open(),
                    "reset" => cb.reset(),
                    "disable" => cb.disable(),
                    "close" => cb.close(),
                    "metrics_only" => cb.metrics_only(),
                    "half_open" => cb.half_open().map_err(|e| err(e.to_string()))?,
                    "wedding_day_on" => {
                        cb.set_wedding_day(true);
                    }
                    "wedding_day_off" => {
                        cb.set_wedding_day(false);
                    }
                    other => return Err(err(format!("unknown op `{other}`"))),
                }
                out.insert("op".into(), op.clone().into());
                false
            }
            _ => return Err(err("exactly one of `outcome` and `op` is required".into())),
        };
        let m = cb.metrics();
        out.insert("admitted".into(), admitted.into());
        out.insert("state".into(), m.state.as_str().into());
        out.insert("failure_rate".into(), rate(m.failure_rate));
        out.insert("slow_call_rate".into(), rate(m.slow_call_rate));
        serde_json::to_writer(&mut output, &out).map_err(std::io::Error::from)?;
        output.write_all(b"\n")?;
        n += 1;
    }
    output.flush()?;
    Ok(n)
}
