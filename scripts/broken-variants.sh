#!/usr/bin/env bash
# Proof that the safety tests bite: builds each deliberately broken variant
# of the engine (the test-only `break-*` features, debug builds only) and
# runs the tests that must catch it. Fails if any variant passes them.
# With arguments, only the variants named (e.g. break-skip-crc).
# docs/RELIABILITY.md names the catching test of each variant.
#
# A variant whose test cannot run (its dependency turned off with
# BALDUR_NO_<DEPENDENCY>, or unavailable; see tests/skip) is skipped: never
# counted as caught or missed, and logged to BALDUR_SKIP_LOG (when set) for
# scripts/test.sh's summary. Under CI an unavailable dependency is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

# variant | test target | test name filter | dependency (- for none)
variants=(
  "break-skip-sync|durability_seam|every_acknowledgement_follows_a_sync_covering_its_record|-"
  "break-skip-sync|crash_sim|every_crash_point_keeps_every_acknowledged_entry|-"
  "break-ack-before-write|durability_seam|every_acknowledgement_follows_a_sync_covering_its_record|-"
  "break-ack-before-write|crash_sim|every_crash_point_keeps_every_acknowledged_entry|-"
  "break-skip-dir-sync|crash_sim|every_crash_point_keeps_every_acknowledged_entry|-"
  "break-skip-crc|cli|recovery_damage::a_flipped_bit_in_a_sealed_segment_is_an_error_when_read_never_a_wrong_entry|-"
  "break-recovery-cut-too-far|recovery_torn_tail|cut_at_every_offset_without_head_is_a_torn_tail|-"
  "break-snapshot-trust|stats|snapshot_fold::missing_corrupt_foreign_or_stale_snapshots_mean_a_full_fold|-"
  "break-skip-cas|audit_chain|two_handles_over_a_disk_journal_do_not_fork_a_chain|-"
  "break-prealloc-over-unsynced|preallocation|preallocation_never_overwrites_unsynced_records|-"
  "break-ignore-synced-end|cli|cli_verify::synced_records_cut_or_zeroed_in_the_active_segment_are_damage|-"
  "break-ignore-synced-end|cli|salvage::synced_records_cut_from_the_active_segment_are_a_hole|-"
  "break-trust-index-sequence|cli|recovery_damage::a_forged_index_never_gives_a_wrong_answer_through_the_binary|-"
  "break-wrong-block-summary|engine|block_summaries::queries_and_counts_through_block_summaries_answer_like_a_scan|-"
  "break-chain-text-search|cli|cli_verify::an_escaped_chain_key_and_a_one_byte_edit_fail_verify_and_audit_alike|-"
  "break-chain-text-search|cli|cli_verify::an_edited_event_type_fails_verify_and_audit|-"
  "break-chain-text-search|audit_chain|forgeries_fail_the_one_pass_verifier_and_the_trail_alike|-"
  "break-redis-split-append|redis_backend|four_processes_appending_get_unique_strictly_increasing_sequences|redis"
  "break-redis-skip-cas|redis_backend|concurrent_chain_appends_with_append_if_latest_never_fork|redis"
  "break-redis-skip-wait|redis_cluster|with_min_replicas_a_replica_cut_off_before_the_kill_lacks_nothing_acknowledged|redis"
  "break-sql-skip-lock|cli|sql_postgres::an_append_waits_for_an_earlier_uncommitted_sequence|postgres"
  "break-projector-mark-outside-transaction|cli|cli_stats_sync::a_projector_killed_mid_batch_resumes_to_the_rows_of_a_single_run|-"
  "break-projector-mark-outside-transaction|cli|cli_stats_sync::a_projector_killed_mid_batch_on_postgres_resumes_to_the_rows_of_a_single_run|postgres"
  "break-retention-unlink-before-mark|crash_sim_retention|every_crash_point_of_a_drop_leaves_the_old_mark_or_the_new_one|-"
  "break-retention-drop-active|engine|retention::the_active_segment_is_never_dropped_and_the_chain_goes_on_from_the_mark|-"
  "break-retention-drop-active|crash_sim_retention|every_crash_point_of_a_drop_leaves_the_old_mark_or_the_new_one|-"
)

