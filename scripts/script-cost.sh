#!/usr/bin/env bash
# Instructions redis-server executes per call of fila's hot scripts, counted
# by valgrind's callgrind: repeatable to about 1%, where wall time on a
# shared VM moves by 10-30%. Needs valgrind and redis-server on PATH.
#
#   scripts/script-cost.sh [calls per case, default 1000] [job buckets, default 1] [scriptcost flags]
#
# scripts/script-cost.sh 2000 1 -floor counts the add beside the scripts that
# do only what an add must do in Redis (internal/scriptcost/floor.go).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
buckets=${2:-1}
shift $(($# < 2 ? $# : 2))
dir=$(mktemp -d)
mkdir -p "$dir/dumps"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
valgrind --tool=callgrind --callgrind-out-file="$dir/dumps/callgrind.out" \
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" >"$dir/valgrind.log" 2>&1 &
vg=$!
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill "$vg" 2>/dev/null; wait "$vg" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.2; done
go run ./internal/scriptcost -addr "127.0.0.1:$port" -pid "$vg" -dumps "$dir/dumps" -n "$n" -buckets "$buckets" "$@"
