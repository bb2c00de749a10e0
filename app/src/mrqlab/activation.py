"""The listening socket systemd hands a service (socket activation), as
sd_listen_fds(3) reads it: `LISTEN_PID` is this process, `LISTEN_FDS` counts
the sockets, the first is file descriptor 3.

With `mrq_dashboard_tls`, mrq-dashboard.socket (a Unix socket only nginx and
root may connect to) is the dashboard's only way in: it opens no TCP port.
"""

from __future__ import annotations

import os
import socket
from collections.abc import MutableMapping

LISTEN_FDS_START = 3  # SD_LISTEN_FDS_START


class ActivationError(RuntimeError):
    """systemd passed sockets this process cannot serve on."""


def systemd_listener(
    environ: MutableMapping[str, str] | None = None, pid: int | None = None
) -> socket.socket | None:
    """The socket systemd passed to this process, or None when it passed none
    (variables absent, or set for another process: LISTEN_PID is not `pid`).

    The variables are removed either way (sd_listen_fds' unset_environment), so
    that a child process never takes the socket for its own. One socket only.
    """
    environ = os.environ if environ is None else environ
    listen_pid = environ.pop("LISTEN_PID", "")
    listen_fds = environ.pop("LISTEN_FDS", "")
    environ.pop("LISTEN_FDNAMES", None)
    if not listen_pid.isdigit() or int(listen_pid) != (os.getpid() if pid is None else pid):
        return None
    count = int(listen_fds) if listen_fds.isdigit() else 0
    if count == 0:
        return None
    if count != 1:
        raise ActivationError(f"systemd passed {count} sockets (LISTEN_FDS); the dashboard serves one")
    listener = socket.socket(fileno=LISTEN_FDS_START)  # family and type read from the descriptor
    listener.set_inheritable(False)
    if listener.type != socket.SOCK_STREAM:
        raise ActivationError(f"systemd passed a {listener.type.name} socket; the dashboard serves a stream")
    return listener
