#!/usr/bin/env bash
# bench-ws.sh -- WebSocket decoding speed: sockscope beside tshark on large
# recorded sessions, in messages/s and MB/s of capture.
#
# Usage:  scripts/bench-ws.sh            (root: records the captures if missing)
#
# The captures come from `captures/record.sh OUT bench` (python websockets,
# WS_BENCH_MESSAGES messages each way, default 200000; one uncompressed, one
# with permessage-deflate) into $OUT (default /tmp/bench). hyperfine runs each
# command RUNS times (default 10) after a warm-up; the table gives medians.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export OUT=${OUT:-/tmp/bench}
RUNS=${RUNS:-10}
mkdir -p "$OUT"

cargo build --release --manifest-path "$ROOT/Cargo.toml"
BIN=$ROOT/target/release/sockscope

if [[ ! -f $OUT/ws-bench.pcap || ! -f $OUT/ws-bench-deflate.pcap ]]; then
    bash "$ROOT/captures/record.sh" "$OUT" bench
fi
command -v hyperfine >/dev/null || { echo "bench-ws.sh: needs hyperfine" >&2; exit 1; }

printf '| capture | command | median s | messages/s | MB/s |\n|---|---|---:|---:|---:|\n'
for name in ws-bench ws-bench-deflate; do
    f=$OUT/$name.pcap
    summary=$("$BIN" replay "$f" --format json -q | tail -1)
    messages=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ws_messages"])' "$summary")
    port=$("$BIN" replay "$f" --format json | python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r["type"] == "ws_upgrade":
        print(r["server_port"]); break')
    bytes=$(stat -c %s "$f")
    json=$(mktemp)
    hyperfine --style none --warmup 1 --runs "$RUNS" --export-json "$json" \
        -n "sockscope -q" "$BIN replay $f --format json -q" \
        -n "sockscope json (every record)" "$BIN replay $f --format json" \
        -n "tshark (every frame's opcode)" "tshark -r $f -d tcp.port==$port,http -o tcp.reassemble_out_of_order:TRUE -T fields -e websocket.opcode" \
        >/dev/null 2>&1
    python3 - "$json" "$name" "$messages" "$bytes" <<'EOF'
import json, sys
res, name, messages, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for r in json.load(open(res))["results"]:
    t = r["median"]
    print(f"| {name} | {r['command']} | {t:.3f} | {messages / t:,.0f} | {size / t / 1e6:,.1f} |")
EOF
    rm -f "$json"
done
