//! Every command-line flag of `pki`, in one place (clap derive).
//!
//! Parsed arguments are turned into validated requests by the commands before anything
//! touches the CA directory; the man pages and shell completions are generated from here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

macro_rules! exit_status_text {
    () => {
        "\
EXIT STATUS:
  0  success
  1  a check found something (audit, verify, ledger verify)
  2  usage or operational error (bad input, wrong passphrase, locked directory, ...)
  3  revoke: no certificate with that serial
  4  revoke: already revoked
  5  revoke: the certificate has expired
  6  verify: valid, but no CRL of an issuer in its chain was at hand (revocation not checked)

ENVIRONMENT:
  PKI_DIR              CA directory (same as --dir; default ./pki)
  PKI_PASSPHRASE_FILE  file holding the passphrase of the CA key to unlock
  PKI_PASSPHRASE_DIR   directory of per-CA passphrase files (NAME.pass), tried first
  CREDENTIALS_DIRECTORY  systemd's LoadCredential= directory: the passphrase directory when
                       PKI_PASSPHRASE_DIR is not set
  PKI_PASSPHRASE       the passphrase itself (prefer a file: env can leak to child processes)
  PKI_NEW_PASSPHRASE_FILE  passphrase for a CA key being created while another is unlocked
  PKI_ACTOR            who is acting, recorded in the ledger (default user@host)
  PKI_LOCK_TIMEOUT     how long to wait for another pki process (default 60s)
  NO_COLOR             disable colour"
    };
}

