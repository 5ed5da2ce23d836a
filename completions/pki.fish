# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_pki_global_optspecs
    string join \n dir= passphrase-file= passphrase-dir= lock-timeout= note= h/help V/version
end

function __fish_pki_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_pki_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_pki_using_subcommand
    set -l cmd (__fish_pki_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c pki -n "__fish_pki_needs_command" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_needs_command" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_needs_command" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_needs_command" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_needs_command" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pki -n "__fish_pki_needs_command" -s V -l version -d 'Print version'
complete -c pki -n "__fish_pki_needs_command" -f -a "init" -d 'Guided set-up: a CA directory with a root, an issuing intermediate and default profiles'
complete -c pki -n "__fish_pki_needs_command" -f -a "init-root" -d 'Create a self-signed root CA (refuses to overwrite one)'
complete -c pki -n "__fish_pki_needs_command" -f -a "change-passphrase" -d 'Encrypt a CA key under a new passphrase (the old file replaced atomically)'
complete -c pki -n "__fish_pki_needs_command" -f -a "serve" -d 'Serve CRLs, CA certificates and trust bundles over HTTP (a long-running service)'
complete -c pki -n "__fish_pki_needs_command" -f -a "create-intermediate" -d 'Create an intermediate CA signed by the root'
complete -c pki -n "__fish_pki_needs_command" -f -a "issue" -d 'Issue a leaf certificate under a profile (generated key, or a CSR\'s)'
complete -c pki -n "__fish_pki_needs_command" -f -a "renew" -d 'Issue a successor to a certificate: same names and profile (re-checked), new serial'
complete -c pki -n "__fish_pki_needs_command" -f -a "export" -d 'Export a PKCS#12 file, the root, a CA chain, or the trust bundle (PEM or SPIFFE JSON)'
complete -c pki -n "__fish_pki_needs_command" -f -a "trust" -d 'Put the root CA into this system\'s trust store (or take it out)'
complete -c pki -n "__fish_pki_needs_command" -f -a "revoke" -d 'Revoke a certificate (leaf or intermediate CA) and regenerate its CA\'s CRL'
complete -c pki -n "__fish_pki_needs_command" -f -a "release-hold" -d 'Release a certificateHold: the certificate is valid again and leaves the next CRL'
complete -c pki -n "__fish_pki_needs_command" -f -a "gen-crl" -d 'Generate (sign and publish) a CA\'s CRL'
complete -c pki -n "__fish_pki_needs_command" -f -a "audit" -d 'Find what will cause an outage: expiring certificates, CAs and CRLs, integrity and policy problems'
complete -c pki -n "__fish_pki_needs_command" -f -a "verify" -d 'Validate a certificate against the directory\'s roots and current CRLs (rustls-webpki)'
complete -c pki -n "__fish_pki_needs_command" -f -a "inspect" -d 'Describe certificates, chains, CSRs, CRLs and keys (PEM or DER)'
complete -c pki -n "__fish_pki_needs_command" -f -a "profiles" -d 'Show the issuance profiles of pki.toml (all, or one by name)'
complete -c pki -n "__fish_pki_needs_command" -f -a "list" -d 'Show the inventory of issued certificates'
complete -c pki -n "__fish_pki_needs_command" -f -a "reindex" -d 'Rebuild the inventory from the stored certificates and the ledger'
complete -c pki -n "__fish_pki_needs_command" -f -a "settings" -d 'Record a reviewed hand edit of pki.toml in the ledger (audit reports unrecorded edits)'
complete -c pki -n "__fish_pki_needs_command" -f -a "ledger" -d 'The ledger: check its hash chain and signature, print its signed head to keep elsewhere'
complete -c pki -n "__fish_pki_needs_command" -f -a "acme" -d 'ACME on `pki serve`: External Account Binding keys of its directories'
complete -c pki -n "__fish_pki_needs_command" -f -a "report" -d 'Write a self-contained HTML summary: CAs, findings, expiry timeline, what expires soon'
complete -c pki -n "__fish_pki_needs_command" -f -a "attest" -d 'Trade a CI job\'s OIDC token for a short-lived SVID from `pki serve` (no CA secret here)'
complete -c pki -n "__fish_pki_needs_command" -f -a "ledger-verify" -d 'Check the ledger\'s hash chain (the same as `pki ledger verify`)'
complete -c pki -n "__fish_pki_needs_command" -f -a "completions" -d 'Print shell completions (bash, zsh, fish)'
complete -c pki -n "__fish_pki_needs_command" -f -a "man" -d 'Write the man pages'
complete -c pki -n "__fish_pki_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pki -n "__fish_pki_using_subcommand init" -l org -d 'Organisation name, written into the CA subjects' -r
complete -c pki -n "__fish_pki_using_subcommand init" -l trust-domain -d 'Trust domain / internal DNS suffix (e.g. acme.internal)' -r
complete -c pki -n "__fish_pki_using_subcommand init" -l key-type -d 'Key type of both CAs' -r -f -a "p256\t'ECDSA P-256 (every TLS stack accepts it)'
p384\t'ECDSA P-384'
ed25519\t'Ed25519 (not every verifier accepts it)'
rsa3072\t'RSA 3072-bit, SHA-256 signatures'"
complete -c pki -n "__fish_pki_using_subcommand init" -l base-url -d 'Where CRLs and CA certificates will be published, e.g. http://pki.acme.internal: sets [defaults] base_url and each CA\'s crl_url (BASE/crl/NAME.crl), ca_issuers_url (BASE/ca/NAME.crt) and ocsp_url (BASE/ocsp/NAME), which certificates then carry' -r
complete -c pki -n "__fish_pki_using_subcommand init" -l root-cn -d 'Common name of the root CA (default: "<org> Root CA")' -r
complete -c pki -n "__fish_pki_using_subcommand init" -l intermediate -d 'Name of the issuing intermediate CA' -r
complete -c pki -n "__fish_pki_using_subcommand init" -l root-ttl -d 'Lifetime of the root CA' -r
complete -c pki -n "__fish_pki_using_subcommand init" -l intermediate-ttl -d 'Lifetime of the issuing CA' -r
complete -c pki -n "__fish_pki_using_subcommand init" -l new-passphrase-file -d 'File holding the passphrase for the issuing CA\'s key (default: the root\'s passphrase)' -r -F
complete -c pki -n "__fish_pki_using_subcommand init" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand init" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand init" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand init" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand init" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand init" -l non-interactive -d 'Do not ask questions; take every answer from flags and defaults'
complete -c pki -n "__fish_pki_using_subcommand init" -l no-passphrase -d 'Store the CA keys unencrypted (only for throw-away directories)'
complete -c pki -n "__fish_pki_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pki -n "__fish_pki_using_subcommand init-root" -l cn -d 'Common name of the root CA' -r
complete -c pki -n "__fish_pki_using_subcommand init-root" -l org -d 'Organisation (O) in the subject' -r
complete -c pki -n "__fish_pki_using_subcommand init-root" -l name -d 'Name of the CA inside the directory' -r
complete -c pki -n "__fish_pki_using_subcommand init-root" -l key-type -r -f -a "p256\t'ECDSA P-256 (every TLS stack accepts it)'
p384\t'ECDSA P-384'
ed25519\t'Ed25519 (not every verifier accepts it)'
rsa3072\t'RSA 3072-bit, SHA-256 signatures'"
complete -c pki -n "__fish_pki_using_subcommand init-root" -l ttl -d 'Lifetime of the root certificate' -r
complete -c pki -n "__fish_pki_using_subcommand init-root" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand init-root" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand init-root" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand init-root" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand init-root" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand init-root" -l no-passphrase -d 'Store the key unencrypted (only for throw-away directories)'
complete -c pki -n "__fish_pki_using_subcommand init-root" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pki -n "__fish_pki_using_subcommand change-passphrase" -l new-passphrase-file -d 'File holding the new passphrase (else asked on the terminal, twice)' -r -F
complete -c pki -n "__fish_pki_using_subcommand change-passphrase" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand change-passphrase" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand change-passphrase" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand change-passphrase" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand change-passphrase" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand change-passphrase" -l no-passphrase -d 'Store the key unencrypted from now on (only for throw-away directories)'
complete -c pki -n "__fish_pki_using_subcommand change-passphrase" -l json -d 'Print the result as JSON'
complete -c pki -n "__fish_pki_using_subcommand change-passphrase" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand serve" -l http -d 'Plain-HTTP listen address [default: [serve] http, else 127.0.0.1:8080]' -r
complete -c pki -n "__fish_pki_using_subcommand serve" -l poll -d 'How often the directory is checked for changes [default: [serve] poll, else 1s]' -r
complete -c pki -n "__fish_pki_using_subcommand serve" -l ca -d 'Keep this intermediate\'s CRL fresh: its key is unlocked at start (the usual passphrase sources) and a CRL that is due is published (repeatable; never a root) [default: [serve] cas]' -r
complete -c pki -n "__fish_pki_using_subcommand serve" -l https -d 'HTTPS listen address (same paths; ACME and attestation need it) [default: [serve] https, else none]' -r
complete -c pki -n "__fish_pki_using_subcommand serve" -l tls-ca -d 'Issue the HTTPS certificate from this CA (its key is unlocked at start, never a root\'s), renewed with a third of its lifetime left [default: [serve] tls_ca]' -r
complete -c pki -n "__fish_pki_using_subcommand serve" -l tls-name -d 'DNS name the issued HTTPS certificate carries besides the listen address (repeatable) [default: [serve] tls_names]' -r
complete -c pki -n "__fish_pki_using_subcommand serve" -l tls-profile -d 'Profile the issued HTTPS certificate is checked against [default: [serve] tls_profile, else the default profile]' -r
complete -c pki -n "__fish_pki_using_subcommand serve" -l tls-ttl -d 'Lifetime of the issued HTTPS certificate [default: [serve] tls_ttl, else 24h]' -r
complete -c pki -n "__fish_pki_using_subcommand serve" -l tls-cert -d 'Present this certificate chain (PEM, leaf first) instead; re-read when it changes' -r -F
complete -c pki -n "__fish_pki_using_subcommand serve" -l tls-key -d 'The unencrypted key of --tls-cert (PEM)' -r -F
complete -c pki -n "__fish_pki_using_subcommand serve" -l acme-http01-port -d 'Port http-01 validation connects to on the name being validated (ACME profiles) [default: [serve.acme] http01_port, else 80]' -r
complete -c pki -n "__fish_pki_using_subcommand serve" -l acme-tlsalpn01-port -d 'Port tls-alpn-01 validation connects to (ACME profiles) [default: [serve.acme] tlsalpn01_port, else 443]' -r
complete -c pki -n "__fish_pki_using_subcommand serve" -l acme-dns-resolver -d 'DNS server (IP:PORT) that ACME validation resolves names through [default: [serve.acme] dns_resolver, else the system\'s resolver]' -r
complete -c pki -n "__fish_pki_using_subcommand serve" -l acme-base-url -d 'Base URL clients reach serve at, when a proxy is in front (ACME checks each request\'s URL against it) [default: [serve.acme] base_url, else https:// and the request\'s Host]' -r
complete -c pki -n "__fish_pki_using_subcommand serve" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand serve" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand serve" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand serve" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand serve" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand serve" -l check -d 'Check the directory and the settings, print what would be served, and exit'
complete -c pki -n "__fish_pki_using_subcommand serve" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l cn -d 'Common name (default: "<root org> <NAME> CA" or NAME)' -r
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l org -d 'Organisation (O) in the subject (default: the root\'s)' -r
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l parent -d 'The CA that signs it' -r
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l key-type -r -f -a "p256\t'ECDSA P-256 (every TLS stack accepts it)'
p384\t'ECDSA P-384'
ed25519\t'Ed25519 (not every verifier accepts it)'
rsa3072\t'RSA 3072-bit, SHA-256 signatures'"
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l ttl -d 'Lifetime of the intermediate certificate' -r
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l path-len -d 'Maximum number of CAs below this one (0: it issues leaves only) [default: 0; 1 with --for-spire, whose CA SPIRE puts below it]' -r
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l trust-domain -d 'The SPIFFE trust domain SPIRE serves under this CA (with --for-spire)' -r
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l spire-ca-ttl -d 'SPIRE\'s ca_ttl (server.conf): this CA must outlive it; audit warns when less is left' -r
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l permit-dns -d 'Permit only DNS names under this suffix (repeatable; critical name constraints)' -r
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l permit-ip -d 'Permit only IP addresses in this CIDR (repeatable)' -r
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l exclude-dns -d 'Exclude DNS names under this suffix (repeatable)' -r
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l exclude-ip -d 'Exclude IP addresses in this CIDR (repeatable)' -r
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l permit-uri-host-dangerous -d 'Permit only URIs whose host is HOST, e.g. a SPIFFE trust domain (repeatable). WARNING: rustls-webpki, and so every rustls client and server, rejects ALL chains through a CA with a URI name constraint; use it only where every verifier is OpenSSL or Go' -r
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l new-passphrase-file -d 'File holding the passphrase for the new CA\'s key (else asked on the terminal)' -r -F
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l for-spire -d 'Make it SPIRE\'s upstream CA (the disk UpstreamAuthority): room for SPIRE\'s own CA below it, no URI name constraint, its key exported in clear by `pki export NAME --spire DIR`; pki then never issues from it'
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -l no-passphrase -d 'Store the new key unencrypted (only for throw-away directories)'
complete -c pki -n "__fish_pki_using_subcommand create-intermediate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pki -n "__fish_pki_using_subcommand issue" -s p -l profile -d 'Issuance profile from pki.toml (default: [defaults] profile)' -r
complete -c pki -n "__fish_pki_using_subcommand issue" -l ca -d 'Issuing CA (default: the profile\'s, [defaults] ca, or the only intermediate)' -r
complete -c pki -n "__fish_pki_using_subcommand issue" -l cn -d 'Subject common name (default: the first SAN)' -r
complete -c pki -n "__fish_pki_using_subcommand issue" -l dns -d 'DNS name SAN (repeatable)' -r
complete -c pki -n "__fish_pki_using_subcommand issue" -l ip -d 'IP address SAN (repeatable)' -r
complete -c pki -n "__fish_pki_using_subcommand issue" -l uri -d 'URI SAN (repeatable)' -r
complete -c pki -n "__fish_pki_using_subcommand issue" -l spiffe-id -d 'SPIFFE ID of an X.509-SVID (a URI SAN, checked against the SPIFFE rules)' -r
complete -c pki -n "__fish_pki_using_subcommand issue" -l ttl -d 'Lifetime (default: the profile\'s default_ttl, else the CA\'s, else 24h)' -r
complete -c pki -n "__fish_pki_using_subcommand issue" -l not-after -d 'End of validity instead of --ttl: an RFC 3339 time or a date (midnight UTC), e.g. 2027-01-31' -r
complete -c pki -n "__fish_pki_using_subcommand issue" -l key-type -d 'Key type to generate: p256, p384, ed25519 or rsa3072 (alias rsa)' -r
complete -c pki -n "__fish_pki_using_subcommand issue" -l csr -d 'Sign this CSR (file or -) instead of generating a key' -r
complete -c pki -n "__fish_pki_using_subcommand issue" -l batch -d 'Issue one certificate per JSON line of FILE (or -), under one lock and one unlock' -r
complete -c pki -n "__fish_pki_using_subcommand issue" -l out -d 'Write cert.pem, key.pem, chain.pem, fullchain.pem and root.pem into DIR; - prints the PEM bundle' -r -F
complete -c pki -n "__fish_pki_using_subcommand issue" -l key-passphrase-file -d 'Encrypt the generated key.pem with the passphrase in FILE' -r -F
complete -c pki -n "__fish_pki_using_subcommand issue" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand issue" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand issue" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand issue" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand issue" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand issue" -l clip-ttl -d 'Shorten a lifetime above the profile\'s max_ttl or the CA\'s end instead of refusing it'
complete -c pki -n "__fish_pki_using_subcommand issue" -l force -d 'Overwrite existing files in --out'
complete -c pki -n "__fish_pki_using_subcommand issue" -l json -d 'Print the result as JSON'
complete -c pki -n "__fish_pki_using_subcommand issue" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand renew" -l cert -d 'The certificate to renew, as a file' -r -F
complete -c pki -n "__fish_pki_using_subcommand renew" -l key-type -d 'Key type of the new key (default: the old key\'s type)' -r
complete -c pki -n "__fish_pki_using_subcommand renew" -l csr -d 'Certify the key of this CSR (file or -) instead' -r
complete -c pki -n "__fish_pki_using_subcommand renew" -l ttl -d 'Lifetime (default: the old certificate\'s lifetime)' -r
complete -c pki -n "__fish_pki_using_subcommand renew" -l out -d 'Write the new files into DIR, or - to print them' -r -F
complete -c pki -n "__fish_pki_using_subcommand renew" -l key-passphrase-file -d 'Encrypt the new key.pem with the passphrase in FILE' -r -F
complete -c pki -n "__fish_pki_using_subcommand renew" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand renew" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand renew" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand renew" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand renew" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand renew" -l rekey -d 'Generate a new key (the default when pki generated the old one; needed for certificates issued before pki recorded who made the key)'
complete -c pki -n "__fish_pki_using_subcommand renew" -l reuse-key -d 'Certify the same public key again instead of a new one (as certbot\'s --reuse-key)'
complete -c pki -n "__fish_pki_using_subcommand renew" -l clip-ttl -d 'Shorten a lifetime above the profile\'s max_ttl or the CA\'s end instead of refusing it'
complete -c pki -n "__fish_pki_using_subcommand renew" -l force -d 'Overwrite existing files in --out'
complete -c pki -n "__fish_pki_using_subcommand renew" -l json -d 'Print the result as JSON'
complete -c pki -n "__fish_pki_using_subcommand renew" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand export" -l spire -d 'Write a --for-spire CA\'s files for SPIRE\'s disk UpstreamAuthority into DIR: upstream.pem, upstream.key (its key in clear, 0600) and bundle.pem; prints the server.conf block' -r -F
complete -c pki -n "__fish_pki_using_subcommand export" -l cert -d 'The certificate to put in a PKCS#12 file, as a file' -r -F
complete -c pki -n "__fish_pki_using_subcommand export" -l key -d 'The certificate\'s private key (PEM, PKCS#8)' -r -F
complete -c pki -n "__fish_pki_using_subcommand export" -l key-passphrase-file -d 'Passphrase file of an encrypted --key' -r -F
complete -c pki -n "__fish_pki_using_subcommand export" -l p12 -d 'Write a PKCS#12 file with the certificate, its chain and its key' -r -F
complete -c pki -n "__fish_pki_using_subcommand export" -l p12-passphrase-file -d 'The PKCS#12 file\'s password, from FILE (its own: never the CA passphrase)' -r -F
complete -c pki -n "__fish_pki_using_subcommand export" -l name -d 'Friendly name (alias) of the PKCS#12 entry (default: the certificate\'s CN or serial)' -r
complete -c pki -n "__fish_pki_using_subcommand export" -l chain -d 'Export a CA\'s chain: the CA and its issuers up to the root' -r
complete -c pki -n "__fish_pki_using_subcommand export" -l format -d 'Format of --trust-bundle: pem, or spiffe (a SPIFFE bundle: JWKS with x509-svid keys)' -r -f -a "pem\t''
spiffe\t''"
complete -c pki -n "__fish_pki_using_subcommand export" -l out -d 'Where to write (default: standard output; - too)' -r -F
complete -c pki -n "__fish_pki_using_subcommand export" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand export" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand export" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand export" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand export" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand export" -l no-p12-passphrase -d 'Write the PKCS#12 file with an empty password (its key is then unprotected)'
complete -c pki -n "__fish_pki_using_subcommand export" -l root -d 'Export the root CA certificate'
complete -c pki -n "__fish_pki_using_subcommand export" -l trust-bundle -d 'Export the trust bundle: the root CA certificates'
complete -c pki -n "__fish_pki_using_subcommand export" -l force -d 'Overwrite an existing output file'
complete -c pki -n "__fish_pki_using_subcommand export" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand trust; and not __fish_seen_subcommand_from install uninstall help" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand trust; and not __fish_seen_subcommand_from install uninstall help" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand trust; and not __fish_seen_subcommand_from install uninstall help" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand trust; and not __fish_seen_subcommand_from install uninstall help" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand trust; and not __fish_seen_subcommand_from install uninstall help" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand trust; and not __fish_seen_subcommand_from install uninstall help" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand trust; and not __fish_seen_subcommand_from install uninstall help" -f -a "install" -d 'Add the root CA to the system trust store'
complete -c pki -n "__fish_pki_using_subcommand trust; and not __fish_seen_subcommand_from install uninstall help" -f -a "uninstall" -d 'Remove the root CA from the system trust store'
complete -c pki -n "__fish_pki_using_subcommand trust; and not __fish_seen_subcommand_from install uninstall help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from install" -l ca -d 'The root CA to install (default: the only root)' -r
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from install" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from install" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from install" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from install" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from install" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from install" -l dry-run -d 'Print what would be done, change nothing'
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from uninstall" -l ca -d 'The root CA to install (default: the only root)' -r
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from uninstall" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from uninstall" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from uninstall" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from uninstall" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from uninstall" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from uninstall" -l dry-run -d 'Print what would be done, change nothing'
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from uninstall" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "install" -d 'Add the root CA to the system trust store'
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "uninstall" -d 'Remove the root CA from the system trust store'
complete -c pki -n "__fish_pki_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pki -n "__fish_pki_using_subcommand revoke" -l cert -d 'The certificate to revoke, as a file' -r -F
complete -c pki -n "__fish_pki_using_subcommand revoke" -l reason -d 'RFC 5280 reason' -r
complete -c pki -n "__fish_pki_using_subcommand revoke" -l at -d 'When the key was (or may have been) compromised; the CRL\'s invalidity date (RFC 3339)' -r
complete -c pki -n "__fish_pki_using_subcommand revoke" -l ca -d 'Only if the certificate was issued by this CA' -r
complete -c pki -n "__fish_pki_using_subcommand revoke" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand revoke" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand revoke" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand revoke" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand revoke" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand revoke" -l no-crl -d 'Do not regenerate the CRL now (for bulk revocations; run `pki gen-crl` after)'
complete -c pki -n "__fish_pki_using_subcommand revoke" -l json -d 'Print the result as JSON'
complete -c pki -n "__fish_pki_using_subcommand revoke" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand release-hold" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand release-hold" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand release-hold" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand release-hold" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand release-hold" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand release-hold" -l no-crl -d 'Do not regenerate the CRL now (run `pki gen-crl` after)'
complete -c pki -n "__fish_pki_using_subcommand release-hold" -l json -d 'Print the result as JSON'
complete -c pki -n "__fish_pki_using_subcommand release-hold" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand gen-crl" -l ca -d 'The CA whose CRL to generate (default: the issuing CA)' -r
complete -c pki -n "__fish_pki_using_subcommand gen-crl" -l next-update -d 'Lifetime of the CRL' -r
complete -c pki -n "__fish_pki_using_subcommand gen-crl" -l if-older-than -d 'Only when the current CRL is older than this, behind a revocation, or missing' -r
complete -c pki -n "__fish_pki_using_subcommand gen-crl" -l out -d 'Also write the CRL to FILE (- for standard output)' -r -F
complete -c pki -n "__fish_pki_using_subcommand gen-crl" -l ledger-head -d 'Refuse to publish when the ledger no longer holds this kept head (`pki ledger head`)' -r -F
complete -c pki -n "__fish_pki_using_subcommand gen-crl" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand gen-crl" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand gen-crl" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand gen-crl" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand gen-crl" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand gen-crl" -l all -d 'Every CA of the directory'
complete -c pki -n "__fish_pki_using_subcommand gen-crl" -l der -d '--out in DER instead of PEM'
complete -c pki -n "__fish_pki_using_subcommand gen-crl" -l ocsp -d 'Also sign OCSP responses in advance for every certificate this CA issued (for `pki serve` to answer for a CA whose key it never holds, e.g. an offline root); every later CRL of this CA renews them'
complete -c pki -n "__fish_pki_using_subcommand gen-crl" -l json -d 'Print the result as JSON'
complete -c pki -n "__fish_pki_using_subcommand gen-crl" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand audit" -l expiring -d 'Report certificates, CAs and CRLs that expire within this window' -r
complete -c pki -n "__fish_pki_using_subcommand audit" -l ca -d 'Only this CA: its certificates, its own certificate and its CRL' -r
complete -c pki -n "__fish_pki_using_subcommand audit" -l fail-on -d 'Exit 1 only for findings at this severity or above' -r -f -a "info\t''
warning\t''
critical\t''"
complete -c pki -n "__fish_pki_using_subcommand audit" -l prometheus -d 'Also write gauges to FILE in node_exporter\'s textfile format (atomic rename)' -r -F
complete -c pki -n "__fish_pki_using_subcommand audit" -l ledger-head -d 'A signed head kept elsewhere (`pki ledger head`): report a ledger that no longer holds it' -r -F
complete -c pki -n "__fish_pki_using_subcommand audit" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand audit" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand audit" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand audit" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand audit" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand audit" -l deep -d 'Also check the ledger\'s hash chain and read every stored certificate (hash, signature, orphans)'
complete -c pki -n "__fish_pki_using_subcommand audit" -l include-short-lived -d 'List expiring short-lived certificates one by one instead of counting them'
complete -c pki -n "__fish_pki_using_subcommand audit" -s q -l quiet -d 'Print nothing unless the exit status is 1 (cron mails only when something is wrong)'
complete -c pki -n "__fish_pki_using_subcommand audit" -l json -d 'Print the report as one JSON document'
complete -c pki -n "__fish_pki_using_subcommand audit" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand verify" -l chain -d 'Intermediate certificates (PEM)' -r -F
complete -c pki -n "__fish_pki_using_subcommand verify" -l root -d 'Trust this root (PEM) instead of the directory\'s roots' -r -F
complete -c pki -n "__fish_pki_using_subcommand verify" -l at -d 'Validate as of this time (RFC 3339) instead of now' -r
complete -c pki -n "__fish_pki_using_subcommand verify" -l purpose -d 'Required usage (default: server if the certificate allows it, else client)' -r -f -a "client\t''
server\t''"
complete -c pki -n "__fish_pki_using_subcommand verify" -l dns -d 'The DNS name (or IP address) the certificate must be valid for' -r
complete -c pki -n "__fish_pki_using_subcommand verify" -l crl -d 'A CRL (PEM or DER) to check revocation against, besides the directory\'s (repeatable)' -r -F
complete -c pki -n "__fish_pki_using_subcommand verify" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand verify" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand verify" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand verify" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand verify" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand verify" -l no-revocation-check -d 'Accept a certificate no CRL covers as valid (exit 0) instead of exit 6'
complete -c pki -n "__fish_pki_using_subcommand verify" -l json -d 'Print the verdict as JSON'
complete -c pki -n "__fish_pki_using_subcommand verify" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand inspect" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand inspect" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand inspect" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand inspect" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand inspect" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand inspect" -l history -d 'Also show the ledger records about each certificate (who asked: user, CI job, ACME account, OIDC claims; renewals, revocation), read from the CA directory'
complete -c pki -n "__fish_pki_using_subcommand inspect" -l json -d 'Print the result as JSON'
complete -c pki -n "__fish_pki_using_subcommand inspect" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand profiles" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand profiles" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand profiles" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand profiles" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand profiles" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand profiles" -l json -d 'Print the result as JSON'
complete -c pki -n "__fish_pki_using_subcommand profiles" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand list" -l ca -d 'Only certificates issued by this CA' -r
complete -c pki -n "__fish_pki_using_subcommand list" -l status -d 'Only certificates with this status (as of now)' -r -f -a "valid\t''
expired\t''
revoked\t''
superseded\t''"
complete -c pki -n "__fish_pki_using_subcommand list" -l expiring -d 'Only valid certificates that expire within this window (e.g. 48h, 7d)' -r
complete -c pki -n "__fish_pki_using_subcommand list" -l profile -d 'Only certificates issued under this profile' -r
complete -c pki -n "__fish_pki_using_subcommand list" -l name -d 'Only certificates with a name (DNS, IP, URI or subject CN) matching GLOB: `*` any characters, `?` one; case-insensitive (e.g. \'*.acme.internal\')' -r
complete -c pki -n "__fish_pki_using_subcommand list" -l sort -d 'Order of the rows [default: expiry for the table, issued for --json]' -r -f -a "expiry\t'Soonest expiry first (the default for the table)'
issued\t'In the order they were issued (the default for --json, which then streams)'
serial\t'By serial'"
complete -c pki -n "__fish_pki_using_subcommand list" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand list" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand list" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand list" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand list" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand list" -l json -d 'Print the result as JSON'
complete -c pki -n "__fish_pki_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pki -n "__fish_pki_using_subcommand reindex" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand reindex" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand reindex" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand reindex" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand reindex" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand reindex" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand settings; and not __fish_seen_subcommand_from accept help" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand settings; and not __fish_seen_subcommand_from accept help" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand settings; and not __fish_seen_subcommand_from accept help" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand settings; and not __fish_seen_subcommand_from accept help" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand settings; and not __fish_seen_subcommand_from accept help" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand settings; and not __fish_seen_subcommand_from accept help" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand settings; and not __fish_seen_subcommand_from accept help" -f -a "accept" -d 'Record pki.toml as it is now (after reviewing a change made by hand)'
complete -c pki -n "__fish_pki_using_subcommand settings; and not __fish_seen_subcommand_from accept help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pki -n "__fish_pki_using_subcommand settings; and __fish_seen_subcommand_from accept" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand settings; and __fish_seen_subcommand_from accept" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand settings; and __fish_seen_subcommand_from accept" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand settings; and __fish_seen_subcommand_from accept" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand settings; and __fish_seen_subcommand_from accept" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand settings; and __fish_seen_subcommand_from accept" -l json -d 'Print the result as JSON'
complete -c pki -n "__fish_pki_using_subcommand settings; and __fish_seen_subcommand_from accept" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand settings; and __fish_seen_subcommand_from help" -f -a "accept" -d 'Record pki.toml as it is now (after reviewing a change made by hand)'
complete -c pki -n "__fish_pki_using_subcommand settings; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pki -n "__fish_pki_using_subcommand ledger; and not __fish_seen_subcommand_from verify head help" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand ledger; and not __fish_seen_subcommand_from verify head help" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand ledger; and not __fish_seen_subcommand_from verify head help" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand ledger; and not __fish_seen_subcommand_from verify head help" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand ledger; and not __fish_seen_subcommand_from verify head help" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand ledger; and not __fish_seen_subcommand_from verify head help" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand ledger; and not __fish_seen_subcommand_from verify head help" -f -a "verify" -d 'Check the hash chain and the last signature (exit 1 if the ledger was edited, reordered or cut)'
complete -c pki -n "__fish_pki_using_subcommand ledger; and not __fish_seen_subcommand_from verify head help" -f -a "head" -d 'Print the last signed ledger record, to keep outside the directory (`audit --ledger-head`)'
complete -c pki -n "__fish_pki_using_subcommand ledger; and not __fish_seen_subcommand_from verify head help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pki -n "__fish_pki_using_subcommand ledger; and __fish_seen_subcommand_from verify" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand ledger; and __fish_seen_subcommand_from verify" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand ledger; and __fish_seen_subcommand_from verify" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand ledger; and __fish_seen_subcommand_from verify" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand ledger; and __fish_seen_subcommand_from verify" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand ledger; and __fish_seen_subcommand_from verify" -l json -d 'Print the result as JSON'
complete -c pki -n "__fish_pki_using_subcommand ledger; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand ledger; and __fish_seen_subcommand_from head" -l out -d 'Write the head to FILE (atomically) instead of stdout' -r -F
complete -c pki -n "__fish_pki_using_subcommand ledger; and __fish_seen_subcommand_from head" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand ledger; and __fish_seen_subcommand_from head" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand ledger; and __fish_seen_subcommand_from head" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand ledger; and __fish_seen_subcommand_from head" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand ledger; and __fish_seen_subcommand_from head" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand ledger; and __fish_seen_subcommand_from head" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand ledger; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check the hash chain and the last signature (exit 1 if the ledger was edited, reordered or cut)'
complete -c pki -n "__fish_pki_using_subcommand ledger; and __fish_seen_subcommand_from help" -f -a "head" -d 'Print the last signed ledger record, to keep outside the directory (`audit --ledger-head`)'
complete -c pki -n "__fish_pki_using_subcommand ledger; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pki -n "__fish_pki_using_subcommand acme; and not __fish_seen_subcommand_from eab help" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand acme; and not __fish_seen_subcommand_from eab help" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand acme; and not __fish_seen_subcommand_from eab help" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand acme; and not __fish_seen_subcommand_from eab help" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand acme; and not __fish_seen_subcommand_from eab help" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand acme; and not __fish_seen_subcommand_from eab help" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand acme; and not __fish_seen_subcommand_from eab help" -f -a "eab" -d 'External Account Binding keys (RFC 8555 section 7.3.4): one account each'
complete -c pki -n "__fish_pki_using_subcommand acme; and not __fish_seen_subcommand_from eab help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pki -n "__fish_pki_using_subcommand acme; and __fish_seen_subcommand_from eab" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand acme; and __fish_seen_subcommand_from eab" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand acme; and __fish_seen_subcommand_from eab" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand acme; and __fish_seen_subcommand_from eab" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand acme; and __fish_seen_subcommand_from eab" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand acme; and __fish_seen_subcommand_from eab" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand acme; and __fish_seen_subcommand_from eab" -f -a "add" -d 'Add a key: prints the HMAC key (base64url) once, for the team\'s ACME client'
complete -c pki -n "__fish_pki_using_subcommand acme; and __fish_seen_subcommand_from eab" -f -a "list" -d 'List the keys (never their HMAC keys) and the accounts they bound'
complete -c pki -n "__fish_pki_using_subcommand acme; and __fish_seen_subcommand_from eab" -f -a "remove" -d 'Remove a key: no account can register with it any more (one it bound stays)'
complete -c pki -n "__fish_pki_using_subcommand acme; and __fish_seen_subcommand_from eab" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pki -n "__fish_pki_using_subcommand acme; and __fish_seen_subcommand_from help" -f -a "eab" -d 'External Account Binding keys (RFC 8555 section 7.3.4): one account each'
complete -c pki -n "__fish_pki_using_subcommand acme; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pki -n "__fish_pki_using_subcommand report" -l html -d 'The HTML file to write (\'-\': standard output)' -r -F
complete -c pki -n "__fish_pki_using_subcommand report" -l window -d 'Findings and the expiring list cover this window' -r
complete -c pki -n "__fish_pki_using_subcommand report" -l by -d 'Group the expiry timeline by profile or by CA' -r -f -a "profile\t''
ca\t''"
complete -c pki -n "__fish_pki_using_subcommand report" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand report" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand report" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand report" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand report" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand report" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand attest" -l server -d 'The pki serve HTTPS URL, e.g. https://pki.acme.internal:8443' -r
complete -c pki -n "__fish_pki_using_subcommand attest" -l policy -d 'The attestation policy ([attest.NAME] in the server\'s pki.toml)' -r
complete -c pki -n "__fish_pki_using_subcommand attest" -l token-file -d 'Read the OIDC token from a file (\'-\': standard input)' -r -F
complete -c pki -n "__fish_pki_using_subcommand attest" -l token-env -d 'Read the OIDC token from an environment variable' -r
complete -c pki -n "__fish_pki_using_subcommand attest" -l audience -d 'The audience asked of GitHub (default: --server)' -r
complete -c pki -n "__fish_pki_using_subcommand attest" -l ca-file -d 'The root to trust for the server\'s HTTPS (default: the system\'s roots)' -r -F
complete -c pki -n "__fish_pki_using_subcommand attest" -l key-type -d 'The key type to make (the policy\'s profile decides which it accepts)' -r -f -a "p256\t'ECDSA P-256 (every TLS stack accepts it)'
p384\t'ECDSA P-384'
ed25519\t'Ed25519 (not every verifier accepts it)'
rsa3072\t'RSA 3072-bit, SHA-256 signatures'"
complete -c pki -n "__fish_pki_using_subcommand attest" -l out -d 'A directory for cert.pem, chain.pem, key.pem, root.pem; \'-\' prints them' -r -F
complete -c pki -n "__fish_pki_using_subcommand attest" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand attest" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand attest" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand attest" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand attest" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand attest" -l github -d 'Ask GitHub Actions for the job\'s token (needs `permissions: id-token: write`)'
complete -c pki -n "__fish_pki_using_subcommand attest" -l gitlab -d 'Use the token GitLab CI put in $PKI_ID_TOKEN (`id_tokens: PKI_ID_TOKEN: aud: ...`)'
complete -c pki -n "__fish_pki_using_subcommand attest" -l force -d 'Replace existing files in --out'
complete -c pki -n "__fish_pki_using_subcommand attest" -l json -d 'JSON output (with --out -: the PEM fields too)'
complete -c pki -n "__fish_pki_using_subcommand attest" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pki -n "__fish_pki_using_subcommand ledger-verify" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand ledger-verify" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand ledger-verify" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand ledger-verify" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand ledger-verify" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand ledger-verify" -l json -d 'Print the result as JSON'
complete -c pki -n "__fish_pki_using_subcommand ledger-verify" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand completions" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand completions" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand completions" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand completions" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand completions" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand completions" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand man" -l out-dir -d 'Directory to write pki.1 and one page per command into' -r -F
complete -c pki -n "__fish_pki_using_subcommand man" -l dir -d 'The CA directory' -r -F
complete -c pki -n "__fish_pki_using_subcommand man" -l passphrase-file -d 'File holding the passphrase of the CA key to unlock (first line; never pass it in argv)' -r -F
complete -c pki -n "__fish_pki_using_subcommand man" -l passphrase-dir -d 'Directory of per-CA passphrase files, NAME.pass for CA NAME (tried before --passphrase-file)' -r -F
complete -c pki -n "__fish_pki_using_subcommand man" -l lock-timeout -d 'How long to wait for another pki process holding the directory lock' -r
complete -c pki -n "__fish_pki_using_subcommand man" -l note -d 'A note recorded with this change in the ledger (e.g. a ticket number)' -r
complete -c pki -n "__fish_pki_using_subcommand man" -s h -l help -d 'Print help'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "init" -d 'Guided set-up: a CA directory with a root, an issuing intermediate and default profiles'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "init-root" -d 'Create a self-signed root CA (refuses to overwrite one)'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "change-passphrase" -d 'Encrypt a CA key under a new passphrase (the old file replaced atomically)'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "serve" -d 'Serve CRLs, CA certificates and trust bundles over HTTP (a long-running service)'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "create-intermediate" -d 'Create an intermediate CA signed by the root'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "issue" -d 'Issue a leaf certificate under a profile (generated key, or a CSR\'s)'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "renew" -d 'Issue a successor to a certificate: same names and profile (re-checked), new serial'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "export" -d 'Export a PKCS#12 file, the root, a CA chain, or the trust bundle (PEM or SPIFFE JSON)'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "trust" -d 'Put the root CA into this system\'s trust store (or take it out)'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "revoke" -d 'Revoke a certificate (leaf or intermediate CA) and regenerate its CA\'s CRL'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "release-hold" -d 'Release a certificateHold: the certificate is valid again and leaves the next CRL'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "gen-crl" -d 'Generate (sign and publish) a CA\'s CRL'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "audit" -d 'Find what will cause an outage: expiring certificates, CAs and CRLs, integrity and policy problems'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "verify" -d 'Validate a certificate against the directory\'s roots and current CRLs (rustls-webpki)'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "inspect" -d 'Describe certificates, chains, CSRs, CRLs and keys (PEM or DER)'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "profiles" -d 'Show the issuance profiles of pki.toml (all, or one by name)'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "list" -d 'Show the inventory of issued certificates'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "reindex" -d 'Rebuild the inventory from the stored certificates and the ledger'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "settings" -d 'Record a reviewed hand edit of pki.toml in the ledger (audit reports unrecorded edits)'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "ledger" -d 'The ledger: check its hash chain and signature, print its signed head to keep elsewhere'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "acme" -d 'ACME on `pki serve`: External Account Binding keys of its directories'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "report" -d 'Write a self-contained HTML summary: CAs, findings, expiry timeline, what expires soon'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "attest" -d 'Trade a CI job\'s OIDC token for a short-lived SVID from `pki serve` (no CA secret here)'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "ledger-verify" -d 'Check the ledger\'s hash chain (the same as `pki ledger verify`)'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "completions" -d 'Print shell completions (bash, zsh, fish)'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "man" -d 'Write the man pages'
complete -c pki -n "__fish_pki_using_subcommand help; and not __fish_seen_subcommand_from init init-root change-passphrase serve create-intermediate issue renew export trust revoke release-hold gen-crl audit verify inspect profiles list reindex settings ledger acme report attest ledger-verify completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pki -n "__fish_pki_using_subcommand help; and __fish_seen_subcommand_from trust" -f -a "install" -d 'Add the root CA to the system trust store'
complete -c pki -n "__fish_pki_using_subcommand help; and __fish_seen_subcommand_from trust" -f -a "uninstall" -d 'Remove the root CA from the system trust store'
complete -c pki -n "__fish_pki_using_subcommand help; and __fish_seen_subcommand_from settings" -f -a "accept" -d 'Record pki.toml as it is now (after reviewing a change made by hand)'
complete -c pki -n "__fish_pki_using_subcommand help; and __fish_seen_subcommand_from ledger" -f -a "verify" -d 'Check the hash chain and the last signature (exit 1 if the ledger was edited, reordered or cut)'
complete -c pki -n "__fish_pki_using_subcommand help; and __fish_seen_subcommand_from ledger" -f -a "head" -d 'Print the last signed ledger record, to keep outside the directory (`audit --ledger-head`)'
complete -c pki -n "__fish_pki_using_subcommand help; and __fish_seen_subcommand_from acme" -f -a "eab" -d 'External Account Binding keys (RFC 8555 section 7.3.4): one account each'
