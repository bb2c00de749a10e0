"""Certificates a user provides: refused before any change when they cannot work."""

from __future__ import annotations

import subprocess

import pytest
from ansible_collections.mrq_lab.cluster.plugins.module_utils.tls import (
    covers,
    keypair_problems,
    names,
    server_problems,
    strict_problems,
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


def test_the_throw_away_pki_passes_a_strict_verifier(pki):
    assert strict_problems("redis_tls", pki["ca"], pki["cert"]) == []


def test_a_ca_and_certificate_made_without_extensions_are_refused_strictly(tmp_path):
    """openssl's plain commands (as the example's README once said): Python 3.13 refuses them."""
    ca_key, ca_crt, key, csr, crt = (tmp_path / n for n in ("ca.key", "ca.crt", "s.key", "s.csr", "s.crt"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    config = tmp_path / "empty.cnf"
    config.write_text("[req]\ndistinguished_name = dn\n[dn]\n")  # no v3_ca defaults
    openssl = ["openssl", "req", "-config", str(config)]
    subprocess.run([*openssl, "-x509", *ec, "-subj", "/CN=ca", "-keyout", ca_key, "-out", ca_crt], check=True)
    subprocess.run([*openssl, *ec, "-subj", "/CN=s", "-keyout", key, "-out", csr], check=True)
    subprocess.run(
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca_crt,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            crt,
        ],
        check=True,
        capture_output=True,
    )
    assert strict_problems("redis_tls", ca_crt.read_text(), crt.read_text()) == [
        "redis_tls_ca_cert: its basicConstraints (CA:TRUE) is missing or not critical",
        "redis_tls_ca_cert: no keyUsage extension with keyCertSign",
        "redis_tls_ca_cert: no subjectKeyIdentifier",
        "redis_tls_cert: no authorityKeyIdentifier",
    ]


def test_strict_checks_do_not_take_garbage():
    assert strict_problems("mongodb_tls", "x", "y") == [
        "mongodb_tls_ca_cert: not a PEM certificate",
        "mongodb_tls_cert: not a PEM certificate",
    ]
