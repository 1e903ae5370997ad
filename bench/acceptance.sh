#!/usr/bin/env bash
# Issue 29's acceptance figures in one run (about 30 minutes on 2 quiet cores):
#
#   make acceptance            # or: bench/acceptance.sh [OUT_DIR]
#
# 1. bench/router.py      router cost per event beside its consume+produce floor
#                         (router/floor per CPU-second; target >= 0.8 on a quiet machine)
# 2. bench/delivery.py    writer cost per event beside its consume+orjson+gzip floor
# 3. loadtest.scale       CPU per 1,000 events at 4 processes against 1, on noida-db
#                         (static) and tansu (dynamic); target <= 1.10 at reference speed
#                         (five interleaved runs of each count: one run lands 10-25 %
#                         either side, more than the target allows)
# 4. loadtest --find-capacity  highest rate held (p99 <= cut + 10 s, 0 missing,
#                         0 duplicated) beside the broker's floor of the same run;
#                         target >= 12,000 events/s. Steps 6,144 x 1.25: 7,680, 9,600, 12,000, 15,000.
#
# Each part's full output goes to OUT_DIR (default loadtest/reports/acceptance-<time>),
# with the load average before and after it: figures from a busy machine measure the
# neighbours. The summary (summary.txt) keeps each part's closing lines. A part that
# fails is reported and the others still run; the exit status is 1 if any failed.
# The crash harness is a test: .venv/bin/pytest -s tests/crash/test_crash.py.
set -u
cd "$(dirname "$0")/.."
# every part starts its own private stack: nothing from the shell's (or make's) stack
for v in $(compgen -e | grep '^RECORDER_'); do unset "$v"; done
PY=${PYTHON:-.venv/bin/python}
OUT=${1:-loadtest/reports/acceptance-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
failed=0

{
  echo "recorder acceptance figures (issue 29), $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $(uptime)"
} | tee "$SUMMARY"

part() {  # part NAME LINES CMD...: run CMD, keep its output, its last LINES lines in the summary
  local name=$1 lines=$2
  shift 2
  local log="$OUT/$name.log" start=$SECONDS rc
  printf '\n== %s: %s\n   before: %s\n' "$name" "$*" "$(uptime)" | tee -a "$SUMMARY"
  "$@" >"$log" 2>"$OUT/$name.progress"
  rc=$?
  tail -n "$lines" "$log" | tee -a "$SUMMARY"
  printf '   after: %s (%d s, exit %d)\n' "$(uptime)" $((SECONDS - start)) "$rc" | tee -a "$SUMMARY"
  [ "$rc" -eq 0 ] || failed=1
}

part router 7 "$PY" bench/router.py --events 30000 --rounds 5
part delivery 7 "$PY" bench/delivery.py --events 100000 --rounds 3
part scale-noida 6 "$PY" -m loadtest.scale --broker noida --processes 1,4 --duration 20 \
  --repeat 5 --json "$OUT/scale-noida.json"
part scale-tansu 6 "$PY" -m loadtest.scale --broker tansu --processes 1,4 --duration 20 \
  --repeat 5 --json "$OUT/scale-tansu.json"
part capacity 60 "$PY" -m loadtest --find-capacity --start-rate 6144 --step-factor 1.25 \
  --max-rate 20000 --step-seconds 25 --report "$OUT/capacity.html"

printf '\nfull output: %s\n' "$OUT" | tee -a "$SUMMARY"
exit "$failed"
