"""How a TLS-only server answers three clients, from this host: one in plain text,
one that trusts only the system's CAs, one that trusts the given CA file.

  tls_probe.py HOST PORT CA_FILE    -> {"plain": ..., "untrusted": ..., "trusted": ...}

Each says "answered" (the server replied) or the error; sends only PING.
"""

import json
import socket
import ssl
import sys

host, port, ca_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def ping(context):
    try:
        with socket.create_connection((host, port), timeout=5) as raw:
            sock = context.wrap_socket(raw, server_hostname=host) if context else raw
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
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
