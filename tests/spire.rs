//! pki as the trust anchor under a real SPIRE deployment (issue 25): spire-server v1.13.3 with
//! the `disk` UpstreamAuthority from `pki export --spire`, join-token node attestation, a
//! spire-agent on loopback, and the SVIDs it hands out checked by OpenSSL, `pki verify`, Go's
//! crypto/x509, go-spiffe and a mutual-TLS handshake; then the upstream revoked.
//!
//! The binaries come from `.ci/run`, which builds them once into a cache outside the clone
//! (`$PKI_SPIRE_BIN`, default `~/.cache/pki-spire/bin`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::server::free_port;
use common::*;

fn spire_bin(name: &str) -> PathBuf {
    let dir = std::env::var_os("PKI_SPIRE_BIN").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".cache/pki-spire/bin")
    });
    let p = dir.join(name);
    assert!(p.is_file(), "{} is missing: .ci/run builds SPIRE v1.13.3 there (or set PKI_SPIRE_BIN)", p.display());
    p
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `bin args` in `dir` with stdout and stderr in `log`; killed when dropped.
fn spawn_logged(bin: &Path, args: &[&str], dir: &Path, log: &Path) -> Killed {
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    Killed(Command::new(bin).args(args).current_dir(dir).stdout(out).stderr(Stdio::from(err)).spawn().unwrap())
}

