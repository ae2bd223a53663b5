#!/usr/bin/env bash
# The project's one test command (README.md). `.ci/run` installs what the
# tests need and then runs exactly this. Later issues add their steps here.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== format"
cargo fmt --all -- --check
echo "== lints"
cargo clippy --locked --all-targets -- -D warnings
echo "== docs"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --quiet
echo "== tests (debug)"
cargo test --locked
echo "== large memory test (release): peak heap of count and replay, 1 M vs 10 M entries"
cargo test --locked --release --test memory_peak -- --ignored --nocapture
