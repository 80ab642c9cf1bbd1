#!/usr/bin/env bash
# bench-sockets.sh -- socket listing with many sockets: sockscope ls beside
# ss, netstat and lsof, in the same hyperfine runs.
#
# Usage:  scripts/bench/bench-sockets.sh [N ...]        (default: 10000 50000)
#
# For each N, many-sockets.py opens N established loopback TCP connections
# (2N ESTABLISHED sockets, both ends of each in one process; split over a few
# worker processes when RLIMIT_NOFILE cannot be raised) plus 64 idle listeners
# and 1000 UDP sockets, and holds them; the listing tools are timed with
# hyperfine while they are held; then the holder is killed (its sockets are
# reset, no TIME_WAIT is left behind). Only loopback addresses are used.
# Prints the Markdown table of summarize.py at the end.
#
# Needs the Debian packages hyperfine, iproute2 (ss), net-tools (netstat),
# lsof, time (/usr/bin/time), python3, and cargo to build sockscope (unless
# SOCKSCOPE=/path/to/sockscope). Missing packages are installed with apt-get
# when root, unless BENCH_NO_INSTALL=1. Root is not required, but `-p`/lsof
# only see every process's sockets as root.
# Takes ~1 minute for 10 000 connections, ~3 minutes for 50 000 (mostly
# ss -tanp and lsof); ~40 s for 1000.
#
# Environment:
#   OUT=/tmp/bench   RES=$OUT/results
#   RUNS=10          hyperfine runs for the fast group (after 1 warmup)
#   RUNS_SLOW=3      hyperfine runs for lsof (after 1 warmup)
#   SKIP_SOCKSCOPE=1 time only the other tools
#   EXTRA=FILE       extra commands NAME<TAB>COMMAND, joined to the fast
#                    group's hyperfine run
#
# Output: $RES/sockets-N-{fast,slow}.json (hyperfine), $RES/sockets-rss-N.tsv
# (peak RSS, output lines, ESTAB lines per tool) and $RES/sockets-N.json
# (what many-sockets.py opened).

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
OUT=${OUT:-/tmp/bench}
RES=${RES:-$OUT/results}
RUNS=${RUNS:-10}
RUNS_SLOW=${RUNS_SLOW:-3}
EXTRA=${EXTRA:-}
SKIP_SOCKSCOPE=${SKIP_SOCKSCOPE:-0}
NS=("$@")
[[ ${#NS[@]} -gt 0 ]] || NS=(10000 50000)
bench_need hyperfine ss netstat lsof /usr/bin/time timeout /usr/bin/python3
[[ $SKIP_SOCKSCOPE == 1 ]] || BIN=$(bench_sockscope)
mkdir -p "$RES"

# add GROUP NAME COMMAND
G=() N=() C=()
add() { G+=("$1"); N+=("$2"); C+=("$3"); }
add fast "cat /proc/net/tcp*" "cat /proc/net/tcp /proc/net/tcp6"   # procfs floor
add fast "ss -tan"       "ss -tan"
add fast "ss -tanp"      "ss -tanp"
add fast "ss -uan"       "ss -uan"
add fast "netstat -tan"  "netstat -tan"
add fast "netstat -tanp" "netstat -tanp"
add slow "lsof -nP -iTCP" "timeout 120 lsof -nP -iTCP"
if [[ $SKIP_SOCKSCOPE != 1 ]]; then
  add fast "sockscope ls -t -a"         "$BIN ls -t -a"
  add fast "sockscope ls -t -a -F json" "$BIN ls -t -a -F json"
  add fast "sockscope ls -t -a -p"      "$BIN ls -t -a -p"
fi
if [[ -n $EXTRA ]]; then
  while IFS=$'\t' read -r name cmd; do
    [[ -z $name || $name == \#* ]] && continue
    add fast "$name" "$cmd"
  done <"$EXTRA"
fi

HOLDER=
log() { bench_log bench-sockets "$@"; }
stop_holder() {
  if [[ -n $HOLDER ]]; then kill "$HOLDER" 2>/dev/null || true; wait "$HOLDER" 2>/dev/null || true; fi
  HOLDER=
}
trap stop_holder EXIT

run_group() {   # run_group GROUP RUNS LABEL
  local group=$1 runs=$2 label=$3 args=() i
  for i in "${!G[@]}"; do
    [[ ${G[i]} == "$group" ]] || continue
    args+=(-n "${N[i]}" "${C[i]} > /dev/null")
  done
  hyperfine --style basic --warmup 1 --runs "$runs" -i \
    --export-json "$RES/sockets-$label-$group.json" "${args[@]}"
}

for n in "${NS[@]}"; do
  ready="$RES/sockets-$n.json"
  rm -f "$ready"
  log "N=$n: opening sockets"
  /usr/bin/python3 "$HERE/many-sockets.py" -n "$n" --ready-file "$ready" >/dev/null &
  HOLDER=$!
  for _ in $(seq 600); do
    [[ -f $ready ]] && break
    kill -0 "$HOLDER" 2>/dev/null || break      # it died (error already printed)
    sleep 0.5
  done
  [[ -f $ready ]] || { echo "many-sockets.py did not get ready" >&2; exit 1; }
  cat "$ready" >&2; echo >&2
  sleep 2   # let the system settle

  rm -f "$RES/sockets-rss-$n.tsv"
  tmp=$(mktemp)
  # correctness + peak RSS: one run each; count all lines and ESTAB lines
  for i in "${!G[@]}"; do
    /usr/bin/time -o "$tmp" -f '%M\t%e' sh -c "${C[i]}" >"$tmp.out" 2>/dev/null || true
    lines=$(wc -l <"$tmp.out")
    estab=$(grep -c -E 'ESTAB|ESTABLISHED|(^| )01 ' "$tmp.out" || true)
    # N, command, max RSS KiB, elapsed s, output lines, ESTAB lines
    printf '%s\t%s\t%s\t%s\t%s\n' "$n" "${N[i]}" "$(tail -1 "$tmp")" "$lines" "$estab" \
      >>"$RES/sockets-rss-$n.tsv"
  done
  rm -f "$tmp" "$tmp.out"

  log "N=$n: timing"
  run_group fast "$RUNS" "$n"
  run_group slow "$RUNS_SLOW" "$n"
  stop_holder
  sleep 2
done
log "done; results in $RES"
/usr/bin/python3 "$HERE/summarize.py" sockets "$RES"
