//! Challenge validation: http-01 (RFC 8555 section 8.3). The name is resolved through the
//! configured DNS server (`--acme-dns-resolver`, as Pebble's `-dnsserver`) or the system's
//! resolver, and `http://NAME:PORT/.well-known/acme-challenge/TOKEN` is fetched from each
//! address until one answers (`--acme-http01-port`, default 80, as Pebble's `httpPort`). No
//! redirect is followed; the body, at most [`MAX_BODY`] bytes, must be the key authorization
//! (surrounding white space ignored). Every step is bounded by [`TIMEOUT`].

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;

use super::problem::Problem;
use super::state::Identifier;

/// The whole validation of one challenge, resolution included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The most bytes of a challenge response read.
pub const MAX_BODY: usize = 1024;

/// Where names are resolved.
pub enum Resolver {
    /// The system's resolver (getaddrinfo: /etc/hosts, then resolv.conf).
    System,
    /// One DNS server, queried directly with no cache (a negative answer is never kept
    /// beyond the challenge it was asked for).
    Server(Box<hickory_resolver::TokioResolver>),
}

impl Resolver {
    /// The resolver for `server`, or the system's.
    pub fn new(server: Option<SocketAddr>) -> anyhow::Result<Resolver> {
        let Some(addr) = server else { return Ok(Resolver::System) };
        use hickory_resolver::config::{NameServerConfig, ResolverConfig};
        let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
        for c in &mut ns.connections {
            c.port = addr.port();
        }
        let cfg = ResolverConfig::from_parts(None, vec![], vec![ns]);
        let mut b = hickory_resolver::Resolver::builder_with_config(
            cfg,
            hickory_resolver::net::runtime::TokioRuntimeProvider::default(),
        );
        let o = b.options_mut();
        o.cache_size = 0;
        o.timeout = Duration::from_secs(3);
        o.attempts = 2;
        let r = b.build().map_err(|e| anyhow::anyhow!("cannot use DNS server {addr}: {e}"))?;
        Ok(Resolver::Server(Box::new(r)))
    }

    /// The addresses of a name (IPv4 first), or a `dns` problem.
    pub async fn addresses(&self, name: &str) -> Result<Vec<IpAddr>, Problem> {
        let mut ips: Vec<IpAddr> = match self {
            Resolver::System => tokio::net::lookup_host((name, 0))
                .await
                .map_err(|e| Problem::new("dns", format!("cannot resolve {name}: {e}")))?
                .map(|a| a.ip())
                .collect(),
            Resolver::Server(r) => r
                .lookup_ip(format!("{name}."))
                .await
                .map_err(|e| Problem::new("dns", format!("cannot resolve {name}: {e}")))?
                .iter()
                .collect(),
        };
        ips.sort_by_key(|ip| ip.is_ipv6());
        ips.dedup();
        if ips.is_empty() {
            return Err(Problem::new("dns", format!("{name} has no A or AAAA record")));
        }
        Ok(ips)
    }
}

/// Checks an http-01 challenge: Ok when the identifier's host serves `key_authorization`.
pub async fn http01(
    resolver: &Resolver,
    port: u16,
    id: &Identifier,
    token: &str,
    key_authorization: &str,
) -> Result<(), Problem> {
    match tokio::time::timeout(TIMEOUT, http01_inner(resolver, port, id, token, key_authorization)).await {
        Ok(r) => r,
        Err(_) => Err(Problem::new(
            "connection",
            format!("http-01 for {}: no answer within {} s", id.value, TIMEOUT.as_secs()),
        )),
    }
}

async fn http01_inner(
    resolver: &Resolver,
    port: u16,
    id: &Identifier,
    token: &str,
    key_authorization: &str,
) -> Result<(), Problem> {
    let ips = match id.value.parse::<IpAddr>() {
        Ok(ip) if id.kind == "ip" => vec![ip],
        _ => resolver.addresses(&id.value).await?,
    };
    let host = match id.value.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => id.value.clone(),
    };
    // As Go's client (Pebble, Boulder) sends it: the port only when it is not 80.
    let host_header = if port == 80 { host.clone() } else { format!("{host}:{port}") };
    let path = format!("/.well-known/acme-challenge/{token}");
    let mut last = None;
    for ip in ips {
        match fetch(SocketAddr::new(ip, port), &host_header, &path).await {
            Ok((200, body)) => {
                let got = String::from_utf8_lossy(&body);
                if got.trim() == key_authorization {
                    return Ok(());
                }
                let shown: String = got.trim().chars().take(100).collect();
                return Err(Problem::new(
                    "incorrectResponse",
                    format!("http-01 for {}: {ip} answered \"{shown}\", not the key authorization", id.value),
                ));
            }
            Ok((status, _)) => {
                return Err(Problem::new(
                    "incorrectResponse",
                    format!(
                        "http-01 for {}: http://{host_header}{path} at {ip} answered {status}, not 200 (redirects are not followed)",
                        id.value
                    ),
                ));
            }
            Err(e) => last = Some(format!("{ip}: {e}")),
        }
    }
    Err(Problem::new(
        "connection",
        format!("http-01 for {}: cannot fetch http://{host_header}{path} ({})", id.value, last.unwrap_or_default()),
    ))
}

async fn fetch(addr: SocketAddr, host: &str, path: &str) -> Result<(u16, Vec<u8>), String> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, host)
        .header(hyper::header::USER_AGENT, concat!("pki-serve/", env!("CARGO_PKG_VERSION"), " (ACME http-01)"))
        .header(hyper::header::CONNECTION, "close")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = http_body_util::Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| format!("the answer is over {MAX_BODY} bytes"))?
        .to_bytes()
        .to_vec();
    conn.abort();
    Ok((status, body))
}
