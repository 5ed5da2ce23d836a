#!/usr/bin/env bash
# The page over a big directory: `pki report --html` of N synthetic certificates (time and peak
# memory), then `pki serve`'s /ui/ table pages through it (each page's time over loopback,
# median of 5, after the first request has built the in-memory index). Not a test.
#
#   bench/ui.sh [N]        # default 1000000
#
# Records are synthetic (as bench/audit-vs-awk.sh makes them), dated around today: 70% one-hour
# agent SVIDs issued over the last 90 days (almost all expired), the rest server certificates of
# 1, 7, 30 or 90 days; 3% revoked, 2% renewed. Goals (issue 27): the report in seconds under
# 200 MB; every table page under 50 ms.
set -euo pipefail
N=${1:-1000000}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
PKI="$here/target/release/pki"
. "$here/bench/lib.sh"
bench_work ui
export PKI_ACTOR=bench
HTTP=$(port)

"$PKI" --dir ca init --non-interactive --org Bench --trust-domain acme.internal --no-passphrase >/dev/null 2>&1
python3 - ca "$N" <<'PY'
import datetime as dt, os, random, sys
d, n = sys.argv[1], int(sys.argv[2])
random.seed(7)
now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
with open(os.path.join(d, "inventory.tsv"), "a") as inv:
    for i in range(n):
        serial = "%032X" % random.getrandbits(127)
        r = random.random()
        if r < 0.70:
            profile, life, san = "agent", dt.timedelta(hours=1), f"URI:spiffe://acme.internal/agent/{i}"
        else:
            profile, life, san = "server", dt.timedelta(days=random.choice([1, 7, 30, 90])), f"DNS:s{i}.acme.internal"
        nb = now - dt.timedelta(seconds=random.randrange(90 * 86400))
        status = "revoked" if r > 0.97 else "superseded" if r > 0.95 else "valid"
        cn = san.split(":", 1)[1]
        inv.write(f"{serial:<32}\t{status:<10}\t{fmt(nb)}\t{fmt(nb + life)}\t{'-':<20}\t{'-':<20}\t{'-':<32}\tissuing\t{profile}\tp256\tCN={cn}\t{san}\n")
PY
cat > measure.py <<'PY'
import resource, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(f"{(time.perf_counter() - t) * 1000:.0f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024} {r.returncode}")
PY
cat ca/inventory.tsv > /dev/null
echo "pki $("$PKI" --version | cut -d' ' -f2), $N certificates, $(nproc) CPUs"
for run in 1 2 3; do
  read -r ms mib rc < <(python3 measure.py "$PKI" --dir ca report --html report.html)
  echo "report --html run $run: $ms ms, peak $mib MiB, exit $rc, $(stat -c %s report.html) bytes"
done

"$PKI" --dir ca serve --http "127.0.0.1:$HTTP" 2> serve.log &
pids+=($!)
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$HTTP/healthz" > /dev/null && break; sleep 0.05; done
t() { curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$HTTP$1"; }
echo "first table request (builds the index): $(t /ui/certs | awk '{printf "%.0f ms", $1 * 1000}')"
echo "serve RSS after the index: $(( $(awk '/VmRSS/{print $2}' /proc/${pids[0]}/status) / 1024 )) MiB"
S=$(sed -n 100p ca/inventory.tsv | cut -f1 | tr -d ' ')
L=$(tail -n 1 ca/inventory.tsv | cut -f1 | tr -d ' ')   # the last line: found by the index, not by reading through
printf '%-52s %10s\n' "page" "median ms"
for q in "/ui/certs" "/ui/certs?page=2" "/ui/certs?page=10000" "/ui/certs?sort=expiry-desc" "/ui/certs?sort=issued&page=500" \
         "/ui/certs?q=s12345" "/ui/certs?q=agent/99999" "/ui/certs?status=revoked&page=3" "/ui/certs?status=valid&profile=server" \
         "/ui/certs?status=valid&expiring=7d" "/ui/cert/$S" "/ui/cert/$L" "/ui/ (overview, cached)"; do
  path=${q% (*}
  median=$(for _ in 1 2 3 4 5; do t "$path"; done | sort -n | sed -n 3p | awk '{printf "%.1f", $1 * 1000}')
  printf '%-52s %10s\n' "$q" "$median"
done
