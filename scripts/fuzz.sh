#!/usr/bin/env bash
# Runs every fuzz target for a bounded time with libFuzzer and prints executions per target (make fuzz).
#
#   scripts/fuzz.sh <binary> <seconds per target> [target...]
#
# Each target starts from its committed seeds (Fuzz/Corpus/<target>) plus what earlier runs found
# (.build-fuzz/corpus/<target>, never committed). A crash, a hang (an input running over FUZZ_INPUT_TIMEOUT
# seconds) or memory over FUZZ_RSS_MB stops that target; the input is saved under .build-fuzz/artifacts/ and the
# script exits 1 after the other targets ran. Replay one with: .build/debug/portcullis-fuzz <target> <file>.
set -uo pipefail
binary=$1
seconds=$2
shift 2
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(header-url-encoded header-base64 header-rfc9440 header-xfcc chain-verifier cluster-frame snapshot-payload
           declarative-config json admin-body)
fi
work=.build-fuzz
mkdir -p "$work/artifacts" "$work/logs"
total=0
failed=()
printf '%-20s %12s %8s %10s  %s\n' target executions seconds exec/s result
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus/$t"
  log="$work/logs/$t.log"
  "$binary" "$t" -max_total_time="$seconds" -timeout="${FUZZ_INPUT_TIMEOUT:-10}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
    -max_len="${FUZZ_MAX_LEN:-8192}" -print_final_stats=1 -artifact_prefix="$work/artifacts/$t-" \
    "$work/corpus/$t" "Fuzz/Corpus/$t" >"$log" 2>&1
  status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ -z "$runs" ]; then runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1); fi
  # After a crash libFuzzer prints no final stats; its last status line has the count.
  if [ -z "$runs" ]; then runs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#'); fi
  runs=${runs:-0}
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  took=${took:-$seconds}
  rate=$(( runs / (took > 0 ? took : 1) ))
  result=ok
  if [ $status -ne 0 ]; then
    result="FAILED (exit $status): $(grep -m1 -E 'ERROR: libFuzzer|Fatal error|deadly signal|ALARM|out-of-memory|Test unit written' "$log")"
    failed+=("$t")
  fi
  total=$(( total + runs ))
  printf '%-20s %12d %8d %10d  %s\n' "$t" "$runs" "$took" "$rate" "$result"
done
printf '%-20s %12d\n' total "$total"
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]} (logs in $work/logs, inputs in $work/artifacts)" >&2
  exit 1
fi
