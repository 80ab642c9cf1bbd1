#!/usr/bin/env bash
# paired-replay.sh -- the README's main replay table: sockscope replay beside
# `tcpdump -r FILE -w /dev/null`, in alternating runs, each sockscope run
# compared with the tcpdump run just before it (alternate.py).
#
# Usage:  scripts/bench/paired-replay.sh [mid|big]          (default: big)
#
# By default the capture is first copied to tmpfs (/dev/shm), because a VM
# may reclaim page cache within seconds and re-read part of a "warm" file from
# the device on some runs; FROM=disk reads $OUT/WHICH.pcap in place instead
# (the README's "through the page cache" line). The tmpfs copy is removed at
# the end.
#
# Commands, in this order every round: tcpdump -r F -w /dev/null;
# sockscope replay F --format json -q --no-ws; ... --format json -q;
# ... --format json (every record).
#
# Needs the captures from make-corpus.sh, the Debian packages tcpdump, time
# and python3 (installed with apt-get when root, unless BENCH_NO_INSTALL=1),
# and cargo to build sockscope (unless SOCKSCOPE=/path/to/sockscope). Takes about
# RUNS x 6 s on big (15 runs: ~2 minutes), RUNS x 0.6 s on mid, plus the
# build. The tmpfs copy needs 1.8 GB of memory for big.
#
# Environment: OUT=/tmp/bench, RUNS=15, WARMUP=1, FROM=shm|disk,
#              RES=$OUT/results (paired-WHICH-FROM.json: every time).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
OUT=${OUT:-/tmp/bench}
RES=${RES:-$OUT/results}
RUNS=${RUNS:-15}
WARMUP=${WARMUP:-1}
FROM=${FROM:-shm}
WHICH=${1:-big}

bench_need tcpdump /usr/bin/python3 /usr/bin/time
src=$OUT/$WHICH.pcap
[[ -f $src ]] || { echo "missing $src (run scripts/bench/make-corpus.sh)" >&2; exit 1; }
BIN=$(bench_sockscope)
mkdir -p "$RES"

case $FROM in
    shm)
        f=$(mktemp /dev/shm/sockscope-bench-XXXXXX.pcap)
        trap 'rm -f "$f"' EXIT
        bench_log paired-replay "copying $src to $f"
        cp "$src" "$f"
        ;;
    disk)
        f=$src
        cat "$f" >/dev/null
        ;;
    *) echo "FROM must be shm or disk" >&2; exit 1 ;;
esac

bench_log paired-replay "$RUNS rounds (+$WARMUP warm-up) on $WHICH.pcap from $FROM"
/usr/bin/python3 "$HERE/alternate.py" -r "$RUNS" -w "$WARMUP" --json "$RES/paired-$WHICH-$FROM.json" \
    "tcpdump -r $WHICH.pcap -w /dev/null=tcpdump -r $f -w /dev/null" \
    "sockscope replay $WHICH.pcap --format json -q --no-ws=$BIN replay $f --format json -q --no-ws" \
    "sockscope replay $WHICH.pcap --format json -q=$BIN replay $f --format json -q" \
    "sockscope replay $WHICH.pcap --format json=$BIN replay $f --format json"
