#!/usr/bin/env bash
# Run `molecule test` for the given scenarios, JOBS at a time (default 2), each into its own log
# under .cache/molecule-logs/. Prints one line per scenario with its wall time, and the tail of
# the log of every scenario that failed. Exit status: number of failed scenarios (0 = all passed).
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=${MOLECULE_JOBS:-2}
LOGS=.cache/molecule-logs
mkdir -p "$LOGS"
rm -f "$LOGS"/*.rc
run_one() {
  local s=$1 start rc
  start=$(date +%s)
  .venv/bin/molecule test -s "$s" >"$LOGS/$s.log" 2>&1
  rc=$?
  echo "$rc" >"$LOGS/$s.rc"
  printf '%-14s %s %4ss  (log: %s)\n' "$s" "$([ $rc = 0 ] && echo passed || echo FAILED)" "$(( $(date +%s) - start ))" "$LOGS/$s.log"
  return $rc
}
export -f run_one
export LOGS
printf '%s\n' "$@" | xargs -P "$JOBS" -I{} bash -c 'run_one "$@"' _ {}
failed=()
for s in "$@"; do
  [ "$(cat "$LOGS/$s.rc" 2>/dev/null)" = 0 ] || failed+=("$s")
done
for s in "${failed[@]}"; do
  echo "=== $s failed; last 40 lines of $LOGS/$s.log:"
  tail -n 40 "$LOGS/$s.log"
done
# The cause last, where a truncated CI log still shows it: the first failed task of each scenario.
for s in "${failed[@]}"; do
  echo "=== $s: first failure in $LOGS/$s.log:"
  # A failed verifier: its failed tests and the first assertion (the converge's ignored 'fatal:'
  # lines of expected failures come earlier in the log and are not the cause).
  if grep -q -E '^(FAILED|ERROR) tests/' "$LOGS/$s.log"; then
    grep -n -E '^(FAILED|ERROR) tests/' "$LOGS/$s.log" | cut -c1-300
    grep -n -m1 -B3 -A25 -E '^E   ' "$LOGS/$s.log" | cut -c1-3000
  else
    grep -n -m1 -A30 -E '^(fatal|failed): |^E   |FAILED!|^ERROR ' "$LOGS/$s.log" | cut -c1-3000 || echo "(no failed task found; see the log)"
  fi
done
[ ${#failed[@]} = 0 ] || echo "molecule: ${#failed[@]} of $# scenarios failed: ${failed[*]}"
exit "${#failed[@]}"
