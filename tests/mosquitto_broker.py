"""A private Mosquitto for broker tests: its own config, a free port on 127.0.0.1, restartable.

Retained messages survive :meth:`MosquittoBroker.restart` (persistence on, as in service),
so a restart behaves like the in-memory broker's. Given a provisioned password file and ACL
it refuses anonymous clients and enforces the ACL; given TLS files it also listens over TLS
on :attr:`MosquittoBroker.tls_port`. Also the small helpers pub/sub tests share.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: How long a broker may take to accept connections after it is started [s].
START_TIMEOUT_S = 10.0


def find_mosquitto() -> str | None:
    """The broker binary: on PATH, or where Debian installs it."""
    found = shutil.which("mosquitto")
    if found is not None:
        return found
    return "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique_site_id(test_name: str) -> str:
    """A site id (a slug) derived from a test's name, so tests never hear each other."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", test_name.lower()).strip("-_")
    return (slug or "site")[:64]


async def wait_until(predicate: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    """Poll until ``predicate()`` holds; fail the test saying ``what`` did not happen."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.005)


@dataclass(frozen=True)
class BrokerTls:
    """The broker's side of TLS: the CA it trusts for client certificates, its own pair."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    require_certificate: bool = False


class MosquittoBroker:
    """One ``mosquitto`` process listening on 127.0.0.1:``port``.

    Anonymous access is allowed unless ``password_file`` is given; then every client logs
    in, ``acl_file`` (if given) says what each user may do, and a client's id is its username.
    With ``tls`` a second listener on 127.0.0.1:``tls_port`` speaks MQTT over TLS.
    """

    def __init__(
        self,
        workdir: Path,
        binary: str | None = None,
        *,
        password_file: Path | None = None,
        acl_file: Path | None = None,
        tls: BrokerTls | None = None,
    ) -> None:
        found = binary or find_mosquitto()
        if found is None:
            raise RuntimeError(
                "mosquitto is not installed: run `make install` (it installs the broker the "
                "broker tests need)"
            )
        self.binary = found
        self.workdir = workdir
        self.port = free_port()
        self.config = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        self.tls_port = free_port() if tls is not None else None
        lines = ["per_listener_settings false"]
        if password_file is None:
            lines.append("allow_anonymous true")
        else:
            lines += [
                "allow_anonymous false",
                f"password_file {password_file}",
            ]
        if acl_file is not None:
            lines.append(f"acl_file {acl_file}")
        # listener options apply to the listener above them (before any: a default on 1883)
        per_listener = ["use_username_as_clientid true"] if password_file is not None else []
        lines += [f"listener {self.port} 127.0.0.1", *per_listener]
        if tls is not None:
            lines += [
                f"listener {self.tls_port} 127.0.0.1",
                *per_listener,
                f"cafile {tls.ca_file}",
                f"certfile {tls.cert_file}",
                f"keyfile {tls.key_file}",
                f"require_certificate {'true' if tls.require_certificate else 'false'}",
            ]
        lines += [
            "persistence true",
            f"persistence_location {workdir}/",
            "log_dest stderr",
            "log_type all",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to `mosquitto`, who cannot write workdir
        self.config.write_text("\n".join(lines) + "\n")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        """``mqtts://127.0.0.1:{tls_port}``; only for a broker started with ``tls``."""
        if self.tls_port is None:
            raise RuntimeError("this broker has no TLS listener")
        return f"mqtts://127.0.0.1:{self.tls_port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> MosquittoBroker:
        """Start the broker and wait until it accepts connections."""
        if self.running:
            return self
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [self.binary, "-c", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"mosquitto exited with {self._process.returncode}:\n{self.log_text()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.01)
        self.stop()
        raise RuntimeError(
            f"mosquitto did not listen within {START_TIMEOUT_S} s:\n{self.log_text()}"
        )

    def stop(self) -> None:
        """Terminate the broker (every client loses its connection) and wait for it to exit."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL the broker (``kill -9``): no goodbye, no wills, sockets reset by the OS."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def restart(self) -> MosquittoBroker:
        """Stop, then start again on the same port."""
        self.stop()
        return self.start()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
