"""MRQ 0.9.10 (2018) on Python 3.9-3.13 with today's redis-py, gevent, psutil and Flask.

Each fix is a small function named after the problem; `apply()` runs them all
once, after gevent's monkey-patching and before MRQ's entry points run. No
installed file is edited. The tests in tests/test_compat.py show each problem
happening without its fix.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
import types
import warnings
from typing import Any, Callable

_applied = False


def fill_pipes(module: types.ModuleType) -> None:
    """What MRQ uses of `pipes`: `quote` (mrqlab.hook serves it too)."""
    module.quote = shlex.quote  # type: ignore[attr-defined]


def pipes_module() -> None:
    """Python 3.13 removed `pipes`; mrq_worker imports it for `pipes.quote`."""
    try:
        import pipes  # noqa: F401
    except ImportError:
        shim = types.ModuleType("pipes")
        fill_pipes(shim)
        sys.modules["pipes"] = shim


def quiet_is_literal() -> None:
    """worker.py compares `outcome is "wait"`: a SyntaxWarning on every compile."""
    warnings.filterwarnings("ignore", message=r'"is" with .*literal', category=SyntaxWarning)


def lualock_alias() -> None:
    """redis-py >= 3 has no `redis.lock.LuaLock` (its `Lock` is the Lua one)."""
    import importlib

    # import_module: right after redis.lock loads (mrqlab.hook), `redis` has no `lock` yet
    lock = importlib.import_module("redis.lock")
    if not hasattr(lock, "LuaLock"):
        lock.LuaLock = lock.Lock


class CompatRedis:
    """Mixin: `zadd(key, **{member: score})`, MRQ's call, on redis-py >= 3."""

    def zadd(self, name: Any, mapping: Any = None, *args: Any, **kwargs: Any) -> Any:
        options = {"nx", "xx", "ch", "incr", "gt", "lt"}
        if mapping is None:
            mapping = {k: v for k, v in kwargs.items() if k not in options}
            kwargs = {k: v for k, v in kwargs.items() if k in options}
        return super().zadd(name, mapping, *args, **kwargs)  # type: ignore[misc]


def _keepalive_options() -> dict[int, int]:
    """Probe an idle connection after 60 s, every 10 s, give up after 3 misses."""
    import socket

    wanted = {"TCP_KEEPIDLE": 60, "TCP_KEEPINTVL": 10, "TCP_KEEPCNT": 3}
    return {getattr(socket, name): value for name, value in wanted.items() if hasattr(socket, name)}


def redis_client(uri: str, max_connections: int = 50, timeout: int = 30) -> Any:
    """A client for `uri` (percent-decoded, `redis://SECRET@host` understood,
    `rediss://` over TLS)."""
    import redis

    from mrqlab.uris import parse_redis_uri

    target = parse_redis_uri(uri)
    tls: dict[str, Any] = {}
    if target.tls:  # the server's certificate checked against the CA, its name against the host
        tls = {
            "connection_class": redis.SSLConnection,
            "ssl_cert_reqs": "required",
            "ssl_check_hostname": True,
            "ssl_ca_certs": target.ca_file,
        }
    pool = redis.BlockingConnectionPool(
        **tls,
        host=target.host,
        port=target.port,
        db=target.db,
        username=target.username,
        password=target.password,
        max_connections=max_connections,
        timeout=timeout,
        # redis-py >= 6 cuts every read at 5 s, BLPOP with MRQ's max_latency too.
        # As with the redis-py MRQ was written for, a read waits as long as its
        # command asks; TCP keepalive finds a dead peer within ~90 s instead.
        socket_timeout=None,
        socket_connect_timeout=10,
        socket_keepalive=True,
        socket_keepalive_options=_keepalive_options(),
    )
    cls = type("StrictRedis", (CompatRedis, redis.StrictRedis), {})
    return cls(connection_pool=pool)


def redis_connections() -> None:
    """MRQ parsed Redis URIs itself: no percent-decoding, `SECRET@host` lost the
    password, and its client's zadd() no longer matched redis-py. Ours come first."""
    from mrq import context

    def factory(attr: str) -> Any:
        if not attr.startswith("redis"):
            return None
        config = context.get_current_config()
        value = config.get(attr)
        if not isinstance(value, str):
            return None  # MRQ's own factory handles ready-made clients
        context.log.info("%s: connecting to Redis", attr)
        return redis_client(
            value,
            max_connections=int(config.get("redis_max_connections") or 50),
            timeout=int(config.get("redis_timeout") or 30),
        )

    factories = context.connections._factories
    if not any(getattr(f, "__name__", "") == "mrqlab_redis" for f in factories):
        factory.__name__ = "mrqlab_redis"
        factories.insert(0, factory)


