//! `wedsync-probe`'s conformance suite against the PostgreSQL and SQLite stores, its multi-process
//! rules with several stores (separate pools) on one database, and the rollback of an incident
//! change whose notifications fail to enqueue (`change_incident_and_enqueue`) on both.

use wedsync_probe::store::{
    Incident, IncidentChange, IncidentState, IncidentStore, Notification, NotificationKind,
    OpenOutcome, OutboxState, OutboxStore,
};
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
            store.open_incident(incident("stripe", at)).await.unwrap()
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
    let (_dir, store) = temp_sqlite().await;
    wedsync_probe::conformance::run_all(&store).await;
}

/// A migrated SQLite store in a temporary directory (deleted when the guard drops).
async fn temp_sqlite() -> (tempfile::TempDir, wedsync_store::SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = wedsync_store::SqliteStore::open(dir.path().join("p.db"))
        .await
        .unwrap();
    (dir, store)
}

fn incident(service: &str, at: i64) -> Incident {
    wedsync_probe::conformance::open_incident(service, at, false)
}

fn notification(incident: &Incident, suffix: &str) -> Notification {
    Notification {
        id: format!("{}/{suffix}", incident.dedup_key),
        sink: "slack".into(),
        kind: NotificationKind::Trigger,
        incident_key: incident.dedup_key.clone(),
        service: incident.service.clone(),
        payload: "{}".into(),
        state: OutboxState::Pending,
        attempts: 0,
        next_attempt_at_ms: i64::MAX / 2_000_000,
        created_at_ms: incident.opened_at_ms,
        lease_owner: None,
        lease_until_ms: None,
        last_error: None,
    }
}

/// With a trigger that fails every outbox insert of an id ending in `/boom` installed, an incident
/// change whose enqueue fails leaves neither the change nor its other notifications behind.
async fn failed_enqueue_rolls_the_change_back<S: IncidentStore + OutboxStore>(store: &S) {
    let open = incident("atomic-rollback", 1_000);
    let err = store
        .change_incident_and_enqueue(
            &IncidentChange::Open(open.clone()),
            &[notification(&open, "ok"), notification(&open, "boom")],
        )
        .await;
    assert!(
        matches!(&err, Err(e) if e.to_string().contains("boom")),
        "{err:?}"
    );
    assert_eq!(store.get_incident(&open.dedup_key).await.unwrap(), None);
    let ok_id = format!("{}/ok", open.dedup_key);
    assert_eq!(store.get_notification(&ok_id).await.unwrap(), None);

    // the incident opened on its own stays open when its resolve's enqueue fails
    assert!(matches!(
        store.open_incident(open.clone()).await.unwrap(),
        OpenOutcome::Created(_)
    ));
    let resolve = IncidentChange::Resolve {
        dedup_key: open.dedup_key.clone(),
        resolved_at_ms: 2_000,
    };
    let err = store
        .change_incident_and_enqueue(&resolve, &[notification(&open, "boom")])
        .await;
    assert!(
        matches!(&err, Err(e) if e.to_string().contains("boom")),
        "{err:?}"
    );
    let got = store.get_incident(&open.dedup_key).await.unwrap().unwrap();
    assert_eq!(got.state, IncidentState::Open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_enqueue_rolls_back_on_postgres() {
    use diesel_async::SimpleAsyncConnection;
    let pg = fresh_postgres().await;
    let mut c = pg.store.conn().await.unwrap();
    c.batch_execute(
        "CREATE FUNCTION test_boom() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.id LIKE '%/boom' THEN RAISE EXCEPTION 'boom'; END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER test_boom BEFORE INSERT ON notification_outbox
             FOR EACH ROW EXECUTE FUNCTION test_boom();",
    )
    .await
    .unwrap();
    drop(c);
    failed_enqueue_rolls_the_change_back(&pg.store).await;
}

#[tokio::test]
async fn failed_enqueue_rolls_back_on_sqlite() {
    use diesel::RunQueryDsl;
    let (_dir, store) = temp_sqlite().await;
    store
        .with_conn(|c| {
            diesel::sql_query(
                "CREATE TRIGGER test_boom BEFORE INSERT ON notification_outbox
                 WHEN NEW.id LIKE '%/boom' BEGIN SELECT RAISE(ABORT, 'boom'); END",
            )
            .execute(c)
            .map_err(Into::into)
        })
        .await
        .unwrap();
    failed_enqueue_rolls_the_change_back(&store).await;
}
