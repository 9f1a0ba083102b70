//! The faults a campaign injects while the load runs, and the timeline that records them:
//! SIGKILL of a server (restarted at once on the same port, or never), an exclusive lock on the
//! SQLite file held past the store's busy timeout, SIGKILL of the PostgreSQL postmaster (restarted
//! 2 s later), the handler down for a while.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cluster::PgCluster;
use crate::handler::Handler;
use crate::server::ServerProc;

/// A fault, injected at a fraction of the load's duration.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// SIGKILL server `i` and start it again at once (same configuration, same port).
    KillRestart(usize),
    /// SIGKILL server `i`; it stays dead.
    Kill(usize),
    /// Another connection holds an exclusive lock on the SQLite file past the busy timeout.
    SqliteLock,
    /// SIGKILL of the PostgreSQL postmaster; started again 2 s later.
    PgKill,
    /// The handler refuses connections for this long.
    HandlerDown(Duration),
}

/// Timestamped events, relative to the campaign's start.
#[derive(Clone)]
pub struct Timeline {
    /// When the campaign started (the timeline's zero).
    pub t0: Instant,
    events: Arc<Mutex<Vec<(Duration, String)>>>,
    /// The last restart (server or database) or server kill.
    last_restart: Arc<Mutex<Option<Instant>>>,
}

impl Timeline {
    /// A timeline starting now.
    pub fn new() -> Self {
        Self {
            t0: Instant::now(),
            events: Arc::default(),
            last_restart: Arc::default(),
        }
    }

    /// Records `what` now.
    pub fn note(&self, what: impl Into<String>) {
        let at = self.t0.elapsed();
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((at, what.into()));
    }

    /// Records `what` now, as the latest restart (or kill).
    pub fn restarted(&self, what: impl Into<String>) {
        *self.last_restart.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.note(what);
    }

    /// The latest restart (server or database) or server kill.
    pub fn last_restart(&self) -> Option<Instant> {
        *self.last_restart.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `+3.2s server-0 SIGKILL, …`.
    pub fn render(&self) -> String {
        let mut events = self
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        events.sort_by_key(|e| e.0);
        events
            .iter()
            .map(|(at, what)| format!("+{:.1}s {what}", at.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What the fault tasks act on.
#[derive(Clone)]
pub struct Targets {
    /// The servers, by index.
    pub servers: Arc<tokio::sync::Mutex<Vec<ServerProc>>>,
    /// The handler.
    pub handler: Arc<Handler>,
    /// The SQLite file, on SQLite.
    pub sqlite: Option<PathBuf>,
    /// The private cluster, on PostgreSQL.
    pub pg: Option<Arc<PgCluster>>,
    /// Where faults are recorded.
    pub timeline: Timeline,
}

/// Injects `fault` (returns when it has healed: restarted, unlocked, back up).
pub async fn inject(fault: Fault, t: Targets) {
    match fault {
        Fault::KillRestart(i) => {
            let mut servers = t.servers.lock().await;
            let s = &mut servers[i];
            s.kill();
            t.timeline.note(format!("{} SIGKILL", s.name));
            t.timeline.restarted(format!("{} restarting", s.name));
            s.restart().await;
            t.timeline.note(format!("{} ready", s.name));
        }
        Fault::Kill(i) => {
            let mut servers = t.servers.lock().await;
            let s = &mut servers[i];
            s.kill();
            t.timeline
                .restarted(format!("{} SIGKILL (not restarted)", s.name));
        }
        Fault::SqliteLock => {
            use diesel::connection::SimpleConnection as _;
            use diesel::Connection as _;
            let path = t
                .sqlite
                .clone()
                .expect("a SQLite lock fault needs a SQLite campaign");
            let hold = wedsync_store::sqlite::BUSY_TIMEOUT + Duration::from_secs(1);
            let timeline = t.timeline.clone();
            tokio::task::spawn_blocking(move || {
                let mut c = diesel::SqliteConnection::establish(&path.display().to_string())
                    .expect("open the SQLite file to lock it");
                c.batch_execute("PRAGMA busy_timeout = 10000; BEGIN EXCLUSIVE")
                    .expect("take an exclusive lock on the SQLite file");
                timeline.note(format!(
                    "SQLite locked exclusively for {:.0}s",
                    hold.as_secs_f64()
                ));
                std::thread::sleep(hold);
                c.batch_execute("ROLLBACK")
                    .expect("release the SQLite lock");
                timeline.note("SQLite lock released");
            })
            .await
            .expect("the SQLite locker panicked");
        }
        Fault::PgKill => {
            let pg = t.pg.clone().expect("a PostgreSQL fault needs a cluster");
            let pg2 = pg.clone();
            tokio::task::spawn_blocking(move || pg2.kill_postmaster())
                .await
                .expect("kill the postmaster");
            t.timeline.note("PostgreSQL postmaster SIGKILL");
            tokio::time::sleep(Duration::from_secs(2)).await;
            t.timeline.note("PostgreSQL restarting");
            tokio::task::spawn_blocking(move || pg.restart())
                .await
                .expect("restart PostgreSQL");
            t.timeline.restarted("PostgreSQL ready");
        }
        Fault::HandlerDown(d) => {
            t.handler.down().await;
            t.timeline.note("handler down");
            tokio::time::sleep(d).await;
            t.handler.up().await;
            t.timeline.note("handler up");
        }
    }
}
