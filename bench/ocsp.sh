#!/usr/bin/env bash
# OCSP under load: `pki serve` against OpenSSL's reference responder (`openssl ocsp -index
# -port`), the same certificates, the same load tool (wrk), one run, ratios printed. Not a test.
#
#   bench/ocsp.sh [SECONDS]          # each load phase's length (default 10)
#   SIZES="1000 1000000" bench/ocsp.sh
#
# For each size N: a directory (plain keys) with 1,000 real certificates (100 of them revoked)
# and N-1,000 synthetic inventory lines (like bench/run.sh P2), an index.txt with the same
# serials for OpenSSL. The load: GET requests (RFC 5019; no nonce) for the 1,000 real
# certificates:
#   - responses per second at saturation, pki and openssl, by the same tool: h2load (HTTP/1.1,
#     2 threads, 32 connections, cycling through the 1,000 request URLs; wrk gets no answer
#     from OpenSSL's HTTP/1.0 responder);
#   - p99 latency of pki at a fixed rate below saturation, by wrk (16 connections each waiting
#     10 ms between requests, one URL picked at random per request: about 1,500 per second).
# Everything runs in a network namespace of its own (`unshare -n`, loopback only): OpenSSL's
# responder binds every address. Needs root (unshare), h2load, wrk, openssl, python3.
set -euo pipefail
DUR=${1:-10}
SIZES=${SIZES:-1000 1000000}
here=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v wrk >/dev/null || ! command -v h2load >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nghttp2-client >/dev/null; fi
fi
command -v wrk >/dev/null && command -v h2load >/dev/null || { echo "bench/ocsp.sh: needs wrk and h2load (apt install wrk nghttp2-client)" >&2; exit 2; }
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
PKI="$here/target/release/pki"
mkdir -p "$here/target"
work=$(mktemp -d "$here/target/bench-ocsp.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
cd "$work"
export PKI_ACTOR=bench

cat > paths.lua <<'LUA'
-- One of the prepared request paths per request; DELAY_MS > 0 paces each connection.
local paths = {}
for line in io.lines("paths.txt") do paths[#paths + 1] = line end
local prefix = os.getenv("PREFIX") or "/"
local pause = tonumber(os.getenv("DELAY_MS") or "0")
request = function()
  return wrk.format("GET", prefix .. paths[math.random(#paths)])
end
if pause > 0 then delay = function() return pause end end
LUA

rps() { awk '/^Requests\/sec:/ {print $2}'; }
h2rps() { awk '/^finished in/ {print $4}'; }
p99() { awk '$1 == "99%" {print $2}'; }
export -f rps p99 h2rps

printf '%-10s %14s %14s %8s %12s %10s\n' "issued" "pki req/s" "openssl req/s" "ratio" "pki p99" "pki rate"
for N in $SIZES; do
  d="ca-$N"
  "$PKI" --dir "$d" init --non-interactive --org Acme --trust-domain acme.internal --no-passphrase >/dev/null 2>&1
  for i in $(seq 1 1000); do echo "{\"dns\":[\"c$i.acme.internal\"],\"out\":\"-\"}"; done > batch.jsonl
  "$PKI" --dir "$d" issue --batch batch.jsonl --json > issued.jsonl 2>/dev/null
  python3 -c 'import json; json.dump([json.loads(l)["serial"] for l in open("issued.jsonl")], open("serials.json", "w"))'
  for s in $(python3 -c 'import json; print(" ".join(json.load(open("serials.json"))[:100]))'); do
    "$PKI" --dir "$d" revoke "$s" --reason keyCompromise --no-crl >/dev/null 2>&1
  done
  "$PKI" --dir "$d" gen-crl >/dev/null 2>&1
  # Grown after the revocations (each revoke reads the inventory).
  python3 - "$d" "$N" <<'PY'
import json, os, random, sys
d, n = sys.argv[1], int(sys.argv[2])
rows = [json.loads(l) for l in open("issued.jsonl")]
json.dump([r["serial"] for r in rows], open("serials.json", "w"))
random.seed(7)
with open(os.path.join(d, "inventory.tsv"), "a") as I:
    for i in range(max(0, n - len(rows))):
        s = "%032X" % random.getrandbits(127)
        I.write(f"{s:<32}\tvalid     \t2026-10-15T00:00:00Z\t2027-01-13T00:00:00Z\t{'-':<20}\t{'-':<20}\t{'-':<32}\tissuing\tserver\tp256\tCN=s{i}.acme.internal\tDNS:s{i}.acme.internal\n")
PY
  # OpenSSL's index.txt: every line of our inventory, V or R.
  python3 - "$d" <<'PY'
import os, sys
d = sys.argv[1]
def ts(t): return t[2:4] + t[5:7] + t[8:10] + t[11:13] + t[14:16] + t[17:19] + "Z"
with open("index.txt", "w") as out:
    for line in open(os.path.join(d, "inventory.tsv")):
        if line.startswith("#"): continue
        f = line.rstrip("\n").split("\t")
        serial, status, exp, rev = f[0].strip(), f[1].strip(), f[3].strip(), f[4].strip()
        if status == "revoked":
            out.write(f"R\t{ts(exp)}\t{ts(rev)},keyCompromise\t{serial}\tunknown\t/{f[10]}\n")
        else:
            out.write(f"V\t{ts(exp)}\t\t{serial}\tunknown\t/{f[10]}\n")
PY
  cp "$d/cas/issuing/cert.pem" issuing.pem; cp "$d/cas/issuing/key.pem" issuing.key
  # The 1,000 GET paths: each real certificate's request, base64, URL-encoded.
  python3 - <<'PY'
import json, subprocess, base64, urllib.parse
serials = json.load(open("serials.json"))
with open("paths.txt", "w") as out:
    for s in serials:
        der = subprocess.run(["openssl", "ocsp", "-no_nonce", "-issuer", "issuing.pem", "-serial", "0x" + s, "-reqout", "/dev/stdout"],
                             capture_output=True, check=True).stdout
        out.write(urllib.parse.quote(base64.b64encode(der).decode(), safe="") + "\n")
PY
  out=$(unshare -n bash -c "
    set -e
    ip link set lo up
    '$PKI' --dir '$d' serve --http 127.0.0.1:18180 --ca issuing 2>/dev/null &
    pki_pid=\$!
    openssl ocsp -index index.txt -port 18181 -rsigner issuing.pem -rkey issuing.key -CA issuing.pem -ndays 1 >/dev/null 2>&1 &
    ossl_pid=\$!
    until curl -sf http://127.0.0.1:18180/readyz >/dev/null; do sleep 0.2; done
    sleep 1
    sed 's|^|http://127.0.0.1:18180/ocsp/issuing/|' paths.txt > urls-pki.txt
    sed 's|^|http://127.0.0.1:18181/|' paths.txt > urls-ossl.txt
    h2load --h1 -t2 -c32 -n 20000 -i urls-pki.txt >/dev/null
    echo PKI \$(h2load --h1 -t2 -c32 -n $((20000 * DUR)) -i urls-pki.txt | h2rps)
    echo OSSL \$(h2load --h1 -t2 -c32 -n $((2000 * DUR)) -i urls-ossl.txt | h2rps)
    r=\$(PREFIX=/ocsp/issuing/ DELAY_MS=10 wrk -t2 -c16 -d${DUR}s --latency -s paths.lua http://127.0.0.1:18180)
    echo P99 \$(echo \"\$r\" | p99) RATE \$(echo \"\$r\" | rps)
    kill \$pki_pid \$ossl_pid; wait \$pki_pid 2>/dev/null || true
  ")
  pki=$(awk '$1=="PKI"{print $2}' <<<"$out"); ossl=$(awk '$1=="OSSL"{print $2}' <<<"$out")
  p99v=$(awk '$1=="P99"{print $2}' <<<"$out"); rate=$(awk '$1=="P99"{print $4}' <<<"$out")
  ratio=$(python3 -c "print(f'{float(\"$pki\")/float(\"$ossl\"):.1f}x')" 2>/dev/null || echo "?")
  printf '%-10s %14s %14s %8s %12s %10s\n' "$N" "$pki" "$ossl" "$ratio" "$p99v" "$rate"
  rm -rf "$d"
done

# The ceiling of this machine for the same load tool: requests that do no OCSP work at all,
# pki serve's /healthz and nginx answering `return 200` from memory (one worker per core), in the
# same namespace and with the same h2load settings. An OCSP rate near these is bounded by HTTP on
# these cores, not by the responder.
if command -v nginx >/dev/null; then
  mkdir -p ceiling && cat > ceiling/nginx.conf <<NGX
worker_processes 2;
pid $work/ceiling/nginx.pid;
error_log $work/ceiling/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/ceiling; proxy_temp_path $work/ceiling; fastcgi_temp_path $work/ceiling;
  uwsgi_temp_path $work/ceiling; scgi_temp_path $work/ceiling;
  server { listen 127.0.0.1:18183; location / { return 200 "ok\n"; } }
}
NGX
  "$PKI" --dir ceiling-ca init --non-interactive --org Acme --trust-domain acme.internal --no-passphrase >/dev/null 2>&1
  out=$(unshare -n bash -c "
    set -e
    ip link set lo up
    '$PKI' --dir ceiling-ca serve --http 127.0.0.1:18182 2>/dev/null &
    pki_pid=\$!
    nginx -c '$work/ceiling/nginx.conf'
    until curl -sf http://127.0.0.1:18182/healthz >/dev/null; do sleep 0.2; done
    h2load --h1 -t2 -c32 -n 20000 http://127.0.0.1:18182/healthz >/dev/null
    echo HEALTHZ \$(h2load --h1 -t2 -c32 -n $((20000 * DUR)) http://127.0.0.1:18182/healthz | h2rps)
    echo NGINX \$(h2load --h1 -t2 -c32 -n $((20000 * DUR)) http://127.0.0.1:18183/ | h2rps)
    nginx -c '$work/ceiling/nginx.conf' -s stop
    kill \$pki_pid; wait \$pki_pid 2>/dev/null || true
  ")
  echo "ceiling (no OCSP work, same load tool): pki /healthz $(awk '$1=="HEALTHZ"{print $2}' <<<"$out") req/s, nginx return 200 $(awk '$1=="NGINX"{print $2}' <<<"$out") req/s"
fi
