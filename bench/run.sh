#!/usr/bin/env bash
# The project's benchmark, one command: `bench/run.sh` (from the repo root).
# Builds qcc in release mode and prints Markdown tables for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
echo "## CLI ($(nproc) cores, $(date -u +%Y-%m-%d))"
echo
python3 bench/cli.py target/release/qcc
