"""Device adapters: how setpoints reach field gateways (MQTT, OCPP, Modbus) or the simulator.

The controller depends on :class:`DeviceAdapter` only (:mod:`vpp.device_adapters.base`).
:class:`ContractAdapter` speaks the MQTT contract v1 over a :class:`Link`: an MQTT connection
(``vpp.device_adapters.mqtt``) or the in-memory broker that embedded simulations use;
:class:`RoutingAdapter` sends each setpoint to the adapter of its site's protocol
(:mod:`vpp.device_adapters.registry`).

Only the interface is imported with the package; every other name here is loaded on first
use, so ``import vpp.controller`` loads no protocol library (aiomqtt, ocpp, pymodbus).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from vpp.device_adapters.base import (
    AckReceived,
    AdapterStats,
    DeviceAdapter,
    Inbound,
    InboundHandler,
    StatusReceived,
    TelemetryReceived,
)

if TYPE_CHECKING:
    from vpp.device_adapters.codec import (
        MalformedMessageError,
        decode,
        encode,
        setpoint_message,
    )
    from vpp.device_adapters.contract import ContractAdapter
    from vpp.device_adapters.fabric import LinkFactory
    from vpp.device_adapters.link import Link, LinkStats, Traffic, Will
    from vpp.device_adapters.memory import InMemoryBroker, InMemoryLink
    from vpp.device_adapters.mqtt.topics import topic_matches
    from vpp.device_adapters.registry import (
        AdapterContext,
        ProtocolSpec,
        connection_errors,
        known_protocols,
        protocol,
        register_protocol,
    )
    from vpp.device_adapters.router import RoutingAdapter

#: Where each lazily loaded name lives.
_LAZY = {
    "MalformedMessageError": "codec",
    "decode": "codec",
    "encode": "codec",
    "setpoint_message": "codec",
    "ContractAdapter": "contract",
    "LinkFactory": "fabric",
    "Link": "link",
    "LinkStats": "link",
    "Traffic": "link",
    "Will": "link",
    "InMemoryBroker": "memory",
    "InMemoryLink": "memory",
    "topic_matches": "mqtt.topics",
    "AdapterContext": "registry",
    "ProtocolSpec": "registry",
    "connection_errors": "registry",
    "known_protocols": "registry",
    "protocol": "registry",
    "register_protocol": "registry",
    "RoutingAdapter": "router",
}


def __getattr__(name: str) -> object:
    """Load a name's module on first use (PEP 562)."""
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "AckReceived",
    "AdapterContext",
    "AdapterStats",
    "ContractAdapter",
    "DeviceAdapter",
    "InMemoryBroker",
    "InMemoryLink",
    "Inbound",
    "InboundHandler",
    "Link",
    "LinkFactory",
    "LinkStats",
    "MalformedMessageError",
    "ProtocolSpec",
    "RoutingAdapter",
    "StatusReceived",
    "TelemetryReceived",
    "Traffic",
    "Will",
    "connection_errors",
    "decode",
    "encode",
    "known_protocols",
    "protocol",
    "register_protocol",
    "setpoint_message",
    "topic_matches",
]
