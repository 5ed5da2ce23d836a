#!/usr/bin/env bash
# Attested issuance under load: SVIDs per second through `POST /attest/POLICY` of `pki serve`
# with N concurrent clients, next to `pki issue --batch` of the same number of SVIDs on the same
# CA directory, in one run, ratio printed. Not a test.
#
#   bench/attest.sh [CLIENTS] [EACH]      # concurrent clients (default 16), SVIDs each (default 25)
#
# Tokens come from the test issuer (tests/interop/oidc_issuer.py, RS256, minted before timing,
# one per SVID: a token buys one SVID). Each request is what a CI job does: a fresh P-256 key and
# CSR, a new TLS connection, the token checked (signature, claims, replay store written and
# synced), the SVID committed (ledger and inventory synced under the directory lock). The batch
# generates the keys itself and commits in groups; both use plaintext CA keys.
set -euo pipefail
CLIENTS=${1:-16}
EACH=${2:-25}
N=$((CLIENTS * EACH))
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
cargo build --release --quiet --manifest-path "$here/Cargo.toml" --example attest_load
PKI="$here/target/release/pki"
LOAD="$here/target/release/examples/attest_load"
. "$here/bench/lib.sh"
bench_work attest
export PKI_ACTOR=bench
HTTP=$(port); HTTPS=$(port)

python3 "$here/tests/interop/oidc_issuer.py" > issuer.json &
pids+=($!)
until [ -s issuer.json ]; do sleep 0.05; done
ISSUER=$(python3 -c 'import json; print(json.load(open("issuer.json"))["issuer"])')
"$PKI" --dir ca init --non-interactive --org Acme --trust-domain acme.internal --no-passphrase >/dev/null 2>&1
cat >> ca/pki.toml <<END

[profiles.ci]
ca = "issuing"
default_ttl = "1h"
max_ttl = "1h"
ext_key_usage = ["clientAuth"]
spiffe = true
allowed_uris = ["spiffe://acme.internal/ci/**"]

[profiles.serve]
ca = "issuing"
max_ttl = "24h"
ext_key_usage = ["serverAuth"]
allowed_ips = ["127.0.0.1/32"]

[attest.bench]
profile = "ci"
issuer = "$ISSUER"
audience = "https://pki.test"
spiffe_id = "spiffe://acme.internal/ci/github/{repository}/{run_id}"
claims = { repository_owner_id = "7890" }
record = ["repository", "run_id"]
insecure_loopback_issuer = true
END
"$PKI" --dir ca settings accept >/dev/null 2>&1
cp ca/cas/root/cert.pem root.pem
curl -sf "$ISSUER/mint" -d "{\"count\": $N}" > tokens.txt
"$PKI" --dir ca serve --http "127.0.0.1:$HTTP" --https "127.0.0.1:$HTTPS" --tls-ca issuing --tls-profile serve 2> serve.log &
pids+=($!)
wait_port "$HTTPS"

echo "clients $CLIENTS, SVIDs each $EACH, $N in all ($(nproc) CPUs)"
att=$("$LOAD" "https://127.0.0.1:$HTTPS" bench root.pem tokens.txt "$CLIENTS")
for i in $(seq 1 "$N"); do printf '{"profile": "ci", "spiffe_id": "spiffe://acme.internal/ci/batch/%d"}\n' "$i"; done > batch.jsonl
t0=$(date +%s.%N)
"$PKI" --dir ca issue --batch batch.jsonl > batch.out 2>/dev/null
t1=$(date +%s.%N)
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])['$2'])" "$1"; }
batch_rate=$(python3 -c "print(round($N / ($t1 - $t0), 1))")
printf '%-26s %12s %10s %10s %8s\n' way "SVIDs/s" "p50 ms" "p99 ms" errors
printf '%-26s %12s %10s %10s %8s\n' "attest, $CLIENTS clients" "$(field "$att" per_second)" "$(field "$att" p50_ms)" "$(field "$att" p99_ms)" "$(field "$att" errors)"
printf '%-26s %12s %10s %10s %8s\n' "issue --batch (stdout)" "$batch_rate" - - "$(grep -c '"ok":false' batch.out || true)"
python3 -c "import json,sys; a=json.loads(sys.argv[1]); print(f'ratio attest/batch: {a[\"per_second\"]/$batch_rate:.3f}')" "$att"
echo "ledger: $(grep -c '"actor":"attest:bench"' ca/ledger.jsonl || true) attested SVIDs recorded with their token's iss, sub, jti"
