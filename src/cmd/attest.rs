//! `pki attest`: on a CI runner or agent, make a key, and trade the job's OIDC token and a CSR
//! for an X.509-SVID from `pki serve` (`POST /attest/POLICY`). Nothing secret of the CA is
//! needed here: the server URL and the root to trust are enough. The token is read from a
//! file, a variable, or the CI's own mechanism, and never printed.

use std::io::{Read, Write};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::cli::AttestArgs;
use crate::ctx::Ctx;
use crate::exit_codes::Exit;

/// GitLab puts the token in the variable named in the job's `id_tokens:`; this is the one
/// `--gitlab` reads (documented in the README's guide).
pub const GITLAB_VAR: &str = "PKI_ID_TOKEN";
const TIMEOUT: Duration = Duration::from_secs(30);
const MAX_ANSWER: usize = 256 << 10;

pub fn run(args: AttestArgs, ctx: &mut Ctx) -> Result<Exit> {
    let server = args.server.trim_end_matches('/').to_string();
    if !server.starts_with("https://") {
        bail!(
            "--server '{server}' is not https://: the token would travel in clear (attestation is served over HTTPS only)"
        );
    }
    if args.policy.is_empty() || !args.policy.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        bail!("invalid --policy '{}': letters, digits, '-' and '_'", args.policy.escape_default());
    }
    let to_stdout = args.out.as_os_str() == "-";
    const FILES: [&str; 4] = ["cert.pem", "chain.pem", "key.pem", "root.pem"];
    if !to_stdout {
        // Refused before a token is spent: existing files without --force.
        pki_core::issuance::check_targets(&args.out, &FILES, args.force)?;
    }
    let token = token(&args, &server)?;
    let key = pki_core::keys::generate(args.key_type.into())?;
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| anyhow!("cannot make a CSR: {e}"))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params.serialize_request(&key.pair).map_err(|e| anyhow!("cannot make a CSR: {e}"))?;
    let csr_pem = csr.pem().map_err(|e| anyhow!("cannot encode the CSR: {e}"))?;
    let roots = pki_serve::client::roots(args.ca_file.as_deref())?;
    let url = format!("{server}/attest/{}", args.policy);
    let a = pki_serve::client::request_blocking(
        "POST",
        &url,
        &[
            ("authorization", format!("Bearer {}", token.as_str())),
            ("content-type", "application/pkcs10".into()),
            ("accept", "application/json".into()),
        ],
        csr_pem.into_bytes(),
        &roots,
        MAX_ANSWER,
        TIMEOUT,
    )?;
    drop(token);
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap_or(serde_json::Value::Null);
    if a.status != 201 {
        let rule = v.get("type").and_then(|t| t.as_str()).unwrap_or("(no problem document)");
        return Err(pki_core::attest::AttestRefused {
            rule: rule.trim_start_matches("urn:pki:attest:").to_string(),
            status: a.status,
            detail: v.get("detail").and_then(|t| t.as_str()).unwrap_or("").to_string(),
            url,
        }
        .into());
    }
    let field = |k: &str| -> Result<String> {
        v.get(k).and_then(|x| x.as_str()).map(str::to_string).ok_or_else(|| anyhow!("{url}: the answer has no {k}"))
    };
    let (cert, chain, root) = (field("cert_pem")?, field("chain_pem")?, field("root_pem")?);
    let (spiffe_id, serial, not_after) = (field("spiffe_id")?, field("serial")?, field("not_after")?);
    let key_pem = pki_core::keys::to_pem(&key.der, None)?;
    if to_stdout {
        if args.json {
            let out = serde_json::json!({
                "spiffe_id": spiffe_id, "serial": serial, "not_after": not_after, "policy": args.policy,
                "cert_pem": cert, "chain_pem": chain, "key_pem": key_pem.as_str(), "root_pem": root,
            });
            writeln!(ctx.out, "{out}")?;
        } else {
            write!(ctx.out, "{cert}{chain}{}", key_pem.as_str())?;
        }
    } else {
        pki_core::issuance::write_out_dir(
            &args.out,
            &[
                (FILES[0], cert.as_bytes(), 0o644),
                (FILES[1], chain.as_bytes(), 0o644),
                (FILES[2], key_pem.as_bytes(), 0o600),
                (FILES[3], root.as_bytes(), 0o644),
            ],
            args.force,
        )?;
        if args.json {
            let out = serde_json::json!({
                "spiffe_id": spiffe_id, "serial": serial, "not_after": not_after, "policy": args.policy,
                "out": args.out.display().to_string(),
            });
            writeln!(ctx.out, "{out}")?;
        }
    }
    ctx.say(format!("SVID {spiffe_id} (serial {serial}) valid until {not_after}"));
    Ok(Exit::Success)
}

/// The token, from where the flags say; wiped when dropped.
fn token(args: &AttestArgs, server: &str) -> Result<zeroize::Zeroizing<String>> {
    let t = if let Some(f) = &args.token_file {
        let mut s = String::new();
        if f.as_os_str() == "-" {
            std::io::stdin()
                .take(64 << 10)
                .read_to_string(&mut s)
                .context("cannot read the token from standard input")?;
        } else {
            s = std::fs::read_to_string(f).with_context(|| format!("cannot read the token file {}", f.display()))?;
        }
        s
    } else if let Some(var) = &args.token_env {
        std::env::var(var).map_err(|_| anyhow!("--token-env {var}: the variable is not set"))?
    } else if args.gitlab {
        std::env::var(GITLAB_VAR).map_err(|_| {
            anyhow!(
                "--gitlab: ${GITLAB_VAR} is not set: add `id_tokens: {{{GITLAB_VAR}: {{aud: AUDIENCE}}}}` to the job"
            )
        })?
    } else {
        github_token(args.audience.as_deref().unwrap_or(server))?
    };
    let t = t.trim().to_string();
    if t.is_empty() {
        bail!("the token is empty");
    }
    Ok(zeroize::Zeroizing::new(t))
}

/// GitHub Actions: GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD with the request token as a
/// bearer; the answer is `{"value": TOKEN}`.
fn github_token(audience: &str) -> Result<String> {
    let url = std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL").map_err(|_| {
        anyhow!("--github: ACTIONS_ID_TOKEN_REQUEST_URL is not set: the job needs `permissions: id-token: write`")
    })?;
    let bearer = zeroize::Zeroizing::new(
        std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
            .map_err(|_| anyhow!("--github: ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set"))?,
    );
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{sep}audience={}", pki_serve::ui::query_encode(audience));
    let roots = pki_serve::client::roots(None)?;
    let a = pki_serve::client::request_blocking(
        "GET",
        &full,
        &[("authorization", format!("bearer {}", bearer.as_str())), ("accept", "application/json".into())],
        vec![],
        &roots,
        64 << 10,
        TIMEOUT,
    )
    .context("--github: cannot get the job's token")?;
    if a.status != 200 {
        bail!("--github: the token service answered HTTP {}", a.status);
    }
    let v: serde_json::Value =
        serde_json::from_slice(&a.body).context("--github: the token service's answer is not JSON")?;
    v.get("value")
        .and_then(|x| x.as_str())
        .map(str::to_string)
        .ok_or_else(|| anyhow!("--github: the answer has no value"))
}
