//! `wedsync-probe`'s conformance suite against the PostgreSQL store, and its multi-process rules
//! with several stores (separate pools) on one database.

use wedsync_probe::store::{Incident, IncidentState, IncidentStore, OpenOutcome};
use wedsync_probe::ProbeStatus;
use wedsync_store::testing::fresh_postgres;
use wedsync_store::{PgConfig, PgStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_conformance_on_postgres() {
    let pg = fresh_postgres().await;
    wedsync_probe::conformance::run_all(&pg.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_open_incident_across_stores() {
    let pg = fresh_postgres().await;
    let mut handles = Vec::new();
    for i in 0..6 {
        let store = PgStore::new(PgConfig::new(pg.url()).pool_size(1)).unwrap();
        handles.push(tokio::spawn(async move {
            let at = 1_000 + i;
            store
                .open_incident(Incident {
                    dedup_key: Incident::dedup_key_for("stripe", at),
                    service: "stripe".into(),
                    state: IncidentState::Open,
                    status: ProbeStatus::Unhealthy,
                    opened_at_ms: at,
                    updated_at_ms: at,
                    resolved_at_ms: None,
                    last_notified_at_ms: None,
                    wedding_day: false,
                    summary: "HTTP 503".into(),
                })
                .await
                .unwrap()
        }));
    }
    let mut created = 0;
    for h in handles {
        if matches!(h.await.unwrap(), OpenOutcome::Created(_)) {
            created += 1;
        }
    }
    assert_eq!(created, 1, "exactly one process opens the incident");
    assert_eq!(pg.store.list_open_incidents().await.unwrap().len(), 1);
}

#[tokio::test]
async fn probe_conformance_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = wedsync_store::SqliteStore::open(dir.path().join("p.db"))
        .await
        .unwrap();
    wedsync_probe::conformance::run_all(&store).await;
}
