//! Building certificates with rcgen: roots, intermediates and leaves, with the defaults a
//! private CA should have (random serial, explicit validity, SKI/AKI, critical constraints).

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints, PublicKeyData, SanType, SerialNumber,
};
use time::OffsetDateTime;

use crate::error::PkiError;
use crate::serial::Serial;

/// Leaves start a minute in the past so that a peer whose clock lags slightly accepts them.
pub const BACKDATE: time::Duration = time::Duration::seconds(60);

/// A time as RFC 3339 in UTC with whole seconds, as pki writes times everywhere.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).expect("UTC time formats")
}

/// Parses an RFC 3339 time; the one format pki writes, `YYYY-MM-DDTHH:MM:SSZ`, without the
/// general parser (audits and CRLs parse it hundreds of thousands of times).
pub fn parse_rfc3339(s: &str) -> Result<OffsetDateTime> {
    match parse_time_fast(s) {
        Some(t) => Ok(t),
        None => OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|e| anyhow::anyhow!("bad time '{s}': {e}")),
    }
}

fn parse_time_fast(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(rfc3339_unix(s)?).ok()
}

/// Seconds since 1970 of `YYYY-MM-DDTHH:MM:SSZ` (the one format pki writes), None for anything
/// else or an impossible date. Integer arithmetic only: an audit converts two per record.
pub fn rfc3339_unix(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z'
    {
        return None;
    }
    let digit = |i: usize| -> Option<i64> {
        let c = b[i].wrapping_sub(b'0');
        (c < 10).then_some(i64::from(c))
    };
    let two = |i: usize| Some(digit(i)? * 10 + digit(i + 1)?);
    let year = two(0)? * 100 + two(2)?;
    let (month, day, h, m, sec) = (two(5)?, two(8)?, two(11)?, two(14)?, two(17)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day < 1 || day > month_days || h > 23 || m > 59 || sec > 59 {
        return None;
    }
    // Days from 1970-01-01 of a proleptic Gregorian date, in 400-year eras starting in March.
    let (y, mp) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + (153 * mp + 2) / 5 + day - 1;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

/// A humantime year is 365.25 days; a lifetime of whole years ("10y") ends on the same
/// calendar date instead, as a person expects.
const HUMANTIME_YEAR: u64 = 31_557_600;

/// The end of a validity starting `now` and lasting `ttl`; refuses lifetimes past 9999.
pub fn not_after(now: OffsetDateTime, ttl: Duration) -> Result<OffsetDateTime> {
    let secs = ttl.as_secs();
    if secs.is_multiple_of(HUMANTIME_YEAR) && ttl.subsec_nanos() == 0 {
        let years = i32::try_from(secs / HUMANTIME_YEAR).context("lifetime too long")?;
        let y = now
            .year()
            .checked_add(years)
            .filter(|y| *y <= 9999)
            .ok_or_else(|| anyhow!("lifetime too long: it ends after the year 9999"))?;
        // 29 February of a leap year becomes 28 February in a common year.
        let date = now.date().replace_year(y).or_else(|_| now.date().replace_day(28).and_then(|d| d.replace_year(y)));
        return Ok(now.replace_date(date.map_err(|_| anyhow!("invalid end date"))?));
    }
    let secs = i64::try_from(secs).context("lifetime too long")?;
    now.checked_add(time::Duration::seconds(secs))
        .filter(|t| t.year() <= 9999)
        .ok_or_else(|| anyhow!("lifetime too long: it ends after the year 9999"))
}

fn dn(cn: &str, org: Option<&str>) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    if let Some(o) = org.filter(|o| !o.is_empty()) {
        d.push(DnType::OrganizationName, o);
    }
    d.push(DnType::CommonName, cn);
    d
}

fn base(serial: &Serial, not_before: OffsetDateTime, not_after: OffsetDateTime) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.serial_number = Some(SerialNumber::from_slice(serial.bytes()));
    p.not_before = not_before;
    p.not_after = not_after;
    p
}

