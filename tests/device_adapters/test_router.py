"""The router: each setpoint goes out on the protocol of its resource, counts add up, sites
registered later are reached (or held back, never sent over another protocol)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from fake_protocol import FakeAdapter, fake_protocol_registered
from vpp.device_adapters import (
    AdapterContext,
    ContractAdapter,
    InMemoryBroker,
    RoutingAdapter,
    connection_errors,
)
from vpp.device_adapters.base import AckReceived, Inbound
from vpp.device_adapters.mqtt import Channel, Topic
from vpp.domain import District, Setpoint, SetpointMode

from builders import at, battery, curtailable, district, enterprise


def _district(
    *,
    fake_site: bool = True,
    extra: list[dict[str, Any]] | None = None,
    bess: dict[str, Any] | None = None,
    fans: dict[str, Any] | None = None,
) -> District:
    """Plant on MQTT; depot on the fake protocol (``fake_site``), each resource with its
    device number, or with what ``bess`` / ``fans`` put in their registration."""
    plant = enterprise("plant", [curtailable("press", [(100.0, 1.0)]), battery("bess")])
    depot = enterprise("depot", [battery("bess"), curtailable("fans", [(50.0, 1.0)])])
    if fake_site:
        depot["sites"][0]["protocol"] = "fake"
        depot["sites"][0]["resources"][0]["connection"] = {"device_no": 3}
        depot["sites"][0]["resources"][1]["connection"] = {"device_no": 4}
    depot["sites"][0]["resources"][0].update(bess or {})
    depot["sites"][0]["resources"][1].update(fans or {})
    return district(plant, depot, *(extra or []))


def _now() -> datetime:
    return at(10)


def _setpoint(site_id: str, resource_id: str, n: int) -> Setpoint:
    start = at(11)
    return Setpoint(
        command_id=f"c{n}",
        site_id=site_id,
        resource_id=resource_id,
        issued_at=start - timedelta(minutes=5),
        mode=SetpointMode.LIMIT,
        power_kw=100.0,
        valid_from=start,
        valid_until=start + timedelta(minutes=15),
    )


async def _sleep_until(_when: object) -> None:
    await asyncio.sleep(0)


class MqttSide:
    """Setpoints that reached the in-memory broker, by resource."""

    def __init__(self, broker: InMemoryBroker) -> None:
        self.link = broker.link("recorder")
        self.link.on_message(self._on_message)
        self.seen: list[str] = []

    def _on_message(self, topic: str, payload: bytes) -> None:
        parsed = Topic.parse(topic)
        assert parsed.channel is Channel.SETPOINT
        self.seen.append(f"{parsed.site_id}/{parsed.resource_id}")

    async def start(self) -> None:
        await self.link.start(("vpp/v1/+/+/setpoint",))


async def test_router_sends_each_setpoint_on_its_resources_protocol_and_adds_up_the_counts():
    with fake_protocol_registered():
        broker = InMemoryBroker()
        mqtt_side = MqttSide(broker)
        await mqtt_side.start()
        created: list[FakeAdapter] = []
        d = _district()
        settings = {"mqtt": broker.link("vpp"), "fake": created}
        context = AdapterContext(d, _now, _sleep_until, settings)
        router = RoutingAdapter.for_district(context)
        assert set(router.adapters) == {"mqtt", "fake"}
        assert isinstance(router.adapters["mqtt"], ContractAdapter)
        inbound: list[Inbound] = []
        await router.start(inbound.append)
        setpoints = [
            _setpoint("plant-site", "press", 1),
            _setpoint("depot-site", "bess", 2),
            _setpoint("plant-site", "bess", 3),
            _setpoint("depot-site", "fans", 4),
        ]
        assert await router.send(setpoints) == 4
        await asyncio.sleep(0)
        (fake,) = created
        assert [s.command_id for s in fake.sent] == ["c2", "c4"]
        assert fake.foreign == []
        assert sorted(mqtt_side.seen) == ["plant-site/bess", "plant-site/press"]
        assert router.stats.sent == 4  # two over MQTT, two over the fake protocol
        assert router.adapters["mqtt"].stats.sent == 2
        assert {type(m) for m in inbound} == {AckReceived}  # the fake devices answered
        assert {m.setpoint.command_id for m in inbound if isinstance(m, AckReceived)} == {
            "c2",
            "c4",
        }
        assert [s.command_id for s in router.awaiting_ack()] == ["c1", "c3"]
        await router.close()
        assert fake.closed


async def test_sites_registered_later_are_routed_or_held_back_never_sent_on_another_protocol():
    with fake_protocol_registered():
        broker = InMemoryBroker()
        mqtt_side = MqttSide(broker)
        await mqtt_side.start()
        created: list[FakeAdapter] = []
        context = AdapterContext(
            _district(fake_site=False),
            _now,
            _sleep_until,
            {"mqtt": broker.link("vpp"), "fake": created},
        )
        router = RoutingAdapter.for_district(context)
        await router.start(lambda _m: None)
        assert set(router.adapters) == {"mqtt"}

        # the depot moves to the fake protocol: its adapter is built and started now
        assert await router.follow(_district()) == []
        (fake,) = created
        assert fake.started
        # a new site on MQTT is reached at once; one more on the running fake protocol
        # (which takes no late resources) waits for a restart
        later = enterprise("yard", [battery("bess")])
        later["sites"][0]["protocol"] = "fake"
        later["sites"][0]["resources"][0]["connection"] = {"device_no": 9}
        shop = enterprise("shop", [battery("bess")])
        assert await router.follow(_district(extra=[later, shop])) == ["yard-site/bess"]
        await router.send(
            [
                _setpoint("depot-site", "bess", 1),
                _setpoint("shop-site", "bess", 2),
                _setpoint("yard-site", "bess", 3),
            ]
        )
        await asyncio.sleep(0)
        assert [s.command_id for s in fake.sent] == ["c1"]
        assert mqtt_side.seen == ["shop-site/bess"]  # the yard's setpoint went nowhere
        assert router.stats.send_failed == 1
        assert router.route("yard-site", "bess") is None


def test_connection_errors_name_an_unknown_protocol_and_a_bad_connection_block():
    with fake_protocol_registered():
        assert connection_errors(_district()) == []
        bad = _district(bess={"connection": {"device_no": 999}}, fans={"protocol": "pigeon"})
        errors = connection_errors(bad)
        assert len(errors) == 2
        assert errors[0].startswith("depot-site/bess: connection.device_no:")
        assert errors[1].startswith("depot-site/fans: protocol 'pigeon' is not known")
    unknown = connection_errors(_district())  # the fake protocol is gone again
    assert unknown[0].startswith("depot-site/bess: protocol 'fake' is not known")
