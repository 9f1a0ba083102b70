//! `breaker-sim`: the library engine and the real binary.
#![cfg(feature = "sim")]

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;
use wedsync_breaker::BreakerConfig;

const CONFIG: &str = r#"
sliding_window_type = "count"
sliding_window_size = 4
minimum_calls = 4
failure_rate_threshold = 50.0
slow_call_duration_threshold_ms = 100
slow_call_rate_threshold = 100.0
wait_duration_in_open_ms = 1000
permitted_calls_in_half_open = 1
"#;

const SCRIPT: &str = r#"{"at_ms": 0, "outcome": "success", "duration_ms": 12}
{"at_ms": 10, "outcome": "failure"}
{"at_ms": 20, "outcome": "ignored"}
{"at_ms": 30, "outcome": "success", "duration_ms": 150}

{"at_ms": 40, "outcome": "failure"}
{"at_ms": 500, "outcome": "success"}
{"at_ms": 1040, "outcome": "success"}
{"at_ms": 1050, "op": "force_open"}
{"at_ms": 1060, "outcome": "success"}
{"at_ms": 1070, "op": "reset"}
"#;

fn lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn check(v: &[Value]) {
    assert_eq!(v.len(), 10);
    let st = |i: usize| v[i]["state"].as_str().unwrap().to_owned();
    assert_eq!(v[0]["failure_rate"], -1);
    assert_eq!(v[0]["admitted"], true);
    // 4 counted outcomes at line 5: S F S(slow) F = 50 % → open.
    assert_eq!(st(3), "closed");
    assert_eq!(st(4), "open");
    assert_eq!(v[4]["failure_rate"], 50.0);
    assert_eq!(v[4]["slow_call_rate"], 25.0);
    assert_eq!(v[5]["admitted"], false);
    // After the wait, the single probe succeeds → closed.
    assert_eq!(v[6]["admitted"], true);
    assert_eq!(st(6), "closed");
    assert_eq!(v[7]["op"], "force_open");
    assert_eq!(st(7), "forced_open");
    assert_eq!(v[8]["admitted"], false);
    assert_eq!(st(9), "closed");
    assert_eq!(v[9]["at_ms"], 1070);
}

#[test]
fn engine_replays_a_script() {
    let cfg: BreakerConfig = toml::from_str(CONFIG).unwrap();
    let mut out = Vec::new();
    let n = wedsync_breaker::sim::run(&cfg, SCRIPT.as_bytes(), &mut out).unwrap();
    assert_eq!(n, 10);
    check(&lines(&String::from_utf8(out).unwrap()));
}

#[test]
fn engine_rejects_bad_input_with_the_line_number() {
    let cfg = BreakerConfig::default();
    for (script, needle) in [
        (
            "{\"at_ms\": 5, \"outcome\": \"success\"}\n{\"at_ms\": 1, \"outcome\": \"success\"}",
            "line 2",
        ),
        ("{\"at_ms\": 0, \"outcome\": \"meh\"}", "unknown outcome"),
        ("{\"at_ms\": 0, \"op\": \"explode\"}", "unknown op"),
        ("{\"at_ms\": 0}", "exactly one"),
        ("not json", "line 1"),
    ] {
        let e = wedsync_breaker::sim::run(&cfg, script.as_bytes(), Vec::new()).unwrap_err();
        assert!(e.to_string().contains(needle), "{e}");
    }
}

#[test]
fn the_binary_reads_toml_and_stdin() {
    let dir = std::env::temp_dir().join(format!("breaker-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("breaker.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_breaker-sim"))
        .arg("--config")
        .arg(&cfg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(SCRIPT.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    check(&lines(&String::from_utf8(out.stdout).unwrap()));

    std::fs::write(&cfg, "failure_rate_threshold = 0\n").unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_breaker-sim"))
        .arg(&cfg)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("failure_rate_threshold"));
    let _ = std::fs::remove_dir_all(&dir);
}
