#!/usr/bin/env bash
# Installs what is needed and runs every check: formatting, clippy, and the
# whole test suite (unit tests, and as root the privileged and end-to-end
# tests, each inside fresh namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
