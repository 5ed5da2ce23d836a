#!/usr/bin/env bash
# Regenerates the committed shell completions and man pages from the clap definition.
# tests/generated.rs fails when they are out of date.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
pki=target/debug/pki
"$pki" completions bash > completions/pki.bash
"$pki" completions zsh > completions/_pki
"$pki" completions fish > completions/pki.fish
rm -f man/*.1
"$pki" man --out-dir man
