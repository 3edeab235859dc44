"""Provisioning: the broker's password file, ACL and config, and each gateway's credentials.

Layout of a provisioned folder (what ``vpp gateways provision`` and ``vpp serve
--broker-files`` write, and ``vpp simulate --mqtt-auth`` reads)::

    passwd                  Mosquitto password file, $7$ hashes only (0600)
    acl                     Mosquitto ACL file (see vpp.device_adapters.mqtt.acl)
    mosquitto.conf          a broker config using both, TLS listener as a template
    controller.password     the controller's password, for --mqtt-password-file (0600)
    gateways/{site_id}.json one site's gateway: username, password, client id (0600)

Re-provisioning keeps every user whose hash is already known (its gateway keeps working),
adds users for new sites, drops users of sites that are gone, and issues new passwords to
everyone only when asked to rotate.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from vpp.device_adapters.mqtt.acl import CONTROLLER_USERNAME, acl_text, gateway_username
from vpp.device_adapters.mqtt.passwords import hash_password, new_password
from vpp.domain import VppError

PASSWORD_FILE = "passwd"
ACL_FILE = "acl"
CONFIG_FILE = "mosquitto.conf"
CONTROLLER_PASSWORD_FILE = "controller.password"
GATEWAYS_DIR = "gateways"


class CredentialsError(VppError, ValueError):
    """A credentials file or folder that cannot be used."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class BrokerUser:
    """A broker account as the broker knows it: only the hash. ``site_id`` None = controller."""

    username: str
    password_hash: str
    site_id: str | None


@dataclass(frozen=True)
class IssuedCredentials:
    """A newly issued account with its password in clear: shown or written once, never kept."""

    username: str
    password: str
    site_id: str | None

    @property
    def client_id(self) -> str:
        """The MQTT client id to connect with (the broker enforces it equals the username)."""
        return self.username

    def as_json(self) -> dict[str, str | None]:
        return {
            "username": self.username,
            "password": self.password,
            "client_id": self.client_id,
            "site_id": self.site_id,
        }


def issue(site_id: str | None) -> tuple[BrokerUser, IssuedCredentials]:
    """New credentials for a site's gateway (or the controller when ``site_id`` is None)."""
    username = CONTROLLER_USERNAME if site_id is None else gateway_username(site_id)
    password = new_password()
    return (
        BrokerUser(username, hash_password(password), site_id),
        IssuedCredentials(username, password, site_id),
    )


def plan_users(
    site_ids: Iterable[str],
    known: Mapping[str, str],
    *,
    rotate: bool = False,
    issue_to: Collection[str] | None = None,
) -> tuple[list[BrokerUser], list[IssuedCredentials]]:
    """Every account the broker needs (controller first), and those issued now.

    ``known`` maps usernames to hashes already provisioned; they are kept unless ``rotate``.
    An account that is missing is issued, unless ``issue_to`` names the only sites that
    may get one now (then the controller and the other sites stay without).
    """
    users: list[BrokerUser] = []
    issued: list[IssuedCredentials] = []
    for site_id in [None, *sorted(set(site_ids))]:
        username = CONTROLLER_USERNAME if site_id is None else gateway_username(site_id)
        if username in known and not rotate:
            users.append(BrokerUser(username, known[username], site_id))
            continue
        if issue_to is not None and (site_id is None or site_id not in issue_to):
            continue
        user, credentials = issue(site_id)
        users.append(user)
        issued.append(credentials)
    return users, issued


def read_password_file(path: Path) -> dict[str, str]:
    """Usernames and hashes of a Mosquitto password file; {} when there is none yet."""
    if not path.exists():
        return {}
    known = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        username, sep, hashed = line.partition(":")
        if not sep or not hashed.startswith("$7$"):
            raise CredentialsError(path, f"line {number}: expected username:$7$...")
        known[username] = hashed
    return known


