#!/usr/bin/env bash
# The benchmark harness: pki next to its peers on the same work, in one run, alternating rounds,
# medians of per-round means, ratios (pki ÷ peer) and peak memory. Not a test: figures depend on
# the machine; this one is noisy, so compare ratios from one run, not absolute times across runs.
#
#   bench/run.sh [ROUNDS]        default 5; QUICK=1 for a short smoke run
#
# Work items (issue "Performance at the limit"):
#   P1  issue one certificate with a new P-256 key, one process per certificate: pki vs
#       `openssl req -newkey` + `openssl ca`, `cfssl gencert`, easy-rsa `build-client-full`;
#       with a plaintext CA key and with an encrypted one
#   P2  the same at an inventory of 1,000,000 (synthetic records; an index.txt of that size)
#   P3  gen-crl with 100,000 revoked: pki vs `openssl ca -gencrl`
#   P4  audit --expiring 48h over 1,000,000 records: pki vs awk over an index.txt of that size
#   P5  issue --batch of 10,000 requests vs the raw in-process rate (examples/raw_issue.rs), and the
#       same batch with each certificate written into a directory of its own vs the batch to stdout
#   S   start-up: `pki --version` vs `openssl version`; `pki inspect` vs `openssl x509 -text`
# PARTS="P3 P4" runs only those parts (default: all). PKI_BEFORE=path/to/an/earlier/pki times that
# binary too in P3 and P4, alternating with this one in each round, and prints the ratios: a
# change's cost measured side by side (e.g. a build of the previous commit in a git worktree).
# Peers come from the distribution's packages (installed when missing and running as root).
set -euo pipefail
ROUNDS=${1:-5}
PARTS=${PARTS:-P5 P1 P2 P3 P4 S}
want() { [[ " $PARTS " == *" $1 "* ]]; }
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${QUICK:-}" ]; then K=5; BIG=20000; REV=10000; BATCH=1000; else K=20; BIG=1000000; REV=100000; BATCH=10000; fi

if [ "$(id -u)" = 0 ]; then
  need=()
  command -v cfssl >/dev/null || need+=(golang-cfssl)
  [ -x /usr/share/easy-rsa/easyrsa ] || need+=(easy-rsa)
  command -v openssl >/dev/null || need+=(openssl)
  command -v bc >/dev/null || need+=(bc)
  command -v eatmydata >/dev/null || need+=(eatmydata)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
