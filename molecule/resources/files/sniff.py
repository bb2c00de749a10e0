"""Listen on a bridge (as tcpdump would, AF_PACKET) for a bounded time and report
what crossed it to or from one server's TCP port: how many segments carried
data, whether they were TLS records, and whether a secret appeared in them in
clear. Other hosts' traffic on the bridge (other scenarios' servers) is left out.

  sniff.py BRIDGE HOST PORT SECONDS SECRETS_FILE    (HOST: the server's IPv4 address;
                                                    SECRETS_FILE: one secret per line, root-only)

Prints one JSON object; reads frames only, sends nothing. Linux, root.
"""

import ipaddress
import json
import socket
import struct
import sys
import time

bridge, server, port = sys.argv[1], ipaddress.IPv4Address(sys.argv[2]).packed, int(sys.argv[3])
seconds, secrets_file = float(sys.argv[4]), sys.argv[5]
with open(secrets_file, "rb") as f:
    secrets = [line.rstrip(b"\n") for line in f if line.strip()]

ETH_P_ALL = 0x0003
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(ETH_P_ALL))
sock.bind((bridge, 0))
# Promiscuous, as tcpdump is: a bridge passes up the frames it forwards between
# its ports (host to host) only then.
SOL_PACKET, PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC = 263, 1, 1
membership = struct.pack("iHH8s", socket.if_nametoindex(bridge), PACKET_MR_PROMISC, 0, b"")
sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, membership)
sock.settimeout(0.5)
seen = {"segments_with_data": 0, "tls_records": 0, "plain_resp": 0, "secrets_in_clear": 0}
streams = {}  # (src, sport, dst, dport) -> bytes seen, to find a secret split across segments
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    try:
        frame, (_, _, pkttype, _, _) = sock.recvfrom(65535)
    except socket.timeout:
        continue
    if pkttype == socket.PACKET_OUTGOING or len(frame) < 34 or frame[12:14] != b"\x08\x00":
        continue  # each frame once (as it enters the bridge); IPv4 only
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[9] != 6:
        continue  # not TCP
    tcp = ip[ihl:]
    sport, dport = struct.unpack("!HH", tcp[:4])
    src, dst = ip[12:16], ip[16:20]
    if (src, sport) != (server, port) and (dst, dport) != (server, port):
        continue
    payload = tcp[(tcp[12] >> 4) * 4 :]
    if not payload:
        continue
    seen["segments_with_data"] += 1
    if payload[0] in (0x14, 0x15, 0x16, 0x17) and payload[1] == 0x03:  # a TLS record's header
        seen["tls_records"] += 1
    if payload[:1] in (b"*", b"+", b"-", b"$", b":"):
        seen["plain_resp"] += 1
    key = (src, sport, dst, dport)
    streams[key] = (streams.get(key, b"") + payload)[-65536:]
seen["secrets_in_clear"] = sum(1 for data in streams.values() for s in secrets if s in data)
seen["streams"] = len(streams)
print(json.dumps(seen))
