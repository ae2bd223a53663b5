#!/usr/bin/env bash
# The project's one test command (README.md). `.ci/run` installs what the
# tests need and then runs exactly this, with CI=true. Later issues add their
# steps here.
#
# Tests that need something beyond the Rust toolchain and ../shared skip
# when it is missing (or turned off with BALDUR_NO_<DEPENDENCY>, tests/skip);
# the summary at the end names each skipped suite and why. Under CI a skip
# is a failure unless turned off on purpose.
set -euo pipefail
cd "$(dirname "$0")/.."
# One build per configuration, no incremental caches: they only cost disk
# (gigabytes over the debug, release and broken-variant builds) on a run
# that starts from a clean clone.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# Fail fast, in one line, on what every step needs.
die() {
  echo "scripts/test.sh: $*" >&2
  exit 2
}
command -v cargo >/dev/null 2>&1 || die "cargo is not on PATH (install the Rust toolchain)"
cargo fmt --version >/dev/null 2>&1 || die "cargo fmt is missing (rustup component add rustfmt)"
cargo clippy --version >/dev/null 2>&1 || die "cargo clippy is missing (rustup component add clippy)"
[ -d ../shared/reference/vectors/journal ] ||
  die "../shared/reference/vectors/journal is missing (the conformance vectors, beside this repository)"

# An environment switch as tests/skip reads it: set, and not empty, 0 or false.
is_set() { case "${!1:-}" in "" | 0 | false) return 1 ;; *) return 0 ;; esac }
if is_set CI; then
  crash_points=10000
else
  crash_points=2000
fi
broken_variants=no
if is_set CI || is_set BALDUR_BROKEN_VARIANTS; then broken_variants=yes; fi

BALDUR_SKIP_LOG=$(mktemp)
export BALDUR_SKIP_LOG
step=""
summary() {
  local status=$?
  echo
  echo "== summary"
  if [ -s "$BALDUR_SKIP_LOG" ]; then
    echo "skipped (dependency, why, suites with the number of tests or variants):"
    # Lines: dependency, off|unavailable|failed, suite::test, reason.
    awk -F'\t' '
      {
        split($3, where, "::"); suite = where[1]; key = $1 FS $2 FS $4
        if (!(key in seen)) { seen[key] = 1; order[++n] = key }
        if (!((key FS suite) in count)) suites[key] = suites[key] (suites[key] == "" ? "" : SUBSEP) suite
        count[key FS suite]++
      }
      END {
        for (i = 1; i <= n; i++) {
          split(order[i], k, FS)
          if (k[2] == "off") kind = "turned off (BALDUR_NO_" toupper(k[1]) ")"
          else if (k[2] == "failed") kind = "unavailable, a failure under CI"
          else kind = "unavailable"
          m = split(suites[order[i]], s, SUBSEP); list = ""
          for (j = 1; j <= m; j++) list = list (j > 1 ? ", " : "") s[j] " (" count[order[i] FS s[j]] ")"
          printf "  %s, %s: %s\n      %s\n", k[1], kind, list, k[3]
        }
      }' "$BALDUR_SKIP_LOG"
  else
    echo "skipped: nothing"
  fi
  if [ "$broken_variants" = no ]; then
    echo "broken variants: not run (CI runs them; BALDUR_BROKEN_VARIANTS=1 runs them here)"
  fi
  echo "crash points per simulation in release: $crash_points (CI: 10000)"
  rm -f "$BALDUR_SKIP_LOG"
  if [ "$status" -eq 0 ]; then
    echo "PASSED in $((SECONDS / 60)) min $((SECONDS % 60)) s"
  else
    echo "FAILED at step \"$step\" (exit $status) after $((SECONDS / 60)) min $((SECONDS % 60)) s"
  fi
  exit "$status"
}
trap summary EXIT
begin() {
  step=$1
  echo "== $1 (at $((SECONDS / 60)) min $((SECONDS % 60)) s)"
}

begin "format"
cargo fmt --all -- --check
begin "lints"
cargo clippy --locked --workspace --all-targets -- -D warnings
begin "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --quiet
begin "tests (debug)"
cargo test --locked
begin "Python package: pip install ./python into a throwaway venv, then its pytest suite"
bash scripts/test-python.sh
begin "skips: BALDUR_NO_* turns a dependency off, an unexpected skip fails under CI"
bash scripts/test-skip-path.sh
begin "every test docs/RELIABILITY.md names exists"
bash scripts/check-reliability-doc.sh
begin "release: peak heap of count and replay (1 M vs 10 M entries), a week of 50 k events a day through a two-day retention policy, $crash_points crash points each for appends, snapshots and retention drops"
cargo test --locked --release --test memory_peak -- --ignored --nocapture
cargo test --locked --release --test retention_week -- --ignored
BALDUR_CRASH_POINTS=$crash_points cargo test --locked --release --test crash_sim --test crash_sim_snapshot --test crash_sim_retention -- --nocapture
if [ "$broken_variants" = yes ]; then
  begin "the safety tests bite: broken variants"
  bash scripts/broken-variants.sh
fi
