//! Helpers shared by the probe crate's integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use wedsync_probe::Snapshot;

/// Polls `f` every 10 ms until it holds, at most `within` (real time); whether it held.
pub async fn poll_until(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (at most `within`, tokio time) for the next published snapshot that satisfies `done`, and
/// returns it.
///
/// # Panics
/// When none does in time, saying `what` was awaited.
pub async fn wait_for_snapshot(
    rx: &mut watch::Receiver<Arc<Snapshot>>,
    within: Duration,
    what: &str,
    done: impl Fn(&Snapshot) -> bool,
) -> Arc<Snapshot> {
    tokio::time::timeout(within, async {
        loop {
            rx.changed().await.unwrap();
            let s = rx.borrow().clone();
            if done(&s) {
                return s;
            }
        }
    })
    .await
    .expect(what)
}
