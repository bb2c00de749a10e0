"""`mongod` of the TEST STAND-IN package: SecantusDB behind mongod's interface.

NOT MongoDB. This runs SecantusDB (a MongoDB-wire-compatible server from PyPI)
so that the mongodb role's real install path - repository, key, pin, package,
unit, /etc/mongod.conf, users - can run where MongoDB's packages cannot be
fetched. It reads /etc/mongod.conf like mongod and closes the gaps that matter
to the role (see README.standin next to it):

- net.bindIp may list several addresses (SecantusDB binds one): extra
  listening sockets feed the same server;
- systemLog to a file, appended; SIGUSR1 rotates it as systemLog.logRotate
  says (reopen: for logrotate; rename: to <path>.<UTC time>);
  processManagement.pidFilePath;
- the localhost exception: with authorization on and no user at all, a client
  on a loopback address may create the first user in `admin`;
- createUser without `mechanisms` gets SCRAM-SHA-1 (and SCRAM-SHA-256 from
  series 4.0 on), as mongod does; series < 4.0 refuse SCRAM-SHA-256;
- usersInfo {forAllDBs: true} lists every user;
- TLS as net.tls (series 4.2 on) or net.ssl (before) says, requireTLS /
  requireSSL only: the certificate and key from one PEM file
  (certificateKeyFile / PEMKeyFile), CAFile (required, as by mongod) to check
  client certificates, which are optional only with
  allowConnectionsWithoutCertificates; on every bindIp address;
- a speculative SCRAM login (folded into `hello`) for a mechanism the user
  has no credentials for is declined, as mongod does, so drivers fall back to
  the negotiated mechanism (pymongo 3.x failed on SCRAM-SHA-1-only users);
- speed, not behaviour: a sorted find with a limit (so findAndModify, MRQ's
  dequeue) walks an index in sort order and stops at the first matches, and a
  filter naming an `_id` plus other clauses fetches that one document,
  instead of reading (and sorting) every candidate in the collection.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import ipaddress
import logging
import os
import signal
import socket
import ssl
import sys
import threading
from pathlib import Path
from typing import Any, NamedTuple

LIB = Path(__file__).resolve().parent
# The runtime package's SecantusDB and pinned dependencies, for the system's
# Python, which the `mongod` wrapper runs without any site-packages (-I -S).
if (LIB / "site").is_dir():
    sys.path.insert(0, str(LIB / "site"))

import bson  # noqa: E402
import yaml  # noqa: E402
from secantus import commands, server  # noqa: E402
from secantus import storage as engine  # noqa: E402
from secantus.query import matches  # noqa: E402
from secantus.server import SecantusDBServer  # noqa: E402
from secantus.sortkey import COMPOUND_SEP, encode_value_directed  # noqa: E402

SERIES = (LIB / "series").read_text().strip() if (LIB / "series").exists() else "8.0"
VERSION = (LIB / "version").read_text().strip() if (LIB / "version").exists() else SERIES
log = logging.getLogger("mongod-standin")

# net.tls (4.2 on) and its older name net.ssl: the settings the stand-in reads.
TLS_KEYS = ("mode", "certificateKeyFile", "CAFile", "allowConnectionsWithoutCertificates")
SSL_KEYS = ("mode", "PEMKeyFile", "CAFile", "allowConnectionsWithoutCertificates")
KNOWN = {
    "net.port",
    "net.bindIp",
    "net.bindIpAll",
    "storage.dbPath",
    "storage.journal.enabled",
    "systemLog.destination",
    "systemLog.path",
    "systemLog.logAppend",
    "systemLog.logRotate",
    "systemLog.verbosity",
    "processManagement.pidFilePath",
    "processManagement.timeZoneInfo",
    "processManagement.fork",
    "security.authorization",
    "storage.wiredTiger.engineConfig.cacheSizeGB",
    *(f"net.tls.{k}" for k in TLS_KEYS),
    *(f"net.ssl.{k}" for k in SSL_KEYS),
}


class Tls(NamedTuple):
    cert_key_file: str  # the certificate, then its key, in one PEM file
    ca_file: str
    client_cert_required: bool


def tls_settings(conf: dict[str, Any]) -> Tls | None:
    """net.tls (or net.ssl, its name before 4.2) as mongod reads it; None for
    plain connections. Raises ValueError on what the stand-in cannot serve or
    mongod refuses (no CA file: "TLS without a chain of trust")."""
    tls = {k: conf[f"net.tls.{k}"] for k in TLS_KEYS if f"net.tls.{k}" in conf}
    ssl_ = {k: conf[f"net.ssl.{k}"] for k in SSL_KEYS if f"net.ssl.{k}" in conf}
    if tls and ssl_:
        raise ValueError("net.tls and net.ssl are the same settings; give one of them")
    if tls and series_tuple(SERIES) < (4, 2):
        raise ValueError(f"mongod {SERIES} has no net.tls (4.2 on); its name is net.ssl")
    mode = str(tls.get("mode") or ssl_.get("mode") or "disabled")
    if mode == "disabled":
        return None
    if mode not in ("requireTLS", "requireSSL"):
        raise ValueError(f"TLS mode {mode}: the stand-in serves requireTLS (requireSSL) or disabled only")
    pem = tls.get("certificateKeyFile") or ssl_.get("PEMKeyFile")
    ca = tls.get("CAFile") or ssl_.get("CAFile")
    if not pem:
        raise ValueError(f"{mode} needs a certificate (certificateKeyFile, PEMKeyFile before 4.2)")
    if not ca:
        raise ValueError("the use of TLS without specifying a chain of trust is not supported (CAFile)")
    allow = tls.get("allowConnectionsWithoutCertificates", ssl_.get("allowConnectionsWithoutCertificates"))
    return Tls(str(pem), str(ca), client_cert_required=allow is not True)


def series_tuple(series: str) -> tuple[int, int]:
    major, minor = series.split(".")[:2]
    return int(major), int(minor)


def flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (doc or {}).items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------- mongod gaps


def default_mechanisms() -> list[str]:
    if series_tuple(SERIES) < (4, 0):
        return ["SCRAM-SHA-1"]
    return ["SCRAM-SHA-1", "SCRAM-SHA-256"]


def patch_user_commands() -> None:
    create_user = commands._HANDLERS["createUser"]
    users_info = commands._HANDLERS["usersInfo"]

    def create_user_like_mongod(doc: dict[str, Any], ctx: Any) -> dict[str, Any]:
        mechanisms = doc.get("mechanisms")
        if mechanisms is None:
            doc = {**doc, "mechanisms": default_mechanisms()}
        elif series_tuple(SERIES) < (4, 0):
            # mongod before 4.0 knows neither the field nor SCRAM-SHA-256.
            return {
                "ok": 0.0,
                "errmsg": "BSON field 'createUser.mechanisms' is an unknown field.",
                "code": 40415,
                "codeName": "Location40415",
            }
        return create_user(doc, ctx)

    def users_info_like_mongod(doc: dict[str, Any], ctx: Any) -> dict[str, Any]:
        arg = doc.get("usersInfo")
        if isinstance(arg, dict) and arg.get("forAllDBs"):
            users = ctx.storage.list_users(None, limit=1000)
            if not doc.get("showCredentials"):
                users = [{k: v for k, v in u.items() if k != "credentials"} for u in users]
            return {"users": users, "ok": 1.0}
        return users_info(doc, ctx)

    speculative_auth = commands._speculative_auth

    def speculative_auth_like_mongod(spec: dict[str, Any], ctx: Any) -> dict[str, Any] | None:
        payload = bytes(spec.get("payload") or b"").decode("utf-8", "replace")
        name = next((p[2:] for p in payload.split(",") if p.startswith("n=")), "")
        name = name.replace("=2C", ",").replace("=3D", "=")
        record = ctx.storage.get_user(spec.get("db") or "admin", name) if name else None
        if record is None or spec.get("mechanism") not in (record.get("credentials") or {}):
            return None
        return speculative_auth(spec, ctx)

    commands._speculative_auth = speculative_auth_like_mongod
    commands._HANDLERS["createUser"] = create_user_like_mongod
    commands._HANDLERS["usersInfo"] = users_info_like_mongod


def patch_localhost_exception() -> None:
    dispatch = server.dispatch

    def dispatch_with_localhost_exception(body: dict[str, Any], ctx: Any) -> dict[str, Any]:
        name = next(iter(body), "")
        if (
            ctx.require_auth
            and name in ("createUser", "createRole")
            and ctx.db_name == "admin"
            and not (ctx.connection_auth and ctx.connection_auth.is_authenticated)
            and peer_is_loopback(ctx)
            and not ctx.storage.list_users(None, limit=1)
        ):
            log.info("localhost exception: %s on admin from a loopback client", name)
            ctx.require_auth = False
            try:
                return dispatch(body, ctx)
            finally:
                ctx.require_auth = True
        return dispatch(body, ctx)

    server.dispatch = dispatch_with_localhost_exception


def peer_is_loopback(ctx: Any) -> bool:
    info = getattr(ctx.connections, "_conns", {}).get(ctx.connection_id)
    return bool(info) and is_loopback(info.peer_addr[0])


def listen_also(srv: SecantusDBServer, host: str, port: int) -> socket.socket:
    """Accept on one more address and hand connections to the same server."""
    family, socktype, proto, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, socktype, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(sockaddr)
    sock.listen()

    def handle(conn: socket.socket, addr: tuple[str, int]) -> None:
        if srv._ssl_context is not None:  # TLS as on the first address
            try:
                conn = srv._ssl_context.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                log.warning("TLS handshake from %s failed: %s", addr, exc)
                with contextlib.suppress(OSError):
                    conn.close()
                with srv._active_conns_lock:
                    srv._active_conns -= 1
                return
        srv._handle_client(conn, addr)

    def accept_loop() -> None:
        while True:
            try:
                conn, addr = sock.accept()
            except OSError:
                return
            server._tune_client_socket(conn)
            with srv._active_conns_lock:
                srv._active_conns += 1
            with contextlib.suppress(OSError):
                conn.settimeout(srv.client_idle_timeout_s)
            threading.Thread(target=handle, args=(conn, addr), daemon=True).start()

    threading.Thread(target=accept_loop, name=f"accept-{host}", daemon=True).start()
    log.info("listening on %s:%d", host, port)
    return sock


# ------------------------------------------------------- speed (same results)

# Filter values that an index prefix can pin: equal values have equal index
# keys. (None also matches a missing field, a regex is a pattern, and documents
# or arrays are compared by value: those are left to the residual match.)
PREFIX_TYPES = (str, int, float, bson.ObjectId, datetime.datetime)
# Operators that change what a sort means or need their own index.
ORDER_OPERATORS = {"$near", "$nearSphere", "$geoNear", "$text", "$where"}


def names_order_operator(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k in ORDER_OPERATORS or names_order_operator(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(names_order_operator(v) for v in value)
    return False


def index_for_sorted_find(
    st: engine.Storage, db: str, coll: str, query: dict[str, Any], sort: list[tuple[str, int]]
) -> tuple[str, list[tuple[str, int]], bool] | None:
    """The index whose key is [equality fields of `query`] + `sort`, or None.

    Returns (name, the prefix (field, direction)s in key order, walk backwards).
    Only plain indexes qualify (no sparse, partial, multikey or collation), and
    only ASCENDING sort columns, walked forwards for an ascending sort and
    backwards for a descending one: SecantusDB's byte-inverted descending keys
    still put a value before its extensions ("a" before "ab"; its sortkey.py).
    Among several, the longest equality prefix wins (the narrowest walk).
    """
    directions = {d for _f, d in sort}
    if len(directions) != 1:
        return None
    pinned = {f for f, v in query.items() if isinstance(v, PREFIX_TYPES) and not f.startswith("$")}
    sort_fields = [f for f, _d in sort]
    best: tuple[str, list[tuple[str, int]], bool] | None = None
    for name, key_spec, opts in list(st._iter_indexes(db, coll)):
        if any(opts.get(o) for o in ("sparse", "multikey", "partialFilterExpression", "collation")):
            continue
        try:
            key = [(f, int(d)) for f, d in key_spec.items()]
        except (TypeError, ValueError):
            continue
        for start in range(len(key) - len(sort) + 1):
            if [f for f, _d in key[start : start + len(sort)]] != sort_fields:
                continue
            usable = all(d == 1 for _f, d in key[start : start + len(sort)])
            usable = usable and {f for f, _d in key[:start]} <= pinned
            if usable and (best is None or start > len(best[1])):
                best = (name, key[:start], directions == {-1})
            break
    return best


def sorted_find_by_index_walk(
    st: engine.Storage,
    db: str,
    coll: str,
    query: dict[str, Any],
    sort: list[tuple[str, int]],
    want: int,
    let: dict[str, Any] | None,
) -> list[dict[str, Any]] | None:
    """The first `want` documents matching `query` in `sort` order, or None when
    no index serves the sort. Walks the index entries that share the query's
    equality prefix in key order, fetches each document and keeps the ones
    the whole query matches, so a dequeue reads a few documents, not all."""
    picked = index_for_sorted_find(st, db, coll, query, sort)
    if picked is None:
        return None
    name, prefix_fields, backwards = picked
    prefix = b""
    if prefix_fields:
        parts = [encode_value_directed(query[f], d) for f, d in prefix_fields]
        prefix = engine._escape_kb(COMPOUND_SEP.join(parts) + COMPOUND_SEP)
    elif backwards:
        return None  # no key to start a backward walk from; the engine sorts
    out: list[dict[str, Any]] = []
    st._refresh_read_snapshot()
    with st._lock:
        docs = st._cursor_optional(engine._doc_table_for(db, coll))
        if docs is None:
            return []
        entries = st._cursor(engine._IDX_ENTRIES_TABLE)
        if backwards:
            # Just past every key that starts with the prefix: its successor.
            end = prefix.rstrip(b"\xff")
            entries.set_key(db, coll, name, end[:-1] + bytes([end[-1] + 1]))
            rc = entries.search_near()
            if rc == engine.wt.WT_NOTFOUND:
                return []
            if rc >= 0 and entries.prev() != 0:
                return []
            step = entries.prev
        else:
            entries.set_key(db, coll, name, prefix)
            rc = entries.search_near()
            if rc == engine.wt.WT_NOTFOUND:
                return []
            if rc < 0 and entries.next() != 0:
                return []
            step = entries.next
        while len(out) < want:
            engine._deadline.check()
            k = entries.get_key()
            if (k[0], k[1], k[2]) != (db, coll, name):
                break
            escaped, recordid = engine._unpack_entry(bytes(k[3]))
            if not escaped.startswith(prefix):
                break
            if recordid is not None:
                docs.reset()
                docs.set_key(db, coll, recordid)
                if docs.search() == 0:
                    doc = bson.decode(engine._unframe_doc_value(bytes(docs.get_value()))[1])
                    if matches(doc, query, vars=let):
                        out.append(doc)
            if step() != 0:
                break
    return out


def patch_sorted_find() -> None:
    """Gap: SecantusDB answers a sorted find (and so findAndModify, which finds
    its document with limit 1 before the guarded write) by reading every
    candidate, matching and sorting them all, then keeping the first: MRQ's
    dequeue over a backlog of N queued jobs cost O(N) decodes and an O(N log N)
    Python sort per job (~4 dequeues/s at 5,000 queued). With a limit and an
    index that serves the sort, walk it in order and stop early. Anything else
    (no limit, hint, collation, min/max, $near/$text, system and oplog
    collections, no such index) goes to the engine as before."""
    find_matching = engine.Storage.find_matching

    def find_matching_walking_the_sort_index(
        self: engine.Storage, db: str, coll: str, filter: dict[str, Any] | None = None, **kw: Any
    ) -> list[dict[str, Any]]:
        sort = self._multi_sort_spec(kw.get("sort"))
        limit, skip = int(kw.get("limit") or 0), int(kw.get("skip") or 0)
        query = dict(filter or {})
        if (
            sort
            and limit > 0
            and skip >= 0
            and all(kw.get(k) is None for k in ("hint", "collation", "min_bound", "max_bound"))
            and not names_order_operator(query)
            and not (
                self._is_oplog_rs(db, coll)
                or self._is_system_users(db, coll)
                or self._is_system_version(db, coll)
            )
        ):
            out = sorted_find_by_index_walk(self, db, coll, query, sort, skip + limit, kw.get("let"))
            if out is not None:
                out = out[skip:]
                projection = kw.get("projection")
                if projection and out:
                    metas = self._projection_metas(
                        db, coll, out, projection, query, kw.get("sort"), None, None
                    )
                    out = engine.apply_projection_batch(out, projection, query, metas=metas, has_sort=True)
                return out
        return find_matching(self, db, coll, filter, **kw)

    engine.Storage.find_matching = find_matching_walking_the_sort_index


def patch_id_lookup() -> None:
    """Gap: SecantusDB fetches a document by `_id` only when `_id` is the whole
    filter. findAndModify writes its pick with `{_id: <id>, $and: [<query>]}`
    (the `_id` plus the query re-checked, so two dequeuers never both get a
    job), and that scanned the whole collection, finished jobs included, on
    every dequeue. An `_id` equality (or $in) next to other clauses is now
    fetched by `_id` and the whole filter matched on that document, as the
    write paths already do for every candidate an index hands them."""
    try_index = engine.Storage._try_index_id_keys

    def try_index_id_keys_by_id_first(
        self: engine.Storage,
        db: str,
        coll: str,
        filter: dict[str, Any],
        *,
        collation: Any = None,
    ) -> list[int] | None:
        if collation is None and len(filter) > 1 and "_id" in filter:
            id_keys = engine._id_point_lookup_keys(filter["_id"])
            if id_keys is not None and not self._is_timeseries(db, coll):
                recordids = [self._doc_recordid(db, coll, k) for k in id_keys]
                return [r for r in recordids if r is not None]
        return try_index(self, db, coll, filter, collation=collation)

    engine.Storage._try_index_id_keys = try_index_id_keys_by_id_first


# --------------------------------------------------------------------- main


def rotate_log(handler: logging.FileHandler, how: str) -> None:
    """SIGUSR1, as mongod: `reopen` opens the log path again (logrotate has
    moved the file); `rename` first renames it to <path>.<UTC time>."""
    if how == "rename":
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H-%M-%S")
        with contextlib.suppress(FileNotFoundError):
            Path(handler.baseFilename).rename(f"{handler.baseFilename}.{stamp}")
    handler.acquire()
    try:
        handler.close()  # the next record opens the path again, appending
        handler.mode = "a"
    finally:
        handler.release()
    log.info("log rotated (SIGUSR1, logRotate %s)", how)


def main() -> int:
    parser = argparse.ArgumentParser(prog="mongod", description="mongod stand-in (SecantusDB)")
    parser.add_argument("-f", "--config", default="/etc/mongod.conf")
    parser.add_argument("--version", action="store_true")
    args = parser.parse_args()
    if args.version:
        print(f"db version v{VERSION} (TEST STAND-IN: SecantusDB, not MongoDB)")
        return 0

    conf = flatten(yaml.safe_load(Path(args.config).read_text()) or {})
    port = int(conf.get("net.port", 27017))
    if conf.get("net.bindIpAll"):
        binds = ["0.0.0.0"]
    else:
        binds = [b.strip() for b in str(conf.get("net.bindIp", "127.0.0.1")).split(",") if b.strip()]
    db_path = str(conf.get("storage.dbPath", "/var/lib/mongodb"))
    auth = str(conf.get("security.authorization", "disabled")) == "enabled"

    handlers: list[logging.Handler]
    if conf.get("systemLog.destination") == "file" and conf.get("systemLog.path"):
        mode = "a" if conf.get("systemLog.logAppend", False) else "w"
        handlers = [logging.FileHandler(conf["systemLog.path"], mode=mode)]
    else:
        handlers = [logging.StreamHandler(sys.stdout)]
    verbose = int(conf.get("systemLog.verbosity", 0) or 0)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        handlers=handlers,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log.warning("TEST STAND-IN: SecantusDB speaking for mongod %s; not MongoDB", VERSION)
    for key in sorted(set(conf) - KNOWN):
        log.warning("stand-in ignores setting %s", key)
    if conf.get("processManagement.fork"):
        log.error("processManagement.fork is not supported by the stand-in")
        return 2

    try:
        tls = tls_settings(conf)
    except ValueError as exc:
        log.error("%s", exc)
        return 2

    patch_user_commands()
    patch_localhost_exception()
    patch_sorted_find()
    patch_id_lookup()
    Path(db_path).mkdir(parents=True, exist_ok=True)
    cache_gb = conf.get("storage.wiredTiger.engineConfig.cacheSizeGB")
    srv = SecantusDBServer(
        host=binds[0],
        port=port,
        storage_path=db_path,
        require_auth=auth,
        replica_set_name=None,
        enable_test_commands=False,
        cache_size=f"{int(float(cache_gb) * 1024)}M" if cache_gb else "256M",
        tls_cert_file=tls.cert_key_file if tls else None,
        tls_key_file=tls.cert_key_file if tls else None,
        tls_ca_file=tls.ca_file if tls else None,
        tls_require_client_cert=tls.client_cert_required if tls else False,
    )
    srv.start()
    extra = [listen_also(srv, host, port) for host in binds[1:]]
    pidfile = conf.get("processManagement.pidFilePath")
    if pidfile:
        Path(pidfile).write_text(f"{os.getpid()}\n")
    log.info(
        "waiting for connections on port %d (bindIp %s, authorization %s, %s)",
        port,
        ",".join(binds),
        "enabled" if auth else "disabled",
        "TLS only" if tls else "no TLS",
    )

    def stop(signum: int, _frame: object) -> None:
        log.info("got signal %d, shutting down", signum)
        for sock in extra:
            with contextlib.suppress(OSError):
                sock.close()
        srv.stop()
        if pidfile:
            Path(pidfile).unlink(missing_ok=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if isinstance(handlers[0], logging.FileHandler):
        how = str(conf.get("systemLog.logRotate", "rename"))
        file_handler = handlers[0]
        signal.signal(signal.SIGUSR1, lambda _s, _f: rotate_log(file_handler, how))
    srv.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
