//! A private PostgreSQL cluster for one campaign (never the shared server on 5432): `initdb` into a
//! temporary directory, `pg_ctl start` on a free port of 127.0.0.1 with fsync off, SIGKILL of its
//! postmaster and a restart, `pg_ctl -m immediate stop` and removal on drop.
//!
//! PostgreSQL refuses to run as root; as root (CI) every server binary runs as the `postgres` user
//! (`runuser -u postgres --`) and the directory lives under /tmp, owned by `postgres` — as
//! `scripts/test.sh` (`start_throwaway_cluster`) does.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const HOW_TO_INSTALL: &str = "the reliability campaign needs the PostgreSQL server binaries \
(initdb, pg_ctl, postgres) to start a private cluster; it never uses the shared server and never \
skips. Install them: Debian/Ubuntu `apt-get install postgresql` (they land in \
/usr/lib/postgresql/<version>/bin, which is searched), Fedora `dnf install postgresql-server`, \
macOS `brew install postgresql@16`; or put a directory holding initdb and pg_ctl on PATH";

/// A directory holding `initdb` and `pg_ctl`: on PATH first, else the highest
/// `/usr/lib/postgresql/<version>/bin`.
fn find_bin_dir() -> Option<PathBuf> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() {
                // follow a symlinked initdb to the directory with its siblings
                let real = std::fs::canonicalize(dir.join("initdb")).ok();
                if let Some(parent) = real.as_deref().and_then(Path::parent) {
                    if has_tools(parent) {
                        return Some(parent.to_path_buf());
                    }
                }
                if has_tools(&dir) {
                    return Some(dir);
                }
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.split('.').next()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, d)| has_tools(d))
        .collect();
    versions.sort();
    versions.pop().map(|(_, d)| d)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn describe(o: &Output) -> String {
    format!(
        "{}\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A running private cluster.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl PgCluster {
    /// `initdb` and start a cluster (blocking; seconds). Panics with installation instructions
    /// when no server binaries are found.
    pub fn start() -> Self {
        let bin = find_bin_dir().unwrap_or_else(|| panic!("{HOW_TO_INSTALL}"));
        let as_postgres = is_root();
        let dir = if as_postgres {
            let dir = tempfile::Builder::new()
                .prefix("wedsync-campaign-pg.")
                .tempdir_in("/tmp")
                .expect("create the cluster directory under /tmp");
            let o = Command::new("chown")
                .arg("postgres")
                .arg(dir.path())
                .output()
                .expect("run chown");
            assert!(
                o.status.success(),
                "running as root, PostgreSQL must run as the `postgres` user, and chown to it \
                 failed (is there a `postgres` user?): {}",
                describe(&o)
            );
            dir
        } else {
            tempfile::Builder::new()
                .prefix("wedsync-campaign-pg.")
                .tempdir()
                .expect("create the cluster directory")
        };
        let mut c = Self {
            dir,
            bin,
            as_postgres,
            port: crate::server::free_port(),
        };
        let data = c.data().display().to_string();
        let o = c.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        assert!(o.status.success(), "initdb failed: {}", describe(&o));
        let mut tries = 0;
        loop {
            tries += 1;
            match c.pg_ctl_start() {
                Ok(()) => break,
                // the port was taken between choosing and binding it: another one
                Err(e) if tries < 3 => {
                    eprintln!("campaign: PostgreSQL did not start on {}: {e}", c.port);
                    c.port = crate::server::free_port();
                }
                Err(e) => panic!("pg_ctl start failed: {e}"),
            }
        }
        c
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Runs a server binary (as `postgres` when we are root), in the cluster's directory.
    fn run(&self, tool: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()))
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let data = self.data().display().to_string();
        let log = self.log().display().to_string();
        let o = self.run(
            "pg_ctl",
            &[
                "-w", "-t", "60", "-D", &data, "-l", &log, "-o", &opts, "start",
            ],
        );
        if o.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{}\nserver log:\n{}",
                describe(&o),
                crate::server::tail(&self.log(), 20)
            ))
        }
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The postmaster's pid (first line of `postmaster.pid`).
    pub fn postmaster_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// SIGKILL of the postmaster (its backends notice and exit by themselves).
    pub fn kill_postmaster(&self) {
        let pid = self
            .postmaster_pid()
            .expect("read the postmaster's pid from postmaster.pid");
        let o = Command::new("kill")
            .args(["-9", &pid.to_string()])
            .output()
            .expect("run kill");
        assert!(o.status.success(), "kill -9 {pid}: {}", describe(&o));
    }

    /// `pg_ctl start` again after a kill, retrying for up to 30 s while the orphaned backends
    /// still hold the old shared memory.
    pub fn restart(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.pg_ctl_start() {
                Ok(()) => return,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("campaign: PostgreSQL restart failed, retrying: {e}");
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => panic!("PostgreSQL did not restart within 30 s: {e}"),
            }
        }
    }

    /// The last lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        crate::server::tail(&self.log(), lines)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        if let Some(pid) = self.postmaster_pid() {
            // still there (the stop failed): make sure nothing outlives the test, but only if the
            // pid is still a postgres process (never a reused pid)
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "postgres" {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).output();
            }
        }
    }
}
