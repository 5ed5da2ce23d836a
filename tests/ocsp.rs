//! The OCSP responder of `pki serve`, side by side with OpenSSL's reference responder
//! (`openssl ocsp -index`, run in its own network namespace since it binds every address) on
//! the same certificates; responses parsed and verified by Python cryptography; the
//! certificates carry the responder's URL; bad requests answered with the right status.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::server::*;
use common::*;

/// A directory with plain keys (OpenSSL's responder signs with the issuing CA's key file) and
/// the base URL of a serve on `port`: certificates carry `.../ocsp/issuing`.
fn setup(env: &Env, port: u16) {
    env.ok(&[
        "init",
        "--non-interactive",
        "--org",
        "Acme",
        "--trust-domain",
        "acme.internal",
        "--no-passphrase",
        "--base-url",
        &format!("http://127.0.0.1:{port}"),
    ]);
}

/// "good", "revoked keyCompromise" etc. from `openssl ocsp` output, or why not.
fn verdict(out: &str) -> String {
    let status = out
        .lines()
        .find_map(|l| {
            let (_, s) = l.rsplit_once(": ")?;
            ["good", "revoked", "unknown"].contains(&s.trim()).then(|| s.trim().to_string())
        })
        .unwrap_or_else(|| format!("no status in: {out}"));
    match out.lines().find_map(|l| l.trim().strip_prefix("Reason: ")) {
        Some(r) => format!("{status} {r}"),
        None => status,
    }
}

