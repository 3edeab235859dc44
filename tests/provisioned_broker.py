"""A Mosquitto that enforces what ``vpp gateways provision`` wrote, and outside clients.

The folder is provisioned the way the CLI does it; the broker is the real one with that
password file and ACL. ``mosquitto_pub``/``mosquitto_sub`` (Debian's mosquitto-clients)
play the outsider.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from mosquitto_broker import BrokerTls, MosquittoBroker
from vpp.device_adapters.mqtt import ClientAuth, Login, TlsFiles
from vpp.device_adapters.mqtt.broker_files import (
    IssuedCredentials,
    plan_users,
    read_client_credentials,
    write_broker_files,
    write_credentials,
)

#: How long an outside client may take to connect, publish and leave [s].
CLIENT_TIMEOUT_S = 20


def provision(folder: Path, site_ids: list[str]) -> dict[str, IssuedCredentials]:
    """Provision ``folder`` for these sites; every account by client id."""
    users, issued = plan_users(site_ids, {})
    write_broker_files(folder, users)
    for credentials in issued:
        write_credentials(folder, credentials)
    return read_client_credentials(folder)


def acl_broker(
    workdir: Path, site_ids: list[str], tls: BrokerTls | None = None
) -> tuple[MosquittoBroker, dict[str, IssuedCredentials]]:
    """A started broker enforcing a freshly provisioned folder (``workdir/auth``)."""
    folder = workdir / "auth"
    accounts = provision(folder, site_ids)
    broker = MosquittoBroker(
        workdir, password_file=folder / "passwd", acl_file=folder / "acl", tls=tls
    ).start()
    return broker, accounts


def client_auth(accounts: dict[str, IssuedCredentials], tls: TlsFiles | None = None) -> ClientAuth:
    return ClientAuth(
        logins={c: Login(a.username, a.password) for c, a in accounts.items()}, tls=tls
    )


def find_mosquitto_pub() -> str | None:
    return shutil.which("mosquitto_pub")


def mosquitto_pub(
    port: int, topic: str, payload: str, account: IssuedCredentials | None
) -> subprocess.CompletedProcess[str]:
    """Publish once as an outsider (MQTT 5, QoS 1, so a refusal is reported back)."""
    binary = find_mosquitto_pub()
    assert binary is not None, "mosquitto_pub is not installed (Debian: mosquitto-clients)"
    login = [] if account is None else ["-u", account.username, "-P", account.password]
    return subprocess.run(
        [
            binary,
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-V",
            "5",
            "-q",
            "1",
            "-t",
            topic,
            "-m",
            payload,
            *login,
        ],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
        check=False,
    )
