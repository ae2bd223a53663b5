#!/usr/bin/env bash
# Proof that the safety tests bite: builds each deliberately broken variant
# of the engine (the test-only `break-*` features, debug builds only) and
# runs the tests that must catch it. Fails if any variant passes them.
# docs/RELIABILITY.md names the catching test of each variant.
set -euo pipefail
cd "$(dirname "$0")/.."

# variant | test target | test name filter
variants=(
  "break-skip-sync|durability_seam|every_acknowledgement_follows_a_sync_covering_its_record"
  "break-skip-sync|crash_sim|every_crash_point_keeps_every_acknowledged_entry"
  "break-ack-before-write|durability_seam|every_acknowledgement_follows_a_sync_covering_its_record"
  "break-ack-before-write|crash_sim|every_crash_point_keeps_every_acknowledged_entry"
  "break-skip-dir-sync|crash_sim|every_crash_point_keeps_every_acknowledged_entry"
  "break-skip-crc|recovery_damage|a_flipped_bit_in_a_sealed_segment_is_an_error_when_read_never_a_wrong_entry"
  "break-recovery-cut-too-far|recovery_torn_tail|cut_at_every_offset_without_head_is_a_torn_tail"
  "break-snapshot-trust|snapshot_fold|missing_corrupt_foreign_or_stale_snapshots_mean_a_full_fold"
  "break-skip-cas|audit_chain|two_handles_over_a_disk_journal_do_not_fork_a_chain"
  "break-prealloc-over-unsynced|preallocation|preallocation_never_overwrites_unsynced_records"
  "break-redis-split-append|redis_backend|four_processes_appending_get_unique_strictly_increasing_sequences"
  "break-redis-skip-cas|redis_backend|concurrent_chain_appends_with_append_if_latest_never_fork"
)

log=$(mktemp)
trap 'rm -f "$log"' EXIT
caught=0
for row in "${variants[@]}"; do
  IFS='|' read -r feature target name <<<"$row"
  if BALDUR_CRASH_POINTS=3000 cargo test --locked --quiet --features "$feature" --test "$target" -- --exact "$name" >"$log" 2>&1; then
    echo "NOT CAUGHT: $feature passed $target::$name" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  if ! grep -q "test result: FAILED" "$log"; then
    echo "ERROR: $feature did not build or run $target::$name:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  echo "caught: $feature by $target::$name"
  caught=$((caught + 1))
done
echo "broken variants caught: $caught of ${#variants[@]}"
