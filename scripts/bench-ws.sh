#!/usr/bin/env bash
# bench-ws.sh -- WebSocket decoding speed: sockscope beside tshark on large
# recorded sessions, in messages/s and MB/s of capture.
#
# Usage:  scripts/bench-ws.sh            (root: records the captures if missing)
#
# The captures come from `captures/record.sh OUT bench` (python websockets,
# WS_BENCH_MESSAGES messages each way, default 200000; one uncompressed, one
# with permessage-deflate) into $OUT (default /tmp/bench). Each is copied to
# tmpfs (/dev/shm) and the commands run in alternation (scripts/bench/
# alternate.py) RUNS times (default 10) after a warm-up round: sockscope -q,
# sockscope --format json, and tshark printing every frame's opcode
# (SKIP_TSHARK=1 leaves tshark out). The table gives medians.
#
# Needs the Debian packages tshark and python3, cargo to build sockscope
# (unless SOCKSCOPE=/path/to/sockscope), and to record the captures what
# captures/record.sh needs (iproute2, tcpdump, wireshark-common, tcpreplay,
# curl, socat, bind9-dnsutils, dnsmasq-base, python3-websockets). Missing
# packages are installed with apt-get when root, unless BENCH_NO_INSTALL=1.
# Takes ~1 minute to record, then ~1 minute without tshark, ~5 with it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/scripts/bench
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
export OUT=${OUT:-/tmp/bench}
RUNS=${RUNS:-10}
SKIP_TSHARK=${SKIP_TSHARK:-0}
mkdir -p "$OUT"

bench_need /usr/bin/python3 /usr/bin/time
[[ $SKIP_TSHARK == 1 ]] || bench_need tshark
BIN=$(bench_sockscope)

if [[ ! -f $OUT/ws-bench.pcap || ! -f $OUT/ws-bench-deflate.pcap ]]; then
    [[ $(id -u) == 0 ]] || { echo "bench-ws.sh: recording the captures needs root" >&2; exit 1; }
    bench_need ip tcpdump dumpcap tcprewrite mergecap curl socat dig dnsmasq
    bench_need_websockets
    bash "$ROOT/captures/record.sh" "$OUT" bench
fi

SHM=$(mktemp -d /dev/shm/sockscope-ws-XXXXXX)
trap 'rm -rf "$SHM"' EXIT

rows=()
for name in ws-bench ws-bench-deflate; do
    f=$SHM/$name.pcap
    cp "$OUT/$name.pcap" "$f"
    summary=$("$BIN" replay "$f" --format json -q | tail -1)
    messages=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ws_messages"])' "$summary")
    port=$("$BIN" replay "$f" --format json | /usr/bin/python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r["type"] == "ws_upgrade":
        print(r["server_port"]); break')
    bytes=$(stat -c %s "$f")
    cmds=("sockscope -q=$BIN replay $f --format json -q"
          "sockscope json (every record)=$BIN replay $f --format json")
    [[ $SKIP_TSHARK == 1 ]] ||
        cmds+=("tshark (every frame's opcode)=tshark -r $f -d tcp.port==$port,http -o tcp.reassemble_out_of_order:TRUE -T fields -e websocket.opcode")
    json=$SHM/$name.json
    bench_log bench-ws "$name: $RUNS alternating rounds"
    /usr/bin/python3 "$BENCH/alternate.py" -r "$RUNS" --json "$json" "${cmds[@]}" >/dev/null
    rows+=("$(/usr/bin/python3 - "$json" "$name" "$messages" "$bytes" <<'EOF'
import json, sys
res, name, messages, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for r in json.load(open(res))["commands"]:
    t = r["median"]
    print(f"| {name} ({size / 1e6:.1f} MB, {messages} messages) | {r['name']} | {t:.3f} | "
          f"{messages / t:,.0f} | {size / t / 1e6:,.1f} |")
EOF
)")
    rm -f "$f"
done
printf '| capture | command | median s | messages/s | MB/s |\n|---|---|---:|---:|---:|\n'
printf '%s\n' "${rows[@]}"
