"""How the dashboard's HTTPS port answers, from this host: plain HTTP (without
and with credentials), TLS trusting only the system's CAs, and TLS trusting the
given CA (without and with credentials).

  https_probe.py HOST PORT CA_FILE CREDENTIALS_FILE    -> one JSON object

CREDENTIALS_FILE holds `user:password` (a root-only file: never a command line).
Each answer is {"status": 400, "dashboard": false, "asks_credentials": false}
("dashboard": the body is MRQ's dashboard page; "asks_credentials": a
WWW-Authenticate header) or {"error": "..."} when no HTTP answer came. GET / only.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import sys
from pathlib import Path
from typing import Union

Answer = dict[str, Union[int, bool, str]]


def ask(host: str, port: int, context: ssl.SSLContext | None, credentials: str | None) -> Answer:
    if context is None:
        connection: http.client.HTTPConnection = http.client.HTTPConnection(host, port, timeout=10)
    else:
        connection = http.client.HTTPSConnection(host, port, timeout=10, context=context)
    headers = (
        {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()} if credentials else {}
    )
    try:
        connection.request("GET", "/", headers=headers)
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:200]}
    finally:
        connection.close()
    return {
        "status": response.status,
        "dashboard": "MRQ Dashboard" in body,
        "asks_credentials": response.getheader("WWW-Authenticate") is not None,
    }


def main() -> None:
    host, port, ca_file, credentials_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    credentials = Path(credentials_file).read_text().strip("\n")
    trusted = ssl.create_default_context(cafile=ca_file)
    answers = {
        "plain": ask(host, port, None, None),
        "plain_with_credentials": ask(host, port, None, credentials),
        "untrusted": ask(host, port, ssl.create_default_context(), None),
        "trusted": ask(host, port, trusted, None),
        "trusted_with_credentials": ask(host, port, trusted, credentials),
    }
    print(json.dumps(answers, sort_keys=True))


if __name__ == "__main__":
    main()
