//! Every configured service probed once, as a table (`wedsync-monitor check`; feature `http`).

use std::io::Write;

use crate::config::{ConfigError, ServiceSpec};
use crate::Secret;

/// Why [`check_once`] could not finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// A service's probe could not be built (a credential's variable is unset).
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The table could not be written.
    #[error(transparent)]
    Write(#[from] std::io::Error),
    /// A probe's task failed (it panicked).
    #[error(transparent)]
    Probe(#[from] tokio::task::JoinError),
}

/// Probes every service of `services` once, concurrently (credentials read through `secrets`,
/// as [`ServiceSpec::build`] does), writes a table to `out` (`SERVICE KIND STATUS MS DETAIL`,
/// never a secret), and returns whether all are healthy or degraded.
///
/// # Errors
/// A probe that cannot be built, a table that cannot be written, a probe that panicked.
pub async fn check_once(
    services: &[ServiceSpec],
    secrets: &dyn Fn(&str) -> Option<Secret>,
    out: &mut dyn Write,
) -> Result<bool, CheckError> {
    let mut tasks = Vec::new();
    for s in services {
        let p = s.build(secrets)?;
        tasks.push(tokio::spawn(async move { p.check().await }));
    }
    writeln!(
        out,
        "{:<16} {:<14} {:<13} {:>9}  DETAIL",
        "SERVICE", "KIND", "STATUS", "MS"
    )?;
    let mut ok = true;
    for (s, t) in services.iter().zip(tasks) {
        let r = t.await?;
        ok &= r.status.is_ok();
        writeln!(
            out,
            "{:<16} {:<14} {:<13} {:>9.1}  {}",
            s.name(),
            s.kind(),
            r.status.as_str(),
            r.latency.as_secs_f64() * 1000.0,
            r.detail
        )?;
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(name: &str, addr: std::net::SocketAddr) -> ServiceSpec {
        let spec = serde_json::json!({"name": name, "kind": "tcp", "base_url": addr.to_string()});
        serde_json::from_value(spec).unwrap()
    }

    #[tokio::test]
    async fn a_table_of_every_service_and_whether_all_are_up() {
        let up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let down = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (up, down_addr) = (
            tcp("db", up.local_addr().unwrap()),
            down.local_addr().unwrap(),
        );
        drop(down);
        let mut out = Vec::new();
        assert!(check_once(std::slice::from_ref(&up), &|_| None, &mut out)
            .await
            .unwrap());
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("SERVICE") && text.contains("db "),
            "{text}"
        );
        let mut out = Vec::new();
        let both = [up, tcp("cache", down_addr)];
        assert!(!check_once(&both, &|_| None, &mut out).await.unwrap());
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("cache") && text.contains("unhealthy"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn an_unset_credential_is_a_configuration_error() {
        let spec = serde_json::json!({"name": "stripe", "kind": "stripe",
            "base_url": "http://127.0.0.1:9", "credential_env": "NOT_SET_ANYWHERE"});
        let spec: ServiceSpec = serde_json::from_value(spec).unwrap();
        let e = check_once(&[spec], &|_| None, &mut Vec::new()).await;
        let e = e.unwrap_err().to_string();
        assert!(
            e.starts_with("invalid configuration:") && e.contains("NOT_SET_ANYWHERE"),
            "{e}"
        );
    }
}
