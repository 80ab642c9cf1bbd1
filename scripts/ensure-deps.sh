#!/usr/bin/env bash
# ensure-deps.sh -- install the Debian packages sockscope's build and tests
# need, if they are missing. Safe to run again (it installs nothing then).
#
#   libpcap-dev  the pcap crate links libpcap (BPF filters, live capture)
#   tcpdump      tests compare BPF filter results with tcpdump's
#   tshark       tests compare every WebSocket frame with tshark's
#   iproute2     `ls` tests make network namespaces (ip netns) and compare with ss
#   python3      `ls` tests hold their sockets open from a python script
#   python3-websockets  `capture` tests drive a real WebSocket session
#   curl         `capture` tests fetch from python's http.server, and a refused port
#   util-linux   setpriv: tests run sockscope as an unprivileged user
#   chromium     `report` tests open the HTML report in headless Chromium
set -euo pipefail

PACKAGES=(libpcap-dev tcpdump tshark iproute2 python3 python3-websockets curl util-linux chromium)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null; then
    SUDO=(sudo)
else
    echo "ensure-deps.sh: missing ${missing[*]}, and not root (install them, or run as root)" >&2
    exit 1
fi
echo "ensure-deps.sh: installing ${missing[*]}" >&2
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