fn sh(cwd: &std::path::Path, script: &str) -> String {
    let o = Command::new("sh").arg("-c").arg(script).current_dir(cwd).output().unwrap();
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// What `openssl ocsp` asks for each case: the certificate file, or a serial never issued.
const CASES: [(&str, &str); 4] = [
    ("good", "-cert good/cert.pem"),
    ("key", "-cert key/cert.pem"),
    ("ceased", "-cert ceased/cert.pem"),
    ("never", "-serial 0x0123456789ABCDEF"),
];

/// Acceptance 1: the same statuses and reasons from serve and from `openssl ocsp -index`, with
/// SHA-1 and SHA-256 CertIDs, over POST (nonce echoed: no "no nonce" warning) and GET.
#[test]
fn serve_answers_as_openssls_reference_responder_does() {
    let env = Env::new();
    let port = free_port();
    setup(&env, port);
    let cwd = env.tmp.path();
    for name in ["good", "key", "ceased"] {
        env.ok(&["issue", "--dns", &format!("{name}.acme.internal"), "--out", name]);
    }
    env.ok(&["revoke", "--cert", "key/cert.pem", "--reason", "keyCompromise"]);
    env.ok(&["revoke", "--cert", "ceased/cert.pem", "--reason", "cessationOfOperation"]);
    // The certificate carries the responder's URL (AIA id-ad-ocsp).
    let uri = sh(cwd, "openssl x509 -in good/cert.pem -noout -ocsp_uri");
    assert_eq!(uri.trim(), format!("http://127.0.0.1:{port}/ocsp/issuing"));

    // OpenSSL's index.txt, written from our inventory.
    let list = env.ok(&["list", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    let yymmdd = |t: &str| {
        let d: String = t.chars().filter(|c| c.is_ascii_digit()).collect();
        format!("{}Z", &d[2..14])
    };
    let mut index = String::new();
    for r in &rows {
        let serial = r["serial"].as_str().unwrap();
        let exp = yymmdd(r["not_after"].as_str().unwrap());
        let subject = format!("/{}", r["subject"].as_str().unwrap());
        match r["status"].as_str().unwrap() {
            "revoked" => index.push_str(&format!(
                "R\t{exp}\t{},{}\t{serial}\tunknown\t{subject}\n",
                yymmdd(r["revoked_at"].as_str().unwrap()),
                r["reason"].as_str().unwrap()
            )),
            _ => index.push_str(&format!("V\t{exp}\t\t{serial}\tunknown\t{subject}\n")),
        }
    }
    std::fs::write(env.path("index.txt"), index).unwrap();
    std::fs::copy(env.ca().join("cas/issuing/cert.pem"), env.path("issuing.pem")).unwrap();
    std::fs::copy(env.ca().join("cas/issuing/key.pem"), env.path("issuing.key")).unwrap();

    let client = |url: &str, alg: &str, what: &str| {
        format!("openssl ocsp {alg} -issuer good/chain.pem {what} -url {url} -CAfile good/root.pem 2>&1; echo ==")
    };
    // The reference, in a network namespace of its own (it binds 0.0.0.0).
    let mut script = String::from(
        "ip link set lo up && openssl ocsp -index index.txt -port 18888 -rsigner issuing.pem -rkey issuing.key -CA issuing.pem -ndays 1 2>/dev/null &\nref=$!\nsleep 1\n",
    );
    for alg in ["", "-sha256"] {
        for (_, what) in CASES {
            script.push_str(&client("http://127.0.0.1:18888", alg, what));
            script.push('\n');
        }
    }
    script.push_str("kill $ref\n");
    let o = Command::new("unshare").args(["-n", "sh", "-c", &script]).current_dir(cwd).output().unwrap();
    let reference_out = String::from_utf8_lossy(&o.stdout).to_string();
    let reference: Vec<String> = reference_out.split("==\n").filter(|s| !s.trim().is_empty()).map(verdict).collect();
    assert_eq!(reference.len(), 8, "the reference answered: {reference_out}\n{}", stderr(&o));

    let srv = Server::start_with(&env, port, &["--ca", "issuing"]);
    let url = format!("http://127.0.0.1:{port}/ocsp/issuing");
    let mut ours = vec![];
    for alg in ["", "-sha256"] {
        for (case, what) in CASES {
            let out = sh(cwd, &client(&url, alg, what));
            assert!(out.contains("Response verify OK"), "{case} {alg}: {out}");
            assert!(!out.contains("WARNING"), "{case} {alg}: the nonce is echoed: {out}");
            ours.push(verdict(&out));
            // GET (RFC 5019): the same request without a nonce, base64 and URL-encoded in the path.
            let req = format!("req-{case}{alg}.der");
            sh(cwd, &format!("openssl ocsp {alg} -no_nonce -issuer good/chain.pem {what} -reqout {req}"));
            let b64 = sh(cwd, &format!("base64 -w0 {req}"));
            let enc: String = b64.trim().replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
            let r = srv.get(&format!("/ocsp/issuing/{enc}"), &[]);
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-type"), Some("application/ocsp-response"));
            assert!(r.header("cache-control").is_some_and(|c| c.contains("max-age=")), "{:?}", r.headers);
            std::fs::write(env.path("get.der"), &r.body).unwrap();
            let out = sh(
                cwd,
                &format!(
                    "openssl ocsp -respin get.der {alg} -issuer good/chain.pem {what} -CAfile good/root.pem -no_nonce 2>&1"
                ),
            );
            assert!(out.contains("Response verify OK"), "GET {case} {alg}: {out}");
            assert_eq!(verdict(&out), *ours.last().unwrap(), "GET and POST agree for {case} {alg}");
        }
    }
    assert_eq!(ours, reference, "serve and openssl ocsp -index give the same statuses and reasons");
    assert_eq!(
        ours[..4],
        ["good", "revoked keyCompromise", "revoked cessationOfOperation", "unknown"].map(String::from)
    );
    // A CLI revocation is answered without restarting serve, within the poll interval.
    env.ok(&["revoke", "--cert", "good/cert.pem", "--reason", "affiliationChanged", "--no-crl"]);
    let t = Instant::now();
    loop {
        let out = sh(cwd, &client(&url, "", CASES[0].1));
        if verdict(&out) == "revoked affiliationChanged" {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "revoked within 5 s: {out}");
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("revocation answered by OCSP {} ms after `pki revoke` returned", t.elapsed().as_millis());
    let (code, log) = srv.stop();
    assert_eq!(code, Some(0));
    assert!(log.iter().any(|l| l.contains("\"ocsp\":\"revoked\"")), "statuses in the log lines");
    // The responder certificate is in the inventory and ledger; the only findings are the
    // plain keys this test chose (OpenSSL's responder reads the key file).
    let audit = env.run(&["audit", "--deep", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    let codes: Vec<String> = finding_triples(&report).into_iter().map(|(_, c, _)| c).collect();
    assert!(codes.iter().all(|c| c == "ca-key-unencrypted"), "{codes:?}");
    let list = env.ok(&["list", "--json", "--name", "*OCSP responder*"]);
    assert!(list.contains("issuing OCSP responder"), "{list}");
}

/// An OCSP request built by hand: CertIDs as (hash OID, name hash, key hash, serial), nonce and
/// extra extensions as given.
fn request(ids: &[Vec<u8>], exts: &[u8]) -> Vec<u8> {
    let list: Vec<u8> = ids.iter().flat_map(|id| der(0x30, id)).collect();
    let mut tbs = der(0x30, &list);
    if !exts.is_empty() {
        tbs.extend(der(0xa2, &der(0x30, exts)));
    }
    der(0x30, &der(0x30, &tbs))
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let n = content.len();
    let mut out = vec![tag];
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend([0x81, n as u8]);
    } else if n < 0x10000 {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    } else {
        out.extend([0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

const SHA1: &[u8] = &[0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a];

fn cert_id(alg: &[u8], name_hash: &[u8], key_hash: &[u8], serial: &[u8]) -> Vec<u8> {
    let mut a = alg.to_vec();
    a.extend([0x05, 0x00]);
    let mut id = der(0x30, &a);
    id.extend(der(0x04, name_hash));
    id.extend(der(0x04, key_hash));
    id.extend(der(0x02, serial));
    der(0x30, &id)
}

fn nonce_ext(n: &[u8]) -> Vec<u8> {
    let mut e = der(0x06, &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02]);
    e.extend(der(0x04, &der(0x04, n)));
    der(0x30, &e)
}

fn post(port: u16, path: &str, body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body);
    let mut buf = vec![];
    let _ = s.read_to_end(&mut buf);
    Reply::parse(&buf)
}

/// The OCSPResponseStatus byte of a response body (0 = successful).
fn ocsp_status(body: &[u8]) -> Option<u8> {
    // 30 LL 0A 01 SS ...: the status follows the outer header.
    let skip = match body.get(1)? {
        l if *l < 0x80 => 2,
        l => 2 + (*l & 0x7f) as usize,
    };
    (body.get(skip..skip + 2)? == [0x0a, 0x01]).then(|| body[skip + 2])
}

/// Acceptance 2 and 4: every response kind parsed and verified by Python cryptography; 25+
/// malformed or abusive requests each answered with the right status, the next good request
/// still answered, no panic.
#[test]
fn responses_verify_elsewhere_and_bad_requests_get_the_right_status() {
    let env = Env::new();
    let port = free_port();
    setup(&env, port);
    let cwd = env.tmp.path();
    env.ok(&["issue", "--dns", "good.acme.internal", "--out", "good"]);
    env.ok(&["issue", "--dns", "key.acme.internal", "--out", "key"]);
    env.ok(&["revoke", "--cert", "key/cert.pem", "--reason", "keyCompromise"]);
    let srv = Server::start_with(&env, port, &["--ca", "issuing"]);
    // A real request from OpenSSL, to take the CertID hashes from.
    sh(cwd, "openssl ocsp -no_nonce -issuer good/chain.pem -cert good/cert.pem -reqout good.req");
    let good_req = std::fs::read(env.path("good.req")).unwrap();
    let find = |hay: &[u8], len: u8| {
        // issuerNameHash then issuerKeyHash: the two OCTET STRINGs of SHA-1 length in the CertID.
        let i = hay.windows(2).position(|w| w == [0x04, len]).unwrap();
        (hay[i + 2..i + 2 + len as usize].to_vec(), hay[i + 4 + len as usize..i + 4 + 2 * len as usize].to_vec())
    };
    let (nh, kh) = find(&good_req, 20);
    let serial_of = |dir: &str| {
        let s = sh(cwd, &format!("openssl x509 -in {dir}/cert.pem -noout -serial"));
        let hex = s.trim().trim_start_matches("serial=").to_string();
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect::<Vec<u8>>()
    };
    let good_serial = serial_of("good");
    let key_serial = serial_of("key");
    let with_zero = |s: &[u8]| if s[0] & 0x80 != 0 { [&[0u8][..], s].concat() } else { s.to_vec() };
    let id = |serial: &[u8]| cert_id(SHA1, &nh, &kh, &with_zero(serial));

    // Python cryptography: every response kind.
    let python = std::env::var_os("PKI_INTEROP_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop-venv/bin/python"));
    let nonce: Vec<u8> = (1..=16).collect();
    let kinds: Vec<(&str, Vec<u8>, serde_json::Value)> = vec![
        ("good", request(&[id(&good_serial)], &[]), serde_json::json!({"want": "good", "nonce": null})),
        (
            "good-nonce",
            request(&[id(&good_serial)], &nonce_ext(&nonce)),
            serde_json::json!({"want": "good", "nonce": hex(&nonce)}),
        ),
        (
            "revoked",
            request(&[id(&key_serial)], &[]),
            serde_json::json!({"want": "revoked", "reason": "key_compromise", "nonce": null}),
        ),
        ("unknown", request(&[id(&[0x01, 0x23, 0x45])], &[]), serde_json::json!({"want": "unknown", "nonce": null})),
        ("malformed", b"\x30\x03\x02\x01\x00".to_vec(), serde_json::json!({"want": "malformedRequest"})),
        (
            "unauthorized",
            request(&[cert_id(SHA1, &[0u8; 20], &kh, &good_serial)], &[]),
            serde_json::json!({"want": "unauthorized"}),
        ),
    ];
    let mut manifest = vec![];
    for (name, body, mut want) in kinds {
        let r = post(port, "/ocsp/issuing", &body);
        assert_eq!(r.status, 200, "{name}");
        let file = env.path(&format!("{name}.resp"));
        std::fs::write(&file, &r.body).unwrap();
        want["file"] = file.display().to_string().into();
        manifest.push(want);
    }
    if python.is_file() {
        let m = serde_json::json!({"issuer": env.path("good/chain.pem").display().to_string(), "responses": manifest});
        std::fs::write(env.path("ocsp-manifest.json"), m.to_string()).unwrap();
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/ocsp_check.py");
        let o = Command::new(&python).arg(script).arg(env.path("ocsp-manifest.json")).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let bad: Vec<_> = v["results"].as_array().unwrap().iter().filter(|r| r["ok"] != true).collect();
        assert!(bad.is_empty(), "Python cryptography: {bad:?}");
        assert_eq!(v["results"].as_array().unwrap().len(), 6);
    } else {
        assert!(std::env::var_os("CI").is_none(), "Python cryptography is required in CI (.ci/run installs it)");
        eprintln!("SKIPPED: Python cryptography (PKI_INTEROP_PYTHON)");
    }

    // Bad input: (what, method+path, body, HTTP status, OCSP status or None).
    let good = request(&[id(&good_serial)], &[]);
    let many: Vec<Vec<u8>> = (0..1000).map(|_| id(&good_serial)).collect();
    let sha256_id =
        cert_id(&[0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01], &nh, &kh, &good_serial);
    let unknown_alg = cert_id(&[0x06, 0x03, 0x2a, 0x03, 0x04], &nh, &kh, &good_serial);
    let mut versioned = der(0xa0, &[0x02, 0x01, 0x05]);
    versioned.extend(der(0x30, &der(0x30, &id(&good_serial))));
    let wrong_version = der(0x30, &der(0x30, &versioned));
    let mut crit = der(0x06, &[0x2a, 0x03, 0x04]);
    crit.extend([0x01, 0x01, 0xff]);
    crit.extend(der(0x04, &[0x05, 0x00]));
    let critical_ext = request(&[id(&good_serial)], &der(0x30, &crit));
    let two_nonces = request(&[id(&good_serial)], &[nonce_ext(&nonce), nonce_ext(&nonce)].concat());
    let mut trailing = good.clone();
    trailing.push(0);
    let negative = request(&[cert_id(SHA1, &nh, &kh, &[0x80, 0x01])], &[]);
    let long_serial = request(&[cert_id(SHA1, &nh, &kh, &[0x01; 30])], &[]);
    let empty_list = der(0x30, &der(0x30, &der(0x30, &[])));
    let ten_mb = vec![0x30u8; 10 << 20];
    let b64 = |b: &[u8]| {
        use base64::Engine;
        let t = base64::engine::general_purpose::STANDARD.encode(b);
        t.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
    };
    let cases: Vec<BadCase> = vec![
        ("empty body", "POST /ocsp/issuing", vec![], 200, Some(1)),
        ("truncated DER", "POST /ocsp/issuing", good[..good.len() - 5].to_vec(), 200, Some(1)),
        ("not DER at all", "POST /ocsp/issuing", b"hello, responder".to_vec(), 200, Some(1)),
        ("wrong version", "POST /ocsp/issuing", wrong_version, 200, Some(1)),
        ("1,000 CertIDs", "POST /ocsp/issuing", request(&many, &[]), 413, None),
        ("9 CertIDs", "POST /ocsp/issuing", request(&many[..9], &[]), 200, Some(1)),
        (
            "oversized nonce (33)",
            "POST /ocsp/issuing",
            request(&[id(&good_serial)], &nonce_ext(&[7; 33])),
            200,
            Some(1),
        ),
        ("empty nonce", "POST /ocsp/issuing", request(&[id(&good_serial)], &nonce_ext(&[])), 200, Some(1)),
        ("two nonces", "POST /ocsp/issuing", two_nonces, 200, Some(1)),
        ("unknown hash OID", "POST /ocsp/issuing", request(&[unknown_alg], &[]), 200, Some(6)),
        ("unknown critical extension", "POST /ocsp/issuing", critical_ext, 200, Some(1)),
        ("bytes after the request", "POST /ocsp/issuing", trailing, 200, Some(1)),
        ("negative serial", "POST /ocsp/issuing", negative, 200, Some(1)),
        ("30-octet serial", "POST /ocsp/issuing", long_serial, 200, Some(1)),
        ("empty request list", "POST /ocsp/issuing", empty_list, 200, Some(1)),
        ("indefinite length", "POST /ocsp/issuing", vec![0x30, 0x80, 0x30, 0x80, 0x00, 0x00, 0x00, 0x00], 200, Some(1)),
        ("huge length field", "POST /ocsp/issuing", vec![0x30, 0x84, 0x7f, 0xff, 0xff, 0xff], 200, Some(1)),
        ("10 MB body", "POST /ocsp/issuing", ten_mb, 413, None),
        (
            "another issuer's CertID",
            "POST /ocsp/issuing",
            request(&[cert_id(SHA1, &kh, &nh, &good_serial)], &[]),
            200,
            Some(6),
        ),
        ("unknown CA in the path", "POST /ocsp/nope", good.clone(), 200, Some(6)),
        ("the root (key offline)", "POST /ocsp/root", good.clone(), 200, Some(6)),
        ("garbage base64 in GET", "GET /ocsp/issuing/!!!not-base64***", vec![], 200, Some(1)),
        ("GET without a request", "GET /ocsp/issuing/", vec![], 200, Some(1)),
        ("GET of a truncated request", "GET /ocsp/issuing/MAM", vec![], 200, Some(1)),
        ("bad percent-encoding", "GET /ocsp/issuing/%ZZ", vec![], 200, Some(1)),
        ("PUT", "PUT /ocsp/issuing", good.clone(), 405, None),
        ("DELETE", "DELETE /ocsp/issuing", vec![], 405, None),
        ("SHA-256 CertID", "POST /ocsp/issuing", request(&[sha256_id], &[]), 200, Some(6)),
        (
            "signed request (signature not required)",
            "POST /ocsp/issuing",
            {
                let tbs = der(0x30, &der(0x30, &der(0x30, &id(&good_serial))));
                der(0x30, &[tbs, der(0xa0, &der(0x30, &der(0x30, &[0x06, 0x01, 0x00])))].concat())
            },
            200,
            Some(0),
        ),
        ("GET with a good request", "GET /ocsp/issuing/", good.clone(), 200, Some(0)),
    ];
    for (what, line, body, http, ocsp) in &cases {
        let (method, path) = line.split_once(' ').unwrap();
        let r = if method == "GET" && !body.is_empty() {
            srv.get(&format!("{path}{}", b64(body)), &[])
        } else if method == "GET" {
            srv.get(path, &[])
        } else if method == "POST" {
            post(port, path, body)
        } else {
            srv.raw(
                format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
        };
        assert_eq!(r.status, *http, "{what}: HTTP status");
        if let Some(want) = ocsp {
            assert_eq!(
                ocsp_status(&r.body),
                Some(*want),
                "{what}: OCSP status ({:02x?})",
                &r.body[..r.body.len().min(8)]
            );
        }
        let ok = post(port, "/ocsp/issuing", &good);
        assert_eq!((ok.status, ocsp_status(&ok.body)), (200, Some(0)), "after {what}, a good request");
    }
    assert!(cases.len() >= 25);
    let (code, log) = srv.stop();
    assert_eq!(code, Some(0));
    assert!(!log.iter().any(|l| l.contains("panicked")));
    // The malformed ones are logged with why.
    assert!(log.iter().any(|l| l.contains("malformedRequest: nonce of 33 octets")), "{log:?}");
}

/// (what, method and path, body, HTTP status, OCSP response status).
type BadCase = (&'static str, &'static str, Vec<u8>, u16, Option<u8>);

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The root's key stays offline: `gen-crl --ca root --ocsp` signs its responses in advance,
/// serve (holding no key at all) serves them, and the root's next CRL renews them: after the
/// intermediate is revoked, serve answers `revoked` without a restart.
#[test]
fn an_offline_roots_responses_are_signed_in_advance_and_follow_its_crls() {
    let env = Env::new();
    let port = free_port();
    setup(&env, port);
    let cwd = env.tmp.path();
    env.ok(&["issue", "--dns", "good.acme.internal", "--out", "good"]);
    std::fs::copy(env.ca().join("cas/issuing/cert.pem"), env.path("issuing.pem")).unwrap();
    let srv = Server::start(&env, port);
    let url = format!("http://127.0.0.1:{port}/ocsp/root");
    let ask = |alg: &str| {
        sh(
            cwd,
            &format!(
                "openssl ocsp {alg} -no_nonce -issuer good/root.pem -cert issuing.pem -url {url} -CAfile good/root.pem 2>&1"
            ),
        )
    };
    assert!(ask("").contains("Error querying OCSP responder") || !ask("").contains(": good"), "nothing signed yet");
    let o = env.run(&["gen-crl", "--ca", "root", "--ocsp"]);
    assert!(o.status.success() && stderr(&o).contains("OCSP responses of 'root' signed in advance"), "{}", stderr(&o));
    let t = Instant::now();
    while !ask("").contains("issuing.pem: good") {
        assert!(t.elapsed() < Duration::from_secs(5), "served within 5 s: {}", ask(""));
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = ask("-sha256");
    assert!(out.contains("Response verify OK") && out.contains("issuing.pem: good"), "{out}");
    // Revoking the intermediate regenerates the root's CRL, and with it the responses.
    let serial = sh(cwd, "openssl x509 -in issuing.pem -noout -serial");
    let serial = serial.trim().trim_start_matches("serial=");
    env.ok(&["revoke", serial, "--reason", "cACompromise"]);
    let t = Instant::now();
    loop {
        let out = ask("");
        if verdict(&out) == "revoked cACompromise" {
            assert!(out.contains("Response verify OK"), "{out}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "revoked within 5 s: {out}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!env.ca().join("crl/issuing.ocsp.tsv").exists(), "only the CA asked for has them");
    let ledger = std::fs::read_to_string(env.ca().join("ledger.jsonl")).unwrap();
    assert_eq!(ledger.matches("\"ocsp-presigned\"").count(), 2);
    assert_eq!(srv.stop().0, Some(0));
}

/// nginx as a real consumer (acceptance 3): `ssl_verify_client on` with `ssl_ocsp on` asks
/// serve (the URL in the client certificate) and accepts the client, then refuses it after a
/// CLI `pki revoke`, serve not restarted.
#[test]
fn nginx_checks_client_certificates_with_serves_ocsp() {
    if Command::new("nginx").arg("-v").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "nginx is required in CI (.ci/run installs it)");
        eprintln!("SKIPPED: nginx is not installed");
        return;
    }
    let env = Env::new();
    let port = free_port();
    setup(&env, port);
    let cwd = env.tmp.path();
    env.ok(&["issue", "--dns", "api.acme.internal", "--out", "api"]);
    env.ok(&["issue", "--profile", "client", "--dns", "agent.acme.internal", "--out", "agent"]);
    sh(cwd, "cat api/root.pem api/chain.pem > client-cas.pem");
    let srv = Server::start_with(&env, port, &["--ca", "issuing"]);
    let https = free_port();
    let d = cwd.display();
    let conf = format!(
        "master_process off;\ndaemon on;\npid {d}/nginx.pid;\nerror_log {d}/nginx.err info;\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {d};\n  server {{\n    listen 127.0.0.1:{https} ssl;\n    ssl_certificate {d}/api/fullchain.pem;\n    ssl_certificate_key {d}/api/key.pem;\n    ssl_client_certificate {d}/client-cas.pem;\n    ssl_verify_client on;\n    ssl_verify_depth 2;\n    ssl_ocsp leaf;\n    location / {{ return 200 \"hello\\n\"; }}\n  }}\n}}\n"
    );
    std::fs::write(env.path("nginx.conf"), conf).unwrap();
    let o = Command::new("nginx").arg("-c").arg(env.path("nginx.conf")).output().unwrap();
    assert!(o.status.success(), "nginx: {}", stderr(&o));
    let curl = || {
        sh(
            cwd,
            &format!(
                "curl -s -o /dev/null -w '%{{http_code}}' --resolve api.acme.internal:{https}:127.0.0.1 --cacert api/root.pem --cert agent/fullchain.pem --key agent/key.pem https://api.acme.internal:{https}/"
            ),
        )
    };
    let first = curl();
    env.ok(&["revoke", "--cert", "agent/cert.pem", "--reason", "keyCompromise"]);
    std::thread::sleep(Duration::from_millis(1500));
    let after = curl();
    let _ = sh(cwd, "kill $(cat nginx.pid)");
    let (_, log) = srv.stop();
    assert_eq!(
        first,
        "200",
        "accepted while good; nginx: {}",
        std::fs::read_to_string(env.path("nginx.err")).unwrap_or_default()
    );
    assert_eq!(
        after,
        "400",
        "refused once revoked; nginx: {}",
        std::fs::read_to_string(env.path("nginx.err")).unwrap_or_default()
    );
    assert!(
        log.iter().any(|l| l.contains("\"path\":\"/ocsp/issuing") && l.contains("\"ocsp\":\"revoked\"")),
        "nginx asked serve"
    );
    let err = std::fs::read_to_string(env.path("nginx.err")).unwrap_or_default();
    assert!(err.contains("revoked"), "nginx says why: {err}");
}
