#!/usr/bin/env bash
# The project's benchmark, one command: `bench/run.sh` (from the repo root).
# Builds qcc in release mode and prints Markdown tables for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
echo "## CLI ($(nproc) cores, $(date -u +%Y-%m-%d))"
echo
python3 bench/cli.py target/release/qcc
echo
echo "## Proxy"
echo
# nginx is the reference reverse proxy; install it when we can (root + apt-get).
if ! command -v nginx >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y nginx >/dev/null 2>&1 ||
        { apt-get update >/dev/null 2>&1 && apt-get install -y nginx >/dev/null 2>&1; } || true
fi
cargo bench --quiet --bench proxy
