"""Each compat fix, shown failing without it and working with it.

Every case runs in a fresh interpreter (MRQ and the fixes change module state),
once without the fix (must fail) and once with it (must pass).
"""

from __future__ import annotations

import http.server
import os
import re
import ssl
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import MRQ_PASSWORD, MRQ_USER, PASSWORD
from pki import make_ca, make_cert


def run_py(code: str, *, with_fix: str | None, env: dict[str, str] | None = None, cwd: Path | None = None):
    """`code` in a fresh interpreter with only `with_fix` applied: the import hook
    (mrqlab-compat.pth, which would apply them all) is off unless `env` turns it on."""
    prelude = "from gevent import monkey; monkey.patch_all()\n"
    if with_fix:
        prelude += f"from mrqlab import compat; compat.{with_fix}()\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MRQLAB_COMPAT": "off", **(env or {})},
        cwd=cwd,
    )


def assert_fix(code: str, fix: str, failure: str, **kw: object) -> None:
    without = run_py(code, with_fix=None, **kw)  # type: ignore[arg-type]
    assert without.returncode != 0, f"expected a failure without {fix}:\n{without.stdout}"
    assert failure in without.stderr, without.stderr[-2000:]
    with_it = run_py(code, with_fix=fix, **kw)  # type: ignore[arg-type]
    assert with_it.returncode == 0, with_it.stderr[-2000:]
    assert "OK" in with_it.stdout


def mrq_context(uri: str, extra: str = "", code: str = "") -> str:
    """MRQ's context with `uri` as REDIS, then `code` (both dedented)."""
    setup = textwrap.dedent(f"""\
        from mrq.context import set_current_config, connections
        from mrq.config import get_config
        cfg = get_config(sources=(), config_type="worker")
        cfg["redis"] = {uri!r}
        cfg["scheduler_interval"] = 0.1
    """)
    return setup + textwrap.dedent(extra) + "\nset_current_config(cfg)\n" + textwrap.dedent(code)


def test_lualock_alias() -> None:
    assert_fix("import mrq.worker\nprint('OK')", "lualock_alias", "cannot import name 'LuaLock'")


def test_gevent_signal_handlers_install() -> None:
    code = """
        from redis import lock; lock.LuaLock = lock.Lock
        from mrq.processes import Process
        p = Process(); p.shutdown_now = p.shutdown_graceful = lambda: None
        p.install_signal_handlers()
        print("OK")
    """
    assert_fix(code, "gevent_signal", "'module' object is not callable")


def test_pipes_missing_on_python_313() -> None:
    # Hide `pipes` as Python 3.13 does, then import MRQ's worker entry point.
    code = """
        import sys
        class NoPipes:
            def find_spec(self, name, path=None, target=None):
                if name == "pipes":
                    raise ImportError("No module named 'pipes'")
        sys.modules.pop("pipes", None)
        sys.meta_path.insert(0, NoPipes())
        from mrqlab import compat as c
        if "FIX" in sys.argv[0:1] or __import__("os").environ.get("FIX"):
            c.pipes_module()
        from redis import lock; lock.LuaLock = lock.Lock
        import mrq.bin.mrq_worker
        print("OK")
    """
    without = run_py(code, with_fix=None)
    assert without.returncode != 0 and "No module named 'pipes'" in without.stderr
    with_it = run_py(code, with_fix=None, env={"FIX": "1"})
    assert with_it.returncode == 0, with_it.stderr[-2000:]
    # The import hook (mrqlab-compat.pth) serves it too: no `pipes` behind it.
    hooked = code.replace("sys.meta_path.insert(0, NoPipes())", "sys.meta_path.insert(1, NoPipes())")
    assert run_py(hooked, with_fix=None).returncode != 0
    assert run_py(hooked, with_fix=None, env={"MRQLAB_COMPAT": "on"}).returncode == 0


def test_is_literal_warning_silenced() -> None:
    import mrq

    source = (Path(mrq.__file__).parent / "worker.py").read_text()
    code = f"""
        import warnings
        warnings.simplefilter("error", SyntaxWarning)
        import os
        if os.environ.get("FIX"):
            from mrqlab import compat; compat.quiet_is_literal()
        compile(open({str(Path(mrq.__file__).parent / "worker.py")!r}).read(), "worker.py", "exec")
        print("OK")
    """
    assert '"wait"' in source
    without = run_py(code, with_fix=None)
    # Python 3.13 names the literal's type: '"is" with 'str' literal'.
    assert without.returncode != 0 and re.search('"is" with .*literal', without.stderr), without.stderr[-500:]
    assert run_py(code, with_fix=None, env={"FIX": "1"}).returncode == 0


