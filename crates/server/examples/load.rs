//! Run with: `cargo run --release -p wedsync-monitor --example load -- --url http://127.0.0.1:8080/healthz --rate 1000`
//!
//! A small HTTP/1.1 load generator for `scripts/load.sh`: constant rate (wrk2-style: latency is
//! measured from each request's *intended* send time, so a stalled server cannot hide behind a
//! stalled client) or closed-loop maximum throughput, over keep-alive connections, with exact
//! percentiles. `--stripe-secret` POSTs Stripe events with valid signatures and unique ids.
//!
//! One OS thread per connection with blocking sockets: `thread::sleep` keeps the schedule to
//! tens of microseconds, which a 1 ms async timer could not.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;

/// Load generator options.
#[derive(Debug, Parser)]
#[command(about = "Constant-rate or closed-loop HTTP/1.1 load with exact percentiles")]
struct Args {
    /// Target, `http://host:port/path?query`.
    #[arg(long)]
    url: String,
    /// Requests per second over all connections; omit for closed-loop maximum throughput.
    #[arg(long)]
    rate: Option<f64>,
    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Keep-alive connections (one thread each).
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Extra request header, `Name: value` (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// POST Stripe events signed with this `whsec_…` secret instead of GETs.
    #[arg(long)]
    stripe_secret: Option<String>,
    /// A label for the result line.
    #[arg(long, default_value = "load")]
    label: String,
}

struct Target {
    /// Unique per run, so event ids never collide with an earlier run's (deduplication).
    run: u128,
    addr: SocketAddr,
    host: String,
    path: String,
}

fn parse_url(url: &str) -> anyhow::Result<Target> {
    let rest = url
        .strip_prefix("http://")
        .context("only http:// URLs are supported")?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = host
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {host}"))?
        .next()
        .context("no address")?;
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Ok(Target {
        run,
        addr,
        host: host.to_string(),
        path: path.to_string(),
    })
}

#[derive(Default)]
struct Samples {
    /// Microseconds from the intended send time to the end of the response.
    corrected: Vec<u32>,
    /// Microseconds from the actual send time to the end of the response.
    service: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
}

fn request_bytes(t: &Target, args: &Args, conn: usize, n: u64) -> Vec<u8> {
    let mut head = String::new();
    let body = match &args.stripe_secret {
        Some(secret) => {
            let ts = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let id = format!("evt_load_{:x}_{conn}_{n}", t.run);
            let body = format!(
                r#"{{"id":"{id}","object":"event","api_version":"2024-06-20","created":{ts},"type":"payment_intent.succeeded","livemode":false,"data":{{"object":{{"id":"pi_{conn}_{n}","object":"payment_intent","amount":125000,"currency":"gbp","status":"succeeded"}}}}}}"#
            );
            let sig = wedsync_webhooks::verify::stripe::sign(secret, ts, body.as_bytes());
            head.push_str(&format!(
                "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nStripe-Signature: t={ts},v1={sig}\r\nContent-Length: {}\r\n",
                t.path,
                t.host,
                body.len()
            ));
            Some(body)
        }
        None => {
            head.push_str(&format!("GET {} HTTP/1.1\r\nHost: {}\r\n", t.path, t.host));
            None
        }
    };
    for h in &args.headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if let Some(b) = body {
        out.extend_from_slice(b.as_bytes());
    }
    out
}

/// Reads one response; returns its status. The body is framed by `Content-Length`.
fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<u16> {
    buf.clear();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            bail!("connection closed");
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..header_end]).context("non-UTF-8 headers")?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("bad status line")?;
    let mut len = None;
    for line in head.split("\r\n") {
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse::<usize>().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                bail!("chunked responses are not supported");
            }
        }
    }
    let want = header_end + len.unwrap_or(0);
    while buf.len() < want {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            bail!("connection closed in the body");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(status)
}

fn connect(addr: SocketAddr) -> anyhow::Result<TcpStream> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(s)
}

