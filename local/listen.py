#!/usr/bin/env python3
"""Listening TCP sockets with an IP hop limit, handed to a command (systemd's LISTEN_FDS convention).

Usage: listen.py HOP_LIMIT ADDRESS PORT [ADDRESS PORT ...] -- COMMAND [ARG ...]

Each ADDRESS:PORT gets a listening socket with IP_TTL (IPv4) or IPV6_UNICAST_HOPS (IPv6, v6-only) set to
HOP_LIMIT; Linux copies it to every accepted connection (the child socket is cloned from the listener), so
every packet the server sends on those connections leaves with that TTL / hop limit. The sockets become
file descriptors 3, 4, ... of COMMAND, with LISTEN_FDS set to their number. This exists because Node.js
cannot set IP_TTL on a TCP socket; the metadata service (src/local/imds-server.ts) listens on these descriptors
to give its responses EC2's default hop limit of 1.
"""
import fcntl
import ipaddress
import os
import socket
import sys


def listener(address: str, port: int, hop_limit: int) -> socket.socket:
    if ipaddress.ip_address(address).version == 6:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hop_limit)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, hop_limit)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((address, port))
    s.listen(64)
    return s


def main() -> None:
    args = sys.argv[1:]
    if "--" not in args or len(args) < 5:
        sys.exit(__doc__)
    sep = args.index("--")
    spec, command = args[:sep], args[sep + 1:]
    hop_limit, pairs = int(spec[0]), spec[1:]
    if len(pairs) % 2 or not command:
        sys.exit(__doc__)
    sockets = [listener(pairs[i], int(pairs[i + 1]), hop_limit) for i in range(0, len(pairs), 2)]
    # Out of the way first (a socket may already sit on a target number), then onto 3, 4, ...
    high = [fcntl.fcntl(s.fileno(), fcntl.F_DUPFD_CLOEXEC, 100) for s in sockets]
    for s in sockets:
        s.close()
    for n, fd in enumerate(high):
        os.dup2(fd, 3 + n, inheritable=True)
        os.close(fd)
    os.environ["LISTEN_FDS"] = str(len(sockets))
    os.environ.pop("LISTEN_PID", None)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