cargo build --release --quiet --manifest-path "$here/Cargo.toml" --example raw_issue
PKI="$here/target/release/pki"
RAW="$here/target/release/examples/raw_issue"
mkdir -p "$here/target"
work=$(mktemp -d "$here/target/bench-run.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
cd "$work"
export PKI_ACTOR=bench
echo "secret-bench-pass" > pass
# easy-rsa hands one file to both -passin and -passout, and OpenSSL then reads one line for each.
printf 'secret-bench-pass\nsecret-bench-pass\n' > pass2

# `measure N CMD...`: runs CMD (a shell snippet with $i) N times; prints "ms-per-item peak-KiB".
cat > measure.py <<'PY'
import resource, subprocess, sys, time
n, script = int(sys.argv[1]), sys.argv[2]
t = time.perf_counter()
subprocess.run(["bash", "-c", f"for ((i = 0; i < {n}; i++)); do {script}; done"], check=True)
ms = (time.perf_counter() - t) * 1000 / n
print(f"{ms:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
PY
measure() { python3 measure.py "$@"; }
# Before each timed part: write out what the set-up left dirty (and, on a disk mounted with
# discard, the discards of earlier deletions), so that no tool pays for another's writes.
settle() { sync; sleep 2; }
median() { sort -n | awk '{a[NR]=$1} END{if (NR == 0) print "n/a"; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { if [ "$2" = n/a ] || [ "$1" = n/a ]; then echo n/a; else echo "scale=3; $1 / $2" | bc | sed 's/^\./0./'; fi; }

# ---- set-up ----------------------------------------------------------------------------------
setup_pki() { # dir plain|encrypted
  if [ "$2" = encrypted ]; then
    "$PKI" --dir "$1" init --non-interactive --passphrase-file pass --new-passphrase-file pass 2>/dev/null
  else
    "$PKI" --dir "$1" init --non-interactive --no-passphrase 2>/dev/null
  fi
}
setup_openssl() { # dir plain|encrypted
  mkdir -p "$1/newcerts"; : > "$1/index.txt"; echo 1000 > "$1/serial"; echo 1000 > "$1/crlnumber"
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
crlnumber = \$dir/crlnumber
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
default_md = sha256
default_crl_days = 7
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
setup_cfssl() {
  mkdir -p "$1" && cd "$1"
  echo '{"CN": "Bench CA", "key": {"algo": "ecdsa", "size": 256}}' > ca-csr.json
  cfssl gencert -initca ca-csr.json 2>/dev/null | cfssljson -bare ca
  echo '{"signing": {"profiles": {"leaf": {"expiry": "24h", "usages": ["digital signature", "server auth", "client auth"]}}}}' > cfg.json
  echo '{"CN": "h.acme.internal", "hosts": ["h.acme.internal"], "key": {"algo": "ecdsa", "size": 256}}' > leaf.json
  cd "$work"
}
setup_easyrsa() { # dir plain|encrypted
  cp -r /usr/share/easy-rsa "$1"
  (cd "$1" && ./easyrsa --batch init-pki >/dev/null 2>&1
   if [ "$2" = encrypted ]; then
     EASYRSA_ALGO=ec EASYRSA_CURVE=prime256v1 EASYRSA_REQ_CN=BenchCA EASYRSA_PASSOUT="file:$work/pass2" EASYRSA_PASSIN="file:$work/pass2" ./easyrsa --batch build-ca >/dev/null 2>&1
   else
     EASYRSA_ALGO=ec EASYRSA_CURVE=prime256v1 EASYRSA_REQ_CN=BenchCA ./easyrsa --batch build-ca nopass >/dev/null 2>&1
   fi)
}

# The work of P1/P2 for each tool, as shell snippets run by measure (with $i unique per run).
w_pki() { echo "\"$PKI\" --dir $1 issue --passphrase-file pass --dns h\$i.acme.internal --out $1.out --force >/dev/null 2>&1"; }
w_openssl() {
  local pass=""; [ "$2" = encrypted ] && pass="-passin file:pass"
  echo "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $1/leaf.key -subj /CN=h\$i.acme.internal -addext subjectAltName=DNS:h\$i.acme.internal -out $1/leaf.csr 2>/dev/null && openssl ca -batch -config $1/ca.cnf $pass -in $1/leaf.csr -out $1/leaf.pem -days 1 -notext 2>/dev/null"
}
w_cfssl() { echo "cfssl gencert -ca $1/ca.pem -ca-key $1/ca-key.pem -config $1/cfg.json -profile leaf $1/leaf.json > /dev/null 2>&1"; }
w_easyrsa() { # unique names across rounds: a counter file
  local pass=""; [ "$2" = encrypted ] && pass="EASYRSA_PASSIN=file:$work/pass"
  echo "n=\$(cat $1.n 2>/dev/null || echo 0); echo \$((n + 1)) > $1.n; (cd $1 && $pass EASYRSA_ALGO=ec EASYRSA_CURVE=prime256v1 ./easyrsa --batch build-client-full c\$n nopass >/dev/null 2>&1)"
}

grow_pki() { # dir count: synthetic inventory and hash-chained ledger records (no certificate files:
             # issue never reads the inventory, and checks only its own new serial's file; the
             # 256 shard directories of certs/ exist, as they do in any large directory)
  for x in 0 1 2 3 4 5 6 7 8 9 A B C D E F; do for y in 0 1 2 3 4 5 6 7 8 9 A B C D E F; do mkdir -p -m 700 "$1/certs/$x$y"; done; done
  python3 - "$1" "$2" <<'PY'
import hashlib, json, os, sys, random
d, n = sys.argv[1], int(sys.argv[2])
random.seed(11)
led = os.path.join(d, "ledger.jsonl")
last = open(led).read().splitlines()[-1]
prev, seq = hashlib.sha256(last.encode()).hexdigest(), json.loads(last)["seq"]
with open(led, "a") as L, open(os.path.join(d, "inventory.tsv"), "a") as I:
    if os.path.getsize(os.path.join(d, "inventory.tsv")) == 0:
        I.write("#serial\tstatus\tnot_before\tnot_after\trevoked_at\treason\treplaced_by\tca\tprofile\tkey_type\tsubject\tsans\n")
    for i in range(n):
        s = "%032X" % random.getrandbits(127)
        seq += 1
        # 90-day server certificates, valid and within policy: no findings, the audit's common case.
        data = {"ca": "issuing", "key_type": "p256", "not_after": "2027-01-13T00:00:00Z", "not_before": "2026-10-15T00:00:00Z",
                "profile": "server", "sans": [f"DNS:s{i}.acme.internal"], "serial": s, "sha256": "0" * 64, "subject": f"CN=s{i}.acme.internal"}
        rec = json.dumps({"seq": seq, "time": "2026-01-01T00:00:00Z", "event": "cert-issued", "actor": "bench", "data": data, "prev": prev}, separators=(",", ":"))
        L.write(rec + "\n"); prev = hashlib.sha256(rec.encode()).hexdigest()
        I.write(f"{s:<32}\tvalid     \t2026-10-15T00:00:00Z\t2027-01-13T00:00:00Z\t{'-':<20}\t{'-':<20}\t{'-':<32}\tissuing\tserver\tp256\tCN=s{i}.acme.internal\tDNS:s{i}.acme.internal\n")
PY
}
grow_index() { # index.txt count [R]: valid (V) or revoked (R) lines
  python3 - "$1" "$2" "${3:-V}" <<'PY'
import sys, random
random.seed(13)
path, n, flag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "a") as f:
    for i in range(n):
        rev = "260101000000Z,keyCompromise" if flag == "R" else ""
        f.write(f"{flag}\t270101000000Z\t{rev}\t{random.getrandbits(127):032X}\tunknown\t/CN=s{i}.acme.internal\n")
PY
}

declare -A T R   # T[key]=list of per-round ms; R[key]=peak KiB
record() { # key "ms kib"
  local ms kib; read -r ms kib <<< "$2"
  T[$1]+="$ms "
  [ "${R[$1]:-0}" -lt "$kib" ] && R[$1]=$kib || true
}
med() { echo "${T[$1]:-}" | tr ' ' '\n' | grep -v '^$' | median; }

EMD=$(ls /usr/lib/*/libeatmydata.so 2>/dev/null | head -1 || true)
has_cfssl=0; command -v cfssl >/dev/null && command -v cfssljson >/dev/null && has_cfssl=1
has_easyrsa=0; [ -x /usr/share/easy-rsa/easyrsa ] && has_easyrsa=1

if want P5; then
# ---- P5: batch vs the raw in-process rate (first: before the other parts free any inodes) -----
# On this VM's ext4 (no journal) a new inode skips recently freed ones, and right after many
# files were deleted creating files is several times slower (10,000-certificate batch measured
# 1, 4, 6 and 8 minutes after a bench run's clean-up: 2.6, 0.9, 0.6 and 0.5 s). Leave about ten
# minutes between runs.
python3 -c "
for i in range($BATCH): print('{\"profile\":\"agent\",\"spiffe_id\":\"spiffe://acme.internal/agent/%d\"}' % i)
" > batch.jsonl
for ((r = 0; r < ROUNDS; r++)); do
  python3 -c "
for i in range($BATCH): print('{\"profile\":\"agent\",\"spiffe_id\":\"spiffe://acme.internal/agent/%d\",\"out\":\"out-$r/%d\"}' % (i, i))
" > "batchdir-$r.jsonl"
done
# A new directory each round, all removed at the end (deleting between rounds would slow the
# next round, as above).
for ((r = 0; r < ROUNDS; r++)); do
  setup_pki "pki-batch-$r" plain
  settle
  record "P5-pki" "$(measure 1 "\"$PKI\" --dir pki-batch-$r issue --batch batch.jsonl >/dev/null 2>&1")"
  # The same requests, each into a directory of its own (five files per certificate).
  setup_pki "pki-batchdir-$r" plain
  settle
  record "P5-dir-pki" "$(measure 1 "\"$PKI\" --dir pki-batchdir-$r issue --batch batchdir-$r.jsonl >/dev/null 2>&1")"
  raw=$("$RAW" "$BATCH" | sed -E 's/.* = ([0-9]+) per second.*/\1/')
  T[P5-raw]+="$raw "
  # The same on every core (the batch signs on every core): one raw process per core at once.
  raw_all=$(for ((c = 0; c < $(nproc); c++)); do "$RAW" "$BATCH" & done | sed -E 's/.* = ([0-9]+) per second.*/\1/' | paste -sd+ | bc)
  T[P5-raw-all]+="$raw_all "
done

fi

# ---- P1 and P2 ---------------------------------------------------------------------------------
if want P1 || want P2 || want P4 || want S; then
for mode in plain encrypted; do
  setup_pki "pki-$mode" "$mode"; setup_openssl "ossl-$mode" "$mode"
  [ "$has_easyrsa" = 1 ] && setup_easyrsa "er-$mode" "$mode"
done
[ "$has_cfssl" = 1 ] && setup_cfssl cf
settle
fi
for ((r = 0; r < ROUNDS; r++)); do
  want P1 || break
  for mode in plain encrypted; do
    # pki is the one tool here that flushes to disk: it would wait behind the others' writes.
    settle
    record "P1-$mode-pki" "$(measure $K "$(w_pki "pki-$mode")")"
    # The same without disk flushes: what durability costs, and the floor without it.
    # (libeatmydata preloaded directly: the eatmydata wrapper script would add a shell's start.)
    [ "$mode" = plain ] && [ -n "$EMD" ] &&
      record "P1-plain-pki-noflush" "$(measure $K "LD_PRELOAD=$EMD $(w_pki "pki-$mode")")"
    record "P1-$mode-openssl" "$(measure $K "$(w_openssl "ossl-$mode" "$mode")")"
    [ "$mode" = plain ] && [ "$has_cfssl" = 1 ] && record "P1-$mode-cfssl" "$(measure $K "$(w_cfssl cf)")"
    [ "$has_easyrsa" = 1 ] && record "P1-$mode-easyrsa" "$(measure $((K / 4 + 1)) "$(w_easyrsa "er-$mode" "$mode")")"
  done
  # The KDF alone: unlocking a key encrypted with pki's parameters, in-process.
  T[P1-kdf]+="$("$RAW" kdf | sed -E 's/.* = ([0-9.]+) ms.*/\1/') "
done
# P2: the plain directories grown to BIG records.
if want P2 || want P4; then grow_pki pki-plain "$BIG"; grow_index ossl-plain/index.txt "$BIG"; settle; fi
for ((r = 0; r < ROUNDS; r++)); do
  want P2 || break
  settle   # openssl rewrites its 1,000,000-line index.txt (70 MB) for every certificate
  record "P2-pki" "$(measure $K "$(w_pki pki-plain)")"
  record "P2-openssl" "$(measure 2 "$(w_openssl ossl-plain plain)")"
done

# ---- P3: gen-crl with REV revoked ----------------------------------------------------------------
if want P3; then
setup_pki pki-crl plain
python3 - pki-crl "$REV" <<'PY'
import os, sys, random
d, n = sys.argv[1], int(sys.argv[2])
random.seed(17)
with open(os.path.join(d, "crl", "issuing.revoked.tsv"), "a") as L:
    for i in range(n):
        L.write(f"{random.getrandbits(127):032X}\tissuing\t2026-01-01T00:00:00Z\tkeyCompromise\t-\t2099-01-01T00:00:00Z\tleaf\n")
PY
setup_openssl ossl-crl plain; grow_index ossl-crl/index.txt "$REV" R
settle
for ((r = 0; r < ROUNDS; r++)); do
  record "P3-pki" "$(measure 1 "\"$PKI\" --dir pki-crl gen-crl >/dev/null 2>&1")"
  [ -n "${PKI_BEFORE:-}" ] && record "P3-before" "$(measure 1 "\"$PKI_BEFORE\" --dir pki-crl gen-crl >/dev/null 2>&1")"
  record "P3-openssl" "$(measure 1 "openssl ca -config ossl-crl/ca.cnf -gencrl -out ossl-crl/crl.pem 2>/dev/null")"
done
fi

# ---- P4: audit over BIG records -----------------------------------------------------------------
# pki-plain has BIG synthetic records by now; the same question for awk over an index.txt.
AWK_IDX='BEGIN{FS="\t"} $1=="V" && $2 < "261201000000Z" {n++} END{print n+0}'
for ((r = 0; r < ROUNDS; r++)); do
  want P4 || break
  record "P4-pki" "$(measure 1 "\"$PKI\" --dir pki-plain audit --expiring 48h --json >/dev/null 2>&1 || true")"
  [ -n "${PKI_BEFORE:-}" ] && record "P4-before" "$(measure 1 "\"$PKI_BEFORE\" --dir pki-plain audit --expiring 48h --json >/dev/null 2>&1 || true")"
  # The part of the audit that checks the ledger (hash chain, last signature), alone.
  record "P4-ledger" "$(measure 1 "\"$PKI\" --dir pki-plain ledger verify >/dev/null 2>&1 || true")"
  record "P4-awk" "$(measure 1 "awk '$AWK_IDX' ossl-plain/index.txt >/dev/null")"
