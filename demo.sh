#!/usr/bin/env bash
# The main job on an example CA directory: build pki, set up a CA non-interactively, issue a
# server certificate and an agent identity, verify them with OpenSSL, inspect, list and audit.
#   ./demo.sh [DIR]        (default: ./demo-ca, removed first)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/demo-ca}
step() { printf '\n== demo: %s\n' "$*" >&2; }
step "building pki in release mode (a few minutes on a fresh machine; cargo shows its progress)"
cargo build --release --manifest-path "$here/Cargo.toml"
pki="$here/target/release/pki"
rm -rf "$dir" "$dir.out"
mkdir -p "$dir.out"
# The passphrases come from files, never from argv. (A real CA keeps them somewhere safer.)
umask 077
echo "demo root passphrase" > "$dir.out/root.pass"
echo "demo issuing passphrase" > "$dir.out/issuing.pass"
export PKI_DIR="$dir"
step "creating the CA directory $dir (a root and an issuing CA, passphrases from files)"

"$pki" init --non-interactive --org "Demo Corp" --trust-domain demo.internal \
  --passphrase-file "$dir.out/root.pass" --new-passphrase-file "$dir.out/issuing.pass"
step "issuing a server certificate and an agent identity (SPIFFE SVID)"
serial=$("$pki" issue --passphrase-file "$dir.out/issuing.pass" --dns api.demo.internal --ip 10.0.0.7 --ttl 24h --out "$dir.out/api")
echo "server certificate serial: $serial"
"$pki" issue --passphrase-file "$dir.out/issuing.pass" --profile agent --spiffe-id spiffe://demo.internal/agent/42 --key-type ed25519 --ttl 1h \
  --out "$dir.out/agent" --json
step "verifying both with OpenSSL"
openssl verify -x509_strict -purpose sslserver -CAfile "$dir.out/api/root.pem" -untrusted "$dir.out/api/chain.pem" "$dir.out/api/cert.pem"
openssl verify -x509_strict -purpose sslclient -CAfile "$dir.out/agent/root.pem" -untrusted "$dir.out/agent/chain.pem" "$dir.out/agent/cert.pem"
step "inspecting, listing, checking the ledger"
"$pki" inspect "$dir.out/api/cert.pem"
echo
"$pki" list
"$pki" ledger-verify
step "auditing the directory"
# Nothing should be wrong with a fresh directory: exit 0 (findings would exit 1 and stop the demo).
"$pki" audit --expiring 48h --deep
