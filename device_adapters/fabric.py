"""New clients of one broker: the in-memory one, or an MQTT broker by its URL.

The simulator, the service and the scenario tests all choose between the two the same
way. A simulation passes a :class:`Traffic` that every client counts its messages in; a
service passes none, since its messages go to gateways outside the process. Over MQTT
each client connects with its own login from a :class:`ClientAuth` (looked up by client
id) and, for ``mqtts://``, its TLS files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vpp.device_adapters.link import Link, Traffic, Will
from vpp.device_adapters.memory import InMemoryBroker

if TYPE_CHECKING:
    from vpp.device_adapters.mqtt.client_auth import ClientAuth


class LinkFactory:
    """Links to the embedded broker when ``mqtt_url`` is None, else to that MQTT broker."""

    def __init__(
        self,
        mqtt_url: str | None,
        traffic: Traffic | None = None,
        *,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 5.0,
        auth: ClientAuth | None = None,
    ) -> None:
        if auth is not None and mqtt_url is None:
            raise ValueError("auth: logins and TLS apply to an MQTT broker, not the embedded one")
        self.mqtt_url = mqtt_url
        self.auth = auth
        self.traffic = traffic
        self.broker = None if mqtt_url else InMemoryBroker(traffic)
        self._backoff = (backoff_initial_s, backoff_max_s)

    @property
    def name(self) -> str:
        return self.mqtt_url or "embedded"

    def link(self, client_id: str, will: Will | None = None) -> Link:
        if self.broker is not None:
            return self.broker.link(client_id, will=will)
        from vpp.device_adapters.mqtt import MqttLink  # only runs over MQTT need aiomqtt

        assert self.mqtt_url is not None
        initial, most = self._backoff
        return MqttLink(
            self.mqtt_url,
            client_id,
            will=will,
            traffic=self.traffic,
            backoff_initial_s=initial,
            backoff_max_s=most,
            login=None if self.auth is None else self.auth.login(client_id),
            tls=None if self.auth is None else self.auth.tls,
        )
