"""Where the sandbox keeps its state and how its network is laid out.

Shared by every module; the golden image's recipe is in image.py.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

STATE = Path(os.environ.get("MRQ_SANDBOX_STATE", "/var/lib/mrq-sandbox"))
CACHE = Path(os.environ.get("MRQ_SANDBOX_CACHE", "/var/cache/mrq-sandbox"))
# Held while a command changes what hosts share (common.exclusive), and while
# a golden rootfs is built (image.build_image).
LOCK = STATE / "lock"
IMAGE_LOCK = STATE / "image.lock"
BRIDGE = "mrqsb0"
SUBNET = ipaddress.ip_network("10.231.7.0/24")
GATEWAY = SUBNET.network_address + 1  # the controller's address on the bridge
FIRST_HOST = 10
NFT_TABLE = "mrq_sandbox"
CGROUP_NAME = "mrq-sandbox"
# Hybrid hierarchy (this project's machines): name=systemd + unified; a pure
# cgroup2 machine has a single hierarchy.
CGROUP_ROOTS = (
    (Path("/sys/fs/cgroup"),)
    if Path("/sys/fs/cgroup/cgroup.controllers").exists()
    else (Path("/sys/fs/cgroup/systemd"), Path("/sys/fs/cgroup/unified"))
)
WWW_PORT = 8080
PROXY_PORT = 13142  # not 3142: a system apt-cacher-ng may hold it
SSH_OPTS = (
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=5",
)