# An environment switch as tests/skip reads it: set, and not empty, 0 or false.
is_set() { case "${!1:-}" in "" | 0 | false) return 1 ;; *) return 0 ;; esac }

# Why `dependency` cannot be used, as "kind<TAB>reason"; nothing if it can.
# The same rules as the tests (tests/skip, tests/redis_common).
blocked() {
  local switch
  switch="BALDUR_NO_$(tr '[:lower:]' '[:upper:]' <<<"$1")"
  if is_set "$switch"; then
    printf 'off\t%s is set\n' "$switch"
    return
  fi
  case "$1" in
    redis)
      if [ -z "${BALDUR_REDIS_URL:-}" ] && ! command -v redis-server >/dev/null 2>&1; then
        printf "unavailable\tredis-server is not on PATH (install Debian's redis-server)\n"
      fi
      ;;
    postgres)
      if ! { [ -x "$(pg_config --bindir 2>/dev/null)/initdb" ] || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }; then
        printf "unavailable\tno initdb (install Debian's postgresql)\n"
      fi
      ;;
  esac
}

log=$(mktemp)
test_skips=$(mktemp)
stamp=$(mktemp)
export CARGO_INCREMENTAL=0
# Each variant builds the crate and its test binaries once more; what one
# variant built is deleted before the next is built (the dependencies, shared
# by all, stay), so that the variants together need no more disk than one.
built_feature=""
forget_variant() {
  [ -n "$built_feature" ] || return 0
  find target/debug/deps target/debug/.fingerprint -mindepth 1 -maxdepth 1 -newer "$stamp" \
    ! -name '.*' -exec rm -rf {} + 2>/dev/null || true
}
trap 'forget_variant; rm -f "$log" "$test_skips" "$stamp"' EXIT
ran=0
caught=0
skipped=0
failed=0
for row in "${variants[@]}"; do
  IFS='|' read -r feature target name dependency <<<"$row"
  if [ "$#" -gt 0 ] && ! printf '%s\n' "$@" | grep -qx -- "$feature"; then
    continue
  fi
  ran=$((ran + 1))
  why=""
  [ "$dependency" = - ] || why=$(blocked "$dependency")
  if [ -z "$why" ]; then
    : >"$test_skips"
    if [ "$feature" != "$built_feature" ]; then
      forget_variant
      touch "$stamp"
      built_feature=$feature
    fi
    if BALDUR_SKIP_LOG="$test_skips" BALDUR_CRASH_POINTS=3000 \
      cargo test --locked --quiet --features "$feature" --test "$target" -- --exact "$name" >"$log" 2>&1; then
      status=passed
    else
      status=failed
    fi
    if [ -s "$test_skips" ]; then
      # The test skipped (or, under CI, failed for want of its dependency).
      IFS=$'\t' read -r dependency kind _ reason <"$test_skips"
      why=$(printf '%s\t%s' "$kind" "$reason")
    elif [ "$status" = passed ]; then
      echo "NOT CAUGHT: $feature passed $target::$name" >&2
      tail -n 20 "$log" >&2
      exit 1
    elif ! grep -q "test result: FAILED" "$log"; then
      echo "ERROR: $feature did not build or run $target::$name:" >&2
      tail -n 30 "$log" >&2
      exit 1
    else
      echo "caught: $feature by $target::$name"
      caught=$((caught + 1))
      continue
    fi
  fi
  IFS=$'\t' read -r kind reason <<<"$why"
  if [ "$kind" != off ] && is_set CI; then
    kind=failed
    failed=$((failed + 1))
  fi
  echo "skipped ($dependency $kind): $feature, $target::$name: $reason"
  skipped=$((skipped + 1))
  if [ -n "${BALDUR_SKIP_LOG:-}" ]; then
    printf '%s\t%s\t%s\t%s\n' "$dependency" "$kind" "broken-variants::$feature" "$reason" >>"$BALDUR_SKIP_LOG"
  fi
done
echo "broken variants caught: $caught of $((ran - skipped)) run ($skipped skipped)"
if [ "$failed" -gt 0 ]; then
  echo "FAILED: under CI, $failed variant(s) could not run for want of a dependency" >&2
  exit 1
fi
