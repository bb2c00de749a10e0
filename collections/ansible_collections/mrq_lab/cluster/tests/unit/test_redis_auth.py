"""The auth file's requirepass round trip, and the RESP client against a real redis-server."""

import shutil

import pytest
from ansible_collections.mrq_lab.cluster.plugins.module_utils.redis_auth import (
    RedisError,
    Resp,
    escape,
    parse_requirepass,
    parse_tls_ca,
    sha256,
)
from pki import make_ca, make_cert
from redis_server import running

NASTY = 'pw @:/%#?"\\ x'


def test_requirepass_round_trips_through_the_file_format():
    text = f"# managed\nrequirepass {escape(NASTY)}\nuser mrq on #{sha256('x')} ~* +@all\n"
    assert parse_requirepass(text) == NASTY


def test_the_last_requirepass_wins_and_none_without_one():
    assert parse_requirepass('requirepass "a"\nrequirepass "b"\n') == "b"
    assert parse_requirepass("port 6379\n") is None


@pytest.fixture
def redis_port(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    with running(f"requirepass {escape(NASTY)}\n", tmp_path) as port:
        yield port


def test_the_client_authenticates_and_reads_every_reply_kind(redis_port):
    with Resp("127.0.0.1", redis_port) as conn:
        with pytest.raises(RedisError, match="NOAUTH"):
            conn.call("GET", "k")
        with pytest.raises(RedisError, match=r"WRONGPASS|invalid password"):
            conn.call("AUTH", "wrong")
        assert conn.call("AUTH", NASTY) == "OK"
        assert conn.call("SET", "k", "v a l") == "OK"
        assert conn.call("GET", "k") == "v a l"
        assert conn.call("GET", "missing") is None
        assert conn.call("INCR", "n") == 1
        conn.call(
            "ACL", "SETUSER", "mrq", "reset", "on", f"#{sha256('new')}", f"#{sha256('old')}", "~*", "+@all"
        )
        line = next(x for x in conn.call("ACL", "LIST") if x.startswith("user mrq "))
        assert f"#{sha256('new')}" in line and f"#{sha256('old')}" in line


def test_tls_is_read_from_the_configuration():
    assert parse_tls_ca("port 6379\n") is None
    assert parse_tls_ca("port 6379\ntls-port 0\n") is None
    assert (
        parse_tls_ca('port 0\ntls-port 6379\ntls-ca-cert-file "/etc/redis/tls/ca.crt"\n')
        == "/etc/redis/tls/ca.crt"
    )


def test_the_client_talks_tls_checking_the_ca(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    ca, other = make_ca(tmp_path / "ca"), make_ca(tmp_path / "other")
    cert, key = make_cert(ca, tmp_path / "server", ["cache1.example"])  # not loopback's name: not checked
    config = (
        f"requirepass {escape(NASTY)}\ntls-cert-file {cert}\ntls-key-file {key}\ntls-ca-cert-file {ca.cert}\n"
    )
    config += "tls-auth-clients no\n"
    with running(config, tmp_path, tls=True) as port:
        with Resp("127.0.0.1", port, tls_ca=str(ca.cert)) as conn:
            assert conn.call("AUTH", NASTY) == "OK"
        with pytest.raises(OSError, match="certificate verify failed"):
            Resp("127.0.0.1", port, tls_ca=str(other.cert))
        with pytest.raises(OSError), Resp("127.0.0.1", port) as plain:
            plain.call("AUTH", NASTY)
