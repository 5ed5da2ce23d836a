//! `pki inspect FILE|-`: describe certificates, chains, CSRs, CRLs and keys.

use std::io::{Read, Write};

use anyhow::{Context, Result};

use crate::cli::{GlobalArgs, InspectArgs};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;
use pki_core::inspect::{self, Object};

/// Inputs larger than this are not certificates; refuse rather than read a disk image.
const MAX_INPUT: u64 = 64 << 20;

pub fn run(args: InspectArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let mut buf = Vec::new();
    let mut source = if args.file == "-" { "standard input".to_string() } else { args.file.clone() };
    // A serial names a certificate of the CA directory (when no file has that name).
    let mut path = std::path::PathBuf::from(&args.file);
    if args.file != "-"
        && !path.exists()
        && let Ok(serial) = pki_core::serial::Serial::parse(&args.file)
        && let Ok(dir) = pki_core::store::CaDir::open(&g.dir)
    {
        path = dir.cert_path(&serial);
        if !path.exists() {
            anyhow::bail!(
                "no file {} and no certificate with serial {} in {}",
                args.file,
                serial.hex(),
                g.dir.display()
            );
        }
        source = format!("certificate {}", serial.hex());
    }
    if args.file == "-" {
        std::io::stdin().take(MAX_INPUT + 1).read_to_end(&mut buf).context("cannot read standard input")?;
    } else {
        let f = std::fs::File::open(&path).with_context(|| format!("cannot read {}", args.file))?;
        f.take(MAX_INPUT + 1).read_to_end(&mut buf).with_context(|| format!("cannot read {}", args.file))?;
    }
    if buf.len() as u64 > MAX_INPUT {
        anyhow::bail!("{source} is larger than 64 MiB: not a certificate, CSR, CRL or key");
    }
    let objects = inspect::inspect(&buf, &source, ctx.now)?;
    let histories = if args.history { Some(histories(&objects, g)?) } else { None };
    if args.json {
        let mut values: Vec<serde_json::Value> = objects.iter().map(serde_json::to_value).collect::<Result<_, _>>()?;
        if let Some(h) = &histories {
            for (v, records) in values.iter_mut().zip(h) {
                if let (Some(o), Some(r)) = (v.as_object_mut(), records) {
                    o.insert("history".into(), serde_json::to_value(r)?);
                }
            }
        }
        let v = if values.len() == 1 { values.remove(0) } else { serde_json::json!({ "objects": values }) };
        serde_json::to_writer_pretty(&mut ctx.out, &v)?;
        writeln!(ctx.out)?;
    } else {
        render(&objects, &mut ctx.out)?;
        if let Some(h) = &histories {
            for (o, records) in objects.iter().zip(h) {
                if let (Object::Certificate(c), Some(records)) = (o, records) {
                    writeln!(ctx.out, "\nHistory of {} (ledger):", c.serial)?;
                    if records.is_empty() {
                        writeln!(ctx.out, "  (no record: not issued from this CA directory)")?;
                    }
                    for r in records {
                        writeln!(ctx.out, "  {}", history_line(r))?;
                    }
                }
            }
        }
    }
    Ok(Exit::Success)
}

/// The ledger records about each certificate among `objects` (None for other objects).
fn histories(objects: &[Object], g: &GlobalArgs) -> Result<Vec<Option<Vec<pki_core::store::LedgerRecord>>>> {
    let dir = pki_core::store::CaDir::open(&g.dir).context("--history reads the CA directory's ledger")?;
    objects
        .iter()
        .map(|o| match o {
            Object::Certificate(c) => dir.ledger_records_about(&c.serial).map(Some),
            _ => Ok(None),
        })
        .collect()
}

/// One record as a line: time, event, actor, CI or OIDC facts, note.
pub fn history_line(r: &pki_core::store::LedgerRecord) -> String {
    let mut s = format!("{}  {:<14} by {}", r.time, r.event, r.actor);
    if !r.ci.is_empty() {
        s.push_str(&format!(
            " [{}]",
            r.ci.iter().map(|(k, v)| format!("{k}={}", v.escape_default())).collect::<Vec<_>>().join(" ")
        ));
    }
    if let Some(n) = &r.note {
        s.push_str(&format!(" ({})", n.escape_default()));
    }
    if let Some(why) = r.data.get("reason").and_then(|v| v.as_str()) {
        s.push_str(&format!(" reason {why}"));
    }
    s
}

