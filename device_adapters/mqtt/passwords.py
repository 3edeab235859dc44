"""Broker passwords in Mosquitto 2.x's own format, made with hashlib (no binary needed).

A line of a Mosquitto password file is ``username:$7$<iterations>$<salt>$<hash>``: PBKDF2
with SHA-512, a 12-byte salt and a 64-byte key, both base64. 101 iterations is what
``mosquitto_passwd`` writes; the broker reads the count from each line, so more works too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

#: PBKDF2 iterations; the count ``mosquitto_passwd`` 2.0 uses [1].
ITERATIONS = 101
#: Salt and derived-key lengths of Mosquitto's ``$7$`` hashes [bytes].
SALT_BYTES = 12
KEY_BYTES = 64
#: Random bytes behind a generated password (it is twice as long in base64url) [bytes].
PASSWORD_BYTES = 24


def new_password() -> str:
    """A random password that needs no quoting in a shell, a URL or a config file."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """The ``$7$`` hash Mosquitto 2.x checks ``password`` against."""
    if iterations < 1:
        raise ValueError(f"iterations: must be at least 1, got {iterations}")
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, KEY_BYTES)
    return f"$7${iterations}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash; False for anything that is not one."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[:2] != ["", "7"] or not parts[2].isdigit():
        return False
    try:
        salt, key = base64.b64decode(parts[3], validate=True), base64.b64decode(parts[4])
    except (binascii.Error, ValueError):
        return False
    if int(parts[2]) < 1:
        return False
    computed = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]), len(key))
    return hmac.compare_digest(computed, key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
