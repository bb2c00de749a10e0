"""sniff.py sees what it is meant to catch: a Redis password sent in clear on a
plain link, none on a TLS link, nothing of another server's traffic (all on
loopback, real redis-servers)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "tests"))
from pki import make_ca, make_cert  # noqa: E402
from redis_server import running  # noqa: E402

SECRET = "sniff-me if you can 42"
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("redis-cli"), reason="needs root (AF_PACKET) and redis-cli"
)


def sniff_while_logging_in(port: int, tmp_path: Path, tls_args: list[str], server: str = "127.0.0.1") -> dict:
    secrets = tmp_path / "secrets"
    secrets.write_text(SECRET + "\n")
    sniffer = subprocess.Popen(
        [sys.executable, str(HERE / "sniff.py"), "lo", server, str(port), "2", str(secrets)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(0.5)
    env = {**os.environ, "REDISCLI_AUTH": SECRET}
    pong = subprocess.run(
        ["redis-cli", "-p", str(port), *tls_args, "PING"], env=env, capture_output=True, text=True
    )
    assert pong.stdout.strip() == "PONG", pong.stderr
    return json.loads(sniffer.communicate(timeout=10)[0])


def test_a_plain_link_shows_the_password(tmp_path: Path) -> None:
    with running(f'requirepass "{SECRET}"\n', tmp_path) as port:
        seen = sniff_while_logging_in(port, tmp_path, [])
    assert seen["secrets_in_clear"] == 1 and seen["plain_resp"] > 0 and seen["tls_records"] == 0, seen


def test_a_tls_link_does_not(tmp_path: Path) -> None:
    ca = make_ca(tmp_path / "ca")
    cert, key = make_cert(ca, tmp_path / "server", ["127.0.0.1"])
    config = f'requirepass "{SECRET}"\ntls-cert-file {cert}\ntls-key-file {key}\ntls-ca-cert-file {ca.cert}\n'
    with running(config + "tls-auth-clients no\n", tmp_path, tls=True) as port:
        seen = sniff_while_logging_in(port, tmp_path, ["--tls", "--cacert", str(ca.cert)])
    assert seen["secrets_in_clear"] == 0 and seen["plain_resp"] == 0 and seen["tls_records"] > 0, seen


def test_another_servers_traffic_is_left_out(tmp_path: Path) -> None:
    with running(f'requirepass "{SECRET}"\n', tmp_path) as port:
        seen = sniff_while_logging_in(port, tmp_path, [], server="127.0.0.2")
    assert seen["segments_with_data"] == 0 and seen["secrets_in_clear"] == 0, seen
