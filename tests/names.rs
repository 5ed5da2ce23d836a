//! Names × name constraints × profiles (issue 18): every row carries its committed verdict —
//! issued, or refused with the rule named — and every issued certificate is judged by OpenSSL
//! (`-x509_strict`) and Go's crypto/x509 under its chain's name constraints; every refusal
//! exits 2 and changes nothing.

mod common;

use common::*;
use serde_json::{Value, json};

/// The CAs: (name, constraint flags).
const CAS: &[(&str, &[&str])] = &[
    ("plain", &[]),
    ("dnsc", &["--permit-dns", "acme.internal"]),
    ("ipc", &["--permit-ip", "10.0.0.0/8"]),
    (
        "both",
        &[
            "--permit-dns",
            "acme.internal",
            "--permit-ip",
            "10.0.0.0/8",
            "--exclude-dns",
            "bad.acme.internal",
            "--exclude-ip",
            "10.9.0.0/16",
        ],
    ),
];

/// (request, verdict per CA in the order of CAS: "ok" or a part of the refusal).
const ROWS: &[(&[&str], [&str; 4])] = &[
    (&["--dns", "a.acme.internal"], ["ok", "ok", "ok", "ok"]),
    (&["--dns", "A.Acme.Internal."], ["ok", "ok", "ok", "ok"]),
    (&["--dns", "a.example.org"], ["ok", "clients would reject", "ok", "clients would reject"]),
    (&["--dns", "x.bad.acme.internal"], ["ok", "ok", "ok", "clients would reject"]),
    (&["--ip", "10.1.2.3"], ["ok", "ok", "ok", "ok"]),
    (&["--ip", "192.0.2.1"], ["ok", "ok", "clients would reject", "clients would reject"]),
    (&["--ip", "::ffff:10.9.1.1"], ["ok", "ok", "ok", "clients would reject"]),
    (&["--uri", "https://svc.acme.internal/team/x"], ["ok", "ok", "ok", "ok"]),
    (&["--uri", "https://evil.com?.acme.internal/x"], ["no query", "no query", "no query", "no query"]),
    (&["--uri", "https://user@svc.acme.internal/x"], ["user info", "user info", "user info", "user info"]),
    (&["--dns", "bücher.acme.internal"], ["punycode", "punycode", "punycode", "punycode"]),
    (&["--cn", "a.acme.internal", "--dns", "a.acme.internal", "--ip", "10.2.0.1"], ["ok", "ok", "ok", "ok"]),
    (&["--cn", "Front Door", "--dns", "a.acme.internal"], ["CN", "CN", "CN", "CN"]),
];

#[test]
fn every_name_under_every_constraint_is_issued_as_verifiers_accept_or_refused() {
    let env = Env::new();
    env.init();
    let mut profiles = String::new();
    for (name, flags) in CAS {
        let mut args =
            vec!["create-intermediate", name, "--passphrase-file", "root.pass", "--new-passphrase-file", "int.pass"];
        args.extend_from_slice(flags);
        env.ok(&args);
        env.ok(&["gen-crl", "--ca", name, "--passphrase-file", "int.pass"]);
        profiles.push_str(&format!(
            "\n[profiles.p-{name}]\nca = \"{name}\"\nallowed_dns = [\"**.acme.internal\", \"**.example.org\"]\nallowed_ips = [\"0.0.0.0/0\", \"::/0\"]\nallowed_uris = [\"https://*.acme.internal/**\"]\n"
        ));
    }
    env.append_settings(&profiles);
    env.ok(&["gen-crl", "--ca", "root", "--passphrase-file", "root.pass"]);

    let (mut accepted, mut rows, mut leaves) = (0, 0, vec![]);
    for (r, (request, verdicts)) in ROWS.iter().enumerate() {
        for ((ca, _), want) in CAS.iter().zip(verdicts) {
            rows += 1;
            let out = format!("r{r}-{ca}");
            let mut args = vec!["issue", "--passphrase-file", "int.pass", "--profile"];
            let profile = format!("p-{ca}");
            args.push(&profile);
            args.extend_from_slice(request);
            args.extend_from_slice(&["--out", &out]);
            let before = snapshot(&env.ca());
            let o = env.run(&args);
            if *want == "ok" {
                assert!(o.status.success(), "{request:?} under {ca}: {}", stderr(&o));
                let v = openssl_verify(env.tmp.path(), &out, "sslserver");
                assert!(
                    v.status.success(),
                    "OpenSSL rejects {request:?} under {ca}: {}{}",
                    String::from_utf8_lossy(&v.stdout),
                    stderr(&v)
                );
                leaves.push(json!({
                    "name": out, "cert": env.path(&format!("{out}/cert.pem")), "chain": env.path(&format!("{out}/chain.pem")),
                    "ca": ca, "purposes": ["server", "client"], "dns": "", "revoked": false,
                }));
                accepted += 1;
            } else {
                assert_eq!(o.status.code(), Some(2), "{request:?} under {ca} was not refused: {}", stderr(&o));
                let e = assert_one_line_error(&o);
                assert!(e.contains(want), "{request:?} under {ca}: expected '{want}' in: {e}");
                assert_eq!(snapshot(&env.ca()), before, "{request:?} under {ca}: a refusal changed the directory");
            }
        }
    }
    assert!(accepted * 3 >= rows, "at least a third of the rows are accepted ({accepted} of {rows})");

    // Go's crypto/x509 judges every issued certificate too (its name-constraint checks are the
    // ones Kubernetes, SPIRE and most control planes use).
    let cas: Vec<Value> = ["root", "plain", "dnsc", "ipc", "both"]
        .iter()
        .map(|n| {
            json!({"name": n, "cert": env.ca().join(format!("cas/{n}/cert.pem")), "crl": env.ca().join(format!("crl/{n}.crl.pem"))})
        })
        .collect();
    let manifest = json!({"root": env.ca().join("cas/root/cert.pem"), "cas": cas, "leaves": leaves, "reject": []});
    let Some(results) = go_verify(&env, &manifest) else { return };
    let failed: Vec<&Value> = results.iter().filter(|r| r["ok"] != true).collect();
    assert!(failed.is_empty(), "Go rejects: {failed:#?}");
    assert_eq!(results.iter().filter(|r| r["check"] == "go-verify-server").count(), accepted);
}
