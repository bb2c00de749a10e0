"""Connection URIs: built in one place, with percent-encoding, and parsed back.

MRQ 0.9.10 took the Redis password from `urlparse(...).password` without
percent-decoding, and `redis://PASSWORD@host` (the form of the original
setup) sent no password at all. `parse_redis_uri` is what compat installs in
MRQ instead. `rediss://` is Redis over TLS, the server's certificate checked
against the CA file in `ssl_ca_certs` (the system's CAs without it) and its
name against the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def redis_uri(
    host: str,
    port: int = 6379,
    password: str | None = None,
    db: int = 0,
    username: str | None = None,
    tls: bool = False,
    ca_file: str | None = None,
) -> str:
    """redis://[user]:password@host:port/db; a user is a Redis 6 ACL user.
    With tls: rediss://...[?ssl_ca_certs=CA_FILE]."""
    auth = f"{quote(username or '', safe='')}:{quote(password, safe='')}@" if password else ""
    if ca_file and not tls:
        raise ValueError("a CA file is for TLS connections (tls=True)")
    query = f"?ssl_ca_certs={quote(ca_file, safe='/')}" if ca_file else ""
    return f"{'rediss' if tls else 'redis'}://{auth}{_host(host)}:{int(port)}/{int(db)}{query}"


def mongodb_uri(
    hosts: list[tuple[str, int]],
    database: str,
    username: str | None = None,
    password: str | None = None,
    auth_source: str | None = None,
    tls: bool = False,
    ca_file: str | None = None,
) -> str:
    """A mongodb:// URI; with `tls`, the server's certificate is checked against
    `ca_file` (or the system's CAs) and its name against the host's."""
    if not hosts:
        raise ValueError("mongodb_uri needs at least one host")
    if ca_file and not tls:
        raise ValueError("ca_file is for TLS connections (tls=True)")
    auth = ""
    if username:
        auth = quote(username, safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        auth += "@"
    netloc = ",".join(f"{_host(h)}:{int(p)}" for h, p in hosts)
    options = [f"authSource={quote(auth_source or database, safe='')}"] if username else []
    if tls:
        options.append("tls=true")
    if ca_file:
        options.append(f"tlsCAFile={quote(ca_file, safe='/')}")
    query = "?" + "&".join(options) if options else ""
    return f"mongodb://{auth}{netloc}/{quote(database, safe='')}{query}"


@dataclass(frozen=True)
class RedisTarget:
    host: str
    port: int
    db: int
    username: str | None
    password: str | None
    tls: bool = False
    ca_file: str | None = None


def parse_redis_uri(uri: str) -> RedisTarget:
    """Parse redis://[[user]:password@]host[:port][/db], percent-decoding.

    A lone user part (`redis://SECRET@host`) is taken as the password, as the
    MRQ setup this project replaces wrote it; `user:password@` is a Redis 6 ACL
    user with its password.
    """
    parts = urlsplit(uri)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"not a redis URI: {parts.scheme}://...")
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    unknown = sorted(set(query) - ({"ssl_ca_certs"} if parts.scheme == "rediss" else set()))
    if unknown:  # a misspelt option must not quietly leave the certificate unchecked
        raise ValueError(f"unknown option(s) in the Redis URI: {', '.join(unknown)}")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is None and username:
        username, password = None, username
    path = parts.path.strip("/")
    return RedisTarget(
        host=parts.hostname or "localhost",
        port=parts.port or 6379,
        db=int(path) if path else 0,
        username=username or None,
        password=password or None,
        tls=parts.scheme == "rediss",
        ca_file=query["ssl_ca_certs"][-1] if "ssl_ca_certs" in query else None,
    )
