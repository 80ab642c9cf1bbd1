#!/usr/bin/env bash
# bench-replay.sh -- sockscope replay beside tcpdump and tshark on the team's
# benchmark corpus, in the same hyperfine runs.
#
# Usage:  scripts/bench-replay.sh [mid] [big]      (default: mid big)
#
# Builds sockscope (release), builds /tmp/bench/{mid,big}.pcap with
# ../shared/bench/make-corpus.sh if they are missing (root, ~2 minutes), then
# runs ../shared/bench/bench-replay.sh with sockscope's commands added to its
# fast group (so ratios to tcpdump and cat come from the same run) and prints
# the Markdown table of ../shared/bench/summarize.py. SKIP_TSHARK=1 leaves the
# slow tshark group out (about 45 minutes on big).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
export OUT=${OUT:-/tmp/bench}
export RES=${RES:-$OUT/results}

cargo build --release --manifest-path "$ROOT/Cargo.toml"
BIN=$ROOT/target/release/sockscope

if [[ ! -f $OUT/big.pcap || ! -f $OUT/mid.pcap ]]; then
    OUT=$OUT bash "$SHARED/make-corpus.sh"
fi

EXTRA=$(mktemp)
trap 'rm -f "$EXTRA"' EXIT
{
    printf 'sockscope -q (full analysis)\t%s replay {f} --format json -q\n' "$BIN"
    printf 'sockscope json (every record)\t%s replay {f} --format json\n' "$BIN"
    printf 'sockscope human --summary\t%s replay {f} --summary\n' "$BIN"
} >"$EXTRA"

EXTRA=$EXTRA bash "$SHARED/bench-replay.sh" "$@"
python3 "$SHARED/summarize.py" replay "$RES"
