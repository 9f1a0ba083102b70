//! The real `wedsync-monitor serve` as a child process: started on a chosen port with
//! `--config FILE --listen 127.0.0.1:PORT`, secrets in its environment, stdout and stderr appended
//! to a log file; killed with SIGKILL (`Child::kill`) and restarted on the same port; killed on
//! drop, also when the test panics.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test: this package's, or `WEDSYNC_CAMPAIGN_BIN` when set (to run the campaign
/// against another build, for example the previous release).
pub fn bin() -> String {
    std::env::var("WEDSYNC_CAMPAIGN_BIN")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_wedsync-monitor").to_owned())
}

/// A free port on 127.0.0.1 (bound and released; the caller binds it again soon).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free port on 127.0.0.1")
        .port()
}

/// A command for the binary with no `WEDSYNC_*` variable inherited from the caller (the campaign
/// sets what it needs) and `env` added.
pub fn command(dir: &Path, env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("WEDSYNC_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// One `serve` process (and its restarts).
pub struct ServerProc {
    /// A name for the log (`server-0`).
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    dir: PathBuf,
    config: PathBuf,
    log: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    starts: u32,
}

impl ServerProc {
    /// Starts `serve` with `config` on a free port and waits until it answers `/healthz`.
    pub async fn start(name: &str, dir: &Path, config: &Path, env: Vec<(String, String)>) -> Self {
        let mut s = Self {
            name: name.to_owned(),
            addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
            dir: dir.to_path_buf(),
            config: config.to_path_buf(),
            log: dir.join(format!("{name}.log")),
            env,
            child: None,
            starts: 0,
        };
        s.spawn_ready().await;
        s
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The log file (stdout and stderr of every start).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// SIGKILL, and reap it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again with the same configuration on the same port.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn_ready().await;
    }

    fn spawn(&mut self) -> Child {
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the server's log file");
        let _ = writeln!(
            log,
            "=== campaign: start #{} of {} ===",
            self.starts, self.name
        );
        let out = log.try_clone().expect("clone the log file handle");
        let listen = self.addr.to_string();
        let config = self.config.display().to_string();
        command(&self.dir, &self.env)
            .args(["--config", &config, "serve", "--listen", &listen])
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn wedsync-monitor serve")
    }

    /// Spawns and waits for `/healthz`; spawns again (for up to 15 s) when the process exits early
    /// because the port is still busy.
    async fn spawn_ready(&mut self) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()
            .expect("build the readiness client");
        let url = format!("{}/healthz", self.base_url());
        let port_deadline = Instant::now() + Duration::from_secs(15);
        let ready_deadline = Instant::now() + Duration::from_secs(60);
        self.child = Some(self.spawn());
        loop {
            if let Ok(r) = http.get(&url).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                let tail = self.log_tail(30);
                let busy = tail.contains("cannot listen") || tail.contains("in use");
                assert!(
                    busy && Instant::now() < port_deadline,
                    "{} exited at start ({status}); its log ends:\n{tail}",
                    self.name
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
                self.child = Some(self.spawn());
                continue;
            }
            assert!(
                Instant::now() < ready_deadline,
                "{} did not answer /healthz within 60 s; its log ends:\n{}",
                self.name,
                self.log_tail(30)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `lines` lines of the file at `path` (or why it could not be read).
pub fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}
