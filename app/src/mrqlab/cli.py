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
    _prepare()
    from mrq.bin.mrq_worker import main

    main()


def run() -> None:
    _prepare()
    from mrq.bin.mrq_run import main

    main()


def dashboard() -> None:
    """MRQ's dashboard (Flask) on gevent's WSGI server, not Werkzeug's development
    server (MRQ's own `app.run()`): one greenlet per request; SIGTERM stops it."""
    _prepare()
    import signal

    import gevent
    from gevent.pywsgi import WSGIServer
    from mrq.dashboard import app as dashboard_app  # reads the config at import

    from mrqlab import compat

    compat.dashboard_app(dashboard_app.app)
    cfg = dashboard_app.cfg
    server = WSGIServer((cfg["dashboard_ip"], int(cfg["dashboard_port"])), dashboard_app.app)
    gevent.signal_handler(signal.SIGTERM, server.stop)
    server.serve_forever()