done

# ---- start-up ------------------------------------------------------------------------------------
cert="pki-plain.out/cert.pem"
for ((r = 0; r < ROUNDS; r++)); do
  { want S && [ -f "$cert" ]; } || break
  record "S-version-pki" "$(measure 100 "\"$PKI\" --version >/dev/null")"
  record "S-version-openssl" "$(measure 100 "openssl version >/dev/null")"
  record "S-inspect-pki" "$(measure 100 "\"$PKI\" inspect $cert >/dev/null")"
  record "S-inspect-openssl" "$(measure 100 "openssl x509 -in $cert -noout -text >/dev/null")"
  record "S-true" "$(measure 100 "/bin/true")"
done

# ---- report --------------------------------------------------------------------------------------
mib() { [ -n "${R[$1]:-}" ] && echo $(( R[$1] / 1024 )) || echo n/a; }
row() { # label key-pki key-peer peer-name
  local p o; p=$(med "$2"); o=$(med "$3")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$p" "$4" "$o" "$(ratio "$p" "$o")" "$(mib "$2")"
}
echo "pki $("$PKI" --version | cut -d' ' -f2) on $(nproc) cores, $(date -u +%Y-%m-%d); $ROUNDS rounds, medians of per-round means (ms); K=$K per round for P1/P2"
echo "$(openssl version | cut -d' ' -f1-2); cfssl $(cfssl version 2>/dev/null | awk '/Version/{print $2}'); easy-rsa $(/usr/share/easy-rsa/easyrsa --version 2>/dev/null | awk '/Version:/{print $2}')"
echo
echo "| work | pki ms | peer | peer ms | pki ÷ peer | pki peak MiB |"
echo "|---|---|---|---|---|---|"
if want P1; then
row "P1 issue, plaintext CA key" P1-plain-pki P1-plain-openssl openssl
[ "$has_cfssl" = 1 ] && row "P1 issue, plaintext CA key" P1-plain-pki P1-plain-cfssl "cfssl gencert"
[ "$has_easyrsa" = 1 ] && row "P1 issue, plaintext CA key" P1-plain-pki P1-plain-easyrsa "easy-rsa"
row "P1 issue, encrypted CA key" P1-encrypted-pki P1-encrypted-openssl openssl
[ "$has_easyrsa" = 1 ] && row "P1 issue, encrypted CA key" P1-encrypted-pki P1-encrypted-easyrsa "easy-rsa"
fi
if want P2; then
row "P2 issue at $BIG records" P2-pki P2-openssl "openssl (index.txt)"
printf '| P2 ÷ P1 (pki, plaintext) | %s | | | | |\n' "$(ratio "$(med P2-pki)" "$(med P1-plain-pki)")"
fi
want P3 && row "P3 gen-crl, $REV revoked" P3-pki P3-openssl "openssl ca -gencrl"
want P3 && [ -n "${PKI_BEFORE:-}" ] && row "P3 gen-crl, $REV revoked" P3-pki P3-before "the earlier build (PKI_BEFORE)"
want P4 && row "P4 audit, $BIG records" P4-pki P4-awk "awk over index.txt"
want P4 && [ -n "${PKI_BEFORE:-}" ] && row "P4 audit, $BIG records" P4-pki P4-before "the earlier build (PKI_BEFORE)"
want P4 && row "P4's ledger check alone (ledger verify), $BIG records" P4-ledger P4-awk "awk over index.txt"
if want P5; then
p5=$(med P5-pki); raw=$(med P5-raw)
rate=$(echo "scale=0; $BATCH * 1000 / $p5" | bc)
printf '| P5 batch of %s | %s certs/s | raw in-process, 1 thread | %s certs/s | %s | %s |\n' "$BATCH" "$rate" "$raw" "$(ratio "$rate" "$raw")" "$(mib P5-pki)"
echo "P5 per round (ms): ${T[P5-pki]}" >&2
dir_rate=$(echo "scale=0; $BATCH * 1000 / $(med P5-dir-pki)" | bc)
printf '| P5 batch of %s, each into a directory | %s certs/s | the same batch to stdout | %s certs/s | %s | %s |\n' "$BATCH" "$dir_rate" "$rate" "$(ratio "$dir_rate" "$rate")" "$(mib P5-dir-pki)"
echo "P5 into directories per round (ms): ${T[P5-dir-pki]}" >&2
raw_all=$(med P5-raw-all)
printf '| P5 batch of %s | %s certs/s | raw in-process, %s processes | %s certs/s | %s | %s |\n' "$BATCH" "$rate" "$(nproc)" "$raw_all" "$(ratio "$rate" "$raw_all")" "$(mib P5-pki)"
fi
if want S && [ -n "${T[S-true]:-}" ]; then
row "start-up: --version" S-version-pki S-version-openssl "openssl version"
row "start-up: inspect cert" S-inspect-pki S-inspect-openssl "openssl x509 -text"
printf '| (process floor: /bin/true) | %s | | | | |\n' "$(med S-true)"
fi
if want P1; then
[ -n "${T[P1-plain-pki-noflush]:-}" ] &&
  printf '| (P1 plaintext without disk flushes: eatmydata pki issue) | %s | | | | |\n' "$(med P1-plain-pki-noflush)"
kdf=$(med P1-kdf)
echo "P1 encrypted: unlock of a key encrypted like pki's (scrypt N=2^14 r=8 p=1), in-process, once per process: $kdf ms"
echo "  pki issue with an encrypted CA key - unlock = $(echo "scale=3; $(med P1-encrypted-pki) - $kdf" | bc) ms (target <= 3)"
echo "encrypted - plaintext pki issue = $(echo "scale=3; $(med P1-encrypted-pki) - $(med P1-plain-pki)" | bc) ms"
fi