def gevent_signal() -> None:
    """gevent >= 1.5: `gevent.signal` is a module, MRQ calls it. Use signal_handler."""
    import gevent
    import mrq.processes

    if isinstance(getattr(mrq.processes.gevent, "signal", None), types.ModuleType):
        shim = types.SimpleNamespace(**{k: getattr(gevent, k) for k in dir(gevent) if not k.startswith("__")})
        shim.signal = gevent.signal_handler
        mrq.processes.gevent = shim


def scheduler_lock() -> None:
    """redis-py >= 3 raises LockError when `Lock(blocking=False)` is held elsewhere:
    a second scheduler killed the worker. Skip the round instead, as intended."""
    import time

    from mrq import worker
    from mrq.context import connections, get_current_config
    from redis.exceptions import LockError
    from redis.lock import Lock

    def greenlet_scheduler(self: Any) -> None:
        key = f"{get_current_config()['redis_prefix']}:schedulerlock"
        while True:
            lock = Lock(
                connections.redis,
                key,
                timeout=self.config["scheduler_interval"] + 10,
                blocking=False,
                thread_local=False,
            )
            if lock.acquire(blocking=False):
                try:
                    self.scheduler.check()
                finally:
                    with contextlib.suppress(LockError):  # expired meanwhile
                        lock.release()
            time.sleep(self.config["scheduler_interval"])

    worker.Worker.greenlet_scheduler = greenlet_scheduler


class _Gone:
    def status(self) -> str:
        return "dead"


def supervisor_respawn() -> None:
    """`--processes`: a killed child is reaped, psutil raises NoSuchProcess and the
    supervisor exited instead of starting a new child."""
    import psutil
    from mrq.processes import ProcessPool

    original: Callable[[Any, dict[str, Any]], None] = ProcessPool.watch_process
    if getattr(original, "mrqlab", False):
        return

    def watch_process(self: Any, process: dict[str, Any]) -> None:
        try:
            process["psutil"].status()
        except psutil.NoSuchProcess:
            process["psutil"] = _Gone()
        original(self, process)

    watch_process.mrqlab = True  # type: ignore[attr-defined]
    ProcessPool.watch_process = watch_process


def stop_leaves_no_started_job() -> None:
    """A stopping worker (second SIGINT, SIGTERM) kills its greenlet pool: a job it
    had just dequeued (status `started`) whose greenlet had not begun never saves
    `interrupt`, and stays `started`. When work_stop returns nothing of the worker
    runs any more: what it still has `started` becomes `interrupt`, which the
    scheduler requeues."""
    import datetime

    from mrq import worker

    original: Callable[[Any], None] = worker.Worker.work_stop
    if getattr(original, "mrqlab", False):
        return

    def work_stop(self: Any) -> None:
        original(self)
        try:
            result = self.mongodb_jobs.mrq_jobs.update_many(
                {"worker": self.id, "status": "started"},
                {"$set": {"status": "interrupt", "dateupdated": datetime.datetime.utcnow()}},
            )
            if result.modified_count:
                self.log.warning("%s job(s) left started by the stop: now interrupt", result.modified_count)
        except Exception:  # MongoDB away: the scheduler requeues them as a stopped worker's
            self.log.exception("could not mark the jobs left started")

    work_stop.mrqlab = True  # type: ignore[attr-defined]
    worker.Worker.work_stop = work_stop


def dashboard_auth() -> None:
    """DASHBOARD_HTTPAUTH "user:password" was split on every ':', so a password
    with ':' never matched. Split on the first one only."""
    import hmac

    from mrq.context import get_current_config
    from mrq.dashboard import utils

    def check_auth(username: str, password: str) -> bool:
        user, _, secret = str(get_current_config()["dashboard_httpauth"]).partition(":")
        # bytes: compare_digest refuses non-ASCII str
        ok_user = hmac.compare_digest((username or "").encode(), user.encode())
        return hmac.compare_digest((password or "").encode(), secret.encode()) and ok_user

    utils.check_auth = check_auth


