#!/usr/bin/env bash
# `pki audit --expiring 48h` over N synthetic inventory records, next to `awk` finding the
# expiring certificates in an OpenSSL index.txt of N records and in pki's own inventory.tsv, in
# one run, alternating, with medians, ratios and peak memory. Not a test: figures depend on the
# machine.
#
#   bench/audit-vs-awk.sh [N] [RUNS]      defaults: N=1000000, RUNS=5
#
# Two inventories: "mixed" (a year of history: mostly expired 1-hour agent certificates, server
# certificates of 1-90 days, some revoked and superseded) and "all-valid" (every record valid,
# under a profile: the policy-drift check runs on each, the worst case).
set -euo pipefail
N=${1:-1000000}
RUNS=${2:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
# PKI_NOW (a fixed clock, so the history is the same every run) exists only with the test
# hooks: a release build with them, in a target directory of its own.
cargo build --release --quiet --manifest-path "$here/Cargo.toml" --features pki-core/test-hooks --target-dir "$here/target/hooks"
PKI="$here/target/hooks/release/pki"
mkdir -p "$here/target"
work=$(mktemp -d "$here/target/bench.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
cd "$work"
export PKI_ACTOR=bench PKI_NOW=2026-06-01T00:00:00Z

# Peak RSS (KiB) and wall time (ms) of one command, its output discarded.
cat > measure.py <<'PY'
import resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
ms = (time.perf_counter() - t) * 1000
print(f"{ms:.1f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
PY

for kind in mixed all-valid; do
  "$PKI" --dir "ca-$kind" init --non-interactive --org Bench --trust-domain acme.internal --no-passphrase 2>/dev/null
  python3 - "ca-$kind" "$N" "$kind" "index-$kind.txt" <<'PY'
import datetime as dt, os, random, sys
d, n, kind, index = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
random.seed(7)
now = dt.datetime(2026, 6, 1)
fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
ossl = lambda t: t.strftime("%y%m%d%H%M%SZ")
with open(os.path.join(d, "inventory.tsv"), "a") as inv, open(index, "w") as idx:
    for i in range(n):
        serial = "%032X" % random.getrandbits(127)
        if kind == "mixed":
            r = random.random()
            if r < 0.70:
                profile, life, san = "agent", dt.timedelta(hours=1), f"URI:spiffe://acme.internal/agent/{i}"
            else:
                profile, life, san = "server", dt.timedelta(days=random.choice([1, 7, 30, 90])), f"DNS:s{i}.acme.internal"
            nb = now - dt.timedelta(seconds=random.randrange(365 * 86400))
            status = "revoked" if r > 0.97 else "superseded" if r > 0.95 else "valid"
        else:
            profile, life, san = "server", dt.timedelta(days=90), f"DNS:s{i}.acme.internal"
            nb = now - dt.timedelta(seconds=random.randrange(80 * 86400))
            status = "valid"
        na = nb + life
        cn = san.split(":", 1)[1]
        inv.write(f"{serial:<32}\t{status:<10}\t{fmt(nb)}\t{fmt(na)}\t{'-':<20}\t{'-':<20}\t{'-':<32}\tissuing\t{profile}\tp256\tCN={cn}\t{san}\n")
        flag = "V" if status == "valid" else "R"
        rev = ossl(nb) if flag == "R" else ""
        idx.write(f"{flag}\t{ossl(na)}\t{rev}\t{serial}\tunknown\t/CN={cn}\n")
PY
done

# The same question for awk: valid records whose end falls before now + 48h.
AWK_IDX='BEGIN{FS="\t"} $1=="V" && $2 < "260603000000Z" {n++; print $4} END{print n+0}'
AWK_INV='BEGIN{FS="\t"} $2 ~ /^valid/ && $4 < "2026-06-03T00:00:00Z" {n++; print $1} END{print n+0}'

median() { sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "pki $("$PKI" --version | cut -d' ' -f2) audit vs $(awk -W version 2>&1 | head -1 | cut -d' ' -f1-2); N=$N records; $RUNS runs each, alternating; $(nproc) cores"
printf '%-10s %-36s %10s %10s %8s\n' inventory command "median ms" "peak MiB" "pki ÷"
for kind in mixed all-valid; do
  : > "t-pki" ; : > "t-idx"; : > "t-inv"; peak_pki=0; peak_idx=0; peak_inv=0
  # Warm the page cache once for each file.
  cat "ca-$kind/inventory.tsv" "index-$kind.txt" > /dev/null
  for ((r = 0; r < RUNS; r++)); do
    read -r ms kb < <(python3 measure.py "$PKI" --dir "ca-$kind" audit --expiring 48h --json)
    echo "$ms" >> t-pki; [ "$kb" -gt "$peak_pki" ] && peak_pki=$kb
    read -r ms kb < <(python3 measure.py awk "$AWK_IDX" "index-$kind.txt")
    echo "$ms" >> t-idx; [ "$kb" -gt "$peak_idx" ] && peak_idx=$kb
    read -r ms kb < <(python3 measure.py awk "$AWK_INV" "ca-$kind/inventory.tsv")
    echo "$ms" >> t-inv; [ "$kb" -gt "$peak_inv" ] && peak_inv=$kb
  done
  p=$(median < t-pki); i=$(median < t-idx); v=$(median < t-inv)
  printf '%-10s %-36s %10s %10s %8s\n' "$kind" "pki audit --expiring 48h --json" "$p" "$((peak_pki / 1024))" ""
  printf '%-10s %-36s %10s %10s %7sx\n' "$kind" "awk over index.txt (openssl ca)" "$i" "$((peak_idx / 1024))" "$(echo "scale=2; $p / $i" | bc)"
  printf '%-10s %-36s %10s %10s %7sx\n' "$kind" "awk over inventory.tsv" "$v" "$((peak_inv / 1024))" "$(echo "scale=2; $p / $v" | bc)"
done
summary=$("$PKI" --dir ca-mixed audit --expiring 48h 2>/dev/null | tail -1 || true)
echo "mixed inventory: $summary"
echo "sizes: inventory.tsv $(du -m ca-mixed/inventory.tsv | cut -f1) MiB, index.txt $(du -m index-mixed.txt | cut -f1) MiB"
