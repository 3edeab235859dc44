"""The MQTT side of the device fabric: contract topics and a :class:`Link` on aiomqtt."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from vpp.device_adapters.mqtt.client_auth import ClientAuth, Login, TlsError, TlsFiles
from vpp.device_adapters.mqtt.link import (
    BrokerUrl,
    MqttLink,
    MqttUrlError,
    parse_broker_url,
    parse_url,
)
from vpp.device_adapters.mqtt.topics import Channel, Topic, TopicError, topic_matches

if TYPE_CHECKING:
    from vpp.device_adapters.contract import ContractAdapter

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

    return ContractAdapter(MqttLink(url, client_id), now)
