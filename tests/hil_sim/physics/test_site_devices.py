"""A site's devices come from one index of the district, built once, whichever district."""

import pytest

from vpp.hil_sim.physics import devices_for_site, site_refs

from builders import DAY, battery, curtailable, district, enterprise


def test_each_site_gets_its_own_resources_in_district_order_from_either_district():
    first = district(
        enterprise("acme", [curtailable("process", [(200.0, 1.0)]), battery("bess")]),
        enterprise("zeta", [battery("store")]),
    )
    second = district(enterprise("acme", [battery("other")]))
    assert list(devices_for_site(first, "acme-site", DAY.date())) == ["process", "bess"]
    assert list(devices_for_site(second, "acme-site", DAY.date())) == ["other"]
    assert [r.resource.resource_id for r in site_refs(first, "zeta-site")] == ["store"]
    with pytest.raises(KeyError, match="'ghost-site' is not in district"):
        devices_for_site(first, "ghost-site", DAY.date())