/// A self-signed root: CA:TRUE (critical, no path length limit), keyCertSign + cRLSign, SKI.
pub fn build_root(
    cn: &str,
    org: Option<&str>,
    key: &KeyPair,
    serial: &Serial,
    now: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<rcgen::Certificate> {
    let mut p = base(serial, now, not_after);
    p.distinguished_name = dn(cn, org);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    p.self_signed(key).map_err(|e| anyhow!("cannot sign the root certificate: {e}"))
}

/// What an intermediate may name: RFC 5280 name constraints (critical).
#[derive(Debug, Default, Clone)]
pub struct Constraints {
    /// Permitted DNS subtrees.
    pub permit_dns: Vec<String>,
    /// Permitted IP ranges (address, prefix length).
    pub permit_ip: Vec<(IpAddr, u8)>,
    /// Excluded DNS subtrees.
    pub exclude_dns: Vec<String>,
    /// Excluded IP ranges.
    pub exclude_ip: Vec<(IpAddr, u8)>,
    /// URI host constraints (`acme.internal` for `spiffe://acme.internal/...`).
    pub permit_uri: Vec<String>,
}

impl Constraints {
    /// Whether there is no constraint at all.
    pub fn is_empty(&self) -> bool {
        self.permit_dns.is_empty()
            && self.permit_ip.is_empty()
            && self.exclude_dns.is_empty()
            && self.exclude_ip.is_empty()
            && self.permit_uri.is_empty()
    }
}

/// Parses "10.0.0.0/8" or "fd00::/8" (a bare address means a single host).
pub fn parse_cidr(flag: &str, s: &str) -> Result<(IpAddr, u8), PkiError> {
    let bad = |why: &str| PkiError::BadName { kind: "CIDR", value: s.to_string(), why: format!("{why} (in {flag})") };
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| bad("not an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l.parse::<u8>().ok().filter(|&l| l <= max).ok_or_else(|| bad("bad prefix length"))?,
        None => max,
    };
    Ok((ip, len))
}

/// Normalises a DNS suffix constraint: lower case, without a leading "." or "*.".
pub fn dns_suffix(flag: &str, s: &str) -> Result<String, PkiError> {
    let t = s.trim().trim_start_matches("*.").trim_start_matches('.').to_ascii_lowercase();
    check_dns_name(&t, false).map_err(|why| PkiError::BadName {
        kind: "DNS suffix",
        value: s.to_string(),
        why: format!("{why} (in {flag})"),
    })?;
    Ok(t)
}

/// What an intermediate CA's certificate says.
pub struct IntermediateSpec<'a> {
    /// The subject's common name.
    pub cn: &'a str,
    /// The subject's organisation.
    pub org: Option<&'a str>,
    /// The basic constraints' path length.
    pub path_len: u8,
    /// Its name constraints.
    pub constraints: Constraints,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// Where relying parties find the issuer's CRL and certificate.
    pub urls: IssuerUrls,
}

/// Where relying parties find the issuer's CRL and certificate; from the issuing CA's settings.
#[derive(Debug, Clone, Default)]
pub struct IssuerUrls {
    /// The CRL distribution point (HTTP URL).
    pub crl_url: Option<String>,
    /// The CA issuers URL (authority information access).
    pub ca_issuers_url: Option<String>,
    /// The OCSP responder URL (authority information access).
    pub ocsp_url: Option<String>,
}

impl IssuerUrls {
    /// Adds a CRL distribution point and an authority information access (caIssuers) extension.
    fn apply(&self, p: &mut CertificateParams) {
        if let Some(u) = &self.crl_url {
            p.crl_distribution_points = vec![rcgen::CrlDistributionPoint { uris: vec![u.clone()] }];
        }
        // AuthorityInfoAccessSyntax ::= SEQUENCE OF AccessDescription { accessMethod, URI }:
        // id-ad-ocsp first, then id-ad-caIssuers.
        let mut descs = vec![];
        for (oid_last, url) in [(0x01u8, &self.ocsp_url), (0x02, &self.ca_issuers_url)] {
            if let Some(u) = url {
                let mut desc = vec![0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, oid_last];
                desc.extend(der_tlv(0x86, u.as_bytes()));
                descs.extend(der_tlv(0x30, &desc));
            }
        }
        if !descs.is_empty() {
            let value = der_tlv(0x30, &descs);
            p.custom_extensions.push(rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], value));
        }
    }
}

