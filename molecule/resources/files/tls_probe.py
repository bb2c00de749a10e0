"""How a TLS-only server answers three clients, from this host: one in plain text,
one that trusts only the system's CAs, one that trusts the given CA file.

  tls_probe.py HOST PORT CA_FILE [redis|mongodb]
      -> {"plain": ..., "untrusted": ..., "trusted": ...}

Each says "answered" (the server replied) or the error; sends only Redis's PING,
or MongoDB's hello (OP_MSG) - neither needs a login.
"""

import json
import socket
import ssl
import struct
import sys

host, port, ca_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
protocol = sys.argv[4] if len(sys.argv) > 4 else "redis"


def mongodb_hello():
    """OP_MSG {hello: 1, $db: "admin"}, BSON written out by hand (no driver here)."""
    fields = b"\x10hello\x00" + struct.pack("<i", 1) + b"\x02$db\x00" + struct.pack("<i", 6) + b"admin\x00"
    doc = struct.pack("<i", len(fields) + 5) + fields + b"\x00"
    body = struct.pack("<I", 0) + b"\x00" + doc  # no flags; section kind 0
    return struct.pack("<iiii", 16 + len(body), 1, 0, 2013) + body  # length, id, reply to, OP_MSG


REQUEST = {"redis": b"*1\r\n$4\r\nPING\r\n", "mongodb": mongodb_hello()}[protocol]


def ping(context):
    try:
        with socket.create_connection((host, port), timeout=5) as raw:
            sock = context.wrap_socket(raw, server_hostname=host) if context else raw
            sock.sendall(REQUEST)
            reply = sock.recv(100)
            return "answered" if reply else "closed"
    except (OSError, ssl.SSLError) as exc:
        return f"{type(exc).__name__}: {exc}"[:200]


print(
    json.dumps(
        {
            "plain": ping(None),
            "untrusted": ping(ssl.create_default_context()),
            "trusted": ping(ssl.create_default_context(cafile=ca_file)),
        }
    )
)
