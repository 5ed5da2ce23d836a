//! An ACME load generator on instant-acme: many tasks in one process, each with its own
//! account, each placing orders (new-order, http-01, finalize, download) one after another,
//! all challenges answered by one in-process HTTP responder. Used by `tests/acme.rs` (a server
//! killed under load) and `examples/acme_load.rs` (bench/acme.sh).

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};

/// Tokens -> key authorizations, shared by the tasks and the responder.
pub type Tokens = Arc<Mutex<HashMap<String, String>>>;

/// Answers `GET /.well-known/acme-challenge/TOKEN` on 127.0.0.1:`port` from `tokens`.
pub async fn responder(port: u16, tokens: Tokens) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else { continue };
            let tokens = tokens.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                let path = head.split_whitespace().nth(1).unwrap_or("");
                let token = path.strip_prefix("/.well-known/acme-challenge/").unwrap_or("");
                let answer = tokens.lock().unwrap().get(token).cloned();
                let reply = match answer {
                    Some(k) => {
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{k}", k.len())
                    }
                    None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
                };
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    Ok(())
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Certificate chains received (PEM).
    pub chains: Vec<String>,
    /// Latency of each completed order, new-order to certificate.
    pub latencies: Vec<Duration>,
    /// Errors, one line each.
    pub errors: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

impl Outcome {
    /// Certificates per second.
    pub fn rate(&self) -> f64 {
        self.chains.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    /// A latency percentile (0-100).
    pub fn percentile(&self, p: f64) -> Duration {
        let mut l = self.latencies.clone();
        l.sort();
        if l.is_empty() {
            return Duration::ZERO;
        }
        l[((l.len() - 1) as f64 * p / 100.0).round() as usize]
    }
}

fn retry() -> RetryPolicy {
    RetryPolicy::new().initial_delay(Duration::from_millis(20)).backoff(1.5).timeout(Duration::from_secs(60))
}

/// One order, start to finish, for `name`.
async fn one_order(account: &Account, name: &str, tokens: &Tokens) -> Result<String, String> {
    let ids = [Identifier::Dns(name.to_string())];
    let mut order = account.new_order(&NewOrder::new(&ids)).await.map_err(|e| format!("new-order: {e}"))?;
    let mut authzs = order.authorizations();
    while let Some(a) = authzs.next().await {
        let mut a = a.map_err(|e| format!("authorization: {e}"))?;
        if a.status != AuthorizationStatus::Pending {
            continue;
        }
        let mut ch = a.challenge(ChallengeType::Http01).ok_or("no http-01 challenge")?;
        tokens.lock().unwrap().insert(ch.token.clone(), ch.key_authorization().as_str().to_string());
        ch.set_ready().await.map_err(|e| format!("challenge: {e}"))?;
    }
    let status = order.poll_ready(&retry()).await.map_err(|e| format!("poll: {e}"))?;
    if status != OrderStatus::Ready {
        return Err(format!("order {status:?}"));
    }
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).map_err(|e| e.to_string())?;
    // rcgen's default subject is a CN that is not the name: an empty subject, as ACME clients send.
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params.serialize_request(&key).map_err(|e| e.to_string())?;
    order.finalize_csr(csr.der()).await.map_err(|e| format!("finalize: {e}"))?;
    order.poll_certificate(&retry()).await.map_err(|e| format!("certificate: {e}"))
}

/// `clients` tasks, each with its own account, each placing `orders` orders for
/// `{label}-c{task}-{n}.example.test` names, until done or `deadline` passes.
pub async fn run(
    directory: &str,
    root: &std::path::Path,
    clients: usize,
    orders: usize,
    suffix: &str,
    tokens: Tokens,
    deadline: Duration,
) -> Outcome {
    let start = Instant::now();
    let mut tasks = vec![];
    for c in 0..clients {
        let (directory, root, suffix, tokens) =
            (directory.to_string(), root.to_path_buf(), suffix.to_string(), tokens.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome::default();
            let new = NewAccount { contact: &[], terms_of_service_agreed: true, only_return_existing: false };
            let account = match Account::builder_with_root(&root) {
                Ok(b) => match b.create(&new, directory, None).await {
                    Ok((a, _)) => a,
                    Err(e) => {
                        out.errors.push(format!("account: {e}"));
                        return out;
                    }
                },
                Err(e) => {
                    out.errors.push(format!("client: {e}"));
                    return out;
                }
            };
            for n in 0..orders {
                if start.elapsed() > deadline {
                    break;
                }
                let t = Instant::now();
                match one_order(&account, &format!("{suffix}-c{c}-{n}.example.test"), &tokens).await {
                    Ok(chain) => {
                        out.latencies.push(t.elapsed());
                        out.chains.push(chain);
                    }
                    Err(e) => out.errors.push(e),
                }
            }
            out
        }));
    }
    let mut all = Outcome::default();
    for t in tasks {
        if let Ok(o) = t.await {
            all.chains.extend(o.chains);
            all.latencies.extend(o.latencies);
            all.errors.extend(o.errors);
        }
    }
    all.elapsed = start.elapsed();
    all
}
