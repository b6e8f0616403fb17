//! A load generator for the token endpoint: N keep-alive HTTP/1.1 connections each sending
//! token requests back to back for a fixed time, then tokens per second, latency percentiles
//! and errors; with `APPID_LOAD_SPIN=1` its runtime never sleeps (see `main`). With
//! `--sign-rate ALG`, instead, the one-core signing rate of this machine for RS256 (RSA-2048)
//! or ES256 (P-256), through the same signer the server uses: the ceiling a token server of
//! that algorithm can reach on one core.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use appid::domain::Algorithm;
use appid::ports::TokenSigner;
use appid::signing::local::LocalSigner;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

struct Args {
    addr: SocketAddr,
    path: String,
    authorization: String,
    connections: usize,
    duration: Duration,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("--sign-rate") {
        let Some(algorithm) = argv.get(1).and_then(|a| a.parse().ok()) else {
            eprintln!("usage: appid-load --sign-rate RS256|ES256 [SECONDS]");
            std::process::exit(2);
        };
        let seconds = argv.get(2).and_then(|s| s.parse().ok()).unwrap_or(3.0);
        let rate = sign_rate(algorithm, Duration::from_secs_f64(seconds)).await;
        println!("{rate:.0}");
        return;
    }
    let Some(args) = parse(&argv) else {
        eprintln!(
            "usage: appid-load ADDR TENANT CLIENT_ID SECRET CONNECTIONS SECONDS\n       appid-load --sign-rate RS256|ES256 [SECONDS]"
        );
        std::process::exit(2);
    };
    let deadline = Instant::now() + args.duration;
    // A load generator that sleeps between answers makes the server pay, on its own core, for
    // waking it at every answer (a cross-core interrupt, dear on a virtual machine). Spinning
    // keeps the generator awake, so the server's core measures the server alone.
    if std::env::var("APPID_LOAD_SPIN").is_ok_and(|v| v == "1") {
        tokio::spawn(async move {
            while Instant::now() < deadline {
                tokio::task::yield_now().await;
            }
        });
    }
    let started = Instant::now();
    let workers: Vec<_> = (0..args.connections)
        .map(|_| {
            tokio::spawn(connection(
                args.addr,
                args.path.clone(),
                args.authorization.clone(),
                deadline,
            ))
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), 0u64);
    for worker in workers {
        match worker.await {
            Ok((l, e)) => {
                latencies.extend(l);
                errors += e;
            }
            Err(_) => errors += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0)
    };
    println!(
        "connections={} tokens={} tokens_per_s={:.0} p50_us={} p99_us={} errors={}",
        args.connections,
        latencies.len(),
        latencies.len() as f64 / elapsed,
        pick(0.50),
        pick(0.99),
        errors
    );
}

/// One connection sending requests until the deadline; returns each success's latency in
/// microseconds and the number of failures.
async fn connection(
    addr: SocketAddr,
    path: String,
    authorization: String,
    deadline: Instant,
) -> (Vec<u32>, u64) {
    let (mut latencies, mut errors) = (Vec::new(), 0);
    let Ok(stream) = TcpStream::connect(addr).await else {
        return (latencies, 1);
    };
    let _ = stream.set_nodelay(true);
    let Ok((mut sender, conn)) = http1::handshake(TokioIo::new(stream)).await else {
        return (latencies, 1);
    };
    tokio::spawn(conn);
    while Instant::now() < deadline {
        let request = http::Request::post(path.as_str())
            .header(http::header::HOST, addr.to_string())
            .header(http::header::AUTHORIZATION, authorization.as_str())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(Full::new(Bytes::from_static(
                b"grant_type=client_credentials",
            )))
            .expect("a valid request");
        let sent = Instant::now();
        match sender.send_request(request).await {
            Ok(response) => {
                let ok = response.status() == 200;
                let drained = response.into_body().collect().await.is_ok();
                if ok && drained {
                    latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                } else {
                    errors += 1;
                }
            }
            Err(_) => {
                errors += 1;
                break;
            }
        }
    }
    (latencies, errors)
}

/// Signatures per second on the current core with a key of `algorithm`, over a message the
/// size of a token's signing input.
async fn sign_rate(algorithm: Algorithm, duration: Duration) -> f64 {
    let signer = LocalSigner::ephemeral(algorithm).expect("key generation");
    let message = [7u8; 600];
    let (started, mut count) = (Instant::now(), 0u64);
    while started.elapsed() < duration {
        signer.sign(&message).await.expect("sign");
        count += 1;
    }
    count as f64 / started.elapsed().as_secs_f64()
}

fn parse(argv: &[String]) -> Option<Args> {
    let [addr, tenant, client_id, secret, connections, seconds] = argv else {
        return None;
    };
    Some(Args {
        addr: addr.parse().ok()?,
        path: format!("/oauth/v4/{tenant}/token"),
        authorization: format!("Basic {}", STANDARD.encode(format!("{client_id}:{secret}"))),
        connections: connections.parse().ok()?,
        duration: Duration::from_secs_f64(seconds.parse().ok()?),
    })
}