/// An intermediate signed by `issuer`: CA:TRUE with a path length, keyCertSign + cRLSign,
/// SKI and AKI, and critical name constraints when given.
pub fn build_intermediate(
    spec: &IntermediateSpec<'_>,
    key: &impl PublicKeyData,
    issuer: &Issuer<'_, KeyPair>,
    serial: &Serial,
) -> Result<rcgen::Certificate> {
    let mut p = base(serial, spec.not_before, spec.not_after);
    p.distinguished_name = dn(spec.cn, spec.org);
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(spec.path_len));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    p.use_authority_key_identifier_extension = true;
    spec.urls.apply(&mut p);
    let c = &spec.constraints;
    if !c.permit_uri.is_empty() {
        // rcgen cannot express URI subtrees: encode the whole extension ourselves.
        let mut ext = rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 30], name_constraints_der(c));
        ext.set_criticality(true);
        p.custom_extensions.push(ext);
    } else if !c.is_empty() {
        let sub = |dns: &[String], ips: &[(IpAddr, u8)]| -> Vec<GeneralSubtree> {
            dns.iter()
                .map(|d| GeneralSubtree::DnsName(d.clone()))
                .chain(ips.iter().map(|(ip, l)| GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(*ip, *l))))
                .collect()
        };
        p.name_constraints = Some(NameConstraints {
            permitted_subtrees: sub(&c.permit_dns, &c.permit_ip),
            excluded_subtrees: sub(&c.exclude_dns, &c.exclude_ip),
        });
    }
    p.signed_by(key, issuer).map_err(|e| anyhow!("cannot sign the intermediate certificate: {e}"))
}

pub(crate) fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// An IP constraint as RFC 5280 wants it: the network address followed by the mask.
fn ip_and_mask(ip: &IpAddr, len: u8) -> Vec<u8> {
    let mut addr = match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    let mask: Vec<u8> = (0..addr.len())
        .map(|i| {
            let on = (len as usize).saturating_sub(i * 8).min(8);
            if on == 0 { 0 } else { 0xffu8 << (8 - on) }
        })
        .collect();
    for (a, m) in addr.iter_mut().zip(&mask) {
        *a &= m;
    }
    addr.extend(mask);
    addr
}

/// DER of a NameConstraints value (RFC 5280 4.2.1.10, implicit tags) with DNS, IP and URI
/// subtrees: permitted `[0]` and excluded `[1]`, each GeneralSubtree holding only its base name.
pub fn name_constraints_der(c: &Constraints) -> Vec<u8> {
    let subtrees = |dns: &[String], ips: &[(IpAddr, u8)], uris: &[String]| -> Vec<u8> {
        let mut out = vec![];
        for d in dns {
            out.extend(der_tlv(0x30, &der_tlv(0x82, d.as_bytes())));
        }
        for (ip, l) in ips {
            out.extend(der_tlv(0x30, &der_tlv(0x87, &ip_and_mask(ip, *l))));
        }
        for u in uris {
            out.extend(der_tlv(0x30, &der_tlv(0x86, u.as_bytes())));
        }
        out
    };
    let mut body = vec![];
    let permitted = subtrees(&c.permit_dns, &c.permit_ip, &c.permit_uri);
    if !permitted.is_empty() {
        body.extend(der_tlv(0xa0, &permitted));
    }
    let excluded = subtrees(&c.exclude_dns, &c.exclude_ip, &[]);
    if !excluded.is_empty() {
        body.extend(der_tlv(0xa1, &excluded));
    }
    der_tlv(0x30, &body)
}

/// A validated leaf request: names checked, lifetime fixed. Built before anything is written.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    /// Subject attributes in order (CN, O, OU, C, L, ST); may be empty (then the SAN is critical).
    pub subject: Vec<(String, String)>,
    /// DNS SANs.
    pub dns: Vec<String>,
    /// IP SANs.
    pub ips: Vec<IpAddr>,
    /// URI SANs.
    pub uris: Vec<String>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// The serial.
    pub serial: Serial,
    /// Extended key usages by name (serverAuth, clientAuth, ...).
    pub ekus: Vec<String>,
    /// RSA keys also get keyEncipherment (TLS 1.2 RSA key exchange).
    pub key_encipherment: bool,
    /// Where relying parties find the issuer's CRL and certificate.
    pub urls: IssuerUrls,
}