def write_broker_files(out: Path, users: Iterable[BrokerUser]) -> list[Path]:
    """Write the password file, ACL and config for these users into ``out``."""
    users = list(users)
    out.mkdir(parents=True, exist_ok=True)
    passwd = out / PASSWORD_FILE
    _write_private(passwd, "".join(f"{u.username}:{u.password_hash}\n" for u in users))
    acl = out / ACL_FILE
    site_ids = [u.site_id for u in users if u.site_id is not None]
    controllers = [u.username for u in users if u.site_id is None]
    _write_atomic(acl, acl_text(site_ids, controllers[0] if controllers else CONTROLLER_USERNAME))
    config = out / CONFIG_FILE
    _write_atomic(config, config_text(passwd.resolve(), acl.resolve()))
    return [passwd, acl, config]


def write_credentials(out: Path, credentials: IssuedCredentials) -> Path:
    """Write one account's clear-text credentials (mode 0600) where its user will look."""
    if credentials.site_id is None:
        path = out / CONTROLLER_PASSWORD_FILE
        _write_private(path, credentials.password + "\n")
        return path
    path = out / GATEWAYS_DIR / f"{credentials.site_id}.json"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_private(path, json.dumps(credentials.as_json(), indent=2) + "\n")
    return path


def remove_stale_credentials(out: Path, site_ids: Iterable[str]) -> list[Path]:
    """Delete the credentials files of gateways whose site is no longer provisioned."""
    keep = set(site_ids)
    gone = [p for p in sorted((out / GATEWAYS_DIR).glob("*.json")) if p.stem not in keep]
    for path in gone:
        path.unlink()
    return gone


def read_password(path: Path) -> str:
    """A password kept alone in a file (``controller.password``), without its newline."""
    try:
        password = path.read_text().strip("\r\n")
    except OSError as exc:
        raise CredentialsError(path, exc.strerror or str(exc)) from None
    if not password:
        raise CredentialsError(path, "empty password file")
    return password


def read_gateway_credentials(path: Path) -> IssuedCredentials:
    """One gateway's credentials file."""
    try:
        data = json.loads(path.read_text())
        username, password, site_id = data["username"], data["password"], data["site_id"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CredentialsError(path, f"not a gateway credentials file ({exc})") from None
    if not all(isinstance(v, str) and v for v in (username, password, site_id)):
        raise CredentialsError(path, "username, password and site_id must be strings")
    return IssuedCredentials(username, password, site_id)


def read_client_credentials(folder: Path) -> dict[str, IssuedCredentials]:
    """Every account of a provisioned folder by client id: the controller and each gateway."""
    if not folder.is_dir():
        raise CredentialsError(folder, "not a folder written by `vpp gateways provision`")
    controller = IssuedCredentials(
        CONTROLLER_USERNAME, read_password(folder / CONTROLLER_PASSWORD_FILE), None
    )
    found = {controller.client_id: controller}
    for path in sorted((folder / GATEWAYS_DIR).glob("*.json")):
        credentials = read_gateway_credentials(path)
        found[credentials.client_id] = credentials
    return found


def config_text(passwd: Path, acl: Path) -> str:
    """A Mosquitto 2.x config: no anonymous clients, these users and ACL, a TLS listener."""
    return f"""# Generated by `vpp gateways provision`; regenerate rather than edit.
# Every client logs in; each may use only the topics the ACL grants its user. On each
# listener a client's id is its username, so nobody can take over another's session.
per_listener_settings false
allow_anonymous false
password_file {passwd}
acl_file {acl}

# Plain MQTT on the loopback only (tools on the broker's host).
listener 1883 127.0.0.1
use_username_as_clientid true

# Gateways and the controller connect over TLS. Set the paths to your CA, the broker's
# certificate and key; set require_certificate true to also demand client certificates.
#listener 8883
#cafile /etc/mosquitto/certs/ca.crt
#certfile /etc/mosquitto/certs/broker.crt
#keyfile /etc/mosquitto/certs/broker.key
#require_certificate false
#use_username_as_clientid true
"""


def _write_private(path: Path, text: str) -> None:
    """Write a secret: created 0600 before a byte is in it, replaced atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _write_atomic(path: Path, text: str) -> None:
    """Replace a file at once, so a broker reloading it never reads half of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
