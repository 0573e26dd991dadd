#!/usr/bin/env python3
"""Joins this process's stdin and stdout to a TCP connection to 127.0.0.1:PORT.

Usage: relay.py PORT

`arch-ami boot-local` listens on the host's 127.0.0.1 and, for each connection, runs this inside the
instance's network namespace (`ip netns exec NS python3 relay.py 2222`), where QEMU forwards that port to
the guest's SSH server: a socket belongs to the namespace it is created in, so the two ends need two
processes. Bytes from stdin go to the connection (its write side is shut down at EOF), bytes from the
connection to stdout; the relay ends when the connection does.
"""
import os
import socket
import sys
import threading


def upstream(conn: socket.socket) -> None:
    while True:
        data = os.read(0, 65536)
        if not data:
            break
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    conn = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    threading.Thread(target=upstream, args=(conn,), daemon=True).start()
    while True:
        data = conn.recv(65536)
        if not data:
            break
        view = memoryview(data)
        while view:
            view = view[os.write(1, view):]


if __name__ == "__main__":
    main()