fn run(cmd: &mut Command) -> (bool, String) {
    let o = cmd.output().unwrap();
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

fn wait_for(what: &str, log: &Path, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{what} not ready after 60 s:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Splits a PEM file into (first certificate, the rest).
fn split_chain(dir: &Path, file: &str, leaf: &str, rest: &str) {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let blocks: Vec<&str> =
        text.split_inclusive("-----END CERTIFICATE-----\n").filter(|b| b.contains("BEGIN")).collect();
    assert!(
        blocks.len() >= 3,
        "{file}: leaf, SPIRE's CA and our upstream expected, got {} certificate(s)",
        blocks.len()
    );
    std::fs::write(dir.join(leaf), blocks[0]).unwrap();
    std::fs::write(dir.join(rest), blocks[1..].concat()).unwrap();
}

#[test]
fn spire_issues_svids_under_our_root() {
    let (server_bin, agent_bin) = (spire_bin("spire-server"), spire_bin("spire-agent"));
    let env = Env::new();
    env.init_plain();
    let td = "acme.internal";
    let w = env.tmp.path().to_path_buf();

    // Acceptance 4: an intermediate SPIRE cannot sign under is refused by pki, in one line.
    let o = env.run(&[
        "create-intermediate",
        "bad",
        "--for-spire",
        "--trust-domain",
        td,
        "--path-len",
        "0",
        "--no-passphrase",
    ]);
    let line = assert_one_line_error(&o);
    assert!(line.contains("--path-len 0") && line.contains("SPIRE signs its own CA"), "{line}");
    let o = env.run(&[
        "create-intermediate",
        "bad",
        "--for-spire",
        "--trust-domain",
        td,
        "--ttl",
        "12h",
        "--no-passphrase",
    ]);
    let line = assert_one_line_error(&o);
    assert!(line.contains("ca_ttl"), "{line}");

    let made = env.run(&[
        "create-intermediate",
        "spire",
        "--for-spire",
        "--trust-domain",
        td,
        "--ttl",
        "30d",
        "--no-passphrase",
    ]);
    assert!(made.status.success(), "{}", stderr(&made));
    assert!(stderr(&made).contains("SPIRE's ca_ttl (24h)"), "{}", stderr(&made));
    // pki never issues from it.
    env.append_settings("\n[profiles.via-spire]\nca = \"spire\"\nallowed_dns = [\"*.acme.internal\"]\n");
    let o = env.run(&["issue", "--profile", "via-spire", "--dns", "x.acme.internal", "--out", "x"]);
    let line = assert_one_line_error(&o);
    assert!(line.contains("SPIRE's upstream"), "{line}");

    let block = env.ok(&["export", "spire", "--spire", "up"]);
    assert!(block.contains("UpstreamAuthority \"disk\""), "{block}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(w.join("up/upstream.key")).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(
        ledger_chain_intact(&env.ca()).1.iter().any(|r| r["event"] == "ca-key-exported" && r["data"]["ca"] == "spire")
    );
    env.ok(&["export", "--trust-bundle", "--format", "spiffe", "--out", "bundle.spiffe.json"]);

    // spire-server on loopback with our upstream.
    let port = free_port();
    let server_sock = w.join("server.sock");
    std::fs::write(
        w.join("server.conf"),
        format!(
            r#"server {{
    bind_address = "127.0.0.1"
    bind_port = "{port}"
    socket_path = "{sock}"
    trust_domain = "{td}"
    data_dir = "{w}/server-data"
    log_level = "INFO"
    ca_ttl = "24h"
    default_x509_svid_ttl = "1h"
}}
plugins {{
    DataStore "sql" {{
        plugin_data {{
            database_type = "sqlite3"
            connection_string = "{w}/server-data/datastore.sqlite3"
        }}
    }}
    NodeAttestor "join_token" {{
        plugin_data {{}}
    }}
    KeyManager "memory" {{
        plugin_data {{}}
    }}
{block}}}
"#,
            sock = server_sock.display(),
            w = w.display(),
        ),
    )
    .unwrap();
    let server_log = w.join("server.log");
    let _server = spawn_logged(&server_bin, &["run", "-config", "server.conf"], &w, &server_log);
    let sock = server_sock.to_str().unwrap().to_string();
    wait_for("spire-server", &server_log, || {
        run(Command::new(&server_bin).args(["healthcheck", "-socketPath", &sock])).0
    });
    let (ok, out) = run(Command::new(&server_bin).args([
        "token",
        "generate",
        "-socketPath",
        &sock,
        "-spiffeID",
        &format!("spiffe://{td}/agent"),
    ]));
    assert!(ok, "{out}");
    let token = out.split_whitespace().last().unwrap().to_string();
    let uid = unsafe { libc::getuid() }.to_string();
    for w_id in ["a", "b"] {
        let (ok, out) = run(Command::new(&server_bin).args([
            "entry",
            "create",
            "-socketPath",
            &sock,
            "-parentID",
            &format!("spiffe://{td}/agent"),
            "-spiffeID",
            &format!("spiffe://{td}/workload/{w_id}"),
            "-selector",
            &format!("unix:uid:{uid}"),
        ]));
        assert!(ok, "{out}");
    }

    // SPIRE reads pki's SPIFFE bundle too (as a federated trust domain's bundle).
    let (ok, out) = run(Command::new(&server_bin).args([
        "bundle",
        "set",
        "-socketPath",
        &sock,
        "-format",
        "spiffe",
        "-id",
        "spiffe://partner.example",
        "-path",
        w.join("bundle.spiffe.json").to_str().unwrap(),
    ]));
    assert!(ok, "spire-server bundle set -format spiffe: {out}");
    let (ok, out) = run(Command::new(&server_bin).args([
        "bundle",
        "list",
        "-socketPath",
        &sock,
        "-id",
        "spiffe://partner.example",
    ]));
    assert!(ok && out.contains("BEGIN CERTIFICATE"), "{out}");

    // spire-agent, trusting only our root.
    let agent_sock = w.join("agent.sock");
    std::fs::write(
        w.join("agent.conf"),
        format!(
            r#"agent {{
    data_dir = "{w}/agent-data"
    log_level = "INFO"
    server_address = "127.0.0.1"
    server_port = "{port}"
    socket_path = "{sock}"
    trust_bundle_path = "{w}/up/bundle.pem"
    trust_domain = "{td}"
}}
plugins {{
    NodeAttestor "join_token" {{
        plugin_data {{}}
    }}
    KeyManager "memory" {{
        plugin_data {{}}
    }}
    WorkloadAttestor "unix" {{
        plugin_data {{}}
    }}
}}
"#,
            sock = agent_sock.display(),
            w = w.display(),
        ),
    )
    .unwrap();
    let agent_log = w.join("agent.log");
    let _agent = spawn_logged(&agent_bin, &["run", "-config", "agent.conf", "-joinToken", &token], &w, &agent_log);
    let asock = agent_sock.to_str().unwrap().to_string();
    std::fs::create_dir_all(w.join("svids")).unwrap();
    wait_for("an SVID from spire-agent", &agent_log, || {
        let (ok, out) = run(Command::new(&agent_bin)
            .args(["api", "fetch", "x509", "-socketPath", &asock, "-write", "svids"])
            .current_dir(&w));
        ok && out.contains(&format!("spiffe://{td}/workload/b")) && out.contains(&format!("spiffe://{td}/workload/a"))
    });
    let svids = w.join("svids");
    // Acceptance 1: the chain ends at our root: leaf, SPIRE's CA, our upstream.
    split_chain(&svids, "svid.0.pem", "leaf0.pem", "chain0.pem");
    split_chain(&svids, "svid.1.pem", "leaf1.pem", "chain1.pem");
    std::fs::copy(w.join("up/bundle.pem"), svids.join("root.pem")).unwrap();

    // Acceptance 2: OpenSSL, pki verify, Go crypto/x509, go-spiffe; pki inspect; mutual TLS.
    let o = openssl(
        &[
            "verify",
            "-x509_strict",
            "-purpose",
            "sslclient",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "chain0.pem",
            "leaf0.pem",
        ],
        &svids,
    );
    assert!(o.status.success(), "openssl: {}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    let verify = |extra: &[&str]| {
        let mut args =
            vec!["verify", "svids/leaf0.pem", "--chain", "svids/chain0.pem", "--purpose", "client", "--json"];
        args.extend_from_slice(extra);
        env.run(&args)
    };
    let v = verify(&["--no-revocation-check"]);
    assert!(v.status.success(), "pki verify: {}{}", String::from_utf8_lossy(&v.stdout), stderr(&v));
    let go_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/spire");
    let (ok, out) = run(Command::new("go")
        .args(["run", "."])
        .arg(td)
        .arg(svids.join("root.pem"))
        .arg(svids.join("svid.0.pem"))
        .arg(w.join("bundle.spiffe.json"))
        .current_dir(&go_dir));
    assert!(ok, "go: {out}");
    let res: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(res["x509"], "ok", "{out}");
    assert!(res["spiffe"].as_str().unwrap().starts_with(&format!("ok spiffe://{td}/workload/")), "{out}");
    let inspect = env.ok(&["inspect", "svids/leaf0.pem", "--json"]);
    let i: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(i["svid"]["valid"], true, "{inspect}");
    assert!(i["svid"]["spiffe_id"].as_str().unwrap().starts_with(&format!("spiffe://{td}/workload/")), "{inspect}");
    // Two workloads, each presenting its SVID, each trusting only our root.
    let sport = free_port();
    let mut s_server = Killed(
        Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                &format!("127.0.0.1:{sport}"),
                "-cert",
                "leaf0.pem",
                "-cert_chain",
                "chain0.pem",
                "-key",
                "svid.0.key",
            ])
            .args(["-CAfile", "root.pem", "-Verify", "3", "-verify_return_error", "-naccept", "2", "-www"])
            .current_dir(&svids)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", sport)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "s_server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{sport}"),
            "-cert",
            "leaf1.pem",
            "-cert_chain",
            "chain1.pem",
            "-key",
            "svid.1.key",
        ])
        .args(["-CAfile", "root.pem", "-verify_return_error", "-x509_strict"])
        .current_dir(&svids)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let client_out = String::from_utf8_lossy(&o.stdout);
    assert!(client_out.contains("Verify return code: 0 (ok)"), "s_client: {client_out}{}", stderr(&o));
    let _ = s_server.0.wait();

    // Acceptance 3: the upstream revoked, in the root's CRL.
    env.ok(&["revoke", "--cert", "up/upstream.pem", "--reason", "cessationOfOperation"]);
    env.ok(&["gen-crl", "--ca", "root"]);
    std::fs::copy(env.ca().join("crl/root.crl.pem"), w.join("root.crl.pem")).unwrap();
    let o = openssl(
        &["verify", "-crl_check", "-CAfile", "up/bundle.pem", "-CRLfile", "root.crl.pem", "up/upstream.pem"],
        &w,
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("certificate revoked")
            || stderr(&o).contains("certificate revoked")
    );
    let v = verify(&["--no-revocation-check"]);
    assert!(!v.status.success());
    let verdict = String::from_utf8_lossy(&v.stdout).to_string();
    assert!(verdict.contains("revoked"), "{verdict}{}", stderr(&v));
    let report: serde_json::Value = serde_json::from_slice(&env.run(&["audit", "--json"]).stdout).unwrap();
    assert!(finding_triples(&report).contains(&("critical".into(), "ca-revoked".into(), "spire".into())), "{report:#}");
}

/// With a short-lived SPIRE upstream and a fixed clock, audit says SPIRE's CA will be cut short.
#[test]
fn audit_reports_a_spire_upstream_shorter_than_ca_ttl() {
    let env = Env::new();
    env.init_plain();
    env.ok(&[
        "create-intermediate",
        "spire",
        "--for-spire",
        "--trust-domain",
        "acme.internal",
        "--ttl",
        "3d",
        "--spire-ca-ttl",
        "24h",
        "--no-passphrase",
    ]);
    let not_after = env.ok(&["inspect", "ca/cas/spire/cert.pem", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&not_after).unwrap();
    let end =
        time::OffsetDateTime::parse(v["not_after"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    let at = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let codes = |now: &str| {
        let o = env.at(now, &["audit", "--json", "--expiring", "1h"]);
        finding_triples(&serde_json::from_slice(&o.stdout).unwrap())
    };
    let early = codes(&at(end - time::Duration::hours(48)));
    assert!(!early.iter().any(|(_, c, _)| c == "spire-upstream-cannot-cover"), "{early:?}");
    let late = codes(&at(end - time::Duration::hours(12)));
    assert!(late.contains(&("warning".into(), "spire-upstream-cannot-cover".into(), "spire".into())), "{late:?}");
}
