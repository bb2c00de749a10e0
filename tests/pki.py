"""Throw-away certificates for tests: a CA and certificates it signs (openssl's
command line, EC P-256, valid for a day). Never for production.

    ca = make_ca(tmp_path / "ca")                      # ca.crt, ca.key
    crt, key = make_cert(ca, tmp_path / "redis", ["127.0.0.1", "cache1.example"])
"""

from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


@dataclass(frozen=True)
class CA:
    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(directory: Path, name: str = "mrq-lab test CA") -> CA:
    directory.mkdir(parents=True, exist_ok=True)
    ca = CA(directory / "ca.crt", directory / "ca.key")
    subject = ["-subj", f"/CN={name}"]
    _openssl("req", "-x509", *EC, "-days", "1", *subject, "-keyout", str(ca.key), "-out", str(ca.cert))
    return ca


def _san(name: str) -> str:
    try:
        return f"IP:{ipaddress.ip_address(name)}"
    except ValueError:
        return f"DNS:{name}"


def make_cert(ca: CA, directory: Path, names: list[str]) -> tuple[Path, Path]:
    """A server certificate for `names` (addresses and host names), signed by `ca`."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key, csr, ext = (directory / n for n in ("server.crt", "server.key", "server.csr", "san.ext"))
    ext.write_text(f"subjectAltName={','.join(map(_san, names))}\n")
    _openssl("req", *EC, "-subj", f"/CN={names[0]}", "-keyout", str(key), "-out", str(csr))
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key), "-CAcreateserial",
        "-days", "1", "-extfile", str(ext), "-out", str(cert),
    )  # fmt: skip
    return cert, key


def main() -> None:
    """pki.py DIR LABEL=NAME[,NAME...]...: a new CA (DIR/ca/ca.crt) and, for each
    LABEL, DIR/LABEL/server.{crt,key} for its NAMEs. pki.py DIR NAME...: one
    certificate, DIR/server/server.{crt,key}."""
    import sys

    if len(sys.argv) < 3:
        raise SystemExit(main.__doc__)
    directory, args = Path(sys.argv[1]), sys.argv[2:]
    labelled = all("=" in a for a in args)
    servers = dict(a.split("=", 1) for a in args) if labelled else {"server": ",".join(args)}
    ca = make_ca(directory / "ca")
    for label, names in servers.items():
        make_cert(ca, directory / label, names.split(","))
        print(f"made {directory}/{label}/server.crt for {names}")


if __name__ == "__main__":
    main()
