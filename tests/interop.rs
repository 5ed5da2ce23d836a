//! Conformance: every artifact of a realistic directory checked by implementations we did not
//! write. OpenSSL 3 (`verify -x509_strict -crl_check_all`, accept and reject cases),
//! rustls-webpki with CRLs and a rustls mutual-TLS handshake before and after a revocation, and,
//! through tests/interop/, DigiCert's pkilint, Python cryptography's verifier and Go's
//! crypto/x509. `.ci/run` installs pkilint and cryptography in a virtualenv (PKI_INTEROP_PYTHON)
//! and Go from the distribution; outside CI a missing tool is skipped with a message.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::{Value, json};

struct Leaf {
    name: &'static str,
    ca: &'static str,
    purposes: &'static [&'static str],
    dns: &'static str,
    revoked: bool,
    svid: bool,
}

const LEAVES: &[Leaf] = &[
    Leaf {
        name: "server",
        ca: "k8s",
        purposes: &["server", "client"],
        dns: "api.acme.internal",
        revoked: false,
        svid: false,
    },
    Leaf {
        name: "client",
        ca: "issuing",
        purposes: &["client"],
        dns: "svc.acme.internal",
        revoked: false,
        svid: false,
    },
    Leaf { name: "agent", ca: "issuing", purposes: &["client", "server"], dns: "", revoked: false, svid: true },
    // IP only, under DNS name constraints: an empty subject (no IP in the CN), SAN critical.
    Leaf { name: "iponly", ca: "k8s", purposes: &["server", "client"], dns: "", revoked: false, svid: false },
    Leaf {
        name: "ed",
        ca: "issuing",
        purposes: &["server", "client"],
        dns: "ed.acme.internal",
        revoked: false,
        svid: false,
    },
    Leaf {
        name: "p384",
        ca: "issuing",
        purposes: &["server", "client"],
        dns: "p384.acme.internal",
        revoked: false,
        svid: false,
    },
    Leaf {
        name: "rsa",
        ca: "issuing",
        purposes: &["server", "client"],
        dns: "rsa.acme.internal",
        revoked: false,
        svid: false,
    },
    Leaf { name: "gone", ca: "issuing", purposes: &[], dns: "gone.acme.internal", revoked: true, svid: false },
];

const CAS: &[(&str, Option<&str>)] = &[("root", None), ("issuing", Some("root")), ("k8s", Some("root"))];

