"""Certificates for TLS tests, made by the openssl CLI: a CA, the broker's, a client's."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CertificateFiles:
    ca_file: Path
    broker_cert: Path
    broker_key: Path
    client_cert: Path
    client_key: Path
    other_ca_file: Path


def find_openssl() -> str | None:
    return shutil.which("openssl")


def make_certificates(folder: Path) -> CertificateFiles:
    """A CA; a broker certificate for 127.0.0.1 and a client certificate signed by it; and
    a second, unrelated CA (what a client trusting the wrong CA holds)."""
    openssl = find_openssl()
    if openssl is None:
        raise RuntimeError("openssl is not installed")
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=folder)

    for ca in ("ca", "other-ca"):
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            f"/CN=vpp test {ca}", "-keyout", f"{ca}.key", "-out", f"{ca}.crt")  # fmt: skip
    (folder / "broker.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, subject, ext in (
        ("broker", "/CN=127.0.0.1", ["-extfile", "broker.ext"]),
        ("client", "/CN=vpp-controller", []),
    ):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
            "-keyout", f"{name}.key", "-out", f"{name}.csr")  # fmt: skip
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", *ext)  # fmt: skip
    return CertificateFiles(
        ca_file=folder / "ca.crt",
        broker_cert=folder / "broker.crt",
        broker_key=folder / "broker.key",
        client_cert=folder / "client.crt",
        client_key=folder / "client.key",
        other_ca_file=folder / "other-ca.crt",
    )
