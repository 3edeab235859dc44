"""A Modbus registration is checked whole; custom maps load and refuse what they cannot hold."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpp.device_adapters.modbus import MapError, load_map
from vpp.device_adapters.modbus.controls import CustomRegisterMap, OutOfRangeError
from vpp.device_adapters.modbus.sunspec import decode
from vpp.device_adapters.registry import connection_errors
from vpp.domain import SetpointMode

from builders import battery, district, enterprise


def _on_modbus(connection: dict[str, Any]) -> list[str]:
    d = district(enterprise("acme", [battery("bess", protocol="modbus", connection=connection)]))
    return connection_errors(d)


def test_valid_connection_passes() -> None:
    assert _on_modbus({"host": "192.0.2.10", "unit_id": 3, "map": "example_bess"}) == []


@pytest.mark.parametrize(
    ("connection", "where"),
    [
        ({}, "connection.host"),
        ({"host": "h", "port": 0}, "connection.port"),
        ({"host": "h", "unit_id": 300}, "connection.unit_id"),
        ({"host": "h", "map": "no-such-map"}, "connection.map"),
        ({"host": "h", "poll_period_s": 0}, "connection.poll_period_s"),
        ({"host": "h", "colour": "red"}, "connection.colour"),
    ],
    ids=["no-host", "port-0", "unit-300", "unknown-map", "poll-0", "unknown-field"],
)
def test_invalid_connection_is_refused_with_its_field(
    connection: dict[str, Any], where: str
) -> None:
    errors = _on_modbus(connection)
    assert len(errors) == 1
    assert errors[0].startswith(f"acme-site/bess: {where}")


def test_unreadable_map_names_itself(tmp_path: Any) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nkind: battery\npower: {address: -1}\n")
    with pytest.raises(MapError, match=r"power\.address"):
        load_map(str(broken))


BESS = district(enterprise("acme", [battery("bess", max_charge_kw=400.0)])).enterprises[0]
RESOURCE = BESS.sites[0].resources[0]


@given(st.floats(-2000.0, 2000.0, allow_nan=False))
def test_custom_map_never_writes_beyond_limits(power_kw: float) -> None:
    """Whatever is asked, a written setpoint lies within the registration and the register."""
    device = CustomRegisterMap(load_map("example_bess"), RESOURCE)
    try:
        writes = device.command({}, SetpointMode.POWER, power_kw, revert_s=900)
    except OutOfRangeError:
        assert not -500.0 - 1e-6 <= power_kw <= 400.0 + 1e-6
        return
    setpoint = writes[-1]
    raw = decode("int32", setpoint.registers)
    assert raw is not None
    assert -500_000 <= raw <= 500_000
    assert -500.0 - 1e-6 <= -raw * 0.001 <= 400.0 + 1e-6  # generation positive in the map
    assert writes[0].address == 40151  # the revert timer is armed first
