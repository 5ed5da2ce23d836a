#!/usr/bin/env bash
# ACME under load: `pki serve` against Pebble (the reference ACME server, PEBBLE_VA_NOSLEEP=1,
# everything in memory), the same client in the same run, ratio printed. Not a test.
#
#   bench/acme.sh [CLIENTS] [ORDERS]     # concurrent clients (default 16), orders each (default 25)
#
# The client is examples/acme_load.rs (instant-acme; one process, one task and one account per
# client): new-order -> http-01 (answered in-process) -> finalize (a fresh P-256 key and CSR)
# -> download, one order after another per client. Names resolve through pebble-challtestsrv
# (every name is 127.0.0.1). pki serve commits every certificate durably (ledger and inventory
# fsynced under the directory lock, ACME state files fsynced) before answering; Pebble keeps
# everything in memory. Needs pebble (apt install pebble).
set -euo pipefail
CLIENTS=${1:-16}
ORDERS=${2:-25}
here=$(cd "$(dirname "$0")/.." && pwd)
command -v pebble >/dev/null || { echo "bench/acme.sh: needs pebble (apt install pebble)" >&2; exit 2; }
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
cargo build --release --quiet --manifest-path "$here/Cargo.toml" --example acme_load
PKI="$here/target/release/pki"
LOAD="$here/target/release/examples/acme_load"
. "$here/bench/lib.sh"
bench_work acme
export PKI_ACTOR=bench
DNS=$(port); MGMT=$(port); H01=$(port); PEB=$(port); HTTP=$(port); HTTPS=$(port)

"$PKI" --dir ca init --non-interactive --org Acme --trust-domain acme.internal --no-passphrase >/dev/null 2>&1
cat >> ca/pki.toml <<'END'

[profiles.acme]
ca = "issuing"
allowed_dns = ["*.example.test"]
allowed_ips = ["127.0.0.0/8"]
max_ttl = "24h"
acme = true
END
"$PKI" --dir ca settings accept >/dev/null
cp ca/cas/root/cert.pem root.pem
"$PKI" --dir ca issue --profile acme --ip 127.0.0.1 --out pebble-tls >/dev/null 2>&1

pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "127.0.0.1:$DNS" -http01 "" -https01 "" \
  -tlsalpn01 "" -management "127.0.0.1:$MGMT" >/dev/null 2>&1 &
pids+=($!)
cat > pebble.json <<END
{"pebble": {"listenAddress": "127.0.0.1:$PEB", "managementListenAddress": "127.0.0.1:$(port)",
  "certificate": "pebble-tls/fullchain.pem", "privateKey": "pebble-tls/key.pem",
  "httpPort": $H01, "tlsPort": $(port), "ocspResponderURL": "", "externalAccountBindingRequired": false}}
END
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config pebble.json -dnsserver "127.0.0.1:$DNS" >/dev/null 2>&1 &
pids+=($!)
"$PKI" --dir ca serve --http "127.0.0.1:$HTTP" --https "127.0.0.1:$HTTPS" --tls-ca issuing --tls-profile acme \
  --ca issuing --acme-http01-port "$H01" --acme-dns-resolver "127.0.0.1:$DNS" 2> serve.log &
pids+=($!)
wait_port "$PEB"; wait_port "$HTTPS"

run() { "$LOAD" "$1" root.pem "$H01" "$CLIENTS" "$ORDERS"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])['$2'])" "$1"; }
echo "clients $CLIENTS, orders each $ORDERS ($(nproc) CPUs)"
peb=$(run "https://127.0.0.1:$PEB/dir")
pki=$(run "https://127.0.0.1:$HTTPS/acme/acme/directory")
printf '%-8s %14s %10s %10s %8s\n' server "certs/s" "p50 ms" "p99 ms" errors
for x in pebble pki; do
  if [ "$x" = pebble ]; then j=$peb; else j=$pki; fi
  printf '%-8s %14s %10s %10s %8s\n' "$x" "$(field "$j" per_second)" "$(field "$j" p50_ms)" "$(field "$j" p99_ms)" "$(field "$j" errors)"
done
python3 -c "import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); print(f'ratio pki/pebble: {a[\"per_second\"]/b[\"per_second\"]:.2f}x')" "$pki" "$peb"
issued=$(grep -c '"event":"cert-issued","actor":"acme:' ca/ledger.jsonl || true)
echo "pki: $issued certificates issued by ACME, each in the ledger and the inventory"
