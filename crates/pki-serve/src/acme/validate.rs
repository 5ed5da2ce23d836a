//! Challenge validation. Names are resolved through the configured DNS server
//! (`--acme-dns-resolver`, as Pebble's `-dnsserver`) or the system's resolver; every step is
//! bounded by [`TIMEOUT`].
//!
//! - http-01 (RFC 8555 section 8.3): `http://NAME:PORT/.well-known/acme-challenge/TOKEN` is
//!   fetched from each address until one answers (`--acme-http01-port`, default 80, as
//!   Pebble's `httpPort`). No redirect is followed; the body, at most [`MAX_BODY`] bytes, must
//!   be the key authorization (surrounding white space ignored).
//! - dns-01 (section 8.4): a TXT record of `_acme-challenge.NAME` must hold the base64url
//!   SHA-256 of the key authorization; asked of the resolver each time (no cache, so a negative
//!   answer never outlives the challenge it was asked for).
//! - tls-alpn-01 (RFC 8737): a TLS handshake to NAME:PORT (`--acme-tlsalpn01-port`, default
//!   443) offering only ALPN `acme-tls/1`, SNI the name (for an address, its reverse-DNS name,
//!   RFC 8738 section 6); the certificate must name exactly the identifier and carry the
//!   critical acmeIdentifier extension with the SHA-256 of the key authorization.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::problem::Problem;
use super::state::Identifier;

/// The whole validation of one challenge, resolution included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The most bytes of a challenge response read.
pub const MAX_BODY: usize = 1024;

/// Where names are resolved.
pub enum Resolver {
    /// The system's resolver (getaddrinfo: /etc/hosts, then resolv.conf); TXT records through
    /// resolv.conf's servers.
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

    /// The TXT strings of a name (each record's character strings joined), or a `dns` problem.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, Problem> {
        let system;
        let r = match self {
            Resolver::Server(r) => r.as_ref(),
            Resolver::System => {
                let mut b = hickory_resolver::Resolver::builder_tokio()
                    .map_err(|e| Problem::new("dns", format!("cannot read the system's DNS configuration: {e}")))?;
                b.options_mut().cache_size = 0;
                system =
                    b.build().map_err(|e| Problem::new("dns", format!("cannot use the system's DNS servers: {e}")))?;
                &system
            }
        };
        let lookup = r
            .txt_lookup(format!("{name}."))
            .await
            .map_err(|e| Problem::new("dns", format!("no TXT record for {name}: {e}")))?;
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|rec| match &rec.data {
                hickory_resolver::proto::rr::RData::TXT(t) => {
                    Some(t.txt_data.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect::<String>())
                }
                _ => None,
            })
            .collect())
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
    within(http01_inner(resolver, port, id, token, key_authorization), "connection", || {
        format!("http-01 for {}: no answer", id.value)
    })
    .await
}

/// `f` bounded by [`TIMEOUT`]; past it, a problem of `kind` whose detail `what` begins.
async fn within<T>(
    f: impl std::future::Future<Output = Result<T, Problem>>,
    kind: &'static str,
    what: impl FnOnce() -> String,
) -> Result<T, Problem> {
    match tokio::time::timeout(TIMEOUT, f).await {
        Ok(r) => r,
        Err(_) => Err(Problem::new(kind, format!("{} within {} s", what(), TIMEOUT.as_secs()))),
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
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, host)
        .header(hyper::header::USER_AGENT, concat!("pki-serve/", env!("CARGO_PKG_VERSION"), " (ACME http-01)"))
        .header(hyper::header::CONNECTION, "close")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .map_err(|e| e.to_string())?;
    let a = crate::client::send(stream, req, path, MAX_BODY).await.map_err(|e| format!("{e:#}"))?;
    Ok((a.status, a.body))
}

/// The base64url SHA-256 of a key authorization: dns-01's TXT value.
pub fn dns01_value(key_authorization: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA256, key_authorization.as_bytes()))
}

