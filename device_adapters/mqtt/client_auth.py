"""How clients prove who they are to a broker: a login per client id, TLS files for all.

:class:`vpp.device_adapters.LinkFactory` is the one place clients are opened; it looks up
each client's login here, so the controller and every simulated gateway connect as their
own broker user (see :mod:`vpp.device_adapters.mqtt.acl`).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vpp.domain import VppError


class TlsError(VppError, ValueError):
    """TLS files that cannot be used (missing, unreadable, not a certificate or key)."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"{what}: {reason}")


@dataclass(frozen=True)
class Login:
    """A broker username and its password."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class TlsFiles:
    """What an ``mqtts://`` client trusts and shows.

    ``ca_file`` None trusts the system's CAs; ``cert_file`` and ``key_file`` (PEM) are the
    client's own certificate, for brokers that require one (``require_certificate true``).
    """

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if self.key_file is not None and self.cert_file is None:
            raise TlsError("key_file", "a client key needs its certificate (cert_file)")

    def context(self) -> ssl.SSLContext:
        """A client context that verifies the broker's certificate and host name."""
        try:
            context = ssl.create_default_context(
                cafile=None if self.ca_file is None else str(self.ca_file)
            )
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"CA file {self.ca_file}", _reason(exc)) from None
        if self.cert_file is not None:
            try:
                context.load_cert_chain(
                    str(self.cert_file), None if self.key_file is None else str(self.key_file)
                )
            except (OSError, ssl.SSLError) as exc:
                raise TlsError(f"client certificate {self.cert_file}", _reason(exc)) from None
        return context


@dataclass(frozen=True)
class ClientAuth:
    """Logins by MQTT client id, and the TLS files every ``mqtts://`` client uses."""

    logins: Mapping[str, Login] = field(default_factory=dict)
    tls: TlsFiles | None = None

    def login(self, client_id: str) -> Login | None:
        return self.logins.get(client_id)


def _reason(exc: OSError | ssl.SSLError) -> str:
    return getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
