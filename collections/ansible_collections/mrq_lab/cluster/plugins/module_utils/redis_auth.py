"""Redis credentials: the auth file the redis role writes, and a minimal RESP client.

The role keeps Redis' secrets in their own file (`include`d by redis.conf):

    requirepass "<password, \\ and " escaped>"
    user <name> on #<sha256 of the password> <rules>

so that a password change is applied to the running server (CONFIG SET,
ACL SETUSER) instead of by a restart that would drop every client.
"""

from __future__ import annotations

import hashlib
import socket
import ssl


class RedisError(Exception):
    """An error reply (-ERR, -WRONGPASS, -NOPERM...) from the server."""


def sha256(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def escape(password: str) -> str:
    """The password as a double-quoted redis.conf argument."""
    return '"' + password.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(arg: str) -> str:
    if not (len(arg) >= 2 and arg[0] == arg[-1] == '"'):
        return arg
    out, chars = [], iter(arg[1:-1])
    for char in chars:
        out.append(next(chars, "") if char == "\\" else char)
    return "".join(out)


def parse_requirepass(text: str) -> str | None:
    """The last `requirepass` of a redis.conf-style text (as `escape` writes it), or None."""
    found = None
    for line in text.splitlines():
        directive, _, arg = line.strip().partition(" ")
        if directive.lower() == "requirepass":
            found = _unquote(arg.strip())
    return found


def parse_tls_ca(text: str) -> str | None:
    """The CA file a redis.conf-style text serves TLS with (`tls-port` set, not 0),
    or None when it serves plain TCP."""
    settings: dict[str, str] = {}
    for line in text.splitlines():
        directive, _, arg = line.strip().partition(" ")
        settings[directive.lower()] = _unquote(arg.strip())
    if settings.get("tls-port", "0") in ("", "0"):
        return None
    return settings.get("tls-ca-cert-file") or ""


def _encode(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out += [f"${len(data)}\r\n".encode(), data, b"\r\n"]
    return b"".join(out)


class Resp:
    """One connection, one command at a time (RESP2)."""

    def __init__(self, host: str, port: int, timeout: float = 5.0, tls_ca: str | None = None) -> None:
        """`tls_ca`: talk TLS, the server's certificate checked against that CA file
        (not its name: the role's own connections are to loopback)."""
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls_ca is not None:
            context = ssl.create_default_context(cafile=tls_ca or None)
            context.check_hostname = False
            sock = context.wrap_socket(sock)
        self.sock = sock
        self.buf = self.sock.makefile("rb")

    def close(self) -> None:
        self.buf.close()
        self.sock.close()

    def __enter__(self) -> Resp:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def call(self, *args: str) -> object:
        self.sock.sendall(_encode(*args))
        return self._read()

    def _read(self) -> object:
        line = self.buf.readline()
        if not line:
            raise ConnectionError("the server closed the connection")
        kind, rest = line[:1], line[1:-2].decode()
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RedisError(rest)
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self.buf.read(size + 2)[:-2]
            return data.decode(errors="replace")
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self._read() for _ in range(size)]
        raise ConnectionError(f"not a RESP reply: {line[:20]!r}")
