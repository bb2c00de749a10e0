"""Entry points wrapping MRQ's own: gevent first, then the compat fixes, then MRQ.

Installed as mrqlab-worker / mrqlab-run / mrqlab-dashboard; the mrq role puts
`mrq-worker`, `mrq-run` and `mrq-dashboard` wrappers on the hosts' PATH, so the
original commands keep working.
"""

from __future__ import annotations

import os


def _prepare() -> None:
    # As mrq_worker does: monkey-patch before anything opens a socket.
    os.environ.setdefault("GEVENT_RESOLVER", "ares")
    from gevent import monkey

    monkey.patch_all()
    from mrqlab import compat

    compat.apply()


def worker() -> None:
    import sys

    from mrqlab.raw import resolve_processes

    sys.argv = resolve_processes(sys.argv)
    _prepare()
    from mrq.bin.mrq_worker import main

    main()


def run() -> None:
    _prepare()
    from mrq.bin.mrq_run import main

    main()


def dashboard() -> None:
    """MRQ's dashboard (Flask) on gevent's WSGI server, not Werkzeug's development
    server (MRQ's own `app.run()`): one greenlet per request; SIGTERM stops it.

    It serves on the socket systemd passed (mrq-dashboard.socket, behind nginx),
    else on DASHBOARD_IP:DASHBOARD_PORT. With MRQLAB_DASHBOARD_LISTEN=systemd (the
    unit sets it then) a missing socket is an error, never a fallback to TCP."""
    _prepare()
    import signal

    import gevent
    from gevent.pywsgi import WSGIServer
    from mrq.dashboard import app as dashboard_app  # reads the config at import

    from mrqlab import compat
    from mrqlab.activation import systemd_listener

    compat.dashboard_app(dashboard_app.app)
    cfg = dashboard_app.cfg
    listener = systemd_listener()
    if listener is None and os.environ.get("MRQLAB_DASHBOARD_LISTEN") == "systemd":
        raise SystemExit("mrqlab-dashboard: no socket from systemd (mrq-dashboard.socket); no TCP either")
    address = (cfg["dashboard_ip"], int(cfg["dashboard_port"]))
    server = WSGIServer(listener if listener is not None else address, dashboard_app.app)
    gevent.signal_handler(signal.SIGTERM, server.stop)
    server.serve_forever()
