//! Run with: `cargo run --release -p wedsync-monitor --example hello -- 127.0.0.1:18081`
//!
//! A bare hyper hello-world on the same accept loop settings as the server (hyper-util's `auto`
//! builder, HTTP/1 keep-alive, a timer, `TCP_NODELAY`): the baseline `scripts/load.sh` compares
//! `GET /api/admin/integrations/health` with.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18081".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("hello-world listening on http://{}", listener.local_addr()?);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).keep_alive(true);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(pair) => pair,
            Err(_) => continue,
        };
        let _ = stream.set_nodelay(true);
        let conn = builder
            .serve_connection(
                TokioIo::new(stream),
                service_fn(|_req: Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                        b"Hello, World!",
                    ))))
                }),
            )
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}
