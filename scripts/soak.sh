#!/usr/bin/env bash
# Soak: fila's fault scenarios (internal/faulttest) at full size, the
# million-job claim test, the retry storm at 60s, and every fuzz target for
# longer. Needs redis-server on PATH (apt-get install redis-server).
#
#   scripts/soak.sh [results-file]      # default: /tmp/fila-soak-results.md
#   FUZZTIME=5m scripts/soak.sh         # fuzz each target longer (default 60s)
#
# The accounting table rows and notes of every scenario are appended to the
# results file; internal/faulttest/RESULTS.md is made from it.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-/tmp/fila-soak-results.md}
fuzztime=${FUZZTIME:-60s}
export FILA_SOAK=1 FILA_REQUIRE_REDIS=1
export FILA_FAULT_RESULTS=$out

{
  echo "# fila soak, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(go version | cut -d' ' -f3), $(redis-server --version | cut -d' ' -f3)"
  echo
  echo "| scenario | faults | added | completed | failed | handler runs | duplicates | lost | stuck | took |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} > "$out"

echo "== fault scenarios and limits, full size (FILA_SOAK=1)"
go test -count=1 -v -timeout 60m ./internal/faulttest/ 2>&1 | tee /tmp/fila-soak-test.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok )|\| [0-9]'

echo "== fuzz, $fuzztime per target"
fuzz() { # package target; a failing run shows its cause, not only its last lines
  echo "-- $2 ($1)"
  local log status=0
  log=$(mktemp)
  go test -run=NONE -fuzz="^$2\$" -fuzztime="$fuzztime" "$1" >"$log" 2>&1 || status=$?
  if [ "$status" -eq 0 ]; then tail -3 "$log"; else grep -v '^fuzz: elapsed' "$log" | tail -40; fi
  rm -f "$log"
  return "$status"
}
for f in FuzzDecodeRecord FuzzDecodeState FuzzDecodeOpts FuzzDecodeJob FuzzDecodeJobReply FuzzBodyRoundTrip; do
  fuzz ./backend/redis "$f"
done
fuzz . FuzzQueueAdd
if [ -f examples/whatsapp/webhook_fuzz_test.go ]; then
  fuzz ./examples/whatsapp FuzzWebhookParse
  fuzz ./examples/whatsapp FuzzVerifySignature
fi

echo "== ok; tables in $out"
cat "$out"
