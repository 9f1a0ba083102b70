//! Two server instances on one PostgreSQL, as a scaled-out deployment runs them: a monitor
//! instance and an API-only instance. Breaker state is shared through the store, so a forced open,
//! a trip and a reset (`DELETE /api/admin/integrations/health?service=…`) in one instance reach the
//! other within a few seconds.

mod common;

use std::time::{Duration, Instant};

use common::{stripe_service_config, TestServer};
use wedsync_monitor::admin::Scope;
use wedsync_monitor::config::Config;
use wedsync_testkit::{FakeStripe, Scenario};

/// How long a change may take to reach the other instance ("within a few seconds").
const WITHIN: Duration = Duration::from_secs(5);

fn config(db_url: &str, stripe: &FakeStripe, monitor: bool) -> Config {
    let sections = format!(
        r#"
[store]
url = "{db_url}"

[monitor]
enabled = {monitor}

[worker]
enabled = false

[retention]
enabled = false
"#
    );
    stripe_service_config(&sections, stripe, "T_STRIPE_KEY")
}

async fn breaker_state(t: &TestServer, key: &str) -> String {
    let v = t
        .get_json("/api/admin/integrations/health?service=stripe", key)
        .await;
    v["services"][0]["breaker"]["state"]
        .as_str()
        .unwrap_or("?")
        .to_string()
}

/// `DELETE /api/admin/integrations/health?service=stripe` on `t`.
async fn reset(t: &TestServer, key: &str) {
    let url = t.url("/api/admin/integrations/health?service=stripe");
    let r = t.http.delete(url).bearer_auth(key).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// Waits until `t`'s API reports the stripe breaker in `want`; returns how long that took.
async fn wait_for_state(t: &TestServer, key: &str, want: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let state = breaker_state(t, key).await;
        if state == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "the breaker is `{state}`, expected `{want}` within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_changes_reach_the_other_instance() {
    let db = wedsync_store::testing::fresh_postgres().await;
    let stripe = FakeStripe::start().await;
    let monitor_cfg = config(db.url(), &stripe, true);
    wedsync_monitor::Components::migrate(&monitor_cfg)
        .await
        .unwrap();
    // two processes' worth of state: each builds its own pool, registry and follower
    let a = TestServer::start(monitor_cfg).await;
    let b = TestServer::start(config(db.url(), &stripe, false)).await;
    // API keys live in the shared store: one key works on both instances
    let (admin, _) = a.key(&[Scope::Admin]).await;
    // both followers take their starting point
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(breaker_state(&b, &admin).await, "closed");

    // a forced open in the monitor instance reaches the API instance
    a.breakers().get("stripe").force_open();
    wait_for_state(&b, &admin, "forced_open", WITHIN).await;

    // a reset through the API instance reaches the monitor instance
    reset(&b, &admin).await;
    assert_eq!(breaker_state(&b, &admin).await, "closed");
    wait_for_state(&a, &admin, "closed", WITHIN).await;

    // an outage only the monitor instance probes trips its breaker; the API instance shows it
    stripe.set_scenario(Scenario::ServerError);
    wait_for_state(&a, &admin, "open", Duration::from_secs(30)).await;
    wait_for_state(&b, &admin, "open", WITHIN).await;

    // and the operator's reset on the API instance closes it in the monitor instance too
    stripe.set_scenario(Scenario::Healthy);
    reset(&b, &admin).await;
    wait_for_state(&a, &admin, "closed", WITHIN).await;

    b.stop().await;
    a.stop().await;
}
