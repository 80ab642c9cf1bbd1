# shellcheck shell=bash
# lib.sh -- helpers sourced by the benchmark scripts in scripts/bench/ and
# scripts/bench-*.sh (not run on its own).
#
#   bench_log NAME MSG...     timestamped progress line on stderr
#   bench_need CMD...         make sure each command exists: the Debian package
#                             that provides it is installed with apt-get when
#                             running as root (or through sudo); otherwise the
#                             missing packages and the apt-get line are printed
#                             and the script stops. BENCH_NO_INSTALL=1: never
#                             install, only say what is missing.
#   bench_need_websockets     Debian's /usr/bin/python3 with the websockets module
#   bench_sockscope           prints the sockscope binary to time: $SOCKSCOPE if
#                             set, else target/release/sockscope after
#                             `cargo build --release --locked` (a no-op when
#                             it is up to date; 1-2 minutes after a change)
#
# These are the benchmark tools only; the test dependencies are
# scripts/ensure-deps.sh's business.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

bench_log() {
    local who=$1
    shift
    printf '[%s %(%H:%M:%S)T] %s\n' "$who" -1 "$*" >&2
}

# The Debian package that provides a command (the ones the kit uses).
bench_package_of() {
    case $1 in
        tcpdump) echo tcpdump ;;
        tcpreplay | tcprewrite) echo tcpreplay ;;
        editcap | mergecap | reordercap | capinfos | dumpcap) echo wireshark-common ;;
        dig) echo bind9-dnsutils ;;
        dnsmasq) echo dnsmasq-base ;;
        tshark) echo tshark ;;
        iperf3) echo iperf3 ;;
        hyperfine) echo hyperfine ;;
        gcc) echo gcc ;;
        socat) echo socat ;;
        curl) echo curl ;;
        ip | ss) echo iproute2 ;;
        netstat) echo net-tools ;;
        lsof) echo lsof ;;
        /usr/bin/time) echo time ;;
        /usr/bin/python3) echo python3 ;;
        timeout | stat | dd | wc | cat | mktemp) echo coreutils ;;
        *) echo "$1" ;;
    esac
}

bench_install() {   # bench_install PACKAGE...
    local sudo=()
    if [[ ${BENCH_NO_INSTALL:-0} == 1 ]]; then
        return 1
    elif [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || return 1
        sudo=(sudo)
    fi
    echo "installing (Debian): $*" >&2
    "${sudo[@]}" apt-get update -qq &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

bench_need() {   # bench_need CMD...
    local c missing=() pkgs=() p
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 && continue
        missing+=("$c")
        p=$(bench_package_of "$c")
        [[ " ${pkgs[*]} " == *" $p "* ]] || pkgs+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    echo "$(basename "$0"): missing ${missing[*]} (Debian: ${pkgs[*]})" >&2
    if ! bench_install "${pkgs[@]}"; then
        echo "install them with:  apt-get install ${pkgs[*]}" >&2
        exit 1
    fi
    for c in "${missing[@]}"; do
        command -v "$c" >/dev/null 2>&1 || { echo "still missing $c" >&2; exit 1; }
    done
}

bench_need_websockets() {
    bench_need /usr/bin/python3
    /usr/bin/python3 -c 'import websockets' 2>/dev/null && return 0
    echo "$(basename "$0"): /usr/bin/python3 lacks the websockets module (Debian: python3-websockets)" >&2
    if ! bench_install python3-websockets; then
        echo "install it with:  apt-get install python3-websockets" >&2
        exit 1
    fi
    /usr/bin/python3 -c 'import websockets' || exit 1
}

bench_sockscope() {
    if [[ -n ${SOCKSCOPE:-} ]]; then
        [[ -x $SOCKSCOPE ]] || { echo "SOCKSCOPE=$SOCKSCOPE is not executable" >&2; exit 1; }
        echo "$SOCKSCOPE"
        return
    fi
    command -v cargo >/dev/null || { echo "cargo is needed to build sockscope (or set SOCKSCOPE)" >&2; exit 1; }
    cargo build --release --locked --manifest-path "$BENCH_ROOT/Cargo.toml" >&2 || exit 1
    echo "$BENCH_ROOT/target/release/sockscope"
}
