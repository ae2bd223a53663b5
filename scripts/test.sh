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
echo "== release: peak heap of count and replay (1 M vs 10 M entries), 10,000 crash points each for appends and snapshots"
cargo test --locked --release --test memory_peak -- --ignored --nocapture
BALDUR_CRASH_POINTS=10000 cargo test --locked --release --test crash_sim -- --nocapture
BALDUR_CRASH_POINTS=10000 cargo test --locked --release --test crash_sim_snapshot -- --nocapture
echo "== the safety tests bite: broken variants"
bash scripts/broken-variants.sh
bash scripts/check-reliability-doc.sh
