#!/usr/bin/env bash
# bench-capture-loss.sh -- packet loss of live capture under load, sockscope
# beside tcpdump on the same interface in the same run.
#
# Usage: scripts/bench-capture-loss.sh CAPTURE.pcap [PACKETS] [RATE ...]
#   RATE: packets per second for tcpreplay --pps, or `top` (--topspeed).
#   Default: 300000 packets at 50000 100000 200000 400000 top.
#
# Two network namespaces joined by a veth pair (no other interface); tcpreplay
# sends the capture from one end; on the other end `sockscope capture -F json
# -q` (decoding everything, printing the summary) and `tcpdump -w /dev/null`
# run at once, each with its default kernel buffer (sockscope 32 MiB,
# tcpdump 2 MiB) and with `-B 2` for sockscope as well, and pnet's datalink
# channel feeding the same decoder (examples/pnet_loss.rs: no kernel drop
# counter, so only what it read). Prints a markdown table: sent, and per tool
# packets read and dropped by the kernel. Root.
#
# The README's table: scripts/bench-capture-loss.sh /tmp/bench/mid.pcap \
#   1000000 50000 100000 300000 top   (mid.pcap from scripts/bench/make-corpus.sh)
#
# Needs root and the Debian packages iproute2, tcpreplay, tcpdump, python3,
# and cargo to build sockscope and examples/pnet_loss (unless SOCKSCOPE= and
# PNET_LOSS= name built ones). Missing packages are installed with apt-get,
# unless BENCH_NO_INSTALL=1. Takes PACKETS/RATE + ~4 s per rate: the README's
# command about a minute and a half.
set -euo pipefail

PCAP=${1:?usage: $0 CAPTURE.pcap [PACKETS] [RATE ...]}
N=${2:-300000}
shift $(( $# >= 2 ? 2 : 1 ))
RATES=("$@")
[[ ${#RATES[@]} -gt 0 ]] || RATES=(50000 100000 200000 400000 top)
HERE=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$HERE/scripts/bench/lib.sh"
[[ -f $PCAP ]] || { echo "no such capture: $PCAP" >&2; exit 1; }
[[ $(id -u) == 0 ]] || { echo "bench-capture-loss.sh: run as root (network namespaces, capture)" >&2; exit 1; }
bench_need ip tcpreplay tcpdump /usr/bin/python3
BIN=$(bench_sockscope)
if [[ -n ${PNET_LOSS:-} ]]; then
    PNET=$PNET_LOSS
else
    cargo build --release --locked --manifest-path "$HERE/Cargo.toml" --example pnet_loss >&2
    PNET=$HERE/target/release/examples/pnet_loss
fi
S=scbench-s-$$ C=scbench-c-$$ IS=scbs$$ IC=scbc$$
WORK=$(mktemp -d)

cleanup() {
    ip netns del "$S" 2>/dev/null || true
    ip netns del "$C" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$S"; ip netns add "$C"
ip link add "$IS" netns "$S" type veth peer name "$IC" netns "$C"
for x in "$S $IS" "$C $IC"; do
    set -- $x
    ip -n "$1" link set "$2" mtu 9000 up
done

echo "| rate asked (pps) | achieved (pps) | sent | sockscope read | sockscope kernel drops | sockscope -B 2 read | sockscope -B 2 drops | tcpdump read | tcpdump kernel drops | pnet read |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for rate in "${RATES[@]}"; do
    ip netns exec "$S" "$BIN" capture -i "$IS" -F json -q --no-drop-privileges \
        >"$WORK/s.json" 2>"$WORK/s.err" &
    sp=$!
    ip netns exec "$S" "$BIN" capture -i "$IS" -F json -q -B 2 --no-drop-privileges \
        >"$WORK/s2.json" 2>"$WORK/s2.err" &
    sp2=$!
    ip netns exec "$S" tcpdump -i "$IS" -n -w /dev/null 2>"$WORK/t.err" &
    tp=$!
    ip netns exec "$S" "$PNET" "$IS" >"$WORK/p.out" 2>"$WORK/p.err" &
    pp=$!
    sleep 1.5
    if [[ $rate == top ]]; then speed=(--topspeed); else speed=(--pps="$rate"); fi
    ip netns exec "$C" tcpreplay -i "$IC" "${speed[@]}" --limit="$N" "$PCAP" >"$WORK/r.out" 2>&1
    sleep 2
    kill -INT "$sp" "$sp2" "$tp" "$pp"
    wait "$sp" "$sp2" "$tp" "$pp" || true
    sent=$(grep -oE 'Successful packets: +[0-9]+' "$WORK/r.out" | grep -oE '[0-9]+$' || echo "?")
    capture_stats() { /usr/bin/python3 -c "
import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l)
    if r['type']=='capture_stats': print(r['captured'], r['kernel_drops'])
" "$1"; }
    read -r s_read s_drop < <(capture_stats "$WORK/s.json")
    read -r s2_read s2_drop < <(capture_stats "$WORK/s2.json")
    t_read=$(grep -oE '^[0-9]+ packets captured' "$WORK/t.err" | grep -oE '^[0-9]+')
    t_drop=$(grep -oE '^[0-9]+ packets dropped by kernel' "$WORK/t.err" | grep -oE '^[0-9]+')
    pps=$(grep -oE '[0-9.]+ pps' "$WORK/r.out" | head -1 | grep -oE '^[0-9]+' || echo "?")
    echo "| $rate | $pps | $sent | $s_read | $s_drop | $s2_read | $s2_drop | $t_read | $t_drop | $(cat "$WORK/p.out") |"
done
