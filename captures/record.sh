#!/usr/bin/env bash
# record.sh -- record sockscope's test captures from real programs.
#
# Usage:  sudo captures/record.sh [OUT_DIR [GROUP...]]
#
#   OUT_DIR  default: the script's directory
#   GROUP    base (TCP, UDP, link types), ws (WebSocket), tcp-late (a last FIN
#            retransmitted after its ACK was dropped; connections picked up
#            mid-stream), http (HTTP/1.x exchanges, polling, long
#            polling, Server-Sent Events, streaming, keep-alive, pipelining,
#            100-continue; each capture with the JSON-lines log its programs
#            wrote, http-*.log.jsonl); default: all four.
#            bench: two large WebSocket captures for scripts/bench-ws.sh (not
#            committed; WS_BENCH_MESSAGES messages each way, default 200000)
#
# Builds two network namespaces joined by a veth pair, runs real clients and
# servers between them and records what crosses the link with tcpdump (and
# dumpcap for pcapng). Only the script's own namespaces carry traffic:
#
#   ssc-srv: 10.99.0.1/24, fd00:99::1/64  (servers)
#   ssc-cli: 10.99.0.2/24, fd00:99::2/64  (clients; captures are taken here)
#
# Retransmissions come from neighbour entries, not a firewall: SYNs to an
# address nobody owns (its neighbour entry points at the server, whose kernel
# discards them), and SYN-ACKs sent to a wrong MAC address (the client's
# kernel drops them; tcpdump, promiscuous, still records them) until the entry
# is fixed. A lost final ACK is the one firewall rule: nftables in the
# server's namespace drops its pure ACKs on one port (the kernel has no netem),
# so the client's kernel really retransmits its FIN. The kernel here has no
# 802.1Q module, so the VLAN captures are derived from a recorded one with
# tcprewrite; their provenance says so.
#
# Needs root, iproute2, tcpdump, dumpcap, tcprewrite, mergecap, python3,
# curl, socat, dig, dnsmasq, nft (tcp-late), and Debian's python3-websockets
# (the WebSocket peers run under /usr/bin/python3, see ws_peer.py); for http,
# Debian's python3-aiohttp and node-eventsource with node. About a minute for
# base and ws, 90 s more for tcp-late (it waits for the retransmissions), 40 s
# for http.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(cd "${1:-$HERE}" && pwd)
shift || true
WANT=("${@:-base ws tcp-late http}")
WANT=(${WANT[*]})
wants() { [[ " ${WANT[*]} " == *" $1 "* ]]; }
NS_S=ssc-srv NS_C=ssc-cli IF_S=ssc-s IF_C=ssc-c
SRV4=10.99.0.1 CLI4=10.99.0.2 SRV6=fd00:99::1 CLI6=fd00:99::2
MAC_S=02:00:0a:63:00:01 MAC_C=02:00:0a:63:00:02
NOBODY4=10.99.0.50      # an address no host owns
WORK=$(mktemp -d)
PIDS=()

