#!/usr/bin/env bash
# bench-replay.sh -- sockscope replay beside tcpdump, tshark, cat and a C
# floor program on the benchmark corpus, in the same hyperfine runs.
#
# Usage:  scripts/bench-replay.sh [mid] [big]      (default: mid big)
#
# Builds sockscope (release; or SOCKSCOPE=/path/to/sockscope), builds
# $OUT/{mid,big}.pcap with scripts/bench/make-corpus.sh if they are missing
# (root, ~2 minutes), then runs scripts/bench/replay-anchors.sh with
# sockscope's commands added to its fast group (so ratios to tcpdump and cat
# come from the same run) and prints the Markdown table of
# scripts/bench/summarize.py. The README's paired tmpfs table comes from
# scripts/bench/paired-replay.sh instead; scripts/bench/README.md says which
# script makes which number.
#
# Needs the Debian packages hyperfine, time, tcpdump, wireshark-common,
# tshark and gcc (installed with apt-get when root, unless BENCH_NO_INSTALL=1),
# and for the corpus those make-corpus.sh lists.
# Takes: mid ~3 minutes with SKIP_TSHARK=1, ~7 with tshark; big ~25 minutes
# with SKIP_TSHARK=1, ~70 with tshark (plus the corpus and the build if
# missing).
#
# Environment: OUT=/tmp/bench, RES=$OUT/results, RUNS_FAST (default 5; the
# README's hyperfine line used 11), RUNS_SLOW, SKIP_TSHARK=1 (see
# scripts/bench/replay-anchors.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/scripts/bench
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
export OUT=${OUT:-/tmp/bench}
export RES=${RES:-$OUT/results}

BIN=$(bench_sockscope)

WANT=("$@")
[[ ${#WANT[@]} -gt 0 ]] || WANT=(mid big)
for which in "${WANT[@]}"; do
    if [[ ! -f $OUT/$which.pcap ]]; then
        OUT=$OUT "$BENCH/make-corpus.sh"
        break
    fi
done

EXTRA=$(mktemp)
trap 'rm -f "$EXTRA"' EXIT
{
    printf 'sockscope -q --no-ws (handshakes and flows)\t%s replay {f} --format json -q --no-ws\n' "$BIN"
    printf 'sockscope -q (full analysis)\t%s replay {f} --format json -q\n' "$BIN"
    printf 'sockscope json (every record)\t%s replay {f} --format json\n' "$BIN"
    printf 'sockscope human --summary\t%s replay {f} --summary\n' "$BIN"
} >"$EXTRA"

EXTRA=$EXTRA "$BENCH/replay-anchors.sh" "${WANT[@]}"
/usr/bin/python3 "$BENCH/summarize.py" replay "$RES"
