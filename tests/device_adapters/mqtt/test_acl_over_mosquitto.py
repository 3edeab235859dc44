"""A real Mosquitto with the provisioned password file and ACL, tried from outside.

An outsider (``mosquitto_pub`` with another site's credentials, with none, with a wrong
password) cannot publish on a site's topics or read its setpoints, and the controller
never sees what it tried. Each test ends with a message the observers may receive, sent
after the attempt, so "nothing arrived" is checked once everything earlier has arrived.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mosquitto_broker import MosquittoBroker, wait_until
from provisioned_broker import acl_broker, find_mosquitto_pub, mosquitto_pub
from vpp.device_adapters.contract import SUBSCRIPTIONS
from vpp.device_adapters.mqtt import Channel, Login, MqttLink, Topic
from vpp.device_adapters.mqtt.broker_files import IssuedCredentials

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(find_mosquitto_pub() is None, reason="needs mosquitto-clients"),
]

SITE, OTHER = "a-site", "b-site"
FORGED = "forged"


@dataclass
class Listener:
    """A client logged in as ``username`` that keeps every message it receives."""

    link: MqttLink
    received: list[tuple[str, str]] = field(default_factory=list)

    def payloads(self) -> list[str]:
        return [p for _, p in self.received]


@dataclass
class Setup:
    broker: MosquittoBroker
    accounts: dict[str, IssuedCredentials]
    controller: Listener
    gateway: Listener  # SITE's gateway, subscribed to its setpoints

    async def listen(self, client_id: str, subscriptions: tuple[str, ...]) -> Listener:
        account = self.accounts[client_id]
        link = MqttLink(self.broker.url, client_id, login=Login(account.username, account.password))
        listener = Listener(link)
        link.on_message(lambda t, p: listener.received.append((t, p.decode())))
        await link.start(subscriptions)
        assert link.connected, self.broker.log_text()
        return listener


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    broker, accounts = acl_broker(tmp_path, [SITE, OTHER])
    made = Setup(broker, accounts, None, None)  # type: ignore[arg-type]
    made.controller = await made.listen("vpp-controller", SUBSCRIPTIONS)
    made.gateway = await made.listen(f"gw-{SITE}", (Topic.site_filter(SITE, Channel.SETPOINT),))
    try:
        yield made
    finally:
        await made.controller.link.close()
        await made.gateway.link.close()
        broker.stop()


def topic_of(site: str, channel: Channel) -> str:
    return str(Topic(site, None if channel is Channel.STATUS else "bess", channel))


async def send_markers(setup: Setup) -> None:
    """Legitimate traffic after the attempt; once it is in, the attempt would be too."""
    telemetry = topic_of(SITE, Channel.TELEMETRY)
    setpoint = topic_of(SITE, Channel.SETPOINT)
    assert await setup.gateway.link.publish(telemetry, b"marker")
    assert await setup.controller.link.publish(setpoint, b"marker")
    await wait_until(lambda: "marker" in setup.controller.payloads(), "the controller's marker")
    await wait_until(lambda: "marker" in setup.gateway.payloads(), "the gateway's marker")


@pytest.mark.parametrize("channel", list(Channel), ids=lambda c: c.value)
@pytest.mark.parametrize("outsider", ["other-site", "anonymous", "wrong-password"])
async def test_outsider_cannot_publish_on_a_sites_topics(
    setup: Setup, outsider: str, channel: Channel
) -> None:
    """Refused by the broker, and neither the controller nor the gateway sees it."""
    other = setup.accounts[f"gw-{OTHER}"]
    account = {
        "other-site": other,
        "anonymous": None,
        "wrong-password": IssuedCredentials(f"gw-{SITE}", "not-the-password", SITE),
    }[outsider]
    done = mosquitto_pub(setup.broker.port, topic_of(SITE, channel), FORGED, account)
    said = done.stdout + done.stderr
    if outsider == "other-site":
        assert "Not authorized" in said, said  # connected, but the PUBLISH was refused
    else:
        assert done.returncode != 0, said
        assert "Connection error: Not authorized" in said, said
    await send_markers(setup)
    assert FORGED not in setup.controller.payloads()
    assert FORGED not in setup.gateway.payloads()


async def test_gateway_cannot_publish_setpoints_even_to_its_own_site(setup: Setup) -> None:
    """Only the controller's user may publish setpoints."""
    await setup.gateway.link.close()  # the outsider logs in as this gateway: free its id
    account = setup.accounts[f"gw-{SITE}"]
    done = mosquitto_pub(setup.broker.port, topic_of(SITE, Channel.SETPOINT), FORGED, account)
    assert "Not authorized" in done.stdout + done.stderr, done
    assert "Denied PUBLISH" in setup.broker.log_text()


async def test_gateway_cannot_read_another_sites_setpoints(setup: Setup) -> None:
    """A gateway subscribed to another site's setpoints receives none of them."""
    spy = await setup.listen(
        f"gw-{OTHER}",
        (Topic.site_filter(SITE, Channel.SETPOINT), Topic.site_filter(OTHER, Channel.SETPOINT)),
    )
    try:
        secret = json.dumps({"for": SITE}).encode()
        assert await setup.controller.link.publish(topic_of(SITE, Channel.SETPOINT), secret)
        assert await setup.controller.link.publish(topic_of(OTHER, Channel.SETPOINT), b"mine")
        await wait_until(lambda: "mine" in spy.payloads(), "the spy's own setpoint")
        await wait_until(lambda: secret.decode() in setup.gateway.payloads(), "SITE's setpoint")
        assert spy.received == [(topic_of(OTHER, Channel.SETPOINT), "mine")]
    finally:
        await spy.link.close()


async def test_another_users_client_id_does_not_take_over_the_controllers_session(
    setup: Setup,
) -> None:
    """The broker makes a client's id its username: asking for the controller's id is moot."""
    other = setup.accounts[f"gw-{OTHER}"]
    pub = find_mosquitto_pub()
    assert pub is not None
    import subprocess

    done = subprocess.run(
        [
            pub,
            "-p",
            str(setup.broker.port),
            "-i",
            "vpp-controller",
            "-u",
            other.username,
            "-P",
            other.password,
            "-t",
            topic_of(OTHER, Channel.TELEMETRY),
            "-m",
            "x",
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 0, done
    await send_markers(setup)
    assert setup.controller.link.connected
    assert setup.controller.link.stats.connects == 1