log() { printf '[record %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    ip netns del "$NS_S" 2>/dev/null || true
    ip netns del "$NS_C" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

[[ $(id -u) == 0 ]] || { echo "record.sh: run as root (it creates network namespaces)" >&2; exit 1; }
for t in ip tcpdump dumpcap tcprewrite mergecap python3 curl socat dig dnsmasq; do
    command -v "$t" >/dev/null || { echo "record.sh: missing $t" >&2; exit 1; }
done
PY=/usr/bin/python3
if wants ws && ! "$PY" -c 'import websockets' 2>/dev/null; then
    echo "record.sh: missing python3-websockets (apt-get install python3-websockets)" >&2
    exit 1
fi

in_srv() { ip netns exec "$NS_S" "$@"; }
in_cli() { ip netns exec "$NS_C" "$@"; }

setup() {
    log "namespaces $NS_S / $NS_C"
    ip netns del "$NS_S" 2>/dev/null || true
    ip netns del "$NS_C" 2>/dev/null || true
    ip netns add "$NS_S"
    ip netns add "$NS_C"
    # Fixed MAC addresses keep the Ethernet headers the same on every run.
    ip link add "$IF_S" address "$MAC_S" netns "$NS_S" type veth \
        peer name "$IF_C" address "$MAC_C" netns "$NS_C"
    for ns in "$NS_S" "$NS_C"; do ip -n "$ns" link set lo up; done
    ip -n "$NS_S" addr add "$SRV4/24" dev "$IF_S"
    ip -n "$NS_C" addr add "$CLI4/24" dev "$IF_C"
    ip -n "$NS_S" addr add "$SRV6/64" dev "$IF_S" nodad
    ip -n "$NS_C" addr add "$CLI6/64" dev "$IF_C" nodad
    for pair in "$NS_S $IF_S" "$NS_C $IF_C"; do
        set -- $pair
        # One MSS per frame (no GSO super-frames), as on a real wire.
        ip -n "$1" link set "$2" mtu 1500 gso_max_segs 1 gso_max_size 1500 up
        ip netns exec "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true
    done
    # No router/neighbour solicitation chatter in the captures.
    for ns in "$NS_S" "$NS_C"; do
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_ra=0
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_ra=0
    done
}

# start_capture NAME [tcpdump args...]: tcpdump on the client's veth.
start_capture() {
    local name=$1
    shift
    # --immediate-mode: packets reach the file as they come, so none is
    # left in the kernel ring when the capture is stopped.
    ip netns exec "$NS_C" tcpdump -Z root --immediate-mode -i "$IF_C" -n -s 0 -U -w "$OUT/$name" "$@" 2>"$WORK/$name.log" &
    CAP_PID=$!
    for _ in $(seq 100); do grep -q "listening on" "$WORK/$name.log" && break; sleep 0.05; done
    sleep 0.2
}

# stop_capture NAME: lets the last packets (FINs, final ACKs) through, stops
# tcpdump, and insists that it lost nothing.
stop_capture() {
    sleep 1
    kill -INT "$CAP_PID"
    wait "$CAP_PID" || true
    if [[ -n ${1:-} ]] && ! grep -q "^0 packets dropped by kernel" "$WORK/$1.log"; then
        cat "$WORK/$1.log" >&2
        echo "record.sh: tcpdump dropped packets in $1; run again on a quieter machine" >&2
        exit 1
    fi
}

serve_http() {
    # python3 -m http.server on both families.
    mkdir -p "$WORK/www"
    head -c 20000 /dev/urandom | base64 >"$WORK/www/page.txt"
    (cd "$WORK/www" && exec ip netns exec "$NS_S" python3 -m http.server --bind "$SRV4" 8000) >/dev/null 2>&1 &
    PIDS+=($!)
    (cd "$WORK/www" && exec ip netns exec "$NS_S" python3 -m http.server --bind "$SRV6" 8006) >/dev/null 2>&1 &
    PIDS+=($!)
    # Also resolves neighbours (ARP/NDP) before any capture starts.
    for _ in $(seq 100); do
        in_cli curl -s -o /dev/null "http://$SRV4:8000/" && in_cli curl -s -o /dev/null -g "http://[$SRV6]:8006/" && return
        sleep 0.1
    done
    echo "http.server did not start" >&2
    exit 1
}

setup
serve_http

record_base() {
log "http-curl.pcap: curl against python3 http.server, IPv4 and IPv6"
start_capture http-curl.pcap
in_cli curl -s -o /dev/null "http://$SRV4:8000/page.txt"
in_cli curl -s -o /dev/null -g "http://[$SRV6]:8006/page.txt"
stop_capture http-curl.pcap

log "http-curl-nano.pcap: the same, nanosecond timestamps"
start_capture http-curl-nano.pcap --time-stamp-precision=nano
in_cli curl -s -o /dev/null "http://$SRV4:8000/"
stop_capture http-curl-nano.pcap

log "refused.pcap: connects to closed ports (IPv4 and IPv6)"
start_capture refused.pcap
in_cli curl -s -o /dev/null "http://$SRV4:9/" || true
in_cli curl -s -o /dev/null -g "http://[$SRV6]:9/" || true
stop_capture refused.pcap

log "syn-retransmit.pcap: SYNs to an address nobody owns; curl gives up after 4 s"
ip -n "$NS_C" neigh replace "$NOBODY4" lladdr "$MAC_S" dev "$IF_C" nud permanent
start_capture syn-retransmit.pcap
in_cli curl -s -o /dev/null --connect-timeout 4 "http://$NOBODY4:81/" || true
stop_capture syn-retransmit.pcap

log "synack-retransmit.pcap: SYN-ACKs to a wrong MAC for 2.5 s, then the handshake completes"
ip netns exec "$NS_S" socat -u TCP-LISTEN:8001,bind=$SRV4,reuseaddr - >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.3
ip -n "$NS_S" neigh replace "$CLI4" lladdr 02:00:0a:63:00:99 dev "$IF_S" nud permanent
start_capture synack-retransmit.pcap
(sleep 2.5; ip -n "$NS_S" neigh replace "$CLI4" lladdr "$MAC_C" dev "$IF_S" nud permanent) &
echo "data after a slow handshake" | in_cli socat -u - "TCP:$SRV4:8001,connect-timeout=8" || true
stop_capture synack-retransmit.pcap

log "udp-dns.pcap: dig against dnsmasq"
ip netns exec "$NS_S" dnsmasq --no-daemon --no-resolv --no-hosts --listen-address="$SRV4" --bind-interfaces \
    --address=/sockscope.test/10.99.0.42 --address=/sockscope.test/fd00:99::42 --log-facility=- \
    >"$WORK/dnsmasq.log" 2>&1 &
PIDS+=($!)
sleep 0.5
start_capture udp-dns.pcap
in_cli dig +short +tries=1 @"$SRV4" sockscope.test A >/dev/null
in_cli dig +short +tries=1 @"$SRV4" sockscope.test AAAA >/dev/null
in_cli dig +short +tries=1 @"$SRV4" www.sockscope.test TXT >/dev/null
stop_capture udp-dns.pcap

log "udp-socat.pcap: an echo exchange, and a datagram nobody answers"
ip netns exec "$NS_S" socat UDP-RECVFROM:7000,bind=$SRV4,fork EXEC:cat >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.3
start_capture udp-socat.pcap
echo "ping over udp" | in_cli socat -t1 - "UDP:$SRV4:7000" >/dev/null
echo "into the void" | in_cli socat -t0.2 - "UDP:$SRV4:7009" >/dev/null 2>&1 || true
stop_capture udp-socat.pcap

log "ip-fragments.pcap: 4000-byte UDP datagrams over IPv4 and IPv6 (fragmented by the sender)"
start_capture ip-fragments.pcap
head -c 4000 /dev/zero | tr '\0' 'F' | in_cli socat -t0.3 - "UDP:$SRV4:7000" >/dev/null 2>&1 || true
head -c 4000 /dev/zero | tr '\0' 'S' | in_cli socat -t0.3 - "UDP6:[$SRV6]:7006" >/dev/null 2>&1 || true
stop_capture ip-fragments.pcap

log "snaplen-96.pcap: curl recorded with a 96-byte snaplen"
start_capture snaplen-96.pcap -s 96
in_cli curl -s -o /dev/null "http://$SRV4:8000/page.txt"
stop_capture snaplen-96.pcap

log "any-sll2.pcap: tcpdump -i any (Linux cooked v2)"
ip netns exec "$NS_C" tcpdump -Z root --immediate-mode -i any -n -s 0 -U -w "$OUT/any-sll2.pcap" 2>"$WORK/any.log" &
CAP_PID=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/any.log" && break; sleep 0.05; done
sleep 0.2
in_cli curl -s -o /dev/null "http://$SRV4:8000/"
stop_capture any

log "http-dumpcap.pcapng: dumpcap writes pcapng natively"
ip netns exec "$NS_C" dumpcap -q -i "$IF_C" -w "$OUT/http-dumpcap.pcapng" 2>"$WORK/dumpcap.log" &
CAP_PID=$!
sleep 1.0
in_cli curl -s -o /dev/null "http://$SRV4:8000/"
sleep 0.5
kill -INT "$CAP_PID"; wait "$CAP_PID" || true

log "mixed-ether-sll2.pcapng: an Ethernet and a cooked capture merged (tcpdump cannot read it)"
mergecap -F pcapng -w "$OUT/mixed-ether-sll2.pcapng" "$OUT/http-curl.pcap" "$OUT/any-sll2.pcap"

log "vlan.pcap, vlan-split.pcap, qinq.pcap: 802.1Q tags added to http-curl.pcap (derived)"
tcprewrite --enet-vlan=add --enet-vlan-tag=10 --enet-vlan-pri=0 --enet-vlan-cfi=0 \
    --infile="$OUT/http-curl.pcap" --outfile="$OUT/vlan.pcap"
# The two directions on different VLANs, as real trunk captures often have.
in_cli true
tcpdump -r "$OUT/http-curl.pcap" -w "$WORK/c2s.pcap" "src host $CLI4 or src host $CLI6" 2>/dev/null
tcpdump -r "$OUT/http-curl.pcap" -w "$WORK/s2c.pcap" "src host $SRV4 or src host $SRV6" 2>/dev/null
tcprewrite --enet-vlan=add --enet-vlan-tag=10 --enet-vlan-pri=0 --enet-vlan-cfi=0 --infile="$WORK/c2s.pcap" --outfile="$WORK/c2s-v.pcap"
tcprewrite --enet-vlan=add --enet-vlan-tag=20 --enet-vlan-pri=0 --enet-vlan-cfi=0 --infile="$WORK/s2c.pcap" --outfile="$WORK/s2c-v.pcap"
mergecap -F pcap -w "$OUT/vlan-split.pcap" "$WORK/c2s-v.pcap" "$WORK/s2c-v.pcap"
tcprewrite --enet-vlan=add --enet-vlan-tag=100 --enet-vlan-pri=0 --enet-vlan-cfi=0 \
    --infile="$OUT/vlan.pcap" --outfile="$OUT/qinq.pcap"
}

record_ws() {
    ip netns exec "$NS_S" "$PY" "$HERE/ws_peer.py" serve >"$WORK/ws.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        in_cli curl -s -o /dev/null "http://$SRV4:8766/" && break
        sleep 0.1
    done

    log "ws-deflate.pcap: python websockets client and server, permessage-deflate (their default)"
    start_capture ws-deflate.pcap
    in_cli "$PY" "$HERE/ws_peer.py" session "ws://$SRV4:8765/chat"
    in_cli "$PY" "$HERE/ws_peer.py" close-custom "ws://$SRV4:8765/custom"
    stop_capture ws-deflate.pcap

    log "ws-plain.pcap: the same without compression, over IPv6"
    start_capture ws-plain.pcap
    in_cli "$PY" "$HERE/ws_peer.py" session "ws://[$SRV6]:8766/chat" --no-compression
    in_cli "$PY" "$HERE/ws_peer.py" close-custom "ws://[$SRV6]:8766/custom"
    stop_capture ws-plain.pcap

    log "ws-rejected.pcap: upgrades answered 403 (websockets process_request) and 400 (curl, wrong version)"
    start_capture ws-rejected.pcap
    in_cli "$PY" -c "
import asyncio, websockets
async def main():
    try:
        await websockets.connect('ws://$SRV4:8765/private')
    except websockets.InvalidStatusCode as e:
        assert e.status_code == 403
asyncio.run(main())"
    in_cli curl -s -o /dev/null --http1.1 -H "Upgrade: websocket" -H "Connection: Upgrade" \
        -H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" -H "Sec-WebSocket-Version: 12" "http://$SRV4:8766/chat"
    stop_capture ws-rejected.pcap

    log "ws-violations.pcap: a raw-socket client breaking RFC 6455, the websockets server failing the connections"
    start_capture ws-violations.pcap
    in_cli "$PY" "$HERE/ws_peer.py" violations "$SRV4" 8766
    stop_capture ws-violations.pcap

    log "ws-split.pcap: the uncompressed session with a 120-byte MSS both ways (frames across many segments)"
    ip -n "$NS_S" route replace 10.99.0.0/24 dev "$IF_S" advmss 120
    ip -n "$NS_C" route replace 10.99.0.0/24 dev "$IF_C" advmss 120
    start_capture ws-split.pcap -B 131072
    in_cli "$PY" "$HERE/ws_peer.py" session "ws://$SRV4:8766/split" --no-compression
    stop_capture ws-split.pcap
    ip -n "$NS_S" route replace 10.99.0.0/24 dev "$IF_S" proto kernel scope link src "$SRV4"
    ip -n "$NS_C" route replace 10.99.0.0/24 dev "$IF_C" proto kernel scope link src "$CLI4"

    log "ws-reorder.pcap, ws-gap.pcap, ws-conflict.pcap, ws-wrap.pcap: derived from ws-split.pcap (segments swapped and repeated; one removed; one repeated with other bytes; sequence numbers wrapping)"
    "$PY" "$HERE/derive.py" reorder "$OUT/ws-split.pcap" "$OUT/ws-reorder.pcap"
    "$PY" "$HERE/derive.py" gap "$OUT/ws-split.pcap" "$OUT/ws-gap.pcap"
    "$PY" "$HERE/derive.py" conflict "$OUT/ws-split.pcap" "$OUT/ws-conflict.pcap"
    "$PY" "$HERE/derive.py" wrap "$OUT/ws-split.pcap" "$OUT/ws-wrap.pcap"
}

record_bench() {
    local n=${WS_BENCH_MESSAGES:-200000}
    ip netns exec "$NS_S" "$PY" "$HERE/ws_peer.py" serve >"$WORK/ws.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        in_cli curl -s -o /dev/null "http://$SRV4:8766/" && break
        sleep 0.1
    done
    log "ws-bench.pcap: $n messages each way, uncompressed"
    start_capture ws-bench.pcap -B 262144
    in_cli "$PY" "$HERE/ws_peer.py" big "ws://$SRV4:8766/bench" "$n"
    stop_capture ws-bench.pcap
    log "ws-bench-deflate.pcap: $n messages each way, permessage-deflate"
    start_capture ws-bench-deflate.pcap -B 262144
    in_cli "$PY" "$HERE/ws_peer.py" big "ws://$SRV4:8765/bench" "$n" --deflate
    stop_capture ws-bench-deflate.pcap
}

# wait_listen PORT: until a server listens on PORT in the server's namespace.
wait_listen() {
    for _ in $(seq 100); do
        [[ -n $(ip netns exec "$NS_S" ss -Hltn "sport = :$1") ]] && return
        sleep 0.05
    done
    echo "record.sh: nothing listens on :$1" >&2
    exit 1
}

record_tcp_late() {
    command -v nft >/dev/null || { echo "record.sh: missing nft (apt-get install nftables)" >&2; exit 1; }

    log "tcp-fin-retransmit.pcap: the server closes first; its ACKs of the client's FIN are dropped, so the client's kernel retransmits the FIN (rto_min 24 s) until 3 retransmissions are recorded (~100 s)"
    ip netns exec "$NS_S" "$PY" "$HERE/tcp_peer.py" fin-server "$SRV4" 8010 &
    PIDS+=($!)
    wait_listen 8010
    # The client sends no payload, so the server's only pure ACKs on :8010
    # are those of the client's FIN (and of its retransmissions).
    ip netns exec "$NS_S" nft -f - <<EOF
table ip ssc_late {
    chain out {
        type filter hook output priority 0; policy accept;
        ip saddr $SRV4 tcp sport 8010 tcp flags & (fin | syn | rst | psh | ack) == ack ip length < 60 drop
    }
}
EOF
    # Retransmission timeouts of at least 24 s. Recorded on this kernel
    # (6.18): the FIN again 24.8, 49.4 and 98.5 s after the close (gaps of
    # 25, 25 and 49 s: the first is likely a tail-loss probe, whose timer
    # also floors at rto_min, then the timeout doubling), the last more than
    # 60 s after the close.
    ip -n "$NS_C" route replace 10.99.0.0/24 dev "$IF_C" proto kernel scope link src "$CLI4" rto_min 24s
    start_capture tcp-fin-retransmit.pcap "tcp port 8010"
    in_cli socat -u "TCP:$SRV4:8010" - >/dev/null
    local fins=0
    for _ in $(seq 160); do
        sleep 1
        fins=$(tcpdump -r "$OUT/tcp-fin-retransmit.pcap" -n "src host $CLI4 and tcp[tcpflags] & tcp-fin != 0" 2>/dev/null | wc -l)
        ((fins >= 4)) && break
    done
    ((fins >= 4)) || { echo "record.sh: only $fins client FINs in tcp-fin-retransmit.pcap" >&2; exit 1; }
    stop_capture tcp-fin-retransmit.pcap
    ip -n "$NS_C" route replace 10.99.0.0/24 dev "$IF_C" proto kernel scope link src "$CLI4"
    ip netns exec "$NS_S" nft delete table ip ssc_late

    log "tcp-midstream.pcap: two open connections to :8080 captured after their handshakes; on one the server speaks first and the client half-closes, on the other the client speaks first"
    rm -f "$WORK/go"
    ip netns exec "$NS_S" "$PY" "$HERE/tcp_peer.py" push-server "$SRV4" 8080 "$WORK/go" &
    PIDS+=($!)
    wait_listen 8080
    # (ip netns exec itself, not in_cli, so that $! is the peer's PID.)
    ip netns exec "$NS_C" "$PY" "$HERE/tcp_peer.py" push-client "$SRV4" 8080 "$WORK/go" &
    PIDS+=($!)
    sleep 0.2
    ip netns exec "$NS_C" "$PY" "$HERE/tcp_peer.py" echo-client "$SRV4" 8080 "$WORK/go" &
    PIDS+=($!)
    # Handshakes, the first ticks and their (delayed) ACKs end before tcpdump starts.
    sleep 2
    start_capture tcp-midstream.pcap "tcp port 8080"
    touch "$WORK/go"
    sleep 3
    stop_capture tcp-midstream.pcap
}

# start_http_server LOG: http_peer.py's aiohttp server on :8080 and its
# stdlib http.server (close-delimited answers) on :8081, logging to LOG.
start_http_server() {
    ip netns exec "$NS_S" "$PY" "$HERE/http_peer.py" serve "$SRV4" 8080 8081 "$1" 2>>"$WORK/http-server.err" &
    HTTP_PID=$!
    PIDS+=($!)
    wait_listen 8080
    wait_listen 8081
}

stop_http_server() {
    kill "$HTTP_PID"
    wait "$HTTP_PID" || true
}

# http_capture NAME: a fresh log beside the capture, the server, tcpdump.
http_capture() {
    HTTP_LOG="$OUT/${1%.pcap}.log.jsonl"
    rm -f "$HTTP_LOG"
    start_http_server "$HTTP_LOG"
    start_capture "$1" "tcp port 8080 or tcp port 8081"
}

# http_done NAME: stops tcpdump and the server, and insists that the capture
# holds what the programs logged (http_verify.py, with tshark).
http_done() {
    stop_capture "$1"
    stop_http_server
    if ! "$PY" "$HERE/http_verify.py" "$OUT/$1" >"$WORK/$1.verify" 2>&1; then
        cat "$WORK/$1.verify" >&2
        echo "record.sh: $1 does not hold what its programs logged; run again on a quieter machine" >&2
        exit 1
    fi
    grep -v '^  ' "$WORK/$1.verify" | sed 's/^/    /' >&2
}

record_http() {
    "$PY" -c 'import aiohttp' 2>/dev/null || { echo "record.sh: missing python3-aiohttp (apt-get install python3-aiohttp)" >&2; exit 1; }
    command -v tshark >/dev/null || { echo "record.sh: missing tshark (apt-get install tshark)" >&2; exit 1; }
    command -v node >/dev/null && [[ -d /usr/share/nodejs/eventsource ]] ||
        { echo "record.sh: missing node-eventsource (apt-get install node-eventsource)" >&2; exit 1; }
    # Static neighbour entries: no ARP among the exchanges, however long the group runs.
    ip -n "$NS_C" neigh replace "$SRV4" lladdr "$MAC_S" dev "$IF_C" nud permanent
    ip -n "$NS_S" neigh replace "$CLI4" lladdr "$MAC_C" dev "$IF_S" nud permanent
    local peer=("$PY" "$HERE/http_peer.py") base="http://$SRV4:8080" i

    log "http-polling.pcap: http.client polls /poll every 500 ms on one keep-alive connection (8 requests); then curl polls /status, a new connection each time (5 requests)"
    http_capture http-polling.pcap
    in_cli "${peer[@]}" poll "$base" 8 0.5 "$HTTP_LOG"
    for i in 1 2 3 4 5; do
        ((i == 1)) || sleep 0.5
        in_cli "${peer[@]}" curl "$HTTP_LOG" -o /dev/null "$base/status"
    done
    http_done http-polling.pcap

    log "http-longpoll.pcap: http.client long-polls /updates on one keep-alive connection; the server holds each request 0.5-2.5 s (the third until its timeout, answered empty)"
    http_capture http-longpoll.pcap
    in_cli "${peer[@]}" longpoll "$base" 6 "$HTTP_LOG"
    http_done http-longpoll.pcap

    log "http-sse.pcap: curl -N reads the event stream once; then an EventSource (node-eventsource) reads it, reconnects with Last-Event-ID, and stops at the server's 204"
    http_capture http-sse.pcap
    in_cli "${peer[@]}" curl "$HTTP_LOG" -N -H "Accept: text/event-stream" -o /dev/null "$base/events"
    sleep 0.3
    in_cli env NODE_PATH=/usr/share/nodejs node "$HERE/sse_client.js" "$base/events" "$HTTP_LOG"
    http_done http-sse.pcap

    log "http-chunked-stream.pcap: curl -N reads an ndjson stream (aiohttp, chunked, 6 pieces over 2.5 s), then a close-delimited HTTP/1.0 answer from http.server (5 pieces over 1.6 s)"
    http_capture http-chunked-stream.pcap
    in_cli "${peer[@]}" curl "$HTTP_LOG" -N -o /dev/null "$base/stream"
    sleep 0.3
    in_cli "${peer[@]}" curl "$HTTP_LOG" -N -o /dev/null "http://$SRV4:8081/ndjson"
    http_done http-chunked-stream.pcap

    log "http-keepalive-pipeline.pcap: curl sends GET, GET, HEAD, GET (204), GET If-None-Match (304), POST with Expect: 100-continue on one connection; a raw socket pipelines 3 requests; curl's Expect: 100-continue refused with 413"
    # 4000 bytes of text, the same on every run.
    for i in $(seq 100); do printf 'upload line %03d: forty bytes of text...\n' "$i"; done >"$WORK/upload.txt"
    http_capture http-keepalive-pipeline.pcap
    in_cli "${peer[@]}" curl "$HTTP_LOG" \
        -o /dev/null "$base/resource/a" -o /dev/null "$base/resource/b" \
        --next -I -o /dev/null "$base/resource/a" \
        --next -o /dev/null "$base/nocontent" \
        --next -o /dev/null -H 'If-None-Match: "a-v1"' "$base/resource/a" \
        --next -o /dev/null -H "Expect: 100-continue" -H "Content-Type: text/plain" --data-binary @"$WORK/upload.txt" "$base/upload"
    sleep 0.2
    in_cli "${peer[@]}" pipeline "$SRV4" 8080 "$HTTP_LOG"
    sleep 0.2
    in_cli "${peer[@]}" curl "$HTTP_LOG" -o /dev/null -H "Expect: 100-continue" -H "Content-Type: text/plain" \
        --data-binary @"$WORK/upload.txt" "$base/upload-limited"
    http_done http-keepalive-pipeline.pcap
}

wants base && record_base
wants ws && record_ws
wants tcp-late && record_tcp_late
wants http && record_http
wants bench && record_bench

log "done: $(ls "$OUT"/*.pcap* | wc -l) files in $OUT"
