#!/usr/bin/env bash
# Runs the fuzz targets on the machine's stable toolchain: each named target
# (all six by default) for FUZZ_SECONDS seconds (default 60). New inputs go
# to a scratch corpus (FUZZ_SCRATCH, default /dev/shm/baldur-fuzz-work), never
# into the committed seeds; crashes go to fuzz/artifacts/<target>/. Extra
# libFuzzer flags come from FUZZ_ARGS, e.g. FUZZ_ARGS="-fork=1 -ignore_crashes=1"
# to keep going past a crash. Exits non-zero if any target crashed.
#
#   ./run.sh                          # every target, 60 s each
#   FUZZ_SECONDS=600 ./run.sh open_directory journal_ops
set -uo pipefail
cd "$(dirname "$0")"

seconds=${FUZZ_SECONDS:-60}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(decode_record decode_index open_directory import_line filter_json journal_ops)
fi
# The journal targets make a directory per input: keep them in memory.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export TMPDIR=${TMPDIR:-/dev/shm}
  scratch=${FUZZ_SCRATCH:-/dev/shm/baldur-fuzz-work}
else
  scratch=${FUZZ_SCRATCH:-${TMPDIR:-/tmp}/baldur-fuzz-work}
fi

# -s none: the default sanitizer (address) needs a nightly rustc.
cargo fuzz build -s none || exit 2
failed=()
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target"
  dict=()
  case "$target" in
    import_line | filter_json) dict=(-dict=dicts/json.dict) ;;
  esac
  echo "== $target: ${seconds}s, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
  if ! cargo fuzz run "$target" -s none "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$seconds" "${dict[@]}" ${FUZZ_ARGS:-}; then
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
