#!/usr/bin/python3
"""Plain TCP peers for record.sh's `tcp-late` group: connections whose end is
late (a last FIN retransmitted because its ACK is lost) or whose start is not
in the capture (tcpdump started after the handshake).

    tcp_peer.py fin-server HOST PORT      per connection: send one line, close
                                          (FIN) first, read to the client's FIN
    tcp_peer.py push-server HOST PORT GO  per connection, by the client's first
                                          line: "push" sends 4 ticks at once and
                                          8 more once the file GO exists;
                                          "echo" echoes lines
    tcp_peer.py push-client HOST PORT GO  asks for "push", reads, and once GO
                                          exists half-closes (FIN) after 1 s
                                          while the server goes on pushing
    tcp_peer.py echo-client HOST PORT GO  asks for "echo"; once GO exists sends
                                          4 pings (the capture starts with the
                                          client's data)

Clients and servers run until killed, holding their connections open, so the
capture ends with them still open.
"""

import os
import socket
import sys
import threading
import time

TICK = 0.25


def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.02)


def listener(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(8)
    return s


def fin_server(host, port):
    s = listener(host, port)
    while True:
        c, _ = s.accept()
        c.sendall(b"goodbye\n")
        c.shutdown(socket.SHUT_WR)
        while c.recv(4096):
            pass
        c.close()


def push_conn(c, go):
    f = c.makefile("rb")
    mode = f.readline().strip()
    if mode == b"push":
        for i in range(4):
            c.sendall(b"tick %d\n" % i)
            time.sleep(TICK)
        wait_for(go)
        for i in range(4, 12):
            c.sendall(b"tick %d\n" % i)
            time.sleep(TICK)
    elif mode == b"echo":
        for line in f:
            c.sendall(line)
    # Hold the connection open (the client's FIN is not answered with one).
    threading.Event().wait()


def push_server(host, port, go):
    s = listener(host, port)
    while True:
        c, _ = s.accept()
        threading.Thread(target=push_conn, args=(c, go), daemon=True).start()


def drain(c):
    while c.recv(4096):
        pass
    threading.Event().wait()


def push_client(host, port, go):
    c = socket.create_connection((host, port))
    c.sendall(b"push\n")
    threading.Thread(target=drain, args=(c,), daemon=True).start()
    wait_for(go)
    time.sleep(1.0)
    c.shutdown(socket.SHUT_WR)
    threading.Event().wait()


def echo_client(host, port, go):
    c = socket.create_connection((host, port))
    c.sendall(b"echo\n")
    threading.Thread(target=drain, args=(c,), daemon=True).start()
    wait_for(go)
    time.sleep(0.1)
    for i in range(4):
        c.sendall(b"ping %d\n" % i)
        time.sleep(TICK)
    threading.Event().wait()


def main():
    cmd, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if cmd == "fin-server":
        fin_server(host, port)
    elif cmd == "push-server":
        push_server(host, port, sys.argv[4])
    elif cmd == "push-client":
        push_client(host, port, sys.argv[4])
    elif cmd == "echo-client":
        echo_client(host, port, sys.argv[4])
    else:
        sys.exit(f"tcp_peer.py: unknown command {cmd}")


if __name__ == "__main__":
    main()
