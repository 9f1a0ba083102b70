//! The README's first command: the demo's whole story plays on this machine with nothing but
//! loopback (fakes, the embedded SQLite store, the real server). Every step that waits for
//! something (healthy probes, the incident, the Slack alert, the breaker opening, the retried
//! deliveries, the recovery) fails the demo with its name when it does not happen in time.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_story_plays_to_the_end() {
    let started = std::time::Instant::now();
    wedsync_monitor::demo::play(0)
        .await
        .expect("every step of the demo happens");
    // the retries are scheduled ~5 s after the first attempt: a story that ends much sooner
    // skipped a step
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}