@pytest.mark.parametrize(
    "uri_form",
    ["uris", "legacy"],
    ids=["percent-encoded :password@", "original redis://PASSWORD@host"],
)
def test_redis_password_with_specials(redis_port: int, uri_form: str) -> None:
    from urllib.parse import quote

    from mrqlab.uris import redis_uri

    uri = (
        redis_uri("127.0.0.1", redis_port, PASSWORD)
        if uri_form == "uris"
        else f"redis://{quote(PASSWORD, safe='')}@127.0.0.1:{redis_port}/0"
    )
    code = mrq_context(uri, code="assert connections.redis.ping()\nprint('OK')")
    without = run_py(code, with_fix=None)
    assert without.returncode != 0
    assert "Authentication" in without.stderr or "NOAUTH" in without.stderr or "WRONGPASS" in without.stderr
    with_it = run_py(code, with_fix="redis_connections")
    assert with_it.returncode == 0, with_it.stderr[-2000:]


def test_sorted_raw_queue_accepts_jobs(redis_port: int) -> None:
    from mrqlab.uris import redis_uri

    uri = redis_uri("127.0.0.1", redis_port, PASSWORD)
    code = mrq_context(
        uri,
        code="""
        from mrq.job import queue_raw_jobs
        from mrq.queue import Queue
        if not __import__("os").environ.get("FIX"):
            # MRQ's own client, authenticated, to isolate the zadd() problem
            import redis
            connections.__dict__["redis"] = redis.StrictRedis(port=%d, password=%r)
        queue_raw_jobs("lab_sorted_set", {"job-a": 10, "job-b": 20})
        assert Queue("lab_sorted_set").size() >= 2
        print("OK")
    """
        % (redis_port, PASSWORD),
    )
    without = run_py(code, with_fix=None)
    assert without.returncode != 0 and "zadd()" in without.stderr, without.stderr[-1500:]
    with_it = run_py(code, with_fix="redis_connections", env={"FIX": "1"})
    assert with_it.returncode == 0, with_it.stderr[-2000:]


def test_second_scheduler_holding_the_lock_does_not_kill_the_worker(redis_port: int) -> None:
    from mrqlab.uris import redis_uri

    code = mrq_context(
        redis_uri("127.0.0.1", redis_port, PASSWORD),
        code="""
        import os, gevent
        from redis import lock; lock.LuaLock = lock.Lock
        if os.environ.get("FIX"):
            from mrqlab import compat; compat.redis_connections(); compat.scheduler_lock()
        else:
            import redis
            connections.__dict__["redis"] = redis.StrictRedis(port=%d, password=%r)
        from mrq.worker import Worker
        connections.redis.delete("mrq:schedulerlock")  # left by an earlier run
        other = lock.Lock(connections.redis, "mrq:schedulerlock", timeout=30)
        assert other.acquire(blocking=False)  # the other scheduler
        class Sched:
            checks = 0
            def check(self): Sched.checks += 1
        w = Worker.__new__(Worker)  # its config property reads the context
        w.scheduler = Sched()
        g = gevent.spawn(w.greenlet_scheduler)
        gevent.sleep(0.5)
        assert not g.dead, g.exception
        assert Sched.checks == 0
        other.release()
        for _ in range(50):  # the next round takes the lock
            gevent.sleep(0.1)
            if Sched.checks or g.dead:
                break
        assert Sched.checks >= 1 and not g.dead
        print("OK")
    """
        % (redis_port, PASSWORD),
    )
    without = run_py(code, with_fix=None)
    assert without.returncode != 0 and "LockError" in without.stderr, without.stderr[-1500:]
    with_it = run_py(code, with_fix=None, env={"FIX": "1"})
    assert with_it.returncode == 0, with_it.stderr[-2000:]


