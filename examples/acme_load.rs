//! ACME load program for bench/acme.sh: N concurrent clients (tasks, each its own account)
//! complete new-order -> http-01 -> finalize -> download against an ACME directory, and the
//! rate and latency are printed as one JSON line.
//!
//! cargo run --release --example acme_load -- DIRECTORY_URL ROOT_PEM HTTP01_PORT CLIENTS ORDERS

#[path = "../tests/common/acme_load.rs"]
mod acme_load;

use std::time::Duration;

#[tokio::main]
async fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 5 {
        eprintln!("usage: acme_load DIRECTORY_URL ROOT_PEM HTTP01_PORT CLIENTS ORDERS");
        std::process::exit(2);
    }
    let (port, clients, orders): (u16, usize, usize) =
        (a[2].parse().expect("port"), a[3].parse().expect("clients"), a[4].parse().expect("orders"));
    let tokens = acme_load::Tokens::default();
    acme_load::responder(port, tokens.clone()).await.expect("cannot listen for http-01");
    let o = acme_load::run(&a[0], a[1].as_ref(), clients, orders, "load", tokens, Duration::from_secs(600)).await;
    println!(
        "{}",
        serde_json::json!({
            "certificates": o.chains.len(),
            "errors": o.errors.len(),
            "first_error": o.errors.first(),
            "seconds": (o.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "per_second": (o.rate() * 10.0).round() / 10.0,
            "p50_ms": o.percentile(50.0).as_millis(),
            "p99_ms": o.percentile(99.0).as_millis(),
        })
    );
}
