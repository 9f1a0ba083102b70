//! `wedsync-monitor check`: run every configured probe once and print a table.

use std::io::Write;

use crate::config::Config;

/// Runs every configured probe once (concurrently), writes a table to `out`, and returns whether
/// all are healthy or degraded.
pub async fn run(cfg: &Config, out: &mut dyn Write) -> anyhow::Result<bool> {
    let mut probes = Vec::new();
    for s in &cfg.services {
        probes.push(crate::build::build_probe(cfg, s)?);
    }
    let mut tasks = Vec::new();
    for p in probes {
        tasks.push(tokio::spawn(async move { p.check().await }));
    }
    writeln!(
        out,
        "{:<16} {:<14} {:<13} {:>9}  DETAIL",
        "SERVICE", "KIND", "STATUS", "MS"
    )?;
    let mut ok = true;
    for (s, t) in cfg.services.iter().zip(tasks) {
        let r = t.await?;
        ok &= r.status.is_ok();
        writeln!(
            out,
            "{:<16} {:<14} {:<13} {:>9.1}  {}",
            s.name(),
            s.kind(),
            r.status.as_str(),
            r.latency.as_secs_f64() * 1000.0,
            r.detail
        )?;
    }
    Ok(ok)
}