def test_killed_child_of_processes_is_respawned() -> None:
    code = """
        import os, signal, gevent
        from redis import lock; lock.LuaLock = lock.Lock
        from mrq.processes import ProcessPool
        pool = ProcessPool(watch_interval=0.1)
        pool.set_commands(["sleep 30"])
        pool.start()
        gevent.sleep(0.5)
        first = pool.processes[0]["pid"]
        os.kill(first, signal.SIGKILL)
        # Reaped at once by the original, blocking waitpid: gevent's lets the pool's
        # watch run meanwhile, which may see a zombie instead (that race made this flaky).
        from gevent.monkey import get_original
        get_original("os", "waitpid")(first, 0)  # psutil now says NoSuchProcess
        for _ in range(50):
            gevent.sleep(0.1)
            pids = [p["pid"] for p in pool.processes]
            if pool.greenlet_watch.dead or (pids and first not in pids):
                break
        assert not pool.greenlet_watch.dead, pool.greenlet_watch.exception
        assert pids and first not in pids, pids
        pool.terminate()
        print("OK")
    """
    assert_fix(code, "supervisor_respawn", "NoSuchProcess")


def test_a_stop_leaves_no_job_started() -> None:
    code = """
        import logging, os, gevent, gevent.pool
        from redis import lock; lock.LuaLock = lock.Lock
        if os.environ.get("FIX"):
            from mrqlab import compat; compat.stop_leaves_no_started_job()
        from mrq.exceptions import JobInterrupt
        from mrq.worker import Worker

        class Jobs:  # mrq_jobs: one job this worker dequeued (status started)
            docs = {"j1": {"status": "started", "worker": "W"}}
            def update_many(self, flt, upd):
                hits = [d for d in self.docs.values() if all(d.get(k) == v for k, v in flt.items())]
                for d in hits:
                    d.update(upd["$set"])
                return type("R", (), {"modified_count": len(hits)})()

        w = Worker.__new__(Worker)  # just what work_stop uses
        w.id, w.greenlets, w.greenlet, w.log = "W", {}, gevent.getcurrent(), logging.getLogger("w")
        w.gevent_pool = gevent.pool.Pool(5)
        w.report_worker = lambda w=0: None
        w.flush_logs = lambda: None
        w.mongodb_jobs = type("Db", (), {"mrq_jobs": Jobs()})()
        ran = []
        w.gevent_pool.spawn(ran.append, "j1")  # the job's greenlet, not begun yet
        w.gevent_pool.kill(exception=JobInterrupt, block=False)  # the second SIGINT
        w.work_stop()
        assert not ran
        assert Jobs.docs["j1"]["status"] == "interrupt", Jobs.docs
        print("OK")
    """
    without = run_py(code, with_fix=None)
    assert without.returncode != 0 and "'status': 'started'" in without.stderr, without.stderr[-1500:]
    with_it = run_py(code, with_fix=None, env={"FIX": "1"})
    assert with_it.returncode == 0 and "OK" in with_it.stdout, with_it.stderr[-2000:]


def test_dashboard_auth_and_workergroups(tmp_path: Path) -> None:
    code = """
        import base64, json, os, sys
        sys.argv = ["mrq-dashboard"]
        from redis import lock; lock.LuaLock = lock.Lock
        from mrqlab import compat
        fix = os.environ.get("FIX", "")
        if fix in ("auth", "all"):
            compat.dashboard_auth()
        from mrq.dashboard import app as dash
        if fix == "all":
            compat.dashboard_app(dash.app)
        from mrq.context import connections
        saved = {}
        class Coll:
            def update_one(self, flt, upd, upsert=False): saved[flt["_id"]] = upd
        class Db:
            mrq_workergroups = Coll()
        connections.__dict__["mongodb_jobs"] = Db()
        client = dash.app.test_client()
        good = {"Authorization": "Basic " + base64.b64encode("admin:pa:ss wörd".encode()).decode()}
        assert client.get("/").status_code == 401
        assert client.get("/", headers=good).status_code == 200, "auth"
        r = client.post("/api/workergroups", headers=good,
                        data={"workergroups": json.dumps({"g1": {"process_termination_timeout": 5}})})
        assert r.status_code == 200, "workergroups %s" % r.status_code
        assert saved == {"g1": {"$set": {"process_termination_timeout": 5}}}
        print("OK")
    """
    env = {"MRQ_DASHBOARD_HTTPAUTH": "admin:pa:ss wörd"}
    without = run_py(code, with_fix=None, env=env, cwd=tmp_path)
    assert without.returncode != 0 and "AssertionError: auth" in without.stderr, without.stderr[-1500:]
    auth_only = run_py(code, with_fix=None, env={**env, "FIX": "auth"}, cwd=tmp_path)
    assert auth_only.returncode != 0 and "workergroups 500" in auth_only.stderr, auth_only.stderr[-1500:]
    with_it = run_py(code, with_fix=None, env={**env, "FIX": "all"}, cwd=tmp_path)
    assert with_it.returncode == 0, with_it.stderr[-2000:]