/// The human form: one block per object.
pub fn render(objects: &[Object], w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let n = objects.len();
    for (i, o) in objects.iter().enumerate() {
        if n > 1 {
            writeln!(w, "[{}/{}]", i + 1, n)?;
        }
        match o {
            Object::Certificate(c) => {
                let kind = if c.is_ca {
                    if c.self_signed { "root CA certificate" } else { "CA certificate" }
                } else {
                    "certificate"
                };
                writeln!(w, "Type:        {kind}")?;
                writeln!(w, "Subject:     {}", c.subject)?;
                writeln!(w, "Issuer:      {}", c.issuer)?;
                writeln!(w, "Serial:      {}", c.serial)?;
                writeln!(w, "Valid:       {} to {} ({})", c.not_before, c.not_after, c.time_left)?;
                if !c.sans.is_empty() {
                    writeln!(w, "SANs:        {}", c.sans.join(", "))?;
                }
                let bits = c.public_key.bits.map(|b| format!(" ({b} bits)")).unwrap_or_default();
                writeln!(w, "Key:         {}{bits}", c.public_key.algorithm)?;
                writeln!(w, "Signature:   {}", c.signature_algorithm)?;
                let ca = match (c.is_ca, c.path_len) {
                    (true, Some(p)) => format!("CA:TRUE, pathlen:{p}"),
                    (true, None) => "CA:TRUE".into(),
                    (false, _) => "CA:FALSE".into(),
                };
                writeln!(w, "Constraints: {ca}")?;
                if !c.key_usage.is_empty() {
                    writeln!(w, "Key usage:   {}", c.key_usage.join(", "))?;
                }
                if !c.ext_key_usage.is_empty() {
                    writeln!(w, "Ext. usage:  {}", c.ext_key_usage.join(", "))?;
                }
                if let Some(nc) = &c.name_constraints {
                    writeln!(
                        w,
                        "Names:       permitted [{}] excluded [{}]{}",
                        nc.permitted.join(", "),
                        nc.excluded.join(", "),
                        if nc.critical { " (critical)" } else { "" }
                    )?;
                }
                if let Some(k) = &c.subject_key_id {
                    writeln!(w, "Subject KID: {k}")?;
                }
                if let Some(k) = &c.authority_key_id {
                    writeln!(w, "Issuer KID:  {k}")?;
                }
                writeln!(w, "SHA-256:     {}", c.sha256_fingerprint)?;
                if let Some(ok) = c.signed_by_next {
                    writeln!(
                        w,
                        "Chain:       {}",
                        if ok { "signed by the next certificate" } else { "NOT signed by the next certificate" }
                    )?;
                }
                match (&c.svid.spiffe_id, c.svid.valid) {
                    (Some(id), true) => writeln!(w, "SVID:        valid X.509-SVID for {id}")?,
                    (Some(id), false) => {
                        writeln!(w, "SVID:        NOT a valid X.509-SVID for {id}: {}", c.svid.problems.join("; "))?
                    }
                    (None, _) => writeln!(w, "SVID:        no (no spiffe:// URI SAN)")?,
                }
            }
            Object::Csr(c) => {
                writeln!(w, "Type:        certificate signing request")?;
                writeln!(w, "Subject:     {}", c.subject)?;
                let bits = c.public_key.bits.map(|b| format!(" ({b} bits)")).unwrap_or_default();
                writeln!(w, "Key:         {}{bits}", c.public_key.algorithm)?;
                writeln!(w, "Signature:   {}", if c.signature_valid { "valid" } else { "INVALID" })?;
                if !c.requested_sans.is_empty() {
                    writeln!(w, "SANs:        {}", c.requested_sans.join(", "))?;
                }
                if c.requests_ca {
                    writeln!(w, "Requests:    CA:TRUE")?;
                }
            }
            Object::Crl(c) => {
                writeln!(w, "Type:        certificate revocation list")?;
                writeln!(w, "Issuer:      {}", c.issuer)?;
                writeln!(w, "This update: {}", c.this_update)?;
                writeln!(
                    w,
                    "Next update: {} ({}){}",
                    c.next_update.as_deref().unwrap_or("none"),
                    c.time_left.as_deref().unwrap_or("no expiry"),
                    if c.stale { " STALE: regenerate it" } else { "" }
                )?;
                if let Some(nr) = &c.crl_number {
                    writeln!(w, "CRL number:  {nr}")?;
                }
                writeln!(w, "Revoked:     {}", c.revoked_count)?;
                if !c.revoked.is_empty() {
                    let mut t = comfy_table::Table::new();
                    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
                    t.set_header(vec!["Serial", "Revoked at", "Reason"]);
                    for r in c.revoked.iter().take(50) {
                        t.add_row(vec![
                            r.serial.clone(),
                            r.revoked_at.clone(),
                            r.reason.clone().unwrap_or_else(|| "-".into()),
                        ]);
                    }
                    writeln!(w, "{t}")?;
                    if c.revoked.len() > 50 {
                        writeln!(w, "... {} more (use --json for all)", c.revoked.len() - 50)?;
                    }
                }
            }
            Object::PrivateKey(k) => {
                writeln!(w, "Type:        {}", k.kind)?;
                if k.encrypted {
                    writeln!(w, "Encrypted:   yes ({})", k.encryption.as_deref().unwrap_or("unknown scheme"))?;
                } else {
                    let bits = k.bits.map(|b| format!(" ({b} bits)")).unwrap_or_default();
                    writeln!(w, "Key:         {}{bits}", k.algorithm)?;
                    writeln!(w, "Encrypted:   no")?;
                }
            }
            Object::PublicKey(k) => {
                writeln!(w, "Type:        public key")?;
                let bits = k.bits.map(|b| format!(" ({b} bits)")).unwrap_or_default();
                writeln!(w, "Key:         {}{bits}", k.algorithm)?;
            }
        }
        if i + 1 < n {
            writeln!(w)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The text rendering over whatever the core's inspection makes of mutated objects: it
    //! never panics, and a certificate's block names its serial (the core fuzzes the parsing).

    use proptest::prelude::*;
    use std::sync::OnceLock;
    use time::OffsetDateTime;

    /// A CA certificate, a CSR and a CRL in DER, made once.
    fn samples() -> &'static [Vec<u8>; 3] {
        static S: OnceLock<[Vec<u8>; 3]> = OnceLock::new();
        S.get_or_init(|| {
            // A CA (the CRL's issuer) whose key also signs the CSR.
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            let mut ca = rcgen::CertificateParams::new(vec!["render.acme.internal".into()]).unwrap();
            ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(1));
            let (cert, csr) = (ca.self_signed(&key).unwrap(), ca.serialize_request(&key).unwrap());
            let issuer = rcgen::Issuer::new(ca, &key);
            let crl = rcgen::CertificateRevocationListParams {
                this_update: OffsetDateTime::UNIX_EPOCH,
                next_update: OffsetDateTime::UNIX_EPOCH + time::Duration::days(7),
                crl_number: rcgen::SerialNumber::from(1u64),
                issuing_distribution_point: None,
                revoked_certs: (0..60u64)
                    .map(|n| rcgen::RevokedCertParams {
                        serial_number: rcgen::SerialNumber::from(n + 1),
                        revocation_time: OffsetDateTime::UNIX_EPOCH,
                        reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                        invalidity_date: None,
                    })
                    .collect(),
                key_identifier_method: rcgen::KeyIdMethod::Sha256,
            }
            .signed_by(&issuer)
            .unwrap();
            [cert.der().to_vec(), csr.der().to_vec(), crl.der().to_vec()]
        })
    }

    fn render_all(bytes: &[u8]) {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20000);
        if let Ok(objects) = pki_core::inspect::inspect(bytes, "fuzz", now) {
            let mut out = vec![];
            super::render(&objects, &mut out).unwrap();
            assert!(!out.is_empty());
        }
    }

    #[test]
    fn a_certificate_block_names_its_serial_and_a_long_crl_is_cut() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let [cert, _, crl] = samples();
        let objects = pki_core::inspect::inspect(cert, "c", now).unwrap();
        let mut out = vec![];
        super::render(&objects, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let serial = match &objects[0] {
            pki_core::inspect::Object::Certificate(c) => c.serial.clone(),
            _ => unreachable!(),
        };
        assert!(text.contains(&format!("Serial:      {serial}")), "{text}");
        let mut out = vec![];
        super::render(&pki_core::inspect::inspect(crl, "c", now).unwrap(), &mut out).unwrap();
        assert!(String::from_utf8(out).unwrap().contains("... 10 more (use --json for all)"));
    }

    proptest! {
        #[test]
        fn rendering_mutated_objects_never_panics(
            which in 0usize..3,
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
            cut in any::<Option<prop::sample::Index>>(),
        ) {
            let mut b = samples()[which].clone();
            for (i, v) in edits {
                let i = i.index(b.len());
                b[i] = v;
            }
            if let Some(c) = cut {
                b.truncate(c.index(b.len() + 1));
            }
            render_all(&b);
        }
    }
}
