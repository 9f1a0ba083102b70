//! Breaker state sharing: two "instances" (separate stores, pools and registries) on one database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wedsync_breaker::{BreakerConfig, Registry, State};
use wedsync_store::breaker_sync::PgBreakerSync;
use wedsync_store::testing::fresh_postgres;
use wedsync_store::{PgConfig, PgStore};

fn instance(store: PgStore, id: &str) -> (Arc<Registry>, tokio::task::JoinHandle<()>) {
    let sync = PgBreakerSync::start(store);
    let registry = Arc::new(
        Registry::builder()
            .default_config(BreakerConfig::default())
            .state_sync(sync.clone())
            .instance(id.to_owned())
            .build(),
    );
    let r = Arc::clone(&registry);
    // a long poll: the change must arrive through LISTEN/NOTIFY well before it
    let follower = sync.follow(id, Duration::from_secs(30), move |change| {
        r.apply_remote(change);
    });
    (registry, follower)
}

async fn wait_for(registry: &Registry, name: &str, want: State, within: Duration) {
    let started = Instant::now();
    while registry.get(name).state() != want {
        assert!(
            started.elapsed() < within,
            "{name} is {:?}, expected {want:?} within {within:?}",
            registry.get(name).state()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_open_and_reset_reach_the_other_instance() {
    let pg = fresh_postgres().await;
    let a = PgStore::new(PgConfig::new(pg.url()).pool_size(2)).unwrap();
    let b = PgStore::new(PgConfig::new(pg.url()).pool_size(2)).unwrap();
    let (ra, fa) = instance(a, "instance-a");
    let (rb, fb) = instance(b, "instance-b");
    // let both followers take their starting point
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rb.get("stripe").state(), State::Closed);

    ra.get("stripe").force_open();
    wait_for(&rb, "stripe", State::ForcedOpen, Duration::from_secs(5)).await;

    ra.get("stripe").reset();
    wait_for(&rb, "stripe", State::Closed, Duration::from_secs(5)).await;

    // and the other way round
    rb.get("twilio").force_open();
    wait_for(&ra, "twilio", State::ForcedOpen, Duration::from_secs(5)).await;
    fa.abort();
    fb.abort();
}
