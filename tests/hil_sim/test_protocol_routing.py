"""An embedded simulation whose district has a site on a third protocol: the router sends
that site's setpoints through its protocol's adapter, and every other site's over MQTT."""

from __future__ import annotations

from pathlib import Path

from fake_protocol import FakeAdapter, fake_protocol_registered
from vpp.domain import District
from vpp.hil_sim.runner import simulate
from vpp.hil_sim.scenario import load_scenario

DATA = Path(__file__).parent.parent / "data"


def _mall_on_the_fake_protocol(district: District) -> District:
    enterprises = []
    for enterprise in district.enterprises:
        sites = []
        for site in enterprise.sites:
            if site.site_id == "mall":
                resources = tuple(
                    r.model_copy(update={"connection": {"device_no": n}})
                    for n, r in enumerate(site.resources, start=1)
                )
                site = site.model_copy(update={"protocol": "fake", "resources": resources})
            sites.append(site)
        enterprises.append(enterprise.model_copy(update={"sites": tuple(sites)}))
    return district.model_copy(update={"enterprises": tuple(enterprises)})


async def test_a_site_on_a_registered_third_protocol_is_reached_through_the_router():
    scenario = load_scenario(DATA / "tiny_scenario.yaml")
    # a target that needs both sites: the steelworks over MQTT, the mall over "fake"
    event = scenario.events[0].model_copy(update={"target_kw": 600.0})
    scenario = scenario.model_copy(update={"events": [event]})
    with fake_protocol_registered():
        district = _mall_on_the_fake_protocol(scenario.load_district())
        created: list[FakeAdapter] = []
        result = await simulate(scenario, district=district, protocols={"fake": created})
    (fake,) = created
    assert fake.keys == {r.key for r in district.resources() if r.site.site_id == "mall"}
    assert {s.site_id for s in fake.sent} == {"mall"}
    assert fake.foreign == []
    assert fake.closed  # the run closed the router, and the router each protocol's adapter
    # the mall's MQTT gateway (its physics) heard nothing: its commands went the other way
    assert result.gateways["mall"].stats.received == 0
    steel = result.gateways["steel-main"].stats.received
    assert steel > 0
    assert result.adapter_stats.sent == len(fake.sent) + steel  # the counts add up
    assert not [f for f in result.faults_seen if "mall" in str(f) and "ack" in str(f).lower()]
