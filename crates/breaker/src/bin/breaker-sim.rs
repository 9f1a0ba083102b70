//! `breaker-sim`: replay recorded outcomes against a candidate breaker configuration.
//!
//! ```text
//! breaker-sim --config breaker.toml < outcomes.jsonl > states.jsonl
//! ```
//!
//! The configuration keys and the input/output formats are documented in `docs/breaker.md`.

use std::io::{self, BufReader};
use std::process::ExitCode;

const USAGE: &str = "usage: breaker-sim --config <breaker.toml> < script.jsonl

Reads a breaker configuration (TOML, keys in docs/breaker.md) and a JSON-lines script on stdin:
  {\"at_ms\": 0, \"outcome\": \"success\"|\"failure\"|\"ignored\", \"duration_ms\": 12}
  {\"at_ms\": 0, \"op\": \"force_open\"|\"reset\"|\"disable\"|\"close\"|\"metrics_only\"}
drives a breaker on a virtual clock and prints one JSON line per event:
  {\"at_ms\", \"admitted\", \"state\", \"failure_rate\", \"slow_call_rate\"}  (rates in %, -1 = n/a)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = match args.as_slice() {
        [flag, path] if flag == "--config" || flag == "-c" => path.clone(),
        [flag] if flag == "--help" || flag == "-h" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        [path] if !path.starts_with('-') => path.clone(),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("breaker-sim: cannot read {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let config: wedsync_breaker::BreakerConfig = match toml::from_str(&text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("breaker-sim: invalid configuration {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let stdin = io::stdin();
    let stdout = io::stdout();
    match wedsync_breaker::sim::run(
        &config,
        BufReader::new(stdin.lock()),
        io::BufWriter::new(stdout.lock()),
    ) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("breaker-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
