"""Broker accounts in the store: hashes only, kept across provisioning, dropped with a site."""

from __future__ import annotations

from datetime import UTC, datetime

from vpp.device_adapters.mqtt.passwords import verify_password
from vpp.store import Store

NOW = datetime(2026, 7, 15, 3, 0, tzinfo=UTC)


async def test_provision_stores_hashes_and_keeps_them_next_time(store: Store) -> None:
    _, issued = await store.gateway_credentials.provision(["a-site", "b-site"], NOW)
    assert [c.username for c in issued] == ["vpp-controller", "gw-a-site", "gw-b-site"]
    hashes = await store.gateway_credentials.hashes()
    for credentials in issued:
        assert verify_password(credentials.password, hashes[credentials.username])
        assert credentials.password not in hashes[credentials.username]
    _, again = await store.gateway_credentials.provision(["a-site", "b-site"], NOW)
    assert again == []
    assert await store.gateway_credentials.hashes() == hashes


async def test_provision_drops_accounts_of_sites_gone_and_rotate_replaces_all(
    store: Store,
) -> None:
    await store.gateway_credentials.provision(["a-site", "b-site"], NOW)
    before = await store.gateway_credentials.hashes()
    await store.gateway_credentials.provision(["a-site"], NOW)
    assert sorted(await store.gateway_credentials.hashes()) == ["gw-a-site", "vpp-controller"]
    _, rotated = await store.gateway_credentials.provision(["a-site"], NOW, rotate=True)
    assert len(rotated) == 2
    after = await store.gateway_credentials.hashes()
    assert all(after[u] != before[u] for u in after)


async def test_provision_issue_to_leaves_other_sites_and_the_controller_without(
    store: Store,
) -> None:
    _, issued = await store.gateway_credentials.provision(
        ["a-site", "b-site"], NOW, issue_to={"b-site"}
    )
    assert [c.site_id for c in issued] == ["b-site"]
    rows = await store.gateway_credentials.all()
    assert [(r.username, r.site_id) for r in rows] == [("gw-b-site", "b-site")]