def test_mrq_works_as_its_acl_user_which_cannot_administer_redis(redis_port: int) -> None:
    """The credential roles/redis gives MRQ (Redis 6+): queues, Lua scripts and KEYS
    work; CONFIG, FLUSHALL, FLUSHDB, SHUTDOWN, REPLICAOF, DEBUG, MODULE, ACL do not."""
    from mrqlab.uris import redis_uri

    uri = redis_uri("127.0.0.1", redis_port, MRQ_PASSWORD, username=MRQ_USER)
    code = mrq_context(
        uri,
        code="""
        import redis
        from mrq.job import queue_raw_jobs
        from mrq.queue import Queue
        r = connections.redis
        queue_raw_jobs("lab_acl_sorted_set", {"job-a": 10})
        assert Queue("lab_acl_sorted_set").size() >= 1
        assert r.register_script("return 1")() == 1
        assert any(k.startswith(b"mrq:") or k.startswith("mrq:") for k in r.keys())
        refused = []
        for command in (("CONFIG", "GET", "maxmemory"), ("FLUSHALL",), ("FLUSHDB",), ("SHUTDOWN",),
                        ("REPLICAOF", "NO", "ONE"), ("SLAVEOF", "NO", "ONE"), ("DEBUG", "SLEEP", "0"),
                        ("MODULE", "LIST"), ("ACL", "WHOAMI"), ("ACL", "SETUSER", "x")):
            try:
                r.execute_command(*command)
            except redis.exceptions.ResponseError as e:  # NoPermissionError, or DEBUG disabled
                refused.append(command[0])
        assert len(refused) == 10, refused
        print("OK")
    """,
    )
    res = run_py(code, with_fix="redis_connections")
    assert res.returncode == 0, res.stderr[-2000:]


def test_blocking_read_waits_as_long_as_its_command_asks(redis_port: int) -> None:
    """A worker on a notify queue waits in BLPOP for max_latency seconds; redis-py 8
    (the lock's on Python >= 3.10) cuts every read at its 5 s default socket timeout
    (TimeoutError: the worker died); redis-py 7 (the lock's on 3.9) has no default."""
    import redis
    from mrqlab.uris import redis_uri

    code = mrq_context(
        redis_uri("127.0.0.1", redis_port, PASSWORD),
        code="""
        import os, time
        if os.environ.get("FIX"):
            from mrqlab import compat; compat.redis_connections()
        else:  # MRQ's own factory's client, authenticated (its URI parsing is another fix)
            import redis
            pool = redis.BlockingConnectionPool(port=%d, password=%r)
            connections.__dict__["redis"] = redis.StrictRedis(connection_pool=pool)
        t0 = time.monotonic()
        assert connections.redis.blpop(["lab_notify_nothing"], 6) is None
        assert time.monotonic() - t0 >= 5.9
        print("OK")
    """
        % (redis_port, PASSWORD),
    )
    without = run_py(code, with_fix=None)
    if int(redis.__version__.split(".")[0]) >= 8:
        assert without.returncode != 0 and "Timeout reading from" in without.stderr, without.stderr[-1500:]
    else:
        assert without.returncode == 0, without.stderr[-1500:]
    with_it = run_py(code, with_fix=None, env={"FIX": "1"})
    assert with_it.returncode == 0, with_it.stderr[-2000:]


def test_second_worker_creating_the_logs_collection_starts() -> None:
    """Two workers start together: both see no mrq_logs, the second create fails."""
    code = """
        from mrq.config import get_config
        from mrq.context import set_current_config, connections
        from pymongo.errors import CollectionInvalid
        import os
        if os.environ.get("FIX"):
            from mrqlab import compat; compat.logs_collection_race()
        from mrq.logger import MongoHandler
        cfg = get_config(sources=(), config_type="worker")
        cfg["mongodb_logs"] = "1"
        set_current_config(cfg)
        class Logs:  # the other worker created it after we listed the collections
            mrq_logs = "the mrq_logs collection"
            def collection_names(self): return []
            def create_collection(self, name, **kw):
                raise CollectionInvalid("collection mrq_logs already exists")
        connections.__dict__["mongodb_logs"] = Logs()
        handler = MongoHandler(mongodb_logs_size=1024)
        assert handler.collection == "the mrq_logs collection"
        print("OK")
    """
    without = run_py(code, with_fix=None)
    assert without.returncode != 0 and "CollectionInvalid" in without.stderr, without.stderr[-1500:]
    with_it = run_py(code, with_fix=None, env={"FIX": "1"})
    assert with_it.returncode == 0, with_it.stderr[-2000:]