#[derive(Debug, Parser)]
#[command(
    name = "pki",
    version,
    about = "A private certificate authority in one file-backed directory",
    long_about = "pki runs a private certificate authority from a directory: no database, no server needed\n(`pki serve` publishes its CRLs and CA certificates over HTTP).\n\
It issues short-lived X.509 certificates for mutual TLS, keeps an inventory and a tamper-evident ledger, \
and is safe to call from many CI jobs at once.",
    after_help = "EXAMPLES:\n  pki init\n  pki issue --dns api.acme.internal --ttl 24h --out ./api\n  pki list --status valid\n  pki inspect ./api/cert.pem",
    after_long_help = concat!("EXAMPLES:\n  pki init\n  pki issue --dns api.acme.internal --ttl 24h --out ./api\n  pki list --status valid\n  pki inspect ./api/cert.pem\n\n", exit_status_text!()),
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The CA directory
    #[arg(
        help_heading = "Global options",
        long,
        global = true,
        env = "PKI_DIR",
        default_value = "pki",
        value_name = "DIR"
    )]
    pub dir: PathBuf,

    /// File holding the passphrase of the CA key to unlock (first line; never pass it in argv)
    #[arg(help_heading = "Global options", long, global = true, env = "PKI_PASSPHRASE_FILE", value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,

    /// Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)
    #[arg(help_heading = "Global options", long, global = true, env = "PKI_PASSPHRASE_DIR", value_name = "DIR")]
    pub passphrase_dir: Option<PathBuf>,

    /// How long to wait for another pki process holding the directory lock
    #[arg(
        help_heading = "Global options",
        long,
        global = true,
        env = "PKI_LOCK_TIMEOUT",
        default_value = "60s",
        value_name = "DURATION"
    )]
    pub lock_timeout: String,

    /// A note recorded with this change in the ledger (e.g. a ticket number)
    #[arg(help_heading = "Global options", long, global = true, value_name = "TEXT")]
    pub note: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Guided set-up: a CA directory with a root, an issuing intermediate and default profiles
    #[command(after_help = concat!(
        "EXAMPLES:\n  pki init\n  pki init --non-interactive --org Acme --trust-domain acme.internal --passphrase-file root.pass --new-passphrase-file issuing.pass\n  pki --dir /tmp/demo init --non-interactive --org Demo --trust-domain demo.internal --no-passphrase\n\n",
        "In --non-interactive mode the root key's passphrase comes from --passphrase-file (or PKI_PASSPHRASE_FILE / PKI_PASSPHRASE) and the issuing CA's from --new-passphrase-file (default: the root's)."))]
    Init(InitArgs),
    /// Create a self-signed root CA (refuses to overwrite one)
    #[command(
        after_help = "EXAMPLES:\n  pki init-root --cn \"Acme Root CA\"\n  pki init-root --cn \"Acme Root CA\" --key-type ed25519 --ttl 20y --passphrase-file root.pass"
    )]
    InitRoot(InitRootArgs),
    /// Encrypt a CA key under a new passphrase (the old file replaced atomically)
    #[command(
        after_help = "EXAMPLES:\n  pki change-passphrase issuing --passphrase-file old.pass --new-passphrase-file new.pass\n  pki change-passphrase root                 # asks for the old one, then the new one twice\n  pki change-passphrase issuing --passphrase-file old.pass --no-passphrase   # store it unencrypted\n\nThe key is opened with its current passphrase (the usual sources), checked against the CA's\ncertificate, encrypted anew and renamed over the old file under the directory lock: no copy of\nthe key under the old passphrase is left behind. The change is recorded in the ledger, signed\nwith that key. Update [ca.NAME] passphrase_file, or the cron job's passphrase files, yourself."
    )]
    ChangePassphrase(ChangePassphraseArgs),
    /// Serve CRLs, CA certificates and trust bundles over HTTP (a long-running service)
    #[command(
        after_help = "EXAMPLES:\n  pki serve                                  # http://127.0.0.1:8080 ([serve] http in pki.toml)\n  pki serve --http 0.0.0.0:80\n  pki serve --https 127.0.0.1:8443 --tls-ca issuing --tls-profile serve --tls-name pki.acme.internal\n  pki serve --https 0.0.0.0:443 --tls-cert /etc/pki/tls.pem --tls-key /etc/pki/tls.key\n  pki serve --https 0.0.0.0:443 --tls-ca issuing --tls-name pki.acme.internal   # and ACME\n  pki serve --check                          # read the directory and the settings, then exit\n\nPaths: /crl/CA.crl (DER), /crl/CA.crl.pem, /ca/CA.crt (DER), /ca/CA.pem, /bundle.pem,\n/bundle.spiffe.json, /healthz, /readyz (503 when a CRL is past its nextUpdate or missing),\n/metrics (Prometheus), and OCSP at /ocsp/CA (POST) and /ocsp/CA/BASE64 (GET) for each --ca\nor --tls-ca CA, signed by a responder certificate serve issues from it. A change the CLI commits (revoke, gen-crl) is served within --poll plus\nthe time to read the directory. With --ca NAME (never a root) serve also publishes NAME's CRL\nwhen it is due, under the lock; otherwise it takes no lock and holds no key.\nThe HTTPS listener serves the same paths. Its certificate is issued by --tls-ca under\n--tls-profile (inventory and ledger, as `pki issue`) for --tls-name and the listen address, and\nrenewed with a third of its lifetime left; or it is --tls-cert/--tls-key, read again when the\nfiles change. ACME (RFC 8555, http-01) is served there for every profile with acme = true, at\n/acme/PROFILE/directory, issuing through the profile's checks into the inventory and ledger;\nvalidation connects to --acme-http01-port (80) and resolves through --acme-dns-resolver.\nAttestation (POST /attest/POLICY, OIDC token in, SVID out) is served there for every\n[attest.POLICY] in pki.toml (docs/attest.md); its issuers' keys are fetched at start.\nA read-only page is at /ui/ ([serve.ui]: open on a loopback listener, else a token or a client\ncertificate of client_profiles).\nOne JSON log line per request on stderr; SIGTERM lets requests in flight finish; SIGHUP reads the directory again."
    )]
    Serve(ServeArgs),
    /// Create an intermediate CA signed by the root
    #[command(
        after_help = "EXAMPLES:\n  pki create-intermediate issuing --passphrase-file root.pass --new-passphrase-file issuing.pass\n  pki create-intermediate k8s --cn \"Acme k8s CA\" --permit-dns .svc.acme.internal --permit-ip 10.0.0.0/8"
    )]
    CreateIntermediate(CreateIntermediateArgs),
    /// Issue a leaf certificate under a profile (generated key, or a CSR's)
    #[command(
        after_help = "EXAMPLES:\n  pki issue --dns api.acme.internal --out ./api\n  pki issue --profile agent --spiffe-id spiffe://acme.internal/agent/42 --ttl 1h --json --out -\n  pki issue --profile server --csr server.csr --out ./server\n  pki issue --batch requests.jsonl > results.jsonl\n\nThe request is checked against the profile (names, lifetime, key type, usages) and the CA's\nname constraints; anything outside them is refused (exit 2) and nothing is written. Names are\nchecked and issued in one form: DNS lower case without a trailing dot (ASCII only: punycode),\n::ffff:a.b.c.d as a.b.c.d, URIs with lower-case scheme and host and no query, fragment,\npercent-encoding, user info (any @) or dot segments; the CN is one of the DNS names. Lifetimes are whole\nseconds and at least 1m (--not-after: at least 1m from now); notBefore is 60 s in the past (not\ncounted).\nBatch lines are JSON objects with the fields profile, ca, cn, dns, ip, uri, spiffe_id, ttl,\nnot_after, key_type, csr, out, force, clip_ttl; one JSON result is printed per line, and the exit\nstatus is 1 when any request was refused."
    )]
    Issue(IssueArgs),
    /// Issue a successor to a certificate: same names and profile (re-checked), new serial
    #[command(
        after_help = "EXAMPLES:\n  pki renew 4A0BFF00112233445566778899AABBCC --csr server.csr --out ./server-renewed\n  pki renew --cert ./api/cert.pem --out ./api --force\n  pki renew --cert ./agent/cert.pem --reuse-key --ttl 1h --out - --json\n\nThe old certificate is marked superseded (audit no longer reports it as expiring). Names,\nprofile and key come from the stored certificate and the ledger, not from inventory.tsv.\nWhen pki generated the old key, the renewal gets a new key.pem (--reuse-key certifies the\nsame key again, and writes no key.pem); a certificate issued from a CSR is renewed from a\nnew --csr (or with --reuse-key): pki never generates its holder's key."
    )]
    Renew(RenewArgs),
    /// Export a PKCS#12 file, the root, a CA chain, or the trust bundle (PEM or SPIFFE JSON)
    #[command(
        after_help = "EXAMPLES:\n  pki export --cert api/cert.pem --key api/key.pem --p12 api.p12 --p12-passphrase-file p12.pass\n  pki export 4A0BFF00112233445566778899AABBCC --key api/key.pem --p12 api-by-serial.p12 --p12-passphrase-file p12.pass\n  pki export --root > root.pem\n  pki export --chain issuing --out issuing-chain.pem\n  pki export --trust-bundle --format spiffe --out bundle.json\n\nPKCS#12 files use PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) with an HMAC-SHA256 MAC, which\nOpenSSL 3 and Java's keytool open. Its password is its own: --p12-passphrase-file, the prompt\n(twice), or --no-p12-passphrase; never the CA passphrase (--passphrase-file, PKI_PASSPHRASE_FILE,\nPKI_PASSPHRASE), which export refuses to reuse."
    )]
    Export(ExportArgs),
    /// Put the root CA into this system's trust store (or take it out)
    #[command(
        after_help = "EXAMPLES:\n  pki trust install --dry-run\n  sudo pki trust install\n  sudo pki trust uninstall\n\nDebian/Ubuntu: /usr/local/share/ca-certificates + update-ca-certificates;\nRHEL/Fedora: /etc/pki/ca-trust/source/anchors + update-ca-trust."
    )]
    Trust(TrustArgs),
    /// Revoke a certificate (leaf or intermediate CA) and regenerate its CA's CRL
    #[command(
        after_help = "EXAMPLES:\n  pki revoke 4A0BFF00112233445566778899AABBCC --reason keyCompromise\n  pki revoke --cert ./agent/cert.pem --reason cessationOfOperation --note INC-1234\n  pki revoke 4A:0B:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC --no-crl   # bulk: `pki gen-crl` once at the end\n\nReasons (any case, '-'/'_' ignored): unspecified, keyCompromise, cACompromise,\naffiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn,\naACompromise (removeFromCRL is refused: release a hold with `pki release-hold`).\nkeyCompromise revokes every unexpired certificate of the same key that the CA issued, and\nno certificate is issued for that key again. Exit 3: unknown serial; 4: already revoked (a\nnew reason keyCompromise, or any reason after certificateHold, updates it instead); 5:\nalready expired."
    )]
    Revoke(RevokeArgs),
    /// Release a certificateHold: the certificate is valid again and leaves the next CRL
    #[command(
        after_help = "EXAMPLES:\n  pki revoke 4A0BFF00112233445566778899AABBCC --reason certificateHold\n  pki release-hold 4A0BFF00112233445566778899AABBCC\n\nThe release is recorded in the ledger; it is what lets gen-crl leave the serial out of the\nnext CRL (a serial simply missing from the revoked list is refused as an erased revocation)."
    )]
    ReleaseHold(ReleaseHoldArgs),
    /// Generate (sign and publish) a CA's CRL
    #[command(
        name = "gen-crl",
        after_help = "EXAMPLES:\n  pki gen-crl                              # the issuing CA\n  pki gen-crl --ca root\n  pki gen-crl --all --if-older-than 12h   # in cron: only what is due\n  pki gen-crl --ca issuing --out - --der > issuing.crl\n  pki gen-crl --ca root --ocsp             # the root's OCSP responses, signed where its key is\n\nThe current CRLs are kept as DIR/crl/NAME.crl (DER) and DIR/crl/NAME.crl.pem. Lifetime:\n--next-update, else [ca.NAME] next_update in pki.toml, else 7d (30d for a root)."
    )]
    GenCrl(GenCrlArgs),
    /// Find what will cause an outage: expiring certificates, CAs and CRLs, integrity and policy problems
    #[command(after_help = concat!(
        "EXAMPLES:\n  pki audit\n  pki audit --expiring 48h --quiet              # in cron: silent unless something is wrong\n  pki audit --expiring 7d --json | jq '.findings[] | select(.severity == \"critical\")'\n  pki audit --deep --prometheus /var/lib/node_exporter/textfile/pki.prom\n\n",
        "Exit 0: no finding at --fail-on (default warning) or above; 1: findings; 2: the audit could\nnot run. Short-lived certificates (lifetime no longer than --expiring) are expected to expire\nand are counted, not listed. Finding codes and the JSON shape: docs/audit.md."))]
    Audit(AuditArgs),
    /// Validate a certificate against the directory's roots and current CRLs (rustls-webpki)
    #[command(
        after_help = "EXAMPLES:\n  pki verify ./api/cert.pem --dns api.acme.internal\n  pki verify ./agent/fullchain.pem --purpose client --json\n  pki verify cert.pem --root other-root.pem --chain chain.pem --at 2027-01-01T00:00:00Z\n  pki verify cert.pem --root other-root.pem --chain chain.pem --crl issuing.crl --crl root.crl\n  pki verify cert.pem --root other-root.pem --chain chain.pem --no-revocation-check\n\nRevocation is checked against the directory's CRLs and each --crl FILE. Exit 0: valid;\n1: not valid (revoked, expired, not yet valid, untrusted, name-constraint violation, wrong\npurpose or name, stale CRL); 2: the check could not run; 6: valid, but no CRL of an issuer in\nits chain was at hand, so revocation was not checked (--no-revocation-check accepts that)."
    )]
    Verify(VerifyArgs),
    /// Describe certificates, chains, CSRs, CRLs and keys (PEM or DER)
    #[command(
        after_help = "EXAMPLES:\n  pki inspect cert.pem\n  pki inspect --json fullchain.pem\n  openssl x509 -outform DER -in cert.pem | pki inspect -"
    )]
    Inspect(InspectArgs),
    /// Show the issuance profiles of pki.toml (all, or one by name)
    #[command(after_help = "EXAMPLES:\n  pki profiles\n  pki profiles agent --json")]
    Profiles(ProfilesArgs),
    /// Show the inventory of issued certificates
    #[command(
        after_help = "EXAMPLES:\n  pki list\n  pki list --expiring 48h --profile server\n  pki list --name '*.acme.internal' --status revoked\n  pki list --json | jq -r '.[].serial'\n\nThe table keeps each serial whole on one line (other columns are cut with '…' to fit the\nterminal, or $COLUMNS), soonest expiry first. --json prints every field, with one `status`:\nvalid, expired, revoked or superseded as of now."
    )]
    List(ListArgs),
    /// Rebuild the inventory from the stored certificates and the ledger
    #[command(after_help = "EXAMPLES:\n  pki reindex")]
    Reindex,
    /// Record a reviewed hand edit of pki.toml in the ledger (audit reports unrecorded edits)
    #[command(after_help = "EXAMPLES:\n  pki settings accept\n  pki settings accept --json")]
    Settings(SettingsArgs),
    /// The ledger: check its hash chain and signature, print its signed head to keep elsewhere
    #[command(
        after_help = "EXAMPLES:\n  pki ledger verify\n  pki ledger head > /backup/pki-head.json\n  pki audit --ledger-head /backup/pki-head.json"
    )]
    Ledger(LedgerArgs),
    /// ACME on `pki serve`: External Account Binding keys of its directories
    #[command(
        after_help = "EXAMPLES:\n  pki acme eab add --directory web --kid team-payments\n  pki acme eab list\n  pki acme eab remove --kid team-payments"
    )]
    Acme(AcmeArgs),
    /// Write a self-contained HTML summary: CAs, findings, expiry timeline, what expires soon
    #[command(
        after_help = "EXAMPLES:\n  pki report --html report.html\n  pki report --html - --window 7d --by ca > weekly.html\n\nOne file, no script, no link out (the stylesheet inlined): for cron mail, a wiki, an audit\ntrail. The same overview `pki serve` shows at /ui/, from the same audit as `pki audit`; the\ncertificates expiring within --window are listed (the first 500; all are counted)."
    )]
    Report(ReportArgs),
    /// Trade a CI job's OIDC token for a short-lived SVID from `pki serve` (no CA secret here)
    #[command(
        after_help = "EXAMPLES:\n  pki attest --server https://pki.acme.internal:8443 --policy github-main --github --ca-file root.pem --out ./svid\n  pki attest --server https://pki.acme.internal:8443 --policy gitlab --gitlab --ca-file root.pem --out - --json\n  pki attest --server https://127.0.0.1:8443 --policy ci --token-file token.jwt --ca-file root.pem --out ./svid\n\nThe key is made here and never leaves: pki sends the token (Authorization: Bearer) and a CSR\nto POST SERVER/attest/POLICY and writes cert.pem, chain.pem, key.pem (0600) and root.pem to\n--out, or prints them (--out -). --github asks the runner for a token (ACTIONS_ID_TOKEN_REQUEST_URL\nand _TOKEN, `permissions: id-token: write`) for --audience (default: --server). --gitlab reads\nthe token GitLab put in $PKI_ID_TOKEN (`id_tokens:` in the job). Tokens are never printed.\nExit status: 0 issued, 2 error, 7 the server refused (its problem document's rule is named)."
    )]
    Attest(AttestArgs),
    /// Check the ledger's hash chain (the same as `pki ledger verify`)
    #[command(hide = true, after_help = "EXAMPLES:\n  pki ledger-verify\n  pki ledger-verify --json")]
    LedgerVerify(LedgerVerifyArgs),
    /// Print shell completions (bash, zsh, fish)
    #[command(
        after_help = "EXAMPLES:\n  pki completions bash > /etc/bash_completion.d/pki\n  pki completions fish > ~/.config/fish/completions/pki.fish"
    )]
    Completions(CompletionsArgs),
    /// Write the man pages
    #[command(after_help = "EXAMPLES:\n  pki man --out-dir /usr/local/share/man/man1")]
    Man(ManArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum KeyType {
    /// ECDSA P-256 (every TLS stack accepts it)
    #[default]
    P256,
    /// ECDSA P-384
    P384,
    /// Ed25519 (not every verifier accepts it)
    Ed25519,
    /// RSA 3072-bit, SHA-256 signatures
    #[value(alias = "rsa")]
    Rsa3072,
}

impl From<KeyType> for pki_core::keys::KeyType {
    fn from(k: KeyType) -> Self {
        match k {
            KeyType::P256 => pki_core::keys::KeyType::P256,
            KeyType::P384 => pki_core::keys::KeyType::P384,
            KeyType::Ed25519 => pki_core::keys::KeyType::Ed25519,
            KeyType::Rsa3072 => pki_core::keys::KeyType::Rsa3072,
        }
    }
}

/// `audit --fail-on`: the core's severities as command-line values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl From<Severity> for pki_core::audit::Severity {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Info => pki_core::audit::Severity::Info,
            Severity::Warning => pki_core::audit::Severity::Warning,
            Severity::Critical => pki_core::audit::Severity::Critical,
        }
    }
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Do not ask questions; take every answer from flags and defaults
    #[arg(long)]
    pub non_interactive: bool,
    /// Organisation name, written into the CA subjects
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Trust domain / internal DNS suffix (e.g. acme.internal)
    #[arg(long, value_name = "DOMAIN")]
    pub trust_domain: Option<String>,
    /// Key type of both CAs
    #[arg(long, value_enum)]
    pub key_type: Option<KeyType>,
    /// Where CRLs and CA certificates will be published, e.g. http://pki.acme.internal: sets
    /// [defaults] base_url and each CA's crl_url (BASE/crl/NAME.crl), ca_issuers_url
    /// (BASE/ca/NAME.crt) and ocsp_url (BASE/ocsp/NAME), which certificates then carry
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Common name of the root CA (default: "<org> Root CA")
    #[arg(long, value_name = "CN")]
    pub root_cn: Option<String>,
    /// Name of the issuing intermediate CA
    #[arg(long, default_value = "issuing", value_name = "NAME")]
    pub intermediate: String,
    /// Lifetime of the root CA
    #[arg(long, default_value = "10y", value_name = "DURATION")]
    pub root_ttl: String,
    /// Lifetime of the issuing CA
    #[arg(long, default_value = "5y", value_name = "DURATION")]
    pub intermediate_ttl: String,
    /// File holding the passphrase for the issuing CA's key (default: the root's passphrase)
    #[arg(long, env = "PKI_NEW_PASSPHRASE_FILE", value_name = "FILE")]
    pub new_passphrase_file: Option<PathBuf>,
    /// Store the CA keys unencrypted (only for throw-away directories)
    #[arg(long)]
    pub no_passphrase: bool,
}

