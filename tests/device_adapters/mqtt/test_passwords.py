"""Mosquitto ``$7$`` password hashes made in Python: the format, and what verifies."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from vpp.device_adapters.mqtt.passwords import (
    ITERATIONS,
    KEY_BYTES,
    SALT_BYTES,
    hash_password,
    new_password,
    verify_password,
)


def test_hash_password_has_mosquittos_7_format() -> None:
    """$7$<iterations>$<base64 12-byte salt>$<base64 64-byte key>."""
    _, seven, iterations, salt, key = hash_password("secret").split("$")
    assert (seven, int(iterations)) == ("7", ITERATIONS)
    assert len(base64.b64decode(salt)) == SALT_BYTES
    assert len(base64.b64decode(key)) == KEY_BYTES


def test_hash_password_matches_pbkdf2_sha512_worked_example() -> None:
    """A fixed salt gives the PBKDF2-HMAC-SHA512 key hashlib computes, base64 encoded."""
    import hashlib

    salt = bytes(range(12))
    expected = hashlib.pbkdf2_hmac("sha512", b"pw", salt, 101, 64)
    assert hash_password("pw", salt=salt) == (
        f"$7$101${base64.b64encode(salt).decode()}${base64.b64encode(expected).decode()}"
    )


def test_hash_password_salts_every_hash() -> None:
    assert hash_password("same") != hash_password("same")


def test_new_password_is_long_and_url_safe() -> None:
    password = new_password()
    assert len(password) >= 32
    assert set(password) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert new_password() != password


@settings(max_examples=25, deadline=None)
@given(password=st.text(min_size=1, max_size=40), other=st.text(min_size=1, max_size=40))
def test_verify_password_accepts_only_the_hashed_password(password: str, other: str) -> None:
    hashed = hash_password(password)
    assert verify_password(password, hashed)
    assert verify_password(other, hashed) == (other == password)


def test_verify_password_refuses_what_is_not_a_7_hash() -> None:
    for garbage in (
        "",
        "plain",
        "$6$abc$def",
        "$7$x$AAAA$AAAA",
        "$7$101$!!$AAAA",
        "$7$0$AA==$AA==",
    ):
        assert not verify_password("pw", garbage), garbage
