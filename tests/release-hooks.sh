#!/usr/bin/env bash
# A release build honours no test hook: PKI_NOW does not date certificates, PKI_CRASH_AT and
# PKI_PAUSE_AT stop nothing. Run by .ci/run on the release binary the demo built; exits 1 if a
# hook is honoured.
#   tests/release-hooks.sh [PATH-TO-PKI]   (default: target/release/pki)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
pki=${1:-$here/target/release/pki}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PKI_DIR="$work/ca" PKI_NOW=2001-01-01T00:00:00Z PKI_CRASH_AT=issue-committed PKI_PAUSE_AT=locked PKI_PAUSE_MS=600000
"$pki" init --non-interactive --no-passphrase --org Hooks --trust-domain hooks.internal 2> /dev/null
out=$(timeout 60 "$pki" issue --dns a.hooks.internal --out - --json)
not_before=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["not_before"])')
year=$(date -u +%Y)
case "$not_before" in
  "$year"-*|"$((year - 1))"-*) echo "release-hooks: ok (not_before $not_before; PKI_NOW, PKI_CRASH_AT and PKI_PAUSE_AT ignored)" ;;
  *) echo "release-hooks: FAILED: PKI_NOW was honoured (not_before $not_before)"; exit 1 ;;
esac
