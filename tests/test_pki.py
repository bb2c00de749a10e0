"""tests/pki.py's command line: a CA and a server certificate, then another one
signed by the same CA (the cluster scenario's Redis and dashboard), for N days."""

from __future__ import annotations

import datetime
from pathlib import Path

import pki
from cryptography import x509


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_a_ca_and_two_certificates_it_signs(tmp_path: Path) -> None:
    pki.main([str(tmp_path), "10.0.0.1", "127.0.0.1"])
    pki.main(["--add", "dashboard", "--days", "30", str(tmp_path), "10.0.0.2"])
    ca = load(tmp_path / "ca/ca.crt")
    redis, dashboard = load(tmp_path / "server/server.crt"), load(tmp_path / "dashboard/server.crt")
    redis.verify_directly_issued_by(ca)
    dashboard.verify_directly_issued_by(ca)
    san = dashboard.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.2"]
    lifetime = dashboard.not_valid_after_utc - dashboard.not_valid_before_utc
    assert lifetime == datetime.timedelta(days=30)
    assert (tmp_path / "dashboard/server.key").exists()
