//! A small HTTP/1.1 client over hyper and rustls for the few requests pki makes itself: the
//! OIDC discovery document and JWKS (`pki serve`), and `pki attest`'s token fetch and request.
//! Every request is bounded: a timeout over the whole exchange and a limit on the body read.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// TLS roots: a PEM file's certificates, or the system's (`/etc/ssl/certs`).
pub fn roots(ca_file: Option<&Path>) -> Result<Arc<rustls::RootCertStore>> {
    let mut store = rustls::RootCertStore::empty();
    match ca_file {
        Some(f) => {
            let text = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
            let certs = pem::parse_many(&text).with_context(|| format!("{}: not PEM", f.display()))?;
            for c in certs.iter().filter(|c| c.tag() == "CERTIFICATE") {
                store
                    .add(rustls_pki_types::CertificateDer::from(c.contents().to_vec()))
                    .with_context(|| format!("{}: a certificate is not usable as a root", f.display()))?;
            }
            if store.is_empty() {
                bail!("{}: no CERTIFICATE block", f.display());
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = store.add(c);
            }
        }
    }
    Ok(Arc::new(store))
}

/// An answer: status, Content-Type, body.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The Content-Type, if any.
    pub content_type: Option<String>,
    /// The body, at most the limit asked for.
    pub body: Vec<u8>,
}

/// Sends one request to an `http://` or `https://` URL and reads at most `limit` bytes of the
/// answer, all within `timeout`.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
    roots: &Arc<rustls::RootCertStore>,
    limit: usize,
    timeout: Duration,
) -> Result<Answer> {
    tokio::time::timeout(timeout, request_inner(method, url, headers, body, roots, limit))
        .await
        .map_err(|_| anyhow!("{url}: no answer within {} s", timeout.as_secs()))?
}

async fn request_inner(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
    roots: &Arc<rustls::RootCertStore>,
    limit: usize,
) -> Result<Answer> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        bail!("'{url}' is not an http:// or https:// URL");
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = split_authority(authority, if tls { 443 } else { 80 })?;
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .with_context(|| format!("cannot connect to {authority}"))?;
    let req = {
        let mut b = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::USER_AGENT, concat!("pki/", env!("CARGO_PKG_VERSION")))
            .header(hyper::header::CONNECTION, "close");
        for (k, v) in headers {
            b = b.header(*k, v);
        }
        b.body(Full::new(Bytes::from(body))).map_err(|e| anyhow!("{url}: {e}"))?
    };
    if tls {
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        let name =
            rustls_pki_types::ServerName::try_from(host.clone()).map_err(|_| anyhow!("'{host}' is not a host name"))?;
        let s = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, stream)
            .await
            .with_context(|| format!("TLS with {authority} failed"))?;
        send(s, req, url, limit).await
    } else {
        send(stream, req, url, limit).await
    }
}

/// Sends one request on a connection already made (TCP or TLS) and reads at most `limit`
/// bytes of the answer (also ACME's http-01 fetch, which connects to an address it resolved).
pub(crate) async fn send<S>(stream: S, req: hyper::Request<Full<Bytes>>, url: &str, limit: usize) -> Result<Answer>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.with_context(|| url.to_string())?;
    let conn = tokio::spawn(conn);
    let resp = sender.send_request(req).await.with_context(|| format!("{url}: no answer"))?;
    let status = resp.status().as_u16();
    let content_type =
        resp.headers().get(hyper::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = http_body_util::Limited::new(resp.into_body(), limit)
        .collect()
        .await
        .map_err(|_| anyhow!("{url}: the answer is over {limit} bytes, or broken"))?
        .to_bytes()
        .to_vec();
    conn.abort();
    Ok(Answer { status, content_type, body })
}

/// [`request`] from synchronous code (the CLI): on a runtime of its own, for one request.
pub fn request_blocking(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
    roots: &Arc<rustls::RootCertStore>,
    limit: usize,
    timeout: Duration,
) -> Result<Answer> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start a runtime")?;
    rt.block_on(request(method, url, headers, body, roots, limit, timeout))
}

/// `host[:port]` or `[v6][:port]`.
fn split_authority(a: &str, default_port: u16) -> Result<(String, u16)> {
    let bad = || anyhow!("'{a}' is not HOST[:PORT]");
    if let Some(r) = a.strip_prefix('[') {
        let (h, rest) = r.split_once(']').ok_or_else(bad)?;
        let port = match rest.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if rest.is_empty() => default_port,
            None => return Err(bad()),
        };
        return Ok((h.to_string(), port));
    }
    match a.rsplit_once(':') {
        Some((h, p)) => Ok((h.to_string(), p.parse().map_err(|_| bad())?)),
        None if !a.is_empty() => Ok((a.to_string(), default_port)),
        None => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities() {
        assert_eq!(split_authority("a.b", 443).unwrap(), ("a.b".into(), 443));
        assert_eq!(split_authority("127.0.0.1:80", 443).unwrap(), ("127.0.0.1".into(), 80));
        assert_eq!(split_authority("[::1]:9", 443).unwrap(), ("::1".into(), 9));
        assert!(split_authority("a:b", 443).is_err());
    }
}
