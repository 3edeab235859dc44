"""Which protocol reaches which resource: protocols register here by name.

A site names its protocol in its registration (``protocol: mqtt`` by default, ``ocpp``,
``modbus``) and a resource may name its own; each protocol's adapter registers a
:class:`ProtocolSpec` in one line (``register_protocol(...)`` at the end of its module).
Built-in protocols are imported only when a district uses them, so importing the registry
(or the controller) loads no protocol library; third-party protocols register through the
``vpp.device_protocols`` entry-point group.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ValidationError

from vpp.domain import District, ResourceRef, VppError

if TYPE_CHECKING:
    from vpp.device_adapters.base import DeviceAdapter

ENTRY_POINT_GROUP = "vpp.device_protocols"

M = TypeVar("M", bound=BaseModel)

_BUILTIN = {
    "mqtt": "vpp.device_adapters.contract",
    "ocpp": "vpp.device_adapters.ocpp",
    "modbus": "vpp.device_adapters.modbus",
}
"""Where each built-in protocol registers itself (imported on first use)."""


class UnknownProtocolError(VppError, KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(f"protocol {name!r} is not known (known: {', '.join(known_protocols())})")


class ProtocolUnavailableError(UnknownProtocolError):
    """A protocol vpp names whose adapter cannot be loaded here (its module or library is
    missing)."""

    def __init__(self, name: str, reason: str) -> None:
        VppError.__init__(self, f"protocol {name!r} is not available here: {reason}")


class ProtocolNotConfiguredError(VppError):
    """A district uses a protocol its owner has not set up (e.g. OCPP without a port)."""


@dataclass(frozen=True)
class AdapterContext:
    """What the owner of the device fabric (CLI, service, simulator) gives every adapter.

    ``settings`` holds each protocol's owner-side settings by protocol name: the MQTT
    :class:`~vpp.device_adapters.link.Link` the controller speaks through, the OCPP central
    system's port and credentials, and so on. A protocol whose settings are missing and that
    needs some raises :class:`ProtocolNotConfiguredError`.
    """

    district: District
    now: Callable[[], datetime]
    sleep_until: Callable[[datetime], Awaitable[None]]
    settings: Mapping[str, object] = field(default_factory=dict)

    def setting(self, protocol: str) -> object:
        try:
            return self.settings[protocol]
        except KeyError:
            raise ProtocolNotConfiguredError(
                f"the district has resources on {protocol!r} but no {protocol} settings were "
                "given to the device fabric"
            ) from None


ProtocolFactory = Callable[[AdapterContext, Sequence[ResourceRef]], "DeviceAdapter"]
"""Builds the adapter for the resources (all on this protocol) that it is to reach."""


@dataclass(frozen=True)
class ProtocolSpec:
    """One device protocol: its adapter factory and the shape of a resource's ``connection``."""

    name: str
    factory: ProtocolFactory
    connection_model: type[BaseModel] | None = None
    """Validates a resource's ``connection`` block; None: the protocol takes none."""
    summary: str = ""
    late_resources: bool = False
    """Its adapter reaches resources registered after it was built (MQTT: topics carry the
    site and resource); otherwise those wait for a restart (see RoutingAdapter.follow)."""


_REGISTRY: dict[str, ProtocolSpec] = {}


def register_protocol(spec: ProtocolSpec) -> None:
    """Make ``spec`` reachable by name (re-registering a name replaces it)."""
    _REGISTRY[spec.name] = spec


def known_protocols() -> list[str]:
    return sorted(set(_REGISTRY) | set(_BUILTIN) | {ep.name for ep in _entry_points()})


def protocol(name: str) -> ProtocolSpec:
    """The spec registered for ``name``, importing its module on first use."""
    if name not in _REGISTRY:
        if name in _BUILTIN:
            try:
                importlib.import_module(_BUILTIN[name])
            except ImportError as exc:  # not installed, or not written yet
                raise ProtocolUnavailableError(name, str(exc)) from exc
        else:
            for ep in _entry_points():
                if ep.name == name:
                    loaded = ep.load()
                    if isinstance(loaded, ProtocolSpec):
                        register_protocol(loaded)
    if name not in _REGISTRY:
        raise UnknownProtocolError(name)
    return _REGISTRY[name]


def _entry_points() -> Iterable[EntryPoint]:
    return entry_points(group=ENTRY_POINT_GROUP)


@dataclass(frozen=True)
class ConnectionProblem:
    """Why one resource's protocol or connection block is wrong."""

    key: str
    """``site_id/resource_id``"""
    field: str
    """within the resource: ``protocol``, ``connection`` or ``connection.<path>``"""
    reason: str

    def __str__(self) -> str:
        if self.field.startswith("connection."):
            return f"{self.key}: {self.field}: {self.reason}"
        return f"{self.key}: {self.reason}"


def connection_errors(district: District) -> list[str]:
    """Why the district's protocols or connection blocks are wrong (empty: they are fine).

    Registration calls this so an invalid registration is refused whole, before anything
    is stored or any device is reached.
    """
    return [str(problem) for problem in connection_problems(district)]


def connection_problems(district: District) -> list[ConnectionProblem]:
    """:func:`connection_errors`, each naming its resource and field apart."""
    problems: list[ConnectionProblem] = []
    for ref in district.resources():
        try:
            spec = protocol(ref.protocol)
        except UnknownProtocolError as exc:
            problems.append(ConnectionProblem(ref.key, "protocol", str(exc.args[0])))
            continue
        connection = ref.resource.connection
        if spec.connection_model is None:
            if connection:
                reason = f"protocol {spec.name!r} takes no connection settings"
                problems.append(ConnectionProblem(ref.key, "connection", reason))
            continue
        try:
            spec.connection_model.model_validate(connection or {})
        except ValidationError as exc:
            for error in exc.errors():
                loc = ".".join(str(part) for part in error["loc"])
                field = f"connection.{loc}" if loc else "connection"
                problems.append(ConnectionProblem(ref.key, field, error["msg"]))
    return problems


def connection_of(ref: ResourceRef, model: type[M]) -> M:
    """A resource's ``connection`` block parsed by its protocol's model."""
    return model.model_validate(ref.resource.connection or {})


def by_protocol(refs: Iterable[ResourceRef]) -> dict[str, list[ResourceRef]]:
    """Resources grouped by the protocol that reaches them, in district order."""
    groups: dict[str, list[ResourceRef]] = {}
    for ref in refs:
        groups.setdefault(ref.protocol, []).append(ref)
    return groups
