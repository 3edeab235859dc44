"""Device adapters: how setpoints reach field gateways (MQTT) or the simulator.

The controller depends on :class:`DeviceAdapter` only. :class:`ContractAdapter` speaks the
MQTT contract v1 over a :class:`Link`: an MQTT connection (``vpp.device_adapters.mqtt``) or
the in-memory broker that embedded simulations use.
"""

from vpp.device_adapters.base import (
    AckReceived,
    AdapterStats,
    DeviceAdapter,
    Inbound,
    InboundHandler,
    StatusReceived,
    TelemetryReceived,
)
from vpp.device_adapters.codec import MalformedMessageError, decode, encode, setpoint_message
from vpp.device_adapters.contract import ContractAdapter
from vpp.device_adapters.fabric import LinkFactory
from vpp.device_adapters.link import Link, LinkStats, Traffic, Will
from vpp.device_adapters.memory import InMemoryBroker, InMemoryLink
from vpp.device_adapters.mqtt.topics import topic_matches

__all__ = [
    "AckReceived",
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
    "StatusReceived",
    "TelemetryReceived",
    "Traffic",
    "Will",
    "decode",
    "encode",
    "setpoint_message",
    "topic_matches",
]
