#!/usr/bin/env bash
# Issues N certificates with `pki issue` and with `openssl req` + `openssl ca` on this machine,
# in one run, at an empty inventory and at a large one (synthetic records), and prints the
# per-certificate times and ratios. Not a test: figures depend on the machine.
#
#   bench/issue-vs-openssl.sh [N] [LARGE]      defaults: N=200, LARGE=100000
set -euo pipefail
N=${1:-200}
LARGE=${2:-100000}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
PKI="$here/target/release/pki"
# Work on the repository's file system: /tmp may be a different one (or watched), which
# would measure the file system rather than the programs.
mkdir -p "$here/target"
work=$(mktemp -d "$here/target/bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "secret-bench-pass" > pass
export PKI_ACTOR=bench

now_ns() { date +%s%N; }

# --- pki -------------------------------------------------------------------------------------
setup_pki() { # $1 dir, $2 encrypted|plain
  if [ "$2" = encrypted ]; then
    "$PKI" --dir "$1" init --non-interactive --passphrase-file pass --new-passphrase-file pass 2>/dev/null
  else
    "$PKI" --dir "$1" init --non-interactive --no-passphrase 2>/dev/null
  fi
}
run_pki() { # $1 dir -> ms per certificate
  local t0 t1 i
  t0=$(now_ns)
  for ((i = 0; i < N; i++)); do
    "$PKI" --dir "$1" issue --passphrase-file pass --dns "h$i.acme.internal" --out "$1.out" --force >/dev/null 2>&1
  done
  t1=$(now_ns)
  echo "scale=3; ($t1 - $t0) / 1000000 / $N" | bc
}
grow_pki() { # $1 dir: add LARGE synthetic records to inventory, ledger (hash-chained) and certs/
  python3 - "$1" "$LARGE" <<'PY'
import hashlib, json, os, sys, secrets
d, n = sys.argv[1], int(sys.argv[2])
led = os.path.join(d, "ledger.jsonl")
lines = open(led).read().splitlines()
prev = hashlib.sha256(lines[-1].encode()).hexdigest()
seq = json.loads(lines[-1])["seq"]
pem = open(os.path.join(d, "cas", "issuing", "cert.pem")).read()
with open(led, "a") as L, open(os.path.join(d, "inventory.tsv"), "a") as I:
    if os.path.getsize(os.path.join(d, "inventory.tsv")) == 0:
        I.write("#serial\tstatus\tnot_before\tnot_after\trevoked_at\treason\treplaced_by\tca\tprofile\tkey_type\tsubject\tsans\n")
    for i in range(n):
        b = bytearray(secrets.token_bytes(16)); b[0] = (b[0] & 0x7f) or 1
        s = b.hex().upper()
        seq += 1
        data = {"ca": "issuing", "key_type": "p256", "not_after": "2027-01-01T00:00:00Z", "not_before": "2026-01-01T00:00:00Z",
                "profile": None, "sans": [f"DNS:s{i}.acme.internal"], "serial": s, "sha256": "0" * 64, "subject": f"CN=s{i}.acme.internal"}
        rec = json.dumps({"seq": seq, "time": "2026-01-01T00:00:00Z", "event": "cert-issued", "actor": "bench", "data": data, "prev": prev}, separators=(",", ":"))
        L.write(rec + "\n"); prev = hashlib.sha256(rec.encode()).hexdigest()
        I.write(f"{s:<32}\tvalid     \t2026-01-01T00:00:00Z\t2027-01-01T00:00:00Z\t{'-':<20}\t{'-':<20}\t{'-':<32}\tissuing\t-\tp256\tCN=s{i}.acme.internal\tDNS:s{i}.acme.internal\n")
        sd = os.path.join(d, "certs", s[:2]); os.makedirs(sd, mode=0o700, exist_ok=True)
        with open(os.path.join(sd, s + ".pem"), "w") as f: f.write(pem)
PY
}

# --- openssl ca ------------------------------------------------------------------------------
setup_openssl() { # $1 dir, $2 encrypted|plain
  mkdir -p "$1/newcerts"; : > "$1/index.txt"; echo 1000 > "$1/serial"
  local enc=(-nodes); [ "$2" = encrypted ] && enc=(-passout file:pass)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "${enc[@]}" -keyout "$1/ca.key" -subj /CN=BenchCA -days 3650 -out "$1/ca.pem" 2>/dev/null
  cat > "$1/ca.cnf" <<CNF
[ca]
default_ca = c
[c]
dir = $1
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
default_md = sha256
policy = p
unique_subject = no
copy_extensions = copy
x509_extensions = leaf
[p]
commonName = supplied
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
}
run_openssl() { # $1 dir, $2 encrypted|plain -> ms per certificate
  local t0 t1 i pass=()
  [ "$2" = encrypted ] && pass=(-passin file:pass)
  t0=$(now_ns)
  for ((i = 0; i < N; i++)); do
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/leaf.key" -subj "/CN=h$i.acme.internal" \
      -addext "subjectAltName=DNS:h$i.acme.internal" -out "$1/leaf.csr" 2>/dev/null
    openssl ca -batch -config "$1/ca.cnf" "${pass[@]}" -in "$1/leaf.csr" -out "$1/leaf.pem" -days 1 -notext 2>/dev/null
  done
  t1=$(now_ns)
  echo "scale=3; ($t1 - $t0) / 1000000 / $N" | bc
}
grow_openssl() { # $1 dir: LARGE synthetic index lines
  python3 - "$1/index.txt" "$LARGE" <<'PY'
import sys, secrets
with open(sys.argv[1], "a") as f:
    for i in range(int(sys.argv[2])):
        f.write(f"V\t270101000000Z\t\t{secrets.token_hex(16).upper()}\tunknown\t/CN=s{i}.acme.internal\n")
PY
}

echo "pki $("$PKI" --version | cut -d' ' -f2) vs $(openssl version | cut -d' ' -f1-2); N=$N per cell; $(nproc) cores"
printf '%-10s %-10s %12s %12s %8s\n' inventory ca-key "pki ms/cert" "openssl ms" ratio
for keymode in plain encrypted; do
  setup_pki "pki-$keymode" "$keymode"; setup_openssl "ossl-$keymode" "$keymode"
  for size in empty large; do
    if [ "$size" = large ]; then grow_pki "pki-$keymode"; grow_openssl "ossl-$keymode"; fi
    p=$(run_pki "pki-$keymode"); o=$(run_openssl "ossl-$keymode" "$keymode")
    label=$size; [ "$size" = large ] && label="+$LARGE"
    printf '%-10s %-10s %12s %12s %7sx\n' "$label" "$keymode" "$p" "$o" "$(echo "scale=1; $o / $p" | bc)"
  done
done
echo "(encrypted: pki uses scrypt N=2^14 for CA keys; openssl's default PEM encryption is PBKDF2 with 2048 iterations)"

# --- batch: one process, one lock, one unlock ------------------------------------------------
B=${BATCH:-10000}
setup_pki pki-batch encrypted
python3 -c "
import sys
for i in range($B): print('{\"profile\":\"agent\",\"spiffe_id\":\"spiffe://acme.internal/agent/%d\"}' % i)
" > batch.jsonl
t0=$(now_ns)
"$PKI" --dir pki-batch issue --passphrase-file pass --batch batch.jsonl > batch.out 2>/dev/null
t1=$(now_ns)
okn=$(grep -c '"ok":true' batch.out || true)
single=$(run_pki pki-batch)
printf 'batch: %d of %d issued in %s s = %s certs/s; single calls (encrypted CA key): %s certs/s\n' "$okn" "$B" \
  "$(echo "scale=2; ($t1 - $t0) / 1000000000" | bc)" "$(echo "scale=0; $okn * 1000000000 / ($t1 - $t0)" | bc)" \
  "$(echo "scale=1; 1000 / $single" | bc)"
