# Shared by the server benchmarks (bench/acme.sh, attest.sh, ui.sh): a work directory under
# target/ removed at exit (KEEP=1 keeps it) with every background process in `pids` killed,
# a free loopback port, and waiting for one to listen.
# shellcheck shell=bash
bench_work() { # NAME: makes $work and cds into it
  work=$(mktemp -d "$here/target/bench-$1.XXXXXX")
  pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
  cd "$work"
}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "nothing listens on $1" >&2; exit 1; }
