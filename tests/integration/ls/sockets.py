#!/usr/bin/env python3
"""Opens one socket of each kind `sockscope ls` must find, inside the network
namespace the test runs it in, prints their inodes as JSON, and holds them
until its standard input closes. A line `change` on standard input makes a
change `ls --watch` must see: a new connection (two sockets appear), the
client closes its end (two state changes), the connected UDP socket closes
(it vanishes); the answer is the new connection's port as JSON."""
import json, os, socket, sys, time

def ino(s):
    return os.fstat(s.fileno()).st_ino

out = {"pid": os.getpid()}
lst = socket.socket(); lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lst.bind(("127.0.0.1", 7001)); lst.listen(16)
cli = socket.create_connection(("127.0.0.1", 7001))
srv, _ = lst.accept()
out["listen"] = ino(lst); out["client"] = ino(cli); out["server"] = ino(srv)
out["client_port"] = cli.getsockname()[1]
# TIME-WAIT: the side that closes first keeps it.
tw = socket.create_connection(("127.0.0.1", 7001))
tws, _ = lst.accept()
out["tw_port"] = tw.getsockname()[1]
tw.close(); time.sleep(0.05); tws.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 7002))
uc = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); uc.connect(("127.0.0.1", 7002))
out["udp"] = ino(u); out["udp_connected"] = ino(uc); out["udp_connected_port"] = uc.getsockname()[1]
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u6.bind(("::1", 7003))
out["udp6"] = ino(u6)
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
out["raw"] = ino(raw)
path = sys.argv[1]
ux = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); ux.bind(path); ux.listen(4)
out["unix"] = ino(ux)
print(json.dumps(out), flush=True)
for line in sys.stdin:
    if line.strip() == "change":
        new = socket.create_connection(("127.0.0.1", 7001))
        news, _ = lst.accept()
        cli.close()
        uc.close()
        time.sleep(0.05)
        print(json.dumps({"new_port": new.getsockname()[1]}), flush=True)