/// Root, the issuing intermediate, a name-constrained intermediate, and leaves of every kind:
/// server (constrained CA, DNS + IP), IP only under the same DNS constraints, client, SPIFFE
/// SVID, Ed25519, CSR-signed P-384 and RSA, and a revoked one; a current CRL at every level.
fn build(env: &Env) {
    env.init();
    env.ok(&[
        "create-intermediate",
        "k8s",
        "--cn",
        "Acme k8s CA",
        "--permit-dns",
        "acme.internal",
        "--permit-ip",
        "10.0.0.0/8",
        "--passphrase-file",
        "root.pass",
        "--new-passphrase-file",
        "int.pass",
    ]);
    env.append_settings(
        "\n[profiles.k8s]\nca = \"k8s\"\ndefault_ttl = \"24h\"\nmax_ttl = \"30d\"\nkey_types = [\"p256\"]\next_key_usage = [\"serverAuth\", \"clientAuth\"]\nallowed_dns = [\"**.acme.internal\"]\nallowed_ips = [\"10.0.0.0/8\"]\n",
    );
    env.issue(&["--profile", "k8s", "--dns", "api.acme.internal", "--ip", "10.0.0.7", "--out", "server"]);
    env.issue(&["--profile", "client", "--dns", "svc.acme.internal", "--out", "client"]);
    env.issue(&["--profile", "k8s", "--ip", "10.0.0.9", "--out", "iponly"]);
    env.issue(&["--profile", "agent", "--spiffe-id", "spiffe://acme.internal/agent/7", "--out", "agent"]);
    env.issue(&["--dns", "ed.acme.internal", "--key-type", "ed25519", "--out", "ed"]);
    for (name, alg) in
        [("p384", &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"][..]), ("rsa", &["-newkey", "rsa:2048"])]
    {
        let mut args = vec!["req", "-new", "-nodes", "-keyout"];
        let key = format!("{name}.key");
        let subj = format!("/CN={name}.acme.internal");
        let san = format!("subjectAltName=DNS:{name}.acme.internal");
        let csr = format!("{name}.csr");
        args.push(&key);
        args.extend_from_slice(alg);
        args.extend_from_slice(&["-subj", &subj, "-addext", &san, "-out", &csr]);
        let o = openssl(&args, env.tmp.path());
        assert!(o.status.success(), "{}", stderr(&o));
        env.issue(&["--csr", &csr, "--out", name]);
    }
    let gone = env.issue(&["--dns", "gone.acme.internal", "--out", "gone"]);
    env.ok(&["revoke", &gone, "--reason", "keyCompromise", "--passphrase-file", "int.pass"]);
    env.ok(&["gen-crl", "--ca", "k8s", "--passphrase-file", "int.pass"]);
    env.ok(&["gen-crl", "--ca", "root", "--passphrase-file", "root.pass"]);
    let crls: String =
        CAS.iter().map(|(n, _)| std::fs::read_to_string(env.ca().join(format!("crl/{n}.crl.pem"))).unwrap()).collect();
    std::fs::write(env.path("crls.pem"), crls).unwrap();
}

fn manifest(env: &Env, foreign_root: &Path) -> PathBuf {
    let p = |rel: &str| env.path(rel).display().to_string();
    let ca = env.ca();
    let m = json!({
        "root": p("server/root.pem"),
        "cas": CAS.iter().map(|(n, parent)| json!({
            "name": n,
            "cert": ca.join(format!("cas/{n}/cert.pem")),
            "crl": ca.join(format!("crl/{n}.crl.pem")),
            "issuer": parent,
        })).collect::<Vec<_>>(),
        "leaves": LEAVES.iter().map(|l| json!({
            "name": l.name, "cert": p(&format!("{}/cert.pem", l.name)), "chain": p(&format!("{}/chain.pem", l.name)),
            "ca": l.ca, "purposes": l.purposes, "dns": l.dns, "revoked": l.revoked, "svid": l.svid,
        })).collect::<Vec<_>>(),
        "reject": [
            {"name": "client-only-as-server", "cert": p("client/cert.pem"), "chain": p("client/chain.pem"), "purpose": "server", "dns": "svc.acme.internal"},
            {"name": "wrong-name", "cert": p("server/cert.pem"), "chain": p("server/chain.pem"), "purpose": "server", "dns": "evil.acme.internal"},
            {"name": "foreign-root", "cert": p("server/cert.pem"), "chain": p("server/chain.pem"), "purpose": "server", "dns": "api.acme.internal", "root": foreign_root},
        ],
    });
    let path = env.path("manifest.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    path
}

/// A tool of the conformance stage: required in CI, skipped with a message elsewhere.
fn tool(name: &str, found: Option<PathBuf>) -> Option<PathBuf> {
    match found {
        Some(p) => Some(p),
        None if std::env::var_os("CI").is_some() => panic!("{name} is required in CI (.ci/run installs it)"),
        None => {
            eprintln!("SKIPPED: {name} is not installed (run .ci/run, or see tests/interop/README.md)");
            None
        }
    }
}

fn python() -> Option<PathBuf> {
    let p = std::env::var_os("PKI_INTEROP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop-venv/bin/python"));
    tool("pkilint + cryptography (PKI_INTEROP_PYTHON)", p.is_file().then_some(p))
}

fn go() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|d| d.join("go")).find(|p| p.is_file()));
    tool("go (golang-go)", found)
}

/// Runs an external checker and returns its results; every one must be ok.
fn external(what: &str, cmd: &mut Command) -> Vec<Value> {
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{what} failed: {}\n{}", stderr(&o), String::from_utf8_lossy(&o.stdout));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{what}: not JSON ({e})"));
    let results = v["results"].as_array().unwrap().clone();
    let bad: Vec<&Value> = results.iter().filter(|r| r["ok"] != true).collect();
    assert!(bad.is_empty(), "{what} findings:\n{}", serde_json::to_string_pretty(&bad).unwrap());
    eprintln!("{what}: {} checks passed", results.len());
    results
}

fn webpki_with_crls(env: &Env, dir: &str, usage: webpki::KeyUsage, crls: &[Vec<u8>]) -> Result<(), webpki::Error> {
    use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
    let root = CertificateDer::from(pem_ders(&env.path(&format!("{dir}/root.pem"))).remove(0));
    let chain: Vec<CertificateDer<'static>> =
        pem_ders(&env.path(&format!("{dir}/chain.pem"))).into_iter().map(CertificateDer::from).collect();
    let leaf = CertificateDer::from(pem_ders(&env.path(&format!("{dir}/cert.pem"))).remove(0));
    let anchor = webpki::anchor_from_trusted_cert(&root)?.to_owned();
    let owned: Vec<webpki::CertRevocationList<'static>> = crls
        .iter()
        .map(|d| {
            webpki::OwnedCertRevocationList::from_der(&CertificateRevocationListDer::from(d.clone())).unwrap().into()
        })
        .collect();
    let refs: Vec<&webpki::CertRevocationList<'_>> = owned.iter().collect();
    let rev = webpki::RevocationOptionsBuilder::new(&refs).unwrap().build();
    let ee = webpki::EndEntityCert::try_from(&leaf)?;
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &chain,
        rustls_pki_types::UnixTime::now(),
        usage,
        Some(rev),
        None,
    )?;
    Ok(())
}

