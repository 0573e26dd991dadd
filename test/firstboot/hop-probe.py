#!/usr/bin/env python3
"""Sends one HTTP request and reports the IP TTL / hop limit of the server's packets, read off the wire.

Usage: hop-probe.py METHOD URL [HEADER: VALUE ...]   (root: a packet socket on the loopback interface)

Prints one JSON object: {"status": <HTTP status>, "body": <text>, "ttls": [<TTL or hop limit of every TCP
packet the server sent on this connection: SYN-ACK, response, FIN...>]}. For the test metadata service in
imds.test.ts: EC2 sends the token PUT's response with hop limit 1 by default.
"""
import http.client
import json
import socket
import struct
import sys
import time
import urllib.parse

ETH_P_ALL = 0x0003


def server_packets(raw: socket.socket, server_port: int, client_port: int) -> list:
    """TTLs of the captured TCP packets from server_port to client_port (loopback frames: 14-byte header)."""
    ttls = []
    raw.setblocking(False)
    while True:
        try:
            frame = raw.recv(65535)
        except BlockingIOError:
            return ttls
        ethertype = struct.unpack("!H", frame[12:14])[0]
        ip = frame[14:]
        if ethertype == 0x0800 and ip[9] == 6:
            ttl, tcp = ip[8], ip[(ip[0] & 0x0F) * 4:]
        elif ethertype == 0x86DD and ip[6] == 6:
            ttl, tcp = ip[7], ip[40:]
        else:
            continue
        sport, dport = struct.unpack("!HH", tcp[:4])
        if sport == server_port and dport == client_port:
            ttls.append(ttl)


def main() -> None:
    method, url, *headers = sys.argv[1:]
    u = urllib.parse.urlsplit(url)
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    raw.bind(("lo", 0))
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=10)
    conn.connect()
    client_port = conn.sock.getsockname()[1]
    conn.request(method, u.path or "/", headers=dict(h.split(": ", 1) for h in headers))
    r = conn.getresponse()
    body = r.read().decode()
    conn.close()
    time.sleep(0.2)
    print(json.dumps({"status": r.status, "body": body, "ttls": server_packets(raw, u.port or 80, client_port)}))


if __name__ == "__main__":
    main()
