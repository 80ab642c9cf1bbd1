#!/usr/bin/env bash
# replay-anchors.sh -- how fast do existing tools read the corpus? hyperfine
# runs of the I/O floor (cat, dd), the C floor (pcapwalk), tcpdump and tshark,
# with any extra commands (sockscope: scripts/bench-replay.sh adds them) in
# the same hyperfine run, so the ratios come from one run.
#
# Usage:  scripts/bench/replay-anchors.sh [mid] [big]     (default: mid big)
#
# Needs the captures from make-corpus.sh and the Debian packages hyperfine,
# time (/usr/bin/time), tcpdump, wireshark-common (capinfos), tshark (unless
# SKIP_TSHARK=1) and gcc (pcapwalk.c is compiled into $OUT). Missing ones are
# installed with apt-get when root, unless BENCH_NO_INSTALL=1.
# Takes (2 cores, 5 runs): mid, fast group ~3 minutes, tshark group ~4; big,
# fast group ~25 minutes (tcpdump's printing runs are most of it), tshark
# group ~45 minutes (SKIP_TSHARK=1 leaves it out).
#
# Environment:
#   OUT=/tmp/bench          where mid.pcap / big.pcap live
#   RES=$OUT/results        hyperfine JSON + TSV files go here
#   RUNS_FAST=5             hyperfine runs for the fast group (after 1 warmup)
#   RUNS_SLOW=3             hyperfine runs for the tshark group (after 1 warmup)
#   SKIP_TSHARK=1           leave out the tshark group
#   EXTRA=FILE              extra commands, one per line: NAME<TAB>COMMAND, with
#                           {f} standing for the pcap path. They join the fast
#                           group's hyperfine run, so ratios against tcpdump and
#                           cat come from the same run. Example line:
#                             sockscope -q<TAB>target/release/sockscope replay {f} -F json -q
#
# Every command writes its output to /dev/null during timing. A separate pass
# runs each command once more under /usr/bin/time to record peak RSS and to
# count its output (lines, or conversations for tshark conv) as a sanity check.
# Output: $RES/replay-WHICH-GROUP.json (hyperfine), $RES/replay-rss-WHICH-GROUP.tsv
# (peak RSS and counts), $RES/file-WHICH.tsv (packets, bytes).
# Summarise with:  scripts/bench/summarize.py replay $RES  (a Markdown table).

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
OUT=${OUT:-/tmp/bench}
RES=${RES:-$OUT/results}
RUNS_FAST=${RUNS_FAST:-5}
RUNS_SLOW=${RUNS_SLOW:-3}
SKIP_TSHARK=${SKIP_TSHARK:-0}
EXTRA=${EXTRA:-}
FILES=("$@")
[[ ${#FILES[@]} -gt 0 ]] || FILES=(mid big)

bench_need hyperfine /usr/bin/time tcpdump capinfos gcc
[[ $SKIP_TSHARK == 1 ]] || bench_need tshark
for which in "${FILES[@]}"; do
  [[ -f $OUT/$which.pcap ]] || { echo "missing $OUT/$which.pcap (run scripts/bench/make-corpus.sh)" >&2; exit 1; }
done

mkdir -p "$RES"
PCAPWALK="$OUT/pcapwalk"
gcc -O2 -Wall -o "$PCAPWALK" "$HERE/pcapwalk.c"

# The commands. add GROUP NAME COUNT COMMAND, with {f} = the capture path and
# COUNT = how the RSS pass counts the output: lines = stdout lines,
# conv = lines with "<->" (one per conversation), - = nothing to count.
G=() N=() K=() C=()
add() { G+=("$1"); N+=("$2"); K+=("$3"); C+=("$4"); }

add fast "cat"             - "cat {f}"
add fast "wc -c"           - "wc -c {f}"
add fast "wc -l"           - "wc -l {f}"
add fast "dd bs=1M"        - "dd if={f} of=/dev/null bs=1M status=none"
add fast "pcapwalk read"   - "$PCAPWALK read {f}"
add fast "pcapwalk mmap"   - "$PCAPWALK mmap {f}"
add fast "pcapwalk flows"  - "$PCAPWALK flows {f}"
add fast "tcpdump print"   lines "tcpdump -nn -r {f}"
# With TZ unset, glibc's localtime() stats /etc/localtime once per printed
# packet; TZ=UTC removes that syscall (~2.5x faster). Both are anchors.
add fast "tcpdump print TZ=UTC" lines "env TZ=UTC tcpdump -nn -r {f}"
# tcpdump keeps a 919-bucket chained hash of TCP conversations for relative
# sequence numbers, so its per-packet cost grows with the number of flows;
# -S (absolute sequence numbers) skips it. The fastest full-print anchor:
add fast "tcpdump print -S TZ=UTC" lines "env TZ=UTC tcpdump -nn -S -r {f}"
add fast "tcpdump syn/rst" lines "tcpdump -nn -r {f} 'tcp[tcpflags] & (tcp-syn|tcp-rst) != 0'"
add fast "tcpdump -w"      - "tcpdump -r {f} -w /dev/null"
add tshark "tshark conv,tcp"  conv  "tshark -r {f} -q -z conv,tcp"
add tshark "tshark conv,udp"  conv  "tshark -r {f} -q -z conv,udp"
add tshark "tshark websocket" lines "tshark -r {f} -Y websocket -T fields -e frame.number -e websocket.opcode"
if [[ -n $EXTRA ]]; then
  while IFS=$'\t' read -r name cmd; do
    [[ -z $name || $name == \#* ]] && continue
    add fast "$name" lines "$cmd"
  done <"$EXTRA"
fi

log() { bench_log replay-anchors "$@"; }

# run_group GROUP RUNS WHICH FILE: one hyperfine invocation for a whole group,
# so the commands of a group are compared within the same run
run_group() {
  local group=$1 runs=$2 which=$3 file=$4 args=() i
  for i in "${!G[@]}"; do
    [[ ${G[i]} == "$group" ]] || continue
    args+=(-n "${N[i]}" "${C[i]//\{f\}/$file} > /dev/null")
  done
  hyperfine --style basic --warmup 1 --runs "$runs" \
    --export-json "$RES/replay-$which-$group.json" "${args[@]}"
}

# rss_pass GROUP WHICH FILE: each command once more under GNU time, for the
# peak RSS (%M, KiB) and an output count
rss_pass() {
  local group=$1 which=$2 file=$3 i cmd n tmp
  tmp=$(mktemp)
  rm -f "$RES/replay-rss-$which-$group.tsv"
  for i in "${!G[@]}"; do
    [[ ${G[i]} == "$group" ]] || continue
    cmd=${C[i]//\{f\}/$file}
    case ${K[i]} in
      lines) n=$(/usr/bin/time -o "$tmp" -f '%M\t%e\t%U\t%S' sh -c "$cmd" | wc -l) ;;
      conv)  n=$(/usr/bin/time -o "$tmp" -f '%M\t%e\t%U\t%S' sh -c "$cmd" | grep -c -- '<->' || true) ;;
      *)     /usr/bin/time -o "$tmp" -f '%M\t%e\t%U\t%S' sh -c "$cmd > /dev/null"; n=- ;;
    esac
    # file, command, max RSS KiB, elapsed s, user s, sys s, output count
    printf '%s\t%s\t%s\t%s\n' "$which" "${N[i]}" "$(tail -1 "$tmp")" "$n" >>"$RES/replay-rss-$which-$group.tsv"
  done
  rm -f "$tmp"
}

for which in "${FILES[@]}"; do
  file="$OUT/$which.pcap"
  # file facts for the summary: packets, bytes
  printf '%s\t%s\t%s\n' "$which" "$(capinfos -T -r -c -M "$file" | cut -f2)" \
    "$(stat -c %s "$file")" >"$RES/file-$which.tsv"
  log "$which: warming the page cache"
  cat "$file" >/dev/null; cat "$file" >/dev/null

  log "$which: fast group"
  run_group fast "$RUNS_FAST" "$which" "$file"
  rss_pass fast "$which" "$file"
  if [[ $SKIP_TSHARK != 1 ]]; then
    log "$which: tshark group"
    run_group tshark "$RUNS_SLOW" "$which" "$file"
    rss_pass tshark "$which" "$file"
  fi
done
log "done; results in $RES"