fn crl_ders(env: &Env) -> Vec<Vec<u8>> {
    CAS.iter().map(|(n, _)| std::fs::read(env.ca().join(format!("crl/{n}.crl"))).unwrap()).collect()
}

#[test]
fn every_artifact_passes_independent_verifiers() {
    let env = Env::new();
    build(&env);
    let other = Env::new();
    other.init_plain();
    other.ok(&["issue", "--dns", "api.acme.internal", "--out", "x"]);
    let manifest = manifest(&env, &other.path("x/root.pem"));
    let cwd = env.tmp.path();

    // OpenSSL: every valid leaf for each of its purposes, with the CRLs of every level.
    let mut accepted = 0;
    let verify = |dir: &str, purpose: &str, extra: &[&str]| {
        let (root, chain, cert) = (format!("{dir}/root.pem"), format!("{dir}/chain.pem"), format!("{dir}/cert.pem"));
        let mut args = vec!["verify", "-x509_strict", "-crl_check_all", "-CRLfile", "crls.pem", "-purpose", purpose];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-CAfile", &root, "-untrusted", &chain, &cert]);
        openssl(&args, cwd)
    };
    for l in LEAVES {
        for p in l.purposes {
            let o = verify(l.name, &format!("ssl{p}"), &[]);
            assert!(
                o.status.success(),
                "openssl rejects {} for {p}: {}{}",
                l.name,
                String::from_utf8_lossy(&o.stdout),
                stderr(&o)
            );
            accepted += 1;
        }
    }
    // ... and refuses what it must.
    let refused = [
        ("gone", "sslserver", vec![], "certificate revoked"),
        ("client", "sslserver", vec![], "unsuitable certificate purpose"),
        ("server", "sslserver", vec!["-verify_hostname", "evil.acme.internal"], "hostname mismatch"),
        ("agent", "sslclient", vec!["-attime", "4102444800"], "certificate has expired"),
    ];
    for (dir, purpose, extra, why) in &refused {
        let o = verify(dir, purpose, extra);
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert!(!o.status.success() && text.contains(why), "openssl should refuse {dir} ({why}): {text}");
    }
    let o = openssl(
        &[
            "verify",
            "-x509_strict",
            "-CAfile",
            &other.path("x/root.pem").display().to_string(),
            "-untrusted",
            "server/chain.pem",
            "server/cert.pem",
        ],
        cwd,
    );
    assert!(!o.status.success(), "a foreign root must not verify our chain");
    eprintln!("openssl: {accepted} accepted, {} refused as expected", refused.len() + 1);

    // rustls-webpki with the CRLs.
    let crls = crl_ders(&env);
    for l in LEAVES {
        for p in l.purposes {
            let usage = if *p == "server" { webpki::KeyUsage::server_auth() } else { webpki::KeyUsage::client_auth() };
            webpki_with_crls(&env, l.name, usage, &crls)
                .unwrap_or_else(|e| panic!("webpki rejects {} for {p}: {e:?}", l.name));
        }
    }
    let e = webpki_with_crls(&env, "gone", webpki::KeyUsage::server_auth(), &crls).unwrap_err();
    assert!(matches!(e, webpki::Error::CertRevoked), "{e:?}");

    // A real mutual-TLS handshake: the SVID and the client certificate are accepted...
    let rustls_crls = |env: &Env| -> Vec<rustls::pki_types::CertificateRevocationListDer<'static>> {
        crl_ders(env).into_iter().map(Into::into).collect()
    };
    for client in ["agent", "client", "ed"] {
        mtls(&env, "server", client, rustls_crls(&env)).unwrap_or_else(|e| panic!("handshake with {client}: {e}"));
    }

    // pkilint + Python cryptography, then Go.
    if let Some(py) = python() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/check.py");
        external("pkilint + python cryptography", Command::new(py).arg(script).arg(&manifest));
    }
    if let Some(go) = go() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/verify.go");
        let mut cmd = Command::new(go);
        cmd.args(["run"]).arg(src).arg(&manifest).env("GO111MODULE", "off");
        external("go crypto/x509", &mut cmd);
    }

    // ... and refused once the client's certificate is revoked and the CRL republished.
    let serial = inventory(&env.ca()).into_iter().find(|r| r[10] == "CN=svc.acme.internal").unwrap()[0].clone();
    env.ok(&["revoke", &serial, "--reason", "keyCompromise", "--passphrase-file", "int.pass"]);
    let e = mtls(&env, "server", "client", rustls_crls(&env)).unwrap_err();
    assert!(e.contains("Revoked") || e.contains("revoked"), "{e}");
    mtls(&env, "server", "agent", rustls_crls(&env)).expect("others still work");
}
