#!/usr/bin/env bash
# The Python package (python/): `pip install ./python` into a throwaway
# virtual environment, exactly as a user installs it (pip fetches maturin,
# the crate builds --locked), then its pytest suite (python/tests) against
# the installed wheel, with baldur-framework 1.17.1, pytest and hypothesis.
# Run by scripts/test.sh.
#
# Skips visibly when Python 3.11+ with venv and pip is missing, in the
# format of tests/skip (dependency "python_build"); fails instead under CI.
# BALDUR_NO_PYTHON_BUILD=1 turns it off on purpose. The compiled crate is
# kept in target/python between runs, and pip's cache serves the packages,
# so a warm run spends its time in the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

is_set() { case "${!1:-}" in "" | 0 | false) return 1 ;; *) return 0 ;; esac }
# skip KIND REASON: one line in BALDUR_SKIP_LOG (tests/skip/mod.rs's format).
skip() {
  echo "test-python::pytest: python_build $1: $2" >&2
  if [ -n "${BALDUR_SKIP_LOG:-}" ]; then
    printf 'python_build\t%s\ttest-python::pytest\t%s\n' "$1" "$2" >>"$BALDUR_SKIP_LOG"
  fi
}
if is_set BALDUR_NO_PYTHON_BUILD; then
  skip off "BALDUR_NO_PYTHON_BUILD is set"
  exit 0
fi
python=${BALDUR_PYTHON3:-python3}
problem=""
if ! command -v "$python" >/dev/null 2>&1; then
  problem="$python is not on PATH"
elif ! problem=$("$python" -c '
import sys
if sys.version_info < (3, 11):
    sys.exit(f"Python {sys.version.split()[0]} is below 3.11")
import venv, ensurepip
' 2>&1); then
  problem=${problem##*$'\n'}
else
  problem=""
fi
if [ -n "$problem" ]; then
  reason="needs Python 3.11+ with venv and pip (Debian: python3 python3-venv): $problem"
  if is_set CI; then
    skip failed "$reason"
    echo "python_build is unavailable under CI (set BALDUR_NO_PYTHON_BUILD=1 to turn it off)" >&2
    exit 1
  fi
  skip unavailable "$reason"
  exit 0
fi

# The CLI the statistics are compared with (built by `cargo test` already).
cargo build --locked --quiet --bin baldur-journal
export BALDUR_CLI="$PWD/target/debug/baldur-journal"
export BALDUR_VECTORS="$PWD/../shared/reference/vectors/journal"

work=$(mktemp -d)
export CARGO_TARGET_DIR="$PWD/target/python"
if is_set CI; then
  # A CI machine builds once: give the disk back for the steps after this.
  trap 'rm -rf "$work" "$CARGO_TARGET_DIR"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
"$python" -m venv "$work/venv"
pip=("$work/venv/bin/pip" --disable-pip-version-check --quiet)
echo "installing ./python (pip builds it with maturin; the crate in $CARGO_TARGET_DIR)"
"${pip[@]}" install ./python 'baldur-framework==1.17.1' pytest hypothesis
cd "$work"
# From outside the source tree: the tests import the installed package.
"$work/venv/bin/python" -m pytest -q -rs -p no:cacheprovider "$OLDPWD/python/tests"

# The threads test bites: with the test-only `break-hold-gil` (appends keep
# the GIL through the engine's sync) it must fail, finding one record per
# sync; and so must python/tests/test_tail.py's test of a wait that
# releases the GIL. With the broken variants only (CI, or
# BALDUR_BROKEN_VARIANTS=1).
if is_set CI || is_set BALDUR_BROKEN_VARIANTS; then
  echo "broken variant break-hold-gil: python/tests/test_threads.py must fail"
  (cd "$OLDPWD" && MATURIN_PEP517_ARGS="--features break-hold-gil" \
    "${pip[@]}" install --force-reinstall --no-deps ./python)
  if "$work/venv/bin/python" -m pytest -q -p no:cacheprovider \
    "$OLDPWD/python/tests/test_threads.py" >"$work/broken.log" 2>&1; then
    cat "$work/broken.log" >&2
    echo "break-hold-gil: python/tests/test_threads.py passed on the broken build" >&2
    exit 1
  fi
  grep -q "no group commit" "$work/broken.log" || {
    cat "$work/broken.log" >&2
    echo "break-hold-gil: test_threads.py failed, but not on the group commit" >&2
    exit 1
  }
  echo "break-hold-gil: caught (one record per sync)"
  # The same build keeps the GIL while a follower waits.
  gil_test="$OLDPWD/python/tests/test_tail.py::test_a_wait_releases_the_gil"
  if "$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$gil_test" \
    >"$work/broken-tail.log" 2>&1; then
    cat "$work/broken-tail.log" >&2
    echo "break-hold-gil: test_a_wait_releases_the_gil passed on the broken build" >&2
    exit 1
  fi
  grep -q "GIL held while waiting" "$work/broken-tail.log" || {
    cat "$work/broken-tail.log" >&2
    echo "break-hold-gil: test_a_wait_releases_the_gil failed, but not on the wait" >&2
    exit 1
  }
  echo "break-hold-gil: caught (a waiting follower held the GIL)"
fi