#[derive(Debug, Args)]
pub struct InitRootArgs {
    /// Common name of the root CA
    #[arg(long, value_name = "CN")]
    pub cn: String,
    /// Organisation (O) in the subject
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Name of the CA inside the directory
    #[arg(long, default_value = "root", value_name = "NAME")]
    pub name: String,
    #[arg(long, value_enum, default_value_t = KeyType::P256)]
    pub key_type: KeyType,
    /// Lifetime of the root certificate
    #[arg(long, default_value = "10y", value_name = "DURATION")]
    pub ttl: String,
    /// Store the key unencrypted (only for throw-away directories)
    #[arg(long)]
    pub no_passphrase: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Plain-HTTP listen address [default: [serve] http, else 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// How often the directory is checked for changes [default: [serve] poll, else 1s]
    #[arg(long, value_name = "DURATION")]
    pub poll: Option<String>,
    /// Keep this intermediate's CRL fresh: its key is unlocked at start (the usual passphrase
    /// sources) and a CRL that is due is published (repeatable; never a root) [default: [serve] cas]
    #[arg(long, value_name = "CA")]
    pub ca: Vec<String>,
    /// HTTPS listen address (same paths; ACME and attestation need it) [default: [serve] https,
    /// else none]
    #[arg(long, value_name = "ADDR")]
    pub https: Option<String>,
    /// Issue the HTTPS certificate from this CA (its key is unlocked at start, never a root's),
    /// renewed with a third of its lifetime left [default: [serve] tls_ca]
    #[arg(long, value_name = "CA", conflicts_with_all = ["tls_cert", "tls_key"])]
    pub tls_ca: Option<String>,
    /// DNS name the issued HTTPS certificate carries besides the listen address (repeatable)
    /// [default: [serve] tls_names]
    #[arg(long, value_name = "DNS")]
    pub tls_name: Vec<String>,
    /// Profile the issued HTTPS certificate is checked against [default: [serve] tls_profile,
    /// else the default profile]
    #[arg(long, value_name = "PROFILE")]
    pub tls_profile: Option<String>,
    /// Lifetime of the issued HTTPS certificate [default: [serve] tls_ttl, else 24h]
    #[arg(long, value_name = "DURATION")]
    pub tls_ttl: Option<String>,
    /// Present this certificate chain (PEM, leaf first) instead; re-read when it changes
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The unencrypted key of --tls-cert (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Port http-01 validation connects to on the name being validated (ACME profiles)
    /// [default: [serve.acme] http01_port, else 80]
    #[arg(long, value_name = "PORT")]
    pub acme_http01_port: Option<u16>,
    /// Port tls-alpn-01 validation connects to (ACME profiles) [default: [serve.acme]
    /// tlsalpn01_port, else 443]
    #[arg(long, value_name = "PORT")]
    pub acme_tlsalpn01_port: Option<u16>,
    /// DNS server (IP:PORT) that ACME validation resolves names through [default: [serve.acme]
    /// dns_resolver, else the system's resolver]
    #[arg(long, value_name = "ADDR")]
    pub acme_dns_resolver: Option<String>,
    /// Base URL clients reach serve at, when a proxy is in front (ACME checks each request's
    /// URL against it) [default: [serve.acme] base_url, else https:// and the request's Host]
    #[arg(long, value_name = "URL")]
    pub acme_base_url: Option<String>,
    /// Check the directory and the settings, print what would be served, and exit
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct ChangePassphraseArgs {
    /// The CA whose key gets the new passphrase
    pub name: String,
    /// File holding the new passphrase (else asked on the terminal, twice)
    #[arg(long, env = "PKI_NEW_PASSPHRASE_FILE", value_name = "FILE", conflicts_with = "no_passphrase")]
    pub new_passphrase_file: Option<PathBuf>,
    /// Store the key unencrypted from now on (only for throw-away directories)
    #[arg(long)]
    pub no_passphrase: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CreateIntermediateArgs {
    /// Name of the new CA inside the directory (e.g. issuing)
    pub name: String,
    /// Common name (default: "<root org> <NAME> CA" or NAME)
    #[arg(long, value_name = "CN")]
    pub cn: Option<String>,
    /// Organisation (O) in the subject (default: the root's)
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// The CA that signs it
    #[arg(long, default_value = "root", value_name = "CA")]
    pub parent: String,
    #[arg(long, value_enum, default_value_t = KeyType::P256)]
    pub key_type: KeyType,
    /// Lifetime of the intermediate certificate
    #[arg(long, default_value = "5y", value_name = "DURATION")]
    pub ttl: String,
    /// Maximum number of CAs below this one (0: it issues leaves only) [default: 0; 1 with
    /// --for-spire, whose CA SPIRE puts below it]
    #[arg(long, value_name = "N")]
    pub path_len: Option<u8>,
    /// Make it SPIRE's upstream CA (the disk UpstreamAuthority): room for SPIRE's own CA below
    /// it, no URI name constraint, its key exported in clear by `pki export NAME --spire DIR`;
    /// pki then never issues from it
    #[arg(long, requires = "trust_domain")]
    pub for_spire: bool,
    /// The SPIFFE trust domain SPIRE serves under this CA (with --for-spire)
    #[arg(long, value_name = "TD", requires = "for_spire")]
    pub trust_domain: Option<String>,
    /// SPIRE's ca_ttl (server.conf): this CA must outlive it; audit warns when less is left
    #[arg(long, value_name = "DURATION", default_value = "24h", requires = "for_spire")]
    pub spire_ca_ttl: String,
    /// Permit only DNS names under this suffix (repeatable; critical name constraints)
    #[arg(long, value_name = "SUFFIX")]
    pub permit_dns: Vec<String>,
    /// Permit only IP addresses in this CIDR (repeatable)
    #[arg(long, value_name = "CIDR")]
    pub permit_ip: Vec<String>,
    /// Exclude DNS names under this suffix (repeatable)
    #[arg(long, value_name = "SUFFIX")]
    pub exclude_dns: Vec<String>,
    /// Exclude IP addresses in this CIDR (repeatable)
    #[arg(long, value_name = "CIDR")]
    pub exclude_ip: Vec<String>,
    /// Permit only URIs whose host is HOST, e.g. a SPIFFE trust domain (repeatable).
    /// WARNING: rustls-webpki, and so every rustls client and server, rejects ALL chains through
    /// a CA with a URI name constraint; use it only where every verifier is OpenSSL or Go.
    #[arg(long, value_name = "HOST")]
    pub permit_uri_host_dangerous: Vec<String>,
    /// File holding the passphrase for the new CA's key (else asked on the terminal)
    #[arg(long, env = "PKI_NEW_PASSPHRASE_FILE", value_name = "FILE")]
    pub new_passphrase_file: Option<PathBuf>,
    /// Store the new key unencrypted (only for throw-away directories)
    #[arg(long)]
    pub no_passphrase: bool,
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// Issuance profile from pki.toml (default: [defaults] profile)
    #[arg(help_heading = "Policy", long, short = 'p', value_name = "NAME")]
    pub profile: Option<String>,
    /// Issuing CA (default: the profile's, [defaults] ca, or the only intermediate)
    #[arg(help_heading = "Policy", long, value_name = "NAME")]
    pub ca: Option<String>,
    /// Subject common name (default: the first SAN)
    #[arg(help_heading = "Names", long, value_name = "CN")]
    pub cn: Option<String>,
    /// DNS name SAN (repeatable)
    #[arg(help_heading = "Names", long, value_name = "NAME")]
    pub dns: Vec<String>,
    /// IP address SAN (repeatable)
    #[arg(help_heading = "Names", long, value_name = "ADDR")]
    pub ip: Vec<String>,
    /// URI SAN (repeatable)
    #[arg(help_heading = "Names", long, value_name = "URI")]
    pub uri: Vec<String>,
    /// SPIFFE ID of an X.509-SVID (a URI SAN, checked against the SPIFFE rules)
    #[arg(help_heading = "Names", long, value_name = "ID")]
    pub spiffe_id: Option<String>,
    /// Lifetime (default: the profile's default_ttl, else the CA's, else 24h)
    #[arg(help_heading = "Policy", long, value_name = "DURATION")]
    pub ttl: Option<String>,
    /// End of validity instead of --ttl: an RFC 3339 time or a date (midnight UTC), e.g. 2027-01-31
    #[arg(help_heading = "Policy", long, value_name = "TIME", conflicts_with = "ttl")]
    pub not_after: Option<String>,
    /// Shorten a lifetime above the profile's max_ttl or the CA's end instead of refusing it
    #[arg(help_heading = "Policy", long)]
    pub clip_ttl: bool,
    /// Key type to generate: p256, p384, ed25519 or rsa3072 (alias rsa)
    #[arg(help_heading = "Key", long, value_name = "TYPE")]
    pub key_type: Option<String>,
    /// Sign this CSR (file or -) instead of generating a key
    #[arg(help_heading = "Key", long, value_name = "FILE", conflicts_with_all = ["key_type", "batch"])]
    pub csr: Option<String>,
    /// Issue one certificate per JSON line of FILE (or -), under one lock and one unlock
    #[arg(help_heading = "Output", long, value_name = "FILE")]
    pub batch: Option<String>,
    /// Write cert.pem, key.pem, chain.pem, fullchain.pem and root.pem into DIR; - prints the PEM bundle
    #[arg(help_heading = "Output", long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite existing files in --out
    #[arg(help_heading = "Output", long)]
    pub force: bool,
    /// Encrypt the generated key.pem with the passphrase in FILE
    #[arg(help_heading = "Key", long, value_name = "FILE")]
    pub key_passphrase_file: Option<PathBuf>,
    /// Print the result as JSON
    #[arg(help_heading = "Output", long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RenewArgs {
    /// Serial of the certificate to renew (hex, any case, colons allowed)
    #[arg(required_unless_present = "cert", conflicts_with = "cert")]
    pub serial: Option<String>,
    /// The certificate to renew, as a file
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Generate a new key (the default when pki generated the old one; needed for certificates
    /// issued before pki recorded who made the key)
    #[arg(long, conflicts_with_all = ["csr", "reuse_key"])]
    pub rekey: bool,
    /// Certify the same public key again instead of a new one (as certbot's --reuse-key)
    #[arg(long, conflicts_with = "csr")]
    pub reuse_key: bool,
    /// Key type of the new key (default: the old key's type)
    #[arg(long, value_name = "TYPE", conflicts_with_all = ["csr", "reuse_key"])]
    pub key_type: Option<String>,
    /// Certify the key of this CSR (file or -) instead
    #[arg(long, value_name = "FILE")]
    pub csr: Option<String>,
    /// Lifetime (default: the old certificate's lifetime)
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
    /// Shorten a lifetime above the profile's max_ttl or the CA's end instead of refusing it
    #[arg(long)]
    pub clip_ttl: bool,
    /// Write the new files into DIR, or - to print them
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite existing files in --out
    #[arg(long)]
    pub force: bool,
    /// Encrypt the new key.pem with the passphrase in FILE
    #[arg(long, value_name = "FILE")]
    pub key_passphrase_file: Option<PathBuf>,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["p12", "root", "chain", "trust_bundle", "spire"])))]
pub struct ExportArgs {
    /// Serial of the certificate to put in a PKCS#12 file (with --spire: the CA's name)
    #[arg(conflicts_with = "cert")]
    pub serial: Option<String>,
    /// Write a --for-spire CA's files for SPIRE's disk UpstreamAuthority into DIR:
    /// upstream.pem, upstream.key (its key in clear, 0600) and bundle.pem; prints the
    /// server.conf block
    #[arg(long, value_name = "DIR", requires = "serial", conflicts_with_all = ["p12", "root", "chain", "trust_bundle", "out"])]
    pub spire: Option<PathBuf>,
    /// The certificate to put in a PKCS#12 file, as a file
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// The certificate's private key (PEM, PKCS#8)
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Passphrase file of an encrypted --key
    #[arg(long, value_name = "FILE")]
    pub key_passphrase_file: Option<PathBuf>,
    /// Write a PKCS#12 file with the certificate, its chain and its key
    #[arg(long, value_name = "FILE")]
    pub p12: Option<PathBuf>,
    /// The PKCS#12 file's password, from FILE (its own: never the CA passphrase)
    #[arg(long, value_name = "FILE", requires = "p12", conflicts_with = "no_p12_passphrase")]
    pub p12_passphrase_file: Option<PathBuf>,
    /// Write the PKCS#12 file with an empty password (its key is then unprotected)
    #[arg(long, requires = "p12")]
    pub no_p12_passphrase: bool,
    /// Friendly name (alias) of the PKCS#12 entry (default: the certificate's CN or serial)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Export the root CA certificate
    #[arg(long)]
    pub root: bool,
    /// Export a CA's chain: the CA and its issuers up to the root
    #[arg(long, value_name = "CA")]
    pub chain: Option<String>,
    /// Export the trust bundle: the root CA certificates
    #[arg(long)]
    pub trust_bundle: bool,
    /// Format of --trust-bundle: pem, or spiffe (a SPIFFE bundle: JWKS with x509-svid keys)
    #[arg(long, value_enum, default_value_t = BundleFormat::Pem)]
    pub format: BundleFormat,
    /// Where to write (default: standard output; - too)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Overwrite an existing output file
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BundleFormat {
    Pem,
    Spiffe,
}

#[derive(Debug, Args)]
pub struct TrustArgs {
    #[command(subcommand)]
    pub action: TrustAction,
}

#[derive(Debug, Subcommand)]
pub enum TrustAction {
    /// Add the root CA to the system trust store
    Install(TrustOpts),
    /// Remove the root CA from the system trust store
    Uninstall(TrustOpts),
}

#[derive(Debug, Args)]
pub struct SettingsArgs {
    #[command(subcommand)]
    pub action: SettingsAction,
}

#[derive(Debug, Subcommand)]
pub enum SettingsAction {
    /// Record pki.toml as it is now (after reviewing a change made by hand)
    Accept(SettingsAcceptArgs),
}

#[derive(Debug, Args)]
pub struct SettingsAcceptArgs {
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TrustOpts {
    /// Print what would be done, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The root CA to install (default: the only root)
    #[arg(long, value_name = "CA")]
    pub ca: Option<String>,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Serial of the certificate to revoke
    #[arg(required_unless_present = "cert", conflicts_with = "cert")]
    pub serial: Option<String>,
    /// The certificate to revoke, as a file
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// RFC 5280 reason
    #[arg(long, default_value = "unspecified", value_name = "REASON")]
    pub reason: String,
    /// When the key was (or may have been) compromised; the CRL's invalidity date (RFC 3339)
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Only if the certificate was issued by this CA
    #[arg(long, value_name = "NAME")]
    pub ca: Option<String>,
    /// Do not regenerate the CRL now (for bulk revocations; run `pki gen-crl` after)
    #[arg(long)]
    pub no_crl: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReleaseHoldArgs {
    /// Serial of the certificate on hold
    pub serial: String,
    /// Do not regenerate the CRL now (run `pki gen-crl` after)
    #[arg(long)]
    pub no_crl: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GenCrlArgs {
    /// The CA whose CRL to generate (default: the issuing CA)
    #[arg(long, value_name = "NAME", conflicts_with = "all")]
    pub ca: Option<String>,
    /// Every CA of the directory
    #[arg(long)]
    pub all: bool,
    /// Lifetime of the CRL
    #[arg(long, value_name = "DURATION")]
    pub next_update: Option<String>,
    /// Only when the current CRL is older than this, behind a revocation, or missing
    #[arg(long, value_name = "DURATION")]
    pub if_older_than: Option<String>,
    /// Also write the CRL to FILE (- for standard output)
    #[arg(long, value_name = "FILE", conflicts_with = "all")]
    pub out: Option<PathBuf>,
    /// --out in DER instead of PEM
    #[arg(long)]
    pub der: bool,
    /// Refuse to publish when the ledger no longer holds this kept head (`pki ledger head`)
    #[arg(long, value_name = "FILE")]
    pub ledger_head: Option<PathBuf>,
    /// Also sign OCSP responses in advance for every certificate this CA issued (for `pki
    /// serve` to answer for a CA whose key it never holds, e.g. an offline root); every later
    /// CRL of this CA renews them
    #[arg(long)]
    pub ocsp: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Purpose {
    Client,
    Server,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The certificate (PEM or DER; further PEM certificates are taken as its chain), or -
    pub cert: String,
    /// Intermediate certificates (PEM)
    #[arg(long, value_name = "FILE")]
    pub chain: Option<PathBuf>,
    /// Trust this root (PEM) instead of the directory's roots
    #[arg(long, value_name = "FILE")]
    pub root: Option<PathBuf>,
    /// Validate as of this time (RFC 3339) instead of now
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Required usage (default: server if the certificate allows it, else client)
    #[arg(long, value_enum)]
    pub purpose: Option<Purpose>,
    /// The DNS name (or IP address) the certificate must be valid for
    #[arg(long, value_name = "NAME")]
    pub dns: Option<String>,
    /// A CRL (PEM or DER) to check revocation against, besides the directory's (repeatable)
    #[arg(long, value_name = "FILE")]
    pub crl: Vec<PathBuf>,
    /// Accept a certificate no CRL covers as valid (exit 0) instead of exit 6
    #[arg(long)]
    pub no_revocation_check: bool,
    /// Print the verdict as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// File to inspect, or - for standard input, or the serial of a certificate in the CA directory
    pub file: String,
    /// Also show the ledger records about each certificate (who asked: user, CI job, ACME
    /// account, OIDC claims; renewals, revocation), read from the CA directory
    #[arg(long)]
    pub history: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFilter {
    Valid,
    Expired,
    Revoked,
    Superseded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortKey {
    /// Soonest expiry first (the default for the table)
    Expiry,
    /// In the order they were issued (the default for --json, which then streams)
    Issued,
    /// By serial
    Serial,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only certificates issued by this CA
    #[arg(long, value_name = "NAME")]
    pub ca: Option<String>,
    /// Only certificates with this status (as of now)
    #[arg(long, value_enum)]
    pub status: Option<StatusFilter>,
    /// Only valid certificates that expire within this window (e.g. 48h, 7d)
    #[arg(long, value_name = "DURATION")]
    pub expiring: Option<String>,
    /// Only certificates issued under this profile
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Only certificates with a name (DNS, IP, URI or subject CN) matching GLOB: `*` any
    /// characters, `?` one; case-insensitive (e.g. '*.acme.internal')
    #[arg(long, value_name = "GLOB")]
    pub name: Option<String>,
    /// Order of the rows [default: expiry for the table, issued for --json]
    #[arg(long, value_enum, value_name = "KEY")]
    pub sort: Option<SortKey>,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Report certificates, CAs and CRLs that expire within this window
    #[arg(help_heading = "What to check", long, value_name = "DURATION", default_value = "30d")]
    pub expiring: String,
    /// Only this CA: its certificates, its own certificate and its CRL
    #[arg(help_heading = "What to check", long, value_name = "NAME")]
    pub ca: Option<String>,
    /// Also check the ledger's hash chain and read every stored certificate (hash, signature, orphans)
    #[arg(help_heading = "What to check", long)]
    pub deep: bool,
    /// List expiring short-lived certificates one by one instead of counting them
    #[arg(help_heading = "What to check", long)]
    pub include_short_lived: bool,
    /// Exit 1 only for findings at this severity or above
    #[arg(help_heading = "Output", long, value_enum, default_value = "warning", value_name = "SEVERITY")]
    pub fail_on: Severity,
    /// Print nothing unless the exit status is 1 (cron mails only when something is wrong)
    #[arg(help_heading = "Output", long, short)]
    pub quiet: bool,
    /// Print the report as one JSON document
    #[arg(help_heading = "Output", long)]
    pub json: bool,
    /// Also write gauges to FILE in node_exporter's textfile format (atomic rename)
    #[arg(help_heading = "Output", long, value_name = "FILE")]
    pub prometheus: Option<PathBuf>,
    /// A signed head kept elsewhere (`pki ledger head`): report a ledger that no longer holds it
    #[arg(help_heading = "What to check", long, value_name = "FILE")]
    pub ledger_head: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ProfilesArgs {
    /// Show only this profile
    pub name: Option<String>,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The HTML file to write ('-': standard output)
    #[arg(long, value_name = "FILE")]
    pub html: PathBuf,
    /// Findings and the expiring list cover this window
    #[arg(long, default_value = "30d", value_name = "DURATION")]
    pub window: String,
    /// Group the expiry timeline by profile or by CA
    #[arg(long, value_enum, default_value_t = ReportBy::Profile)]
    pub by: ReportBy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportBy {
    Profile,
    Ca,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("token").required(true).args(["token_file", "token_env", "github", "gitlab"])))]
pub struct AttestArgs {
    /// The pki serve HTTPS URL, e.g. https://pki.acme.internal:8443
    #[arg(long, env = "PKI_SERVER", value_name = "URL")]
    pub server: String,
    /// The attestation policy ([attest.NAME] in the server's pki.toml)
    #[arg(long, value_name = "NAME")]
    pub policy: String,
    /// Read the OIDC token from a file ('-': standard input)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Read the OIDC token from an environment variable
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Ask GitHub Actions for the job's token (needs `permissions: id-token: write`)
    #[arg(long)]
    pub github: bool,
    /// Use the token GitLab CI put in $PKI_ID_TOKEN (`id_tokens: PKI_ID_TOKEN: aud: ...`)
    #[arg(long)]
    pub gitlab: bool,
    /// The audience asked of GitHub (default: --server)
    #[arg(long, value_name = "AUD")]
    pub audience: Option<String>,
    /// The root to trust for the server's HTTPS (default: the system's roots)
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// The key type to make (the policy's profile decides which it accepts)
    #[arg(long, value_enum, default_value_t = KeyType::P256)]
    pub key_type: KeyType,
    /// A directory for cert.pem, chain.pem, key.pem, root.pem; '-' prints them
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace existing files in --out
    #[arg(long)]
    pub force: bool,
    /// JSON output (with --out -: the PEM fields too)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AcmeArgs {
    #[command(subcommand)]
    pub action: AcmeAction,
}

#[derive(Debug, Subcommand)]
pub enum AcmeAction {
    /// External Account Binding keys (RFC 8555 section 7.3.4): one account each
    Eab(EabArgs),
}

#[derive(Debug, Args)]
pub struct EabArgs {
    #[command(subcommand)]
    pub action: EabAction,
}

#[derive(Debug, Subcommand)]
pub enum EabAction {
    /// Add a key: prints the HMAC key (base64url) once, for the team's ACME client
    #[command(
        after_help = "EXAMPLES:\n  pki acme eab add --directory web --kid team-payments\n  pki acme eab add --directory web --kid ci-7 --json | jq -r .hmac_key\n\nThe directory is a profile with acme = true (and acme_eab = true to require a binding). The\nclient registers once with the key id and HMAC key (certbot --eab-kid --eab-hmac-key, lego --eab\n--kid --hmac); the key then belongs to that account and is refused for any other. The ledger\nrecords the key id, who added it and the account it bound; never the HMAC key."
    )]
    Add(EabAddArgs),
    /// List the keys (never their HMAC keys) and the accounts they bound
    #[command(after_help = "EXAMPLES:\n  pki acme eab list\n  pki acme eab list --json")]
    List(EabListArgs),
    /// Remove a key: no account can register with it any more (one it bound stays)
    #[command(after_help = "EXAMPLES:\n  pki acme eab remove --kid team-payments")]
    Remove(EabRemoveArgs),
}

#[derive(Debug, Args)]
pub struct EabAddArgs {
    /// The ACME directory: a profile with acme = true
    #[arg(long, value_name = "PROFILE")]
    pub directory: String,
    /// The key id clients send (letters, digits, '-', '_'; at most 64)
    #[arg(long, value_name = "KID")]
    pub kid: String,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EabListArgs {
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EabRemoveArgs {
    /// The key id
    #[arg(long, value_name = "KID")]
    pub kid: String,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LedgerArgs {
    #[command(subcommand)]
    pub action: LedgerAction,
}

#[derive(Debug, Subcommand)]
pub enum LedgerAction {
    /// Check the hash chain and the last signature (exit 1 if the ledger was edited, reordered or cut)
    #[command(after_help = "EXAMPLES:\n  pki ledger verify\n  pki ledger verify --json")]
    Verify(LedgerVerifyArgs),
    /// Print the last signed ledger record, to keep outside the directory (`audit --ledger-head`)
    #[command(
        after_help = "EXAMPLES:\n  pki ledger head > /backup/pki-head.json\n  pki ledger head --out /backup/pki-head.json\n  pki audit --expiring 48h --ledger-head /backup/pki-head.json\n\nThe head is signed by the CA key that was unlocked for the change (issue, renew, revoke with its\nCRL, gen-crl): no one without that key's passphrase can forge one. A copy kept on another\nmachine lets `pki audit --ledger-head` detect a directory rolled back to an older copy."
    )]
    Head(LedgerHeadArgs),
}

#[derive(Debug, Args)]
pub struct LedgerHeadArgs {
    /// Write the head to FILE (atomically) instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LedgerVerifyArgs {
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory to write pki.1 and one page per command into
    #[arg(long, default_value = "man", value_name = "DIR")]
    pub out_dir: PathBuf,
}

/// The EXIT STATUS and ENVIRONMENT sections, shared by `--help` and the man page.
pub const EXIT_STATUS_TEXT: &str = exit_status_text!();

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