RAW_QUEUE_CASE = """
    import os
    if os.environ.get("FIX"):
        from mrqlab import compat; compat.raw_queues_text(); compat.active_queues_text()
    from mrq.job import queue_raw_jobs
    from mrq.queue import Queue
    class Jobs:  # MongoDB's side of MRQ: no regular jobs; Job.insert hands back its input
        @staticmethod
        def distinct(field): return []
        @staticmethod
        def insert(data, statuses_no_storage=None): return data
    connections.__dict__["mongodb_jobs"] = type("Db", (), {"mrq_jobs": Jobs})()
    r = connections.redis
    for key in r.keys("mrq:*lab_raw*"):
        r.delete(key)
    queue_raw_jobs("lab_raw/sub", ["aaa", "h\u00e9", "bbb"])
    # What a worker on "lab_raw/" does to find the subqueues (MRQ's refresh_queues)
    known = Queue.all_known(prefixes=["lab_raw/"])
    assert [q for q in known if q.startswith("lab_raw/")] == ["lab_raw/sub"], known
    assert "lab_raw/sub" in [q.id for q in Queue.all_active()]
    jobs = list(Queue("lab_raw/sub").dequeue_jobs(max_jobs=5, job_class=Jobs))
    assert [j["params"]["raw"] for j in jobs] == ["aaa", "h\u00e9", "bbb"], jobs
    print("OK")
"""


def test_raw_queue_jobs_get_text(redis_port: int) -> None:
    """Raw queues: subqueues and raw parameters came back as bytes on Python 3."""
    from mrqlab.uris import redis_uri

    extra = """
        cfg["raw_queues"] = {"lab_raw": {"has_subqueues": True,
            "job_factory": lambda p: {"path": "tasks_push.task1", "params": {"raw": p}}}}
    """
    code = mrq_context(redis_uri("127.0.0.1", redis_port, PASSWORD), extra=extra, code=RAW_QUEUE_CASE)
    without = run_py("from mrqlab import compat; compat.redis_connections()\n" + code, with_fix=None)
    assert without.returncode != 0 and "TypeError" in without.stderr, without.stderr[-1500:]
    with_it = run_py(
        "from mrqlab import compat; compat.redis_connections()\n" + code, with_fix=None, env={"FIX": "1"}
    )
    assert with_it.returncode == 0, with_it.stderr[-2000:]


def test_every_fix_applies_wherever_mrq_is_imported(redis_port: int, tmp_path: Path) -> None:
    """Installed with the app, mrqlab-compat.pth applies the fixes in any process of the
    venv: here plain `import mrq.agent` and task-style code, with no entry point."""
    from mrqlab.uris import redis_uri

    plain = """
        import mrq.agent  # imports redis.lock.LuaLock
        from mrq.context import connections
        from mrq.processes import ProcessPool
        from mrq.worker import Worker
        from mrq.logger import MongoHandler
        from mrqlab import compat
        assert getattr(ProcessPool.watch_process, "mrqlab", False)
        assert getattr(Worker.work_stop, "mrqlab", False)
        import mrq.worker
        assert getattr(mrq.worker.json, "mrqlab", False)
        assert getattr(MongoHandler.set_collection, "mrqlab", False)
        import mrq.monkey
        assert getattr(mrq.monkey.patch_io_httplib, "mrqlab", False)
        assert connections._factories[0].__name__ == "mrqlab_redis"
        print("OK")
    """
    code = f"import sys\n{textwrap.dedent(plain)}"
    site = Path(sys.executable).parent.parent / "lib"
    assert list(site.glob("python3*/site-packages/mrqlab-compat.pth")), "the venv has no mrqlab-compat.pth"
    off = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MRQLAB_COMPAT": "off"},
    )
    assert off.returncode != 0 and "LuaLock" in off.stderr, off.stderr[-1500:]
    on = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "MRQLAB_COMPAT"},
    )
    assert on.returncode == 0 and "OK" in on.stdout, on.stderr[-2000:]
    # Task code's view: raw queues of a plain script, through the hook alone.
    extra = """
        cfg["raw_queues"] = {"lab_raw": {"has_subqueues": True,
            "job_factory": lambda p: {"path": "tasks_push.task1", "params": {"raw": p}}}}
    """
    raw = mrq_context(redis_uri("127.0.0.1", redis_port, PASSWORD), extra=extra, code=RAW_QUEUE_CASE)
    res = subprocess.run(
        [sys.executable, "-c", raw],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "MRQLAB_COMPAT"},
    )
    assert res.returncode == 0 and "OK" in res.stdout, res.stderr[-2000:]