def dashboard_app(app: Any) -> None:
    """POST /api/workergroups called dict.iteritems(); and MRQ ran Flask in debug mode."""
    import json

    from flask import request
    from mrq.context import connections
    from mrq.dashboard.utils import jsonify, requires_auth

    @requires_auth
    def post_workergroups() -> Any:
        workergroups = json.loads(request.form["workergroups"])
        for key, value in workergroups.items():
            connections.mongodb_jobs.mrq_workergroups.update_one({"_id": key}, {"$set": value}, upsert=True)
        return jsonify({"status": "ok"})

    app.view_functions["post_workergroups"] = post_workergroups
    app.debug = False


def logs_collection_race() -> None:
    """Two workers starting together both see no `mrq_logs` and both create it:
    pymongo raises CollectionInvalid for the second, which MRQ did not catch."""
    from mrq.logger import MongoHandler
    from pymongo.errors import CollectionInvalid

    original: Callable[[Any], None] = MongoHandler.set_collection
    if getattr(original, "mrqlab", False):
        return

    def set_collection(self: Any) -> None:
        with contextlib.suppress(CollectionInvalid):  # created meanwhile by another worker: use it
            original(self)

    set_collection.mrqlab = True  # type: ignore[attr-defined]
    MongoHandler.set_collection = set_collection


