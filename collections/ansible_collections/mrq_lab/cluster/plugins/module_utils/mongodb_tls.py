"""pymongo's options for the mongodb role's own connections to its server."""

from __future__ import annotations

from typing import Any


def tls_options(ca_file: str) -> dict[str, Any]:
    """MongoClient options: none for plain connections (empty `ca_file`); else TLS,
    the server's certificate checked against `ca_file` but not its name - it names
    the host's network address, and these connections go over loopback."""
    if not ca_file:
        return {}
    return {"tls": True, "tlsCAFile": ca_file, "tlsAllowInvalidHostnames": True}