def test_worker_report_file_with_dates(tmp_path: Path) -> None:
    """`--report_file`: MRQ's ujson call met the report's datetimes, which ujson >= 2
    refuses; the report greenlet died and the worker's stop failed."""
    report = tmp_path / "report.json"
    code = f"""
        import datetime, json, os
        from mrq.config import get_config
        from mrq.context import set_current_config
        cfg = get_config(sources=(), config_type="worker")
        cfg["report_file"], cfg["max_memory"] = {str(report)!r}, 0
        set_current_config(cfg)
        from redis import lock; lock.LuaLock = lock.Lock
        from mrq.worker import Worker
        if os.environ.get("FIX"):
            from mrqlab import compat; compat.ujson_datetimes()
        w = Worker.__new__(Worker)  # just what report_worker uses
        w.id = "6b0af1980520e69ca69c68d4"
        w.get_worker_report = lambda with_memory=False: {{
            "status": "wait", "process": {{"mem": {{"total": 1}}}},
            "datestarted": datetime.datetime(2026, 1, 1),
            "datereported": datetime.datetime(2026, 1, 1, 0, 0, 1)}}
        class Workers:
            def update(self, *args, **kwargs): pass
        w.mongodb_jobs = type("Db", (), {{"mrq_workers": Workers()}})()
        w.report_worker()
        written = json.load(open({str(report)!r}))
        assert written["datestarted"] == 1767225600 and written["datereported"] == 1767225601, written
        print("OK")
    """
    without = run_py(code, with_fix=None)
    assert without.returncode != 0 and "is not JSON serializable" in without.stderr, without.stderr[-1500:]
    with_it = run_py(code, with_fix=None, env={"FIX": "1"})
    assert with_it.returncode == 0, with_it.stderr[-2000:]


@pytest.fixture(scope="module")
def http_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """An HTTP and an HTTPS server on loopback (a throw-away certificate for 127.0.0.1), and its CA."""
    tmp = tmp_path_factory.mktemp("tls")
    ca = make_ca(tmp / "ca")
    cert, key = make_cert(ca, tmp / "server", ["127.0.0.1"])

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"path={self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    secure = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    secure.socket = tls.wrap_socket(secure.socket, server_side=True)
    for server in (plain, secure):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{plain.server_port}", f"https://127.0.0.1:{secure.server_port}", ca.cert
    for server in (plain, secure):
        server.shutdown()


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
def test_trace_io_reports_urllib3_requests(http_servers: tuple[str, str, Path], secure: bool) -> None:
    """`--trace_io`: a job's HTTP call through urllib3 2 (requests) is the job's current
    I/O while it waits on the socket, with its method and URL; the response is intact."""
    plain, tls, cert = http_servers
    url = (tls if secure else plain) + "/get?y=z"
    code = f"""
        from mrq import monkey
        seen = []
        class Job:  # what MRQ's tracing reports to
            def set_current_io(self, io):
                seen.append(io)
        monkey.get_current_job = lambda: Job()
        monkey.patch_io_httplib({{}})
        import urllib3
        pool = urllib3.PoolManager(ca_certs={str(cert)!r})
        streamed = pool.request("GET", {url!r}, preload_content=False)
        assert streamed.read() == b"path=/get?y=z", streamed.data
        assert pool.request("GET", {url!r}).data == b"path=/get?y=z"
        assert {{"type": "http.get", "data": {{"url": {url!r}}}}} in seen, seen
        print("OK")
    """
    assert_fix(code, "trace_io_urllib3", "AssertionError: []")
