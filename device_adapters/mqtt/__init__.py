"""The MQTT side of the device fabric: contract topics and a :class:`Link` on aiomqtt.

The topics and credentials load with the package; the link (and aiomqtt with it) on first
use of one of its names, so the codec and the in-memory broker need no MQTT library.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from vpp.device_adapters.mqtt.client_auth import ClientAuth, Login, TlsError, TlsFiles
from vpp.device_adapters.mqtt.topics import Channel, Topic, TopicError, topic_matches

if TYPE_CHECKING:
    from vpp.device_adapters.contract import ContractAdapter
    from vpp.device_adapters.mqtt.link import (
        BrokerUrl,
        MqttLink,
        MqttUrlError,
        parse_broker_url,
        parse_url,
    )

_LINK_NAMES = frozenset({"BrokerUrl", "MqttLink", "MqttUrlError", "parse_broker_url", "parse_url"})


def __getattr__(name: str) -> object:
    """The link's names, imported (with aiomqtt) on first use (PEP 562)."""
    if name not in _LINK_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from vpp.device_adapters.mqtt import link

    value: object = getattr(link, name)
    globals()[name] = value
    return value


__all__ = [
    "BrokerUrl",
    "Channel",
    "ClientAuth",
    "Login",
    "MqttLink",
    "MqttUrlError",
    "TlsError",
    "TlsFiles",
    "Topic",
    "TopicError",
    "mqtt_adapter",
    "parse_broker_url",
    "parse_url",
    "topic_matches",
]


def mqtt_adapter(
    url: str, now: Callable[[], datetime], client_id: str = "vpp-controller"
) -> ContractAdapter:
    """The controller's adapter for the broker at ``mqtt://host:port``; ``now`` is its clock."""
    # imported here: the codec, which the contract adapter uses, imports this package's topics
    from vpp.device_adapters.contract import ContractAdapter
    from vpp.device_adapters.mqtt.link import MqttLink

    return ContractAdapter(MqttLink(url, client_id), now)
