//! `wedsync-monitor check`: run every configured probe once and print a table
//! ([`wedsync_probe::check::check_once`]).

use std::io::Write;

use crate::config::Config;

/// Runs every configured probe once (concurrently), writes a table to `out`, and returns whether
/// all are healthy or degraded.
pub async fn run(cfg: &Config, out: &mut dyn Write) -> anyhow::Result<bool> {
    let secrets = |env: &str| cfg.secret(env);
    Ok(wedsync_probe::check::check_once(&cfg.services, &secrets, out).await?)
}
