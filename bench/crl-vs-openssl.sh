#!/usr/bin/env bash
# Revocation at scale: with R certificates already revoked (synthetic records), time one more
# `revoke` and a `gen-crl`, for pki and for `openssl ca`, in the same run, and print ratios.
# Not a test: figures depend on the machine.
#
#   bench/crl-vs-openssl.sh [R] [RUNS]      defaults: R=100000, RUNS=5
set -euo pipefail
R=${1:-100000}
RUNS=${2:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
PKI="$here/target/release/pki"
mkdir -p "$here/target"
work=$(mktemp -d "$here/target/bench.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
cd "$work"
export PKI_ACTOR=bench PKI_DIR="$work/ca"
now_ns() { date +%s%N; }
ms() { echo "scale=1; ($2 - $1) / 1000000 / $3" | bc; }

# --- pki: a directory with R revoked certificates of the issuing CA ------------------------
"$PKI" init --non-interactive --no-passphrase 2>/dev/null
for i in $(seq "$RUNS"); do "$PKI" issue --dns "live$i.acme.internal" --out "live$i" >/dev/null 2>&1; done
python3 - "$work/ca" "$R" <<'PY'
import os, sys, secrets
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(os.path.join(d, "crl"), mode=0o700, exist_ok=True)
with open(os.path.join(d, "crl", "issuing.revoked.tsv"), "a") as L, open(os.path.join(d, "inventory.tsv"), "r+") as I:
    body = I.read(); I.seek(0)
    lines = body.splitlines(True)
    I.write(lines[0])                               # header first, then the synthetic history
    for i in range(n):
        b = bytearray(secrets.token_bytes(16)); b[0] = (b[0] & 0x7f) or 1
        s = b.hex().upper()
        L.write(f"{s}\tissuing\t2026-01-01T00:00:00Z\tkeyCompromise\t-\t2099-01-01T00:00:00Z\tleaf\n")
        I.write(f"{s:<32}\trevoked   \t2026-01-01T00:00:00Z\t2099-01-01T00:00:00Z\t{'2026-01-01T00:00:00Z':<20}\t{'keyCompromise':<20}\t{'-':<32}\tissuing\tserver\tp256\tCN=s{i}\tDNS:s{i}.acme.internal\n")
    I.writelines(lines[1:])
PY
"$PKI" gen-crl >/dev/null 2>&1
mapfile -t live < <(awk -F'\t' '$1 !~ /^#/ && $2 ~ /^valid/ {print $1}' "$work/ca/inventory.tsv")
t0=$(now_ns); for s in "${live[@]}"; do "$PKI" revoke "$s" --no-crl >/dev/null 2>&1; done; t1=$(now_ns)
pki_revoke=$(ms "$t0" "$t1" "${#live[@]}")
t0=$(now_ns); for i in $(seq "$RUNS"); do "$PKI" gen-crl >/dev/null 2>&1; done; t1=$(now_ns)
pki_gencrl=$(ms "$t0" "$t1" "$RUNS")
crl_bytes=$(stat -c %s "$work/ca/crl/issuing.crl")

# --- openssl ca with R revoked entries in its index ----------------------------------------
mkdir -p ossl/newcerts; : > ossl/index.txt; echo 1000 > ossl/serial; echo 01 > ossl/crlnumber
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ossl/ca.key -subj /CN=BenchCA -days 3650 -out ossl/ca.pem 2>/dev/null
cat > ossl/ca.cnf <<CNF
[ca]
default_ca = c
[c]
dir = $work/ossl
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
crlnumber = \$dir/crlnumber
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
default_md = sha256
default_crl_days = 7
policy = p
unique_subject = no
[p]
commonName = supplied
CNF
python3 - "$work/ossl/index.txt" "$R" <<'PY'
import sys, secrets
with open(sys.argv[1], "a") as f:
    for i in range(int(sys.argv[2])):
        f.write(f"R\t990101000000Z\t260101000000Z,keyCompromise\t{secrets.token_hex(16).upper()}\tunknown\t/CN=s{i}\n")
PY
for i in $(seq "$RUNS"); do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj "/CN=live$i" -out "ossl/live$i.csr" 2>/dev/null
  openssl ca -batch -config ossl/ca.cnf -in "ossl/live$i.csr" -out "ossl/live$i.pem" -days 1 -notext 2>/dev/null
done
t0=$(now_ns); for i in $(seq "$RUNS"); do openssl ca -config ossl/ca.cnf -revoke "ossl/live$i.pem" -crl_reason keyCompromise 2>/dev/null; done; t1=$(now_ns)
ossl_revoke=$(ms "$t0" "$t1" "$RUNS")
t0=$(now_ns); for i in $(seq "$RUNS"); do openssl ca -config ossl/ca.cnf -gencrl -out ossl/crl.pem 2>/dev/null; done; t1=$(now_ns)
ossl_gencrl=$(ms "$t0" "$t1" "$RUNS")

echo "revocation at $R revoked certificates; mean of $RUNS runs; $(nproc) cores; pki CRL $crl_bytes bytes (DER)"
printf '%-28s %10s %12s %8s\n' operation "pki ms" "openssl ms" ratio
printf '%-28s %10s %12s %7sx\n' "revoke (no CRL)" "$pki_revoke" "$ossl_revoke" "$(echo "scale=1; $ossl_revoke / $pki_revoke" | bc)"
printf '%-28s %10s %12s %7sx\n' "gen-crl" "$pki_gencrl" "$ossl_gencrl" "$(echo "scale=1; $ossl_gencrl / $pki_gencrl" | bc)"