/// Checks a dns-01 challenge for `name` (a wildcard's base name).
pub async fn dns01(resolver: &Resolver, name: &str, key_authorization: &str) -> Result<(), Problem> {
    let want = dns01_value(key_authorization);
    let owner = format!("_acme-challenge.{name}");
    let found = within(resolver.txt(&owner), "dns", || format!("dns-01: no answer for {owner}")).await?;
    if found.iter().any(|t| t.trim() == want) {
        return Ok(());
    }
    Err(Problem::new(
        "unauthorized",
        format!("dns-01: none of the {} TXT record(s) of {owner} is the key authorization's digest", found.len()),
    ))
}

/// The id-pe-acmeIdentifier extension (RFC 8737 section 6.1).
const ACME_IDENTIFIER_OID: &str = "1.3.6.1.5.5.7.1.31";
/// The ALPN protocol of tls-alpn-01.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Accepts any certificate: tls-alpn-01 checks the one presented itself (it is self-signed by
/// design and carries a critical extension WebPKI does not know). The handshake signature is
/// still verified, against the certificate's key, by ring directly.
#[derive(Debug)]
struct AnyCert;

fn verify_handshake(
    message: &[u8],
    cert: &rustls_pki_types::CertificateDer<'_>,
    dss: &rustls::DigitallySignedStruct,
) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
    use ring::signature as sig;
    use rustls::SignatureScheme as S;
    let bad = |m: &str| rustls::Error::General(format!("tls-alpn-01 handshake: {m}"));
    let (_, c) =
        x509_parser::parse_x509_certificate(cert.as_ref()).map_err(|_| bad("the certificate does not parse"))?;
    let key = c.public_key().subject_public_key.data.as_ref();
    let alg: &dyn sig::VerificationAlgorithm = match dss.scheme {
        S::ECDSA_NISTP256_SHA256 => &sig::ECDSA_P256_SHA256_ASN1,
        S::ECDSA_NISTP384_SHA384 => &sig::ECDSA_P384_SHA384_ASN1,
        S::ED25519 => &sig::ED25519,
        S::RSA_PSS_SHA256 => &sig::RSA_PSS_2048_8192_SHA256,
        S::RSA_PSS_SHA384 => &sig::RSA_PSS_2048_8192_SHA384,
        S::RSA_PSS_SHA512 => &sig::RSA_PSS_2048_8192_SHA512,
        S::RSA_PKCS1_SHA256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        S::RSA_PKCS1_SHA384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        S::RSA_PKCS1_SHA512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        other => return Err(bad(&format!("signature scheme {other:?} is not accepted"))),
    };
    sig::UnparsedPublicKey::new(alg, key)
        .verify(message, dss.signature())
        .map_err(|_| bad("the handshake signature does not verify with the certificate's key"))?;
    Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
}

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        verify_handshake(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        verify_handshake(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        use rustls::SignatureScheme as S;
        vec![
            S::ECDSA_NISTP256_SHA256,
            S::ECDSA_NISTP384_SHA384,
            S::ED25519,
            S::RSA_PSS_SHA256,
            S::RSA_PSS_SHA384,
            S::RSA_PSS_SHA512,
            S::RSA_PKCS1_SHA256,
            S::RSA_PKCS1_SHA384,
            S::RSA_PKCS1_SHA512,
        ]
    }
}

/// The reverse-DNS name of an address (RFC 8738 section 6: tls-alpn-01's SNI for an IP).
fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::new();
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s + "ip6.arpa"
        }
    }
}

/// Checks a tls-alpn-01 challenge.
pub async fn tlsalpn01(
    resolver: &Resolver,
    port: u16,
    id: &Identifier,
    key_authorization: &str,
) -> Result<(), Problem> {
    within(tlsalpn01_inner(resolver, port, id, key_authorization), "connection", || {
        format!("tls-alpn-01 for {}: no handshake", id.value)
    })
    .await
}

