"""Redis over TLS (rediss://): MRQ's connections check the server's certificate
against the CA given in the URI and its name against the host; a plain client,
one that trusts another CA and one that names another host are all refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PASSWORD
from mrqlab.uris import redis_uri
from pki import make_ca, make_cert
from redis_server import running
from test_compat import mrq_context, run_py


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, Path]]:
    """A TLS-only redis-server on loopback (certificate for 127.0.0.1), its CA and another CA."""
    tmp = tmp_path_factory.mktemp("tls-redis")
    ca = make_ca(tmp / "ca")
    other = make_ca(tmp / "other", name="someone else's CA")
    cert, key = make_cert(ca, tmp / "server", ["127.0.0.1"])
    config = (
        f'requirepass "{PASSWORD}"\ntls-cert-file {cert}\ntls-key-file {key}\n'
        f"tls-ca-cert-file {ca.cert}\ntls-auth-clients no\n"
    )
    with running(config, tmp, tls=True) as port:
        yield port, ca.cert, other.cert


def mrq_redis(uri: str) -> str:
    """MRQ's own connection (compat's client, through the import hook) writes and reads."""
    code = """
        from mrq.context import connections
        connections.redis.set("tls:probe", "over TLS")
        assert connections.redis.get("tls:probe") == b"over TLS"
        print("OK")
    """
    result = run_py(mrq_context(uri, code=code), with_fix=None, env={"MRQLAB_COMPAT": "on"})
    return "OK" if result.returncode == 0 and "OK" in result.stdout else result.stderr[-1500:]


def test_mrq_connects_over_tls_checking_the_certificate(tls_redis: tuple[int, Path, Path]) -> None:
    port, ca, _ = tls_redis
    assert mrq_redis(redis_uri("127.0.0.1", port, PASSWORD, tls=True, ca_file=str(ca))) == "OK"


def test_a_server_certificate_from_another_ca_is_refused(tls_redis: tuple[int, Path, Path]) -> None:
    port, _, other = tls_redis
    uri = redis_uri("127.0.0.1", port, PASSWORD, tls=True, ca_file=str(other))
    assert "certificate verify failed" in mrq_redis(uri)


def test_a_certificate_for_another_name_is_refused(tls_redis: tuple[int, Path, Path]) -> None:
    port, ca, _ = tls_redis  # the certificate names 127.0.0.1, not localhost
    uri = redis_uri("localhost", port, PASSWORD, tls=True, ca_file=str(ca))
    assert "certificate verify failed" in mrq_redis(uri)


def test_a_plain_connection_to_the_tls_port_fails(tls_redis: tuple[int, Path, Path]) -> None:
    port, _, _ = tls_redis
    assert "Connection reset by peer" in mrq_redis(redis_uri("127.0.0.1", port, PASSWORD))
