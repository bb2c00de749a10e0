"""Throw-away certificates for tests and the demo: a CA and certificates it signs
(openssl's command line, EC P-256, valid for a day unless told). Never for production.

    ca = make_ca(tmp_path / "ca")                      # ca.crt, ca.key
    crt, key = make_cert(ca, tmp_path / "redis", ["127.0.0.1", "cache1.example"])

    pki.py DIR NAME...                 a new CA in DIR/ca, DIR/server/server.{crt,key} for NAMEs
    pki.py --add SUB DIR NAME...       DIR/SUB/server.{crt,key}, signed by the CA already in DIR/ca
    pki.py --days N ...                valid N days (default 1)
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


def make_ca(directory: Path, name: str = "mrq-lab test CA", days: int = 1) -> CA:
    directory.mkdir(parents=True, exist_ok=True)
    ca = CA(directory / "ca.crt", directory / "ca.key")
    subject = ["-subj", f"/CN={name}"]
    # Python 3.13 verifies strictly (VERIFY_X509_STRICT): a CA needs its key usage.
    # (openssl.cnf's v3_ca gives basicConstraints; OpenSSL 1.1 would repeat it if added.)
    usage = ["-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    keys = ["-keyout", str(ca.key), "-out", str(ca.cert)]
    _openssl("req", "-x509", *EC, "-days", str(days), *subject, *usage, *keys)
    return ca


def _san(name: str) -> str:
    try:
        return f"IP:{ipaddress.ip_address(name)}"
    except ValueError:
        return f"DNS:{name}"


def make_cert(ca: CA, directory: Path, names: list[str], days: int = 1) -> tuple[Path, Path]:
    """A server certificate for `names` (addresses and host names), signed by `ca`."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key, csr, ext = (directory / n for n in ("server.crt", "server.key", "server.csr", "san.ext"))
    # What a strict verifier (Python 3.13) asks of a server certificate besides its names.
    ext.write_text(
        f"subjectAltName={','.join(map(_san, names))}\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid:always\n"
    )
    _openssl("req", *EC, "-subj", f"/CN={names[0]}", "-keyout", str(key), "-out", str(csr))
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key), "-CAcreateserial",
        "-days", str(days), "-extfile", str(ext), "-out", str(cert),
    )  # fmt: skip
    return cert, key


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Throw-away certificates (tests/pki.py).")
    parser.add_argument("directory", type=Path)
    parser.add_argument("names", nargs="+", help="addresses and host names the certificate is for")
    parser.add_argument(
        "--add", metavar="SUB", help="sign with the CA already in DIRECTORY/ca, into DIRECTORY/SUB"
    )
    parser.add_argument("--days", type=int, default=1)
    args = parser.parse_args(argv)
    ca_dir = args.directory / "ca"
    if args.add:
        ca = CA(ca_dir / "ca.crt", ca_dir / "ca.key")
        if not ca.key.exists():
            parser.error(f"{ca.key} does not exist: make the CA first (without --add)")
    else:
        ca = make_ca(ca_dir, days=args.days)
    out = args.directory / (args.add or "server")
    make_cert(ca, out, args.names, days=args.days)
    print(f"made {out}/server.crt for {', '.join(args.names)}, signed by {ca.cert}")


if __name__ == "__main__":
    main()
