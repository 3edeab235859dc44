"""Per-charge-point passwords (OCPP security profiles 1 and 2: HTTP basic auth).

Issued like gateway credentials: a random password shown once, stored only as a ``$7$``
hash (:mod:`vpp.device_adapters.mqtt.passwords`) in a file of ``charge_point_id:hash``
lines, the format Mosquitto's password files use.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from pathlib import Path

from vpp.device_adapters.mqtt.passwords import hash_password, new_password, verify_password
from vpp.device_adapters.ocpp.config import CHARGE_POINT_ID_PATTERN


def read_password_file(path: Path) -> dict[str, str]:
    """Hashes by charge point id; a missing file holds none."""
    if not path.exists():
        return {}
    hashes: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, sep, hashed = line.strip().partition(":")
        if sep and name and not name.startswith("#"):
            hashes[name] = hashed
    return hashes


def issue_password(path: Path, charge_point_id: str) -> str:
    """A new password for a charge point (replacing any earlier one); stored hashed."""
    if re.fullmatch(CHARGE_POINT_ID_PATTERN, charge_point_id) is None:
        raise ValueError(f"charge point id {charge_point_id!r} is not valid")
    password = new_password()
    hashes = read_password_file(path)
    hashes[charge_point_id] = hash_password(password)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{name}:{h}\n" for name, h in sorted(hashes.items())))
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return password


def basic_auth_header(charge_point_id: str, password: str) -> str:
    """The ``Authorization`` header value a charge point sends."""
    token = base64.b64encode(f"{charge_point_id}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def check_basic_auth(header: str | None, charge_point_id: str, hashes: Mapping[str, str]) -> bool:
    """Whether the header proves to be ``charge_point_id`` (the user name must be it)."""
    if header is None or not header.startswith("Basic "):
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, sep, password = decoded.partition(":")
    hashed = hashes.get(charge_point_id)
    return (
        bool(sep)
        and user == charge_point_id
        and hashed is not None
        and (verify_password(password, hashed))
    )