fn worker(
    args: &Args,
    t: &Target,
    conn: usize,
    start: Instant,
    measure_from: Instant,
    end: Instant,
) -> Samples {
    let mut out = Samples::default();
    let mut stream = None;
    let mut buf = Vec::with_capacity(16 * 1024);
    let c = args.connections as f64;
    let mut n: u64 = 0;
    loop {
        let intended = match args.rate {
            Some(rate) => start + Duration::from_secs_f64((n as f64 * c + conn as f64) / rate),
            None => Instant::now(),
        };
        if intended >= end {
            break;
        }
        let now = Instant::now();
        if intended > now {
            std::thread::sleep(intended - now);
        }
        let req = request_bytes(t, args, conn, n);
        n += 1;
        let s = match &mut stream {
            Some(s) => s,
            None => match connect(t.addr) {
                Ok(s) => stream.insert(s),
                Err(_) => {
                    out.errors += 1;
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            },
        };
        let sent = Instant::now();
        let r = s
            .write_all(&req)
            .map_err(anyhow::Error::from)
            .and_then(|()| read_response(s, &mut buf));
        let done = Instant::now();
        match r {
            Ok(status) => {
                if intended >= measure_from {
                    let us = |d: Duration| d.as_micros().min(u128::from(u32::MAX)) as u32;
                    out.corrected.push(us(done - intended));
                    out.service.push(us(done - sent));
                    *out.statuses.entry(status).or_default() += 1;
                }
            }
            Err(_) => {
                out.errors += 1;
                stream = None;
            }
        }
    }
    out
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[i.clamp(1, sorted.len()) - 1]) / 1000.0
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let t = parse_url(&args.url)?;
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    let start = Instant::now() + Duration::from_millis(50);
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let end = measure_from + Duration::from_secs_f64(args.duration);
    let results: Vec<Samples> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..args.connections)
            .map(|c| {
                let (args, t) = (&args, &t);
                scope.spawn(move || worker(args, t, c, start, measure_from, end))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut all = Samples::default();
    for r in results {
        all.corrected.extend(r.corrected);
        all.service.extend(r.service);
        all.errors += r.errors;
        for (k, v) in r.statuses {
            *all.statuses.entry(k).or_default() += v;
        }
    }
    all.corrected.sort_unstable();
    all.service.sort_unstable();
    let count = all.corrected.len();
    let rps = count as f64 / args.duration;
    let ok: u64 = all
        .statuses
        .iter()
        .filter(|(k, _)| (200..300).contains(*k))
        .map(|(_, v)| v)
        .sum();
    let mode = match args.rate {
        Some(r) => format!("constant rate {r} req/s"),
        None => "closed loop (maximum throughput)".to_string(),
    };
    println!(
        "{} {}  —  {mode}, {} connections, {} s measured after {} s warm-up",
        if args.stripe_secret.is_some() {
            "POST"
        } else {
            "GET"
        },
        args.url,
        args.connections,
        args.duration,
        args.warmup
    );
    println!(
        "  requests {count} ({rps:.0} req/s), 2xx {ok}, statuses {:?}, connection errors {}",
        all.statuses, all.errors
    );
    for (name, v) in [
        ("latency (from intended send)", &all.corrected),
        ("service time (from actual send)", &all.service),
    ] {
        println!(
            "  {name:<32} p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms",
            pct(v, 50.0),
            pct(v, 90.0),
            pct(v, 99.0),
            pct(v, 99.9),
            pct(v, 100.0)
        );
    }
    println!(
        "RESULT label={} rps={rps:.0} ok={ok} errors={} p50_ms={:.3} p99_ms={:.3} p999_ms={:.3} max_ms={:.3}",
        args.label,
        all.errors,
        pct(&all.corrected, 50.0),
        pct(&all.corrected, 99.0),
        pct(&all.corrected, 99.9),
        pct(&all.corrected, 100.0)
    );
    Ok(())
}