impl LeafSpec {
    /// SANs as OpenSSL prints them: DNS:..., IP Address:... shortened to IP:..., URI:...
    pub fn san_strings(&self) -> Vec<String> {
        self.dns
            .iter()
            .map(|d| format!("DNS:{d}"))
            .chain(self.ips.iter().map(|i| format!("IP:{i}")))
            .chain(self.uris.iter().map(|u| format!("URI:{u}")))
            .collect()
    }

    /// The subject as one string, "CN=x,O=y" ("" when empty).
    pub fn subject_string(&self) -> String {
        self.subject.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
    }
}

fn dn_type(k: &str) -> DnType {
    match k {
        "CN" => DnType::CommonName,
        "O" => DnType::OrganizationName,
        "OU" => DnType::OrganizationalUnitName,
        "C" => DnType::CountryName,
        "L" => DnType::LocalityName,
        _ => DnType::StateOrProvinceName,
    }
}

fn eku(name: &str) -> ExtendedKeyUsagePurpose {
    match name {
        "serverAuth" => ExtendedKeyUsagePurpose::ServerAuth,
        "clientAuth" => ExtendedKeyUsagePurpose::ClientAuth,
        "codeSigning" => ExtendedKeyUsagePurpose::CodeSigning,
        "emailProtection" => ExtendedKeyUsagePurpose::EmailProtection,
        "timeStamping" => ExtendedKeyUsagePurpose::TimeStamping,
        _ => ExtendedKeyUsagePurpose::OcspSigning,
    }
}

/// A leaf: CA:FALSE, critical digitalSignature KU, the requested EKUs, SKI, AKI = the issuer's SKI.
pub fn build_leaf(
    spec: &LeafSpec,
    key: &impl PublicKeyData,
    issuer: &Issuer<'_, KeyPair>,
) -> Result<rcgen::Certificate> {
    let mut p = base(&spec.serial, spec.not_before, spec.not_after);
    let mut d = DistinguishedName::new();
    for (k, v) in &spec.subject {
        d.push(dn_type(k), v.as_str());
    }
    p.distinguished_name = d;
    // ExplicitNoCa writes basicConstraints CA:FALSE and lets rcgen emit a SKI for a leaf.
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if spec.key_encipherment {
        p.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    p.extended_key_usages = spec.ekus.iter().map(|e| eku(e)).collect();
    if spec.ekus.iter().any(|e| e == "OCSPSigning") {
        // A delegated OCSP responder's certificate is short-lived and not itself checked for
        // revocation: id-pkix-ocsp-nocheck (RFC 6960 section 4.2.2.2.1), value NULL.
        p.custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 48, 1, 5], vec![0x05, 0x00]));
    }
    p.use_authority_key_identifier_extension = true;
    spec.urls.apply(&mut p);
    let mut sans = Vec::new();
    for n in &spec.dns {
        sans.push(SanType::DnsName(n.as_str().try_into().map_err(|_| anyhow!("DNS name '{n}' is not IA5"))?));
    }
    for ip in &spec.ips {
        sans.push(SanType::IpAddress(*ip));
    }
    for u in &spec.uris {
        sans.push(SanType::URI(u.as_str().try_into().map_err(|_| anyhow!("URI '{u}' is not IA5"))?));
    }
    p.subject_alt_names = sans;
    p.signed_by(key, issuer).map_err(|e| anyhow!("cannot sign the certificate: {e}"))
}

/// Checks a DNS name (RFC 1035 labels; a leading "*." wildcard only when `wildcard`).
pub fn check_dns_name(name: &str, wildcard: bool) -> Result<(), String> {
    let body = match name.strip_prefix("*.") {
        Some(rest) if wildcard => rest,
        Some(_) => return Err("wildcards are not allowed here".into()),
        None => name,
    };
    if body.is_empty() || name.len() > 253 {
        return Err("a DNS name has 1 to 253 characters".into());
    }
    for label in body.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("each dot-separated label has 1 to 63 characters".into());
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err("only letters, digits and '-' are allowed (use punycode for other scripts)".into());
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label cannot start or end with '-'".into());
        }
    }
    Ok(())
}

