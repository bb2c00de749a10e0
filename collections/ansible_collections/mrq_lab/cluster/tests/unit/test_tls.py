"""Certificates a user provides: refused before any change when they cannot work."""

from __future__ import annotations

import pytest
from ansible_collections.mrq_lab.cluster.plugins.module_utils.tls import (
    covers,
    keypair_problems,
    names,
    server_problems,
)
from pki import make_ca, make_cert


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pki")
    ca, other = make_ca(tmp / "ca"), make_ca(tmp / "other")
    cert, key = make_cert(ca, tmp / "server", ["10.0.10.10", "cache1.example.internal", "127.0.0.1"])
    stranger, stranger_key = make_cert(other, tmp / "stranger", ["10.0.10.10"])
    read = lambda p: p.read_text()  # noqa: E731
    return {
        "ca": read(ca.cert),
        "cert": read(cert),
        "key": read(key),
        "other_ca": read(other.cert),
        "stranger": read(stranger),
        "stranger_key": read(stranger_key),
    }


def test_a_matching_set_passes(pki):
    assert server_problems("redis_tls", pki["ca"], pki["cert"], pki["key"]) == []


@pytest.mark.parametrize(
    ("ca", "cert", "key", "problem"),
    [
        ("other_ca", "cert", "key", "redis_tls_cert: not signed by redis_tls_ca_cert"),
        ("ca", "cert", "stranger_key", "redis_tls_key: (value hidden) is not the key of redis_tls_cert"),
        ("ca", "stranger", "stranger_key", "not signed by"),
        ("ca", "key", "key", "redis_tls_cert: not a PEM certificate"),
        ("ca", "cert", "cert", "redis_tls_key: (value hidden) is not an unencrypted PEM private key"),
        (None, "cert", "key", "redis_tls_ca_cert: not a PEM certificate"),
    ],
)
def test_sets_that_cannot_work_are_refused(pki, ca, cert, key, problem):
    found = server_problems("redis_tls", pki.get(ca, ""), pki[cert], pki[key])
    assert any(problem in p for p in found), found
    assert all("PRIVATE KEY" not in p for p in found)


def test_a_certificate_and_its_key_without_a_ca(pki):
    """mrq_dashboard_tls: no CA variable; the certificate may be followed by its chain."""
    assert keypair_problems("mrq_dashboard_tls", pki["cert"] + pki["ca"], pki["key"]) == []
    found = keypair_problems("mrq_dashboard_tls", pki["cert"], pki["stranger_key"])
    assert found == ["mrq_dashboard_tls_key: (value hidden) is not the key of mrq_dashboard_tls_cert"]


def test_names_and_addresses_a_certificate_covers(pki):
    assert names(pki["cert"]) == ["10.0.10.10", "127.0.0.1", "cache1.example.internal"]
    assert covers(pki["cert"], "10.0.10.10")
    assert covers(pki["cert"], "CACHE1.example.internal")
    assert not covers(pki["cert"], "10.0.10.11")
    assert not covers(pki["cert"], "::1")
    assert not covers(pki["stranger"], "127.0.0.1")