def _text(value: Any) -> Any:
    """Redis replies are bytes on Python 3; MRQ's code was written for text."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value  # not text: hand it over as it is
    return value


def raw_queues_text() -> None:
    """Raw queues: known subqueues came back as bytes (a worker on `queue/` could not
    start: str.startswith(bytes)) and job factories got `b'param'` as the raw parameter.
    Decode both; what MRQ hands out as raw queue content (list_raw_jobs) stays as is."""
    from mrq.queue_raw import QueueRaw

    if getattr(QueueRaw.get_config, "mrqlab", False):
        return
    get_config: Callable[[Any], dict[str, Any]] = QueueRaw.get_config
    get_known_subqueues: Callable[[Any], set[Any]] = QueueRaw.get_known_subqueues

    def decoding(factory: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def job_factory(rawparam: Any) -> Any:
            return factory(_text(rawparam))

        return job_factory

    def config(self: Any) -> dict[str, Any]:
        cfg = get_config(self)
        if callable(cfg.get("job_factory")):
            cfg = {**cfg, "job_factory": decoding(cfg["job_factory"])}
        return cfg

    def known_subqueues(self: Any) -> set[Any]:
        return {_text(q) for q in get_known_subqueues(self)}

    config.mrqlab = True  # type: ignore[attr-defined]
    QueueRaw.get_config = config
    QueueRaw.get_known_subqueues = known_subqueues


def active_queues_text() -> None:
    """Queue.all_active() compared Redis keys (bytes) with the prefix (str): TypeError."""
    from mrq import context
    from mrq.queue import Queue

    if getattr(Queue.all_active, "mrqlab", False):
        return

    def all_active(cls: Any) -> list[Any]:
        prefix = context.get_current_config()["redis_prefix"]
        keys = (_text(k) for k in context.connections.redis.keys())  # noqa: SIM118 (Redis KEYS)
        return [cls(k[len(prefix) + 3 :]) for k in keys if isinstance(k, str) and k.startswith(prefix)]

    all_active.mrqlab = True  # type: ignore[attr-defined]
    Queue.all_active = classmethod(all_active)


def _epoch(value: Any) -> int:
    """A date or datetime as ujson 1.x wrote it: seconds since the epoch (naive = UTC,
    as MRQ's utcnow() datetimes are)."""
    import calendar
    import datetime

    if isinstance(value, datetime.datetime):
        return calendar.timegm(value.utctimetuple())
    if isinstance(value, datetime.date):
        return calendar.timegm(value.timetuple())
    raise TypeError(f"{value!r} is not JSON serializable")


def _ujson_with_dates(ujson: Any) -> Any:
    def dumps(obj: Any, *args: Any, **kwargs: Any) -> str:
        kwargs.setdefault("default", _epoch)
        return ujson.dumps(obj, *args, **kwargs)

    return types.SimpleNamespace(dumps=dumps, loads=ujson.loads, mrqlab=True)


def ujson_datetimes() -> None:
    """MRQ was written for ujson 1.x, which wrote datetimes as epoch seconds: with
    `--report_file` the worker's report (datestarted, datereported) raised TypeError,
    killing its report greenlet and failing its stop; the scheduler hashed task params
    the same way."""
    for name in ("mrq.worker", "mrq.scheduler"):
        module = sys.modules.get(name)
        json = getattr(module, "json", None)
        if getattr(json, "__name__", "") == "ujson":  # not yet replaced
            module.json = _ujson_with_dates(json)  # type: ignore[union-attr]


def _mrq_connect_hook(patched: Any) -> Callable[..., Any] | None:
    """MRQ's own `connect` hook (it wraps the socket so the job's I/O is reported),
    taken from http.client's HTTPConnection.connect that patch_io_httplib replaced."""
    code = getattr(patched, "__code__", None)
    cells = dict(zip(code.co_freevars, patched.__closure__ or ())) if code else {}
    cell = cells.get("method")
    return cell.cell_contents if cell is not None else None


def _request_url(conn: Any, url: str, scheme: str) -> str:
    """The URL a request on `conn` reaches, as MRQ reports it (default port left out)."""
    if url.startswith(("http://", "https://")):  # absolute already when sent to a proxy
        return url
    port = "" if conn.port in (None, conn.default_port) else f":{conn.port}"
    return f"{scheme}://{conn.host}{port}{url}"


def trace_io_urllib3() -> None:
    """`--trace_io` saw no HTTP I/O from requests/urllib3 2: MRQ imports urllib3 1's
    `UnverifiedHTTPSConnection` (gone in 2.0, so it patched nothing), and urllib3 2's
    connections call neither http.client's `request` nor its `connect`. After MRQ's
    patch, record each urllib3 request's method and URL (every argument passed on)
    and give urllib3's connections MRQ's socket-wrapping `connect`."""
    from mrq import monkey

    original: Callable[[Any], None] = monkey.patch_io_httplib
    if getattr(original, "mrqlab", False):
        return

    def patch_io_httplib(config: Any) -> None:
        original(config)
        try:
            from urllib3 import connection
        except ImportError:
            return
        if hasattr(connection, "UnverifiedHTTPSConnection") or getattr(connection, "mrqlab", False):
            return  # urllib3 1.x (MRQ patched it), or done already
        import http.client

        connect = _mrq_connect_hook(http.client.HTTPConnection.connect)
        if connect is None:
            return

        def request(send: Callable[..., Any], conn: Any, method: str, url: str, *a: Any, **kw: Any) -> Any:
            scheme = "https" if isinstance(conn, connection.HTTPSConnection) else "http"
            conn._traced_args = (method, _request_url(conn, url, scheme))  # what MRQ's socket wrapper reports
            return send(conn, method, url, *a, **kw)

        monkey.patch_method(connection.HTTPConnection, "request", request)
        monkey.patch_method(connection.HTTPConnection, "connect", connect)
        monkey.patch_method(connection.HTTPSConnection, "connect", connect)
        connection.mrqlab = True  # type: ignore[attr-defined]

    patch_io_httplib.mrqlab = True  # type: ignore[attr-defined]
    monkey.patch_io_httplib = patch_io_httplib


FIXES = (
    pipes_module,
    quiet_is_literal,
    lualock_alias,
    redis_connections,
    gevent_signal,
    scheduler_lock,
    supervisor_respawn,
    stop_leaves_no_started_job,
    dashboard_auth,
    logs_collection_race,
    raw_queues_text,
    active_queues_text,
    ujson_datetimes,
    trace_io_urllib3,
)


def _dashboard_app() -> None:
    from mrq.dashboard import app

    dashboard_app(app.app)


# What mrqlab.hook runs as soon as each module has been imported (in any process of
# the venv: entry points, task code, `python -c "import mrq.agent"`). `pipes` is
# served by the hook itself where Python has none.
AFTER_IMPORT: dict[str, tuple[Callable[[], None], ...]] = {
    "mrq": (quiet_is_literal,),  # before MRQ's modules are compiled
    "redis.lock": (lualock_alias,),
    "mrq.context": (redis_connections,),
    "mrq.processes": (gevent_signal, supervisor_respawn),
    "mrq.worker": (scheduler_lock, stop_leaves_no_started_job, ujson_datetimes),
    "mrq.scheduler": (ujson_datetimes,),
    "mrq.monkey": (trace_io_urllib3,),
    "mrq.logger": (logs_collection_race,),
    "mrq.queue": (active_queues_text,),
    "mrq.queue_raw": (raw_queues_text,),
    "mrq.dashboard.utils": (dashboard_auth,),
    "mrq.dashboard.app": (_dashboard_app,),
}


def apply() -> None:
    """Apply every fix once (dashboard_app needs the app: the dashboard entry point calls it)."""
    global _applied
    if _applied:
        return
    for fix in FIXES:
        fix()
    _applied = True
