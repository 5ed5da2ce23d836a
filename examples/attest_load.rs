//! Attestation load program for bench/attest.sh: N concurrent clients, each taking pre-minted
//! tokens from a shared list, making a fresh P-256 key and CSR, and posting them to
//! `POST /attest/POLICY` over a new TLS connection (as a CI job would); the rate and latency are
//! printed as one JSON line.
//!
//! cargo run --release --example attest_load -- SERVER_URL POLICY ROOT_PEM TOKENS_FILE CLIENTS

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 5 {
        eprintln!("usage: attest_load SERVER_URL POLICY ROOT_PEM TOKENS_FILE CLIENTS");
        std::process::exit(2);
    }
    let url = format!("{}/attest/{}", a[0].trim_end_matches('/'), a[1]);
    let roots = pki_serve::client::roots(Some(a[2].as_ref())).expect("root");
    let tokens: Vec<String> =
        std::fs::read_to_string(&a[3]).expect("tokens").lines().filter(|l| !l.is_empty()).map(String::from).collect();
    let clients: usize = a[4].parse().expect("clients");
    let total = tokens.len();
    let queue = Arc::new(Mutex::new(tokens));
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..clients {
        let (queue, roots, url) = (queue.clone(), roots.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (vec![], vec![]);
            loop {
                let Some(token) = queue.lock().unwrap().pop() else { break };
                let t0 = Instant::now();
                let key = rcgen::KeyPair::generate().expect("key");
                let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
                params.distinguished_name = rcgen::DistinguishedName::new();
                let csr = params.serialize_request(&key).expect("csr").pem().expect("pem");
                let r = pki_serve::client::request(
                    "POST",
                    &url,
                    &[("authorization", format!("Bearer {token}")), ("accept", "application/json".into())],
                    csr.into_bytes(),
                    &roots,
                    1 << 20,
                    Duration::from_secs(60),
                )
                .await;
                match r {
                    Ok(a) if a.status == 201 => lat.push(t0.elapsed()),
                    Ok(a) => errors.push(format!("HTTP {}: {}", a.status, String::from_utf8_lossy(&a.body))),
                    Err(e) => errors.push(format!("{e:#}")),
                }
            }
            (lat, errors)
        }));
    }
    let (mut lat, mut errors) = (vec![], vec![]);
    for t in tasks {
        let (l, e) = t.await.expect("task");
        lat.extend(l);
        errors.extend(e);
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p / 100.0).ceil() as usize).saturating_sub(1))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    println!(
        "{}",
        serde_json::json!({
            "svids": lat.len(), "tokens": total, "errors": errors.len(), "first_error": errors.first(),
            "seconds": (secs * 1000.0).round() / 1000.0,
            "per_second": ((lat.len() as f64 / secs) * 10.0).round() / 10.0,
            "p50_ms": (pct(50.0) * 10.0).round() / 10.0, "p99_ms": (pct(99.0) * 10.0).round() / 10.0,
        })
    );
}
