#!/usr/bin/env bash
# The no-dependency path works (tests/skip): with BALDUR_NO_<DEPENDENCY> the
# tests that need it pass and log a skip, also under CI; without the
# dependency and without the switch they skip outside CI and fail under CI.
# Runs the test binaries directly, with PATH emptied so that no
# redis-server is found and BALDUR_REDIS_URL unset. Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

built=$(cargo test --locked --no-run --test cli --test redis_python_interop --test full_disk \
  --test report_browser 2>&1) || {
  echo "$built" | tail -n 30 >&2
  exit 1
}
binary() { sed -n "s|.*Executable tests/$1 (\(.*\))\$|\1|p" <<<"$built"; }
# The Redis legs of the command line: the `redis_cli` module of tests/cli.
cli=$(binary cli/main.rs)
interop=$(binary redis_python_interop.rs)
full_disk=$(binary full_disk.rs)
browser=$(binary report_browser.rs)

log=$(mktemp)
out=$(mktemp)
trap 'rm -f "$log" "$out"' EXIT
failures=0
fail() {
  echo "FAILED: $*" >&2
  tail -n 20 "$out" >&2
  failures=$((failures + 1))
}
# run EXPECTED_EXIT(0|nonzero) BINARY FILTER VAR=VALUE...: runs BINARY's tests
# whose names contain FILTER (all when empty) in a clean skip environment plus
# the given variables, with a fresh skip log.
run() {
  local expect=$1 bin=$2 filter=$3
  shift 3
  : >"$log"
  local status=0
  env -u CI -u BALDUR_REDIS_URL -u BALDUR_PYTHON -u BALDUR_NO_REDIS -u BALDUR_NO_PYTHON \
    -u BALDUR_NO_TMPFS -u BALDUR_NO_PYTHON_BUILD -u BALDUR_PYTHON3 -u BALDUR_NO_CHROMIUM -u BALDUR_CHROMIUM \
    BALDUR_SKIP_LOG="$log" "$@" "$bin" ${filter:+"$filter"} >"$out" 2>&1 || status=$?
  if [ "$expect" = 0 ] && [ "$status" -ne 0 ]; then
    fail "$(basename "$bin") $* exited $status, expected success"
    return 1
  fi
  if [ "$expect" = nonzero ] && [ "$status" -eq 0 ]; then
    fail "$(basename "$bin") $* passed, expected a failure"
    return 1
  fi
}
# logged SUITE BINARY FILTER PATTERN: every test of BINARY whose name contains
# FILTER logged one line matching PATTERN.
logged() {
  local tests lines
  tests=$("$2" --list ${3:+"$3"} 2>/dev/null | grep -c ': test$')
  lines=$(grep -c -- "$4" "$log" || true)
  if [ "$tests" -eq 0 ]; then
    fail "$1: no test of $(basename "$2") matches \"$3\""
  fi
  if [ "$lines" -ne "$tests" ]; then
    fail "$1: $lines of $tests tests logged \"$4\"; the log: $(cat "$log")"
  fi
}

# Turned off on purpose: passes under CI, every test logged as off.
if run 0 "$cli" redis_cli:: CI=true BALDUR_NO_REDIS=1; then
  logged redis_cli "$cli" redis_cli:: $'^redis\toff\tcli::redis_cli::'
fi
if run 0 "$interop" "" CI=true BALDUR_NO_PYTHON=1; then
  logged redis_python_interop "$interop" "" $'^python\toff\tredis_python_interop::'
fi
if run 0 "$full_disk" "" CI=true BALDUR_NO_TMPFS=1; then
  logged full_disk "$full_disk" "" $'^tmpfs\toff\tfull_disk::'
fi
if run 0 "$browser" "" CI=true BALDUR_NO_CHROMIUM=1; then
  logged report_browser "$browser" "" $'^chromium\toff\treport_browser::'
fi
# No redis-server, no switch: skips outside CI, fails under CI.
if run 0 "$cli" redis_cli:: PATH=/nonexistent; then
  logged redis_cli "$cli" redis_cli:: $'^redis\tunavailable\tcli::redis_cli::'
fi
if run nonzero "$cli" redis_cli:: PATH=/nonexistent CI=true; then
  logged redis_cli "$cli" redis_cli:: $'^redis\tfailed\tcli::redis_cli::'
fi
# No browser (a path that is none), no switch: the same.
if run 0 "$browser" "" BALDUR_CHROMIUM=/nonexistent/chromium; then
  logged report_browser "$browser" "" $'^chromium\tunavailable\treport_browser::'
fi
if run nonzero "$browser" "" BALDUR_CHROMIUM=/nonexistent/chromium CI=true; then
  logged report_browser "$browser" "" $'^chromium\tfailed\treport_browser::'
fi
# CI=false is not CI.
run 0 "$cli" redis_cli:: PATH=/nonexistent CI=false || true

# The Python package's step (scripts/test-python.sh): off on purpose passes
# under CI; without Python it skips outside CI and fails under CI.
python_step() {
  local expect=$1 kind=$2
  shift 2
  if run "$expect" scripts/test-python.sh "" "$@"; then
    if ! grep -q $'^python_build\t'"$kind"$'\ttest-python::pytest\t' "$log"; then
      fail "test-python.sh $*: no python_build $kind line; the log: $(cat "$log")"
    fi
  fi
}
python_step 0 off CI=true BALDUR_NO_PYTHON_BUILD=1
python_step 0 unavailable BALDUR_PYTHON3=/nonexistent/python3
python_step nonzero failed CI=true BALDUR_PYTHON3=/nonexistent/python3

[ "$failures" -eq 0 ] || exit 1
echo "skip path: turned-off dependencies pass under CI, unavailable ones skip (fail under CI), all logged"