/// Checks a URI SAN: a scheme, no spaces or control characters, ASCII only.
pub fn check_uri(uri: &str) -> Result<(), String> {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err("a URI needs a scheme, e.g. spiffe://trust.domain/path".into());
    };
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
        return Err("the scheme must start with a letter and use letters, digits, '+', '-', '.'".into());
    }
    if rest.is_empty() || !uri.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("a URI is printable ASCII without spaces".into());
    }
    Ok(())
}

/// Refuses text that must not go into a subject attribute (O, OU, a template's CN): control
/// characters (C0, DEL, C1, NUL, newlines) and bidirectional formatting characters, which make
/// a name display as something it is not. Other non-ASCII text (`Müller GmbH`) is fine and is
/// encoded as UTF8String (RFC 5280 §4.1.2.4).
pub fn check_subject_text(v: &str) -> Result<(), String> {
    let bidi =
        |c: char| matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    match v.chars().find(|c| c.is_control() || bidi(*c)) {
        Some(c) => Err(format!("it contains {}, a control or bidirectional formatting character", c.escape_unicode())),
        None => Ok(()),
    }
}

/// The one form of a URI SAN that policy and name constraints see and the certificate carries:
/// scheme and host lower case; no query, fragment, percent-encoding or user info (each can make
/// a URI's real host or path differ from what a glob like `https://*.example.org/*` reads); no
/// `.` or `..` path segments; a host that is a DNS name or an IP address, with an optional
/// numeric port. SPIFFE IDs must follow the SPIFFE ID spec.
pub fn canonical_uri(uri: &str) -> Result<String, String> {
    let (scheme, rest) = uri.split_once(':').ok_or("a URI needs a scheme")?;
    let scheme = scheme.to_ascii_lowercase();
    if let Some(c) = rest.chars().find(|c| "?#%\\".contains(*c)) {
        return Err(format!(
            "'{c}' is not allowed: pki's URIs carry no query, fragment, percent-encoding or backslash"
        ));
    }
    if scheme == "spiffe" {
        let id = format!("spiffe:{rest}");
        crate::policy::check_spiffe_id(&id, false).map_err(|e| format!("not a SPIFFE ID: {e}"))?;
        return Ok(id);
    }
    let Some(after) = rest.strip_prefix("//") else {
        // Not hierarchical (urn:, mailto:): no host to confuse; kept as given, scheme lowered.
        return Ok(format!("{scheme}:{rest}"));
    };
    let (authority, path) = after.find('/').map_or((after, ""), |i| (&after[..i], &after[i..]));
    // '@' only means user info inside the authority, but a lax parser that splits on the last
    // '@' would read `https://good.example/@evil.example` as host evil.example: refused anywhere.
    if after.contains('@') {
        return Err("user info ('@') is not allowed in a URI, nor an '@' anywhere after '//'".into());
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, p) = v6.split_once(']').ok_or("an IPv6 host needs its closing ']'")?;
            h.parse::<std::net::Ipv6Addr>().map_err(|_| format!("'{h}' is not an IPv6 address"))?;
            (format!("[{}]", h.to_ascii_lowercase()), p)
        }
        None => {
            let (h, p) = authority.find(':').map_or((authority, ""), |i| (&authority[..i], &authority[i..]));
            let h = h.trim_end_matches('.').to_ascii_lowercase();
            if h.parse::<std::net::Ipv4Addr>().is_err() {
                check_dns_name(&h, false).map_err(|e| format!("its host '{h}': {e}"))?;
            }
            (h, p)
        }
    };
    if let Some(p) = port.strip_prefix(':') {
        if p.is_empty()
            || p.len() > 5
            || !p.bytes().all(|b| b.is_ascii_digit())
            || p.parse::<u32>().map_or(true, |n| n > 65535)
        {
            return Err(format!("the port ':{p}' is not a number from 0 to 65535"));
        }
    } else if !port.is_empty() {
        return Err(format!("unexpected '{port}' after the host"));
    }
    if path.split('/').any(|seg| seg == "." || seg == "..") {
        return Err("'.' and '..' path segments are not allowed".into());
    }
    Ok(format!("{scheme}://{host}{port}{path}"))
}

