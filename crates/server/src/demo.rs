//! `wedsync-monitor demo`: the newcomer's tour.

use std::time::Duration;

/// Runs the demo; ends after `duration` or on Ctrl-C.
pub async fn run(duration: Option<Duration>, port: u16) -> anyhow::Result<()> {
    let _ = (duration, port);
    anyhow::bail!("the demo needs the testkit fakes, which are not wired yet")
}