async fn tlsalpn01_inner(
    resolver: &Resolver,
    port: u16,
    id: &Identifier,
    key_authorization: &str,
) -> Result<(), Problem> {
    let ip_id = if id.kind == "ip" { id.value.parse::<IpAddr>().ok() } else { None };
    let (ips, sni) = match ip_id {
        Some(ip) => (vec![ip], reverse_name(ip)),
        None => (resolver.addresses(&id.value).await?, id.value.clone()),
    };
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Problem::internal(&anyhow::anyhow!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(AnyCert))
        .with_no_client_auth();
    cfg.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
    let name = rustls_pki_types::ServerName::try_from(sni.clone())
        .map_err(|_| Problem::new("malformed", format!("'{sni}' is not a name TLS can ask for")))?;
    let mut last = String::new();
    for ip in ips {
        let tcp = match tokio::net::TcpStream::connect(SocketAddr::new(ip, port)).await {
            Ok(t) => t,
            Err(e) => {
                last = format!("{ip}: {e}");
                continue;
            }
        };
        let tls = match connector.connect(name.clone(), tcp).await {
            Ok(t) => t,
            Err(e) => {
                return Err(Problem::new(
                    "tls",
                    format!("tls-alpn-01 for {}: handshake with {ip} failed: {e}", id.value),
                ));
            }
        };
        let (_, conn) = tls.get_ref();
        if conn.alpn_protocol() != Some(ACME_TLS_ALPN) {
            return Err(Problem::new(
                "unauthorized",
                format!("tls-alpn-01 for {}: {ip} did not negotiate ALPN acme-tls/1", id.value),
            ));
        }
        let cert = conn.peer_certificates().and_then(|c| c.first()).map(|c| c.as_ref().to_vec()).unwrap_or_default();
        return check_alpn_cert(&cert, id, key_authorization)
            .map_err(|why| Problem::new("unauthorized", format!("tls-alpn-01 for {}: {why}", id.value)));
    }
    Err(Problem::new("connection", format!("tls-alpn-01 for {}: cannot connect ({last})", id.value)))
}

/// RFC 8737 section 3: one SAN, the identifier; acmeIdentifier critical, the digest.
fn check_alpn_cert(der: &[u8], id: &Identifier, key_authorization: &str) -> Result<(), String> {
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der)
        .map_err(|_| "the certificate does not parse".to_string())?;
    let mut names = vec![];
    let mut digest = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for g in &san.general_names {
                    names.push(match g {
                        GeneralName::DNSName(d) => format!("dns:{}", d.to_ascii_lowercase()),
                        GeneralName::IPAddress(b) if b.len() == 4 => {
                            format!("ip:{}", IpAddr::from(<[u8; 4]>::try_from(&b[..]).expect("4")))
                        }
                        GeneralName::IPAddress(b) if b.len() == 16 => {
                            format!("ip:{}", IpAddr::from(<[u8; 16]>::try_from(&b[..]).expect("16")).to_canonical())
                        }
                        other => format!("{other:?}"),
                    });
                }
            }
            _ if ext.oid.to_id_string() == ACME_IDENTIFIER_OID => {
                if !ext.critical {
                    return Err("the acmeIdentifier extension is not critical".into());
                }
                // The value is an OCTET STRING of the 32-byte digest.
                let v = ext.value;
                if v.len() != 34 || v[0] != 0x04 || v[1] != 32 {
                    return Err("the acmeIdentifier extension is not an OCTET STRING of 32 bytes".into());
                }
                digest = Some(v[2..].to_vec());
            }
            _ => {}
        }
    }
    let want = format!("{}:{}", id.kind, id.value);
    if names != [want.clone()] {
        return Err(format!("the certificate names [{}], not exactly {want}", names.join(", ")));
    }
    let expected = ring::digest::digest(&ring::digest::SHA256, key_authorization.as_bytes());
    match digest {
        None => Err("the certificate has no acmeIdentifier extension".into()),
        Some(d) if d == expected.as_ref() => Ok(()),
        Some(_) => Err("the acmeIdentifier extension is not the key authorization's digest".into()),
    }
}
