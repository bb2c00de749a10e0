"""Certificates the user provides (PEM text), checked on the controller before any
change: the key is the certificate's, the CA signed it (when the role is given
the CA), it is valid now, it names the address a client connects to (parsed
as an address, or a DNS name), and it has what a strict verifier asks for
(Python 3.13's default TLS context: OpenSSL's X509_STRICT).
"""

from __future__ import annotations

import datetime
import ipaddress
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization


def _cert(pem: Any, label: str, problems: list[str]) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(str(pem).encode())
    except ValueError:
        problems.append(f"{label}: not a PEM certificate")
        return None


def _public(obj: Any) -> bytes:
    return obj.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def keypair_problems(prefix: str, cert_pem: Any, key_pem: Any) -> list[str]:
    """What is wrong with a server's certificate (PEM, intermediates may follow it)
    and key (`prefix`: the variables' prefix, e.g. mrq_dashboard_tls): each parses,
    the key is the certificate's, the certificate is valid now. Never shows the key."""
    problems: list[str] = []
    cert = _cert(cert_pem, f"{prefix}_cert", problems)
    try:
        key = serialization.load_pem_private_key(str(key_pem).encode(), password=None)
    except (ValueError, TypeError):
        problems.append(f"{prefix}_key: (value hidden) is not an unencrypted PEM private key")
        key = None
    if cert is not None and key is not None and _public(key) != _public(cert):
        problems.append(f"{prefix}_key: (value hidden) is not the key of {prefix}_cert")
    return problems + _expired(f"{prefix}_cert", cert)


def server_problems(prefix: str, ca_pem: Any, cert_pem: Any, key_pem: Any) -> list[str]:
    """keypair_problems, and the CA's (`{prefix}_ca_cert`): it parses, signed the
    certificate and is valid now."""
    problems = keypair_problems(prefix, cert_pem, key_pem)
    ca = _cert(ca_pem, f"{prefix}_ca_cert", problems)
    cert = _cert(cert_pem, f"{prefix}_cert", [])
    if cert is not None and ca is not None:
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature) as exc:  # InvalidSignature has no message
            problems.append(f"{prefix}_cert: not signed by {prefix}_ca_cert ({type(exc).__name__})")
    return problems + _expired(f"{prefix}_ca_cert", ca)


def _expired(label: str, cert: x509.Certificate | None) -> list[str]:
    now = datetime.datetime.now(datetime.timezone.utc)
    if cert is None or cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return []
    return [f"{label}: not valid now (valid {cert.not_valid_before_utc} to {cert.not_valid_after_utc})"]


def names(cert_pem: Any) -> list[str]:
    """The addresses and DNS names a certificate is for (subjectAltName)."""
    cert = x509.load_pem_x509_certificate(str(cert_pem).encode())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] + san.get_values_for_type(x509.DNSName)


def covers(cert_pem: Any, address: str) -> bool:
    """Whether a client connecting to `address` accepts the certificate's name
    (an IP address must be listed as one; a name matches a name, `*.` one label)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        ip = None
    for name in names(cert_pem):
        if ip is not None:
            try:
                if ipaddress.ip_address(name) == ip:
                    return True
            except ValueError:
                continue
        elif name.lower() == address.lower() or (
            name.startswith("*.") and address.lower().partition(".")[2] == name[2:].lower()
        ):
            return True
    return False


def _extension(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.Extension[Any] | None:
    try:
        return cert.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


def strict_problems(prefix: str, ca_pem: Any, cert_pem: Any) -> list[str]:
    """What a strict verifier (OpenSSL's X509_STRICT, which Python 3.13's default
    TLS context sets) refuses in a CA (`{prefix}_ca_cert`) and the server
    certificate it signed (`{prefix}_cert`), which a lenient one accepts."""
    problems: list[str] = []
    ca = _cert(ca_pem, f"{prefix}_ca_cert", problems)
    cert = _cert(cert_pem, f"{prefix}_cert", problems)
    if ca is not None:
        label = f"{prefix}_ca_cert"
        basic = _extension(ca, x509.BasicConstraints)
        if basic is None or not basic.critical:
            problems.append(f"{label}: its basicConstraints (CA:TRUE) is missing or not critical")
        usage = _extension(ca, x509.KeyUsage)
        if usage is None or not usage.value.key_cert_sign:
            problems.append(f"{label}: no keyUsage extension with keyCertSign")
        if _extension(ca, x509.SubjectKeyIdentifier) is None:
            problems.append(f"{label}: no subjectKeyIdentifier")
    if cert is not None and _extension(cert, x509.AuthorityKeyIdentifier) is None:
        problems.append(f"{prefix}_cert: no authorityKeyIdentifier")
    return problems