/// A PEM parse failure in words, on one line (the pem crate's own message can quote a whole
/// multi-line block).
pub fn pem_problem(e: &::pem::PemError) -> String {
    match e {
        ::pem::PemError::MismatchedTags(..) => "its BEGIN and END lines do not match".into(),
        ::pem::PemError::MalformedFraming => "malformed BEGIN/END framing".into(),
        ::pem::PemError::InvalidHeader(_) => "an invalid header line".into(),
        other => other.to_string().escape_debug().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every URI trick that could move the real host or path outside a glob is refused, and
    /// accepted URIs come out in one form; normalising twice changes nothing.
    #[test]
    fn uris_have_one_form_and_no_tricks() {
        let ok = [
            ("HTTPS://API.Example.ORG/Team/x", "https://api.example.org/Team/x"),
            ("https://api.example.org.:8443/a", "https://api.example.org:8443/a"),
            ("https://10.0.0.7/a", "https://10.0.0.7/a"),
            ("https://[2001:DB8::1]/a", "https://[2001:db8::1]/a"),
            ("spiffe://acme.internal/agent/42", "spiffe://acme.internal/agent/42"),
            ("urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"),
        ];
        for (given, want) in ok {
            let got = canonical_uri(given).unwrap_or_else(|e| panic!("{given}: {e}"));
            assert_eq!(got, want, "{given}");
            assert_eq!(canonical_uri(&got).unwrap(), got, "not idempotent: {given}");
        }
        let refused = [
            ("https://evil.com?.example.org/x", "'?'"),
            ("https://evil.com#.example.org/x", "'#'"),
            ("https://evil.com%2F.example.org/x", "'%'"),
            ("https://user@evil.com/x", "user info"),
            ("https://api.example.org@evil.com/x", "user info"),
            ("http://A/@", "user info"),
            ("https://good.example.org/@evil.com", "user info"),
            ("https://api.example.org:80x/a", "port"),
            ("https://api.example.org/team/../admin", "'..'"),
            ("https://api.example.org/./x", "'.'"),
            ("https://api_example.org/x", "host"),
            ("https://a\\b.example.org/x", "backslash"),
            ("spiffe://acme.internal/agent/../x", "SPIFFE"),
            ("spiffe://acme.internal:443/agent", "SPIFFE"),
            ("SPIFFE://Acme.internal/agent", "SPIFFE"),
        ];
        for (given, why) in refused {
            let e = canonical_uri(given).expect_err(given);
            assert!(e.contains(why), "{given}: {e}");
        }
    }

    #[test]
    fn fast_time_parse_agrees_with_rfc3339() {
        for t in ["2026-11-28T22:09:18Z", "2000-02-29T00:00:00Z", "2099-12-31T23:59:59Z"] {
            assert_eq!(
                parse_time_fast(t).unwrap(),
                OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap()
            );
        }
        assert!(parse_time_fast("2026-11-28T22:09:18+01:00").is_none());
    }

    #[test]
    fn dns_names() {
        assert!(check_dns_name("api.acme.internal", false).is_ok());
        assert!(check_dns_name("*.acme.internal", true).is_ok());
        assert!(check_dns_name("*.acme.internal", false).is_err());
        assert!(check_dns_name("a..b", false).is_err());
        assert!(check_dns_name("-a.b", false).is_err());
        assert!(check_dns_name("a b", false).is_err());
    }

    #[test]
    fn cidrs_and_suffixes() {
        assert_eq!(parse_cidr("--permit-ip", "10.0.0.0/8").unwrap(), ("10.0.0.0".parse().unwrap(), 8));
        assert_eq!(parse_cidr("--permit-ip", "fd00::1").unwrap().1, 128);
        assert!(parse_cidr("--permit-ip", "10.0.0.0/33").is_err());
        assert_eq!(dns_suffix("--permit-dns", ".Svc.Acme.Internal").unwrap(), "svc.acme.internal");
    }

    #[test]
    fn uris() {
        assert!(check_uri("spiffe://acme.internal/agent/42").is_ok());
        assert!(check_uri("no-scheme").is_err());
        assert!(check_uri("spiffe://a b").is_err());
    }
}
