"""TCP connections from this host, as a client sees them: one JSON object
{"ADDRESS:PORT": "open" | "refused" | "timeout" | "<error>"} for the targets given.

  port_probe.py 10.231.7.10:6379 10.231.7.11:27017 ...

Each connection waits at most 3 s; nothing is sent.
"""

import json
import socket
import sys

results = {}
for target in sys.argv[1:]:
    address, _, port = target.rpartition(":")
    try:
        socket.create_connection((address.strip("[]"), int(port)), timeout=3).close()
        results[target] = "open"
    except ConnectionRefusedError:
        results[target] = "refused"
    except socket.timeout:
        results[target] = "timeout"
    except OSError as exc:
        results[target] = type(exc).__name__
print(json.dumps(results, sort_keys=True))
