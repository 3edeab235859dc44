"""SunSpec discovery over TCP and the register codec."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from vpp.device_adapters.modbus import ModbusSettings
from vpp.device_adapters.modbus.client import DeviceRefusedError, ModbusEndpoint
from vpp.device_adapters.modbus.sunspec import (
    SunSpecError,
    decode,
    discover,
    encode,
    image,
    raw_range,
)


async def _serve(base: int, registers: list[int]) -> tuple[ModbusTcpServer, int]:
    device = SimDevice(1, simdata=[SimData(base, values=registers, datatype=DataType.REGISTERS)])
    server = ModbusTcpServer([device], address=("127.0.0.1", 0))
    await server.serve_forever(background=True)
    return server, int(server.transport.sockets[0].getsockname()[1])  # type: ignore[attr-defined]


async def _discover(base: int, registers: list[int]) -> object:
    server, port = await _serve(base, registers)
    link = ModbusEndpoint("127.0.0.1", port, timeout_s=3.0, settings=ModbusSettings())
    try:
        await link.connect()

        async def read(address: int, count: int) -> list[int] | None:
            try:
                return await link.read(1, address, count)
            except DeviceRefusedError:
                return None

        return await discover(read)
    finally:
        await link.close()
        await server.shutdown()  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("base", [40000, 50000, 0], ids=["40000", "50000", "0"])
async def test_discover_scans_base_addresses_and_walks_the_model_chain(base: int) -> None:
    layout = await _discover(base, image([1, 103, 124], {}))
    assert layout.base_address == base  # type: ignore[attr-defined]
    assert dict(layout.models) == {  # type: ignore[attr-defined]
        1: base + 2,
        103: base + 2 + 68,
        124: base + 2 + 68 + 52,
    }


async def test_discover_refuses_a_map_without_the_suns_marker() -> None:
    with pytest.raises(SunSpecError, match="no SunS marker"):
        await _discover(40000, [0x1234, 0x5678, *image([1], {})[2:]])


@pytest.mark.parametrize("point_type", ["int16", "uint16", "int32", "uint32"])
@given(data=st.data())
def test_encode_decode_round_trip(point_type: str, data: st.DataObject) -> None:
    low, high = raw_range(point_type)  # type: ignore[arg-type]
    value = data.draw(st.integers(low, high))
    assert decode(point_type, encode(point_type, value)) == value  # type: ignore[arg-type]


def test_encode_refuses_a_value_outside_the_register() -> None:
    with pytest.raises(SunSpecError, match="does not fit"):
        encode("int16", 40_000)


def test_decode_reads_not_implemented_as_none() -> None:
    assert decode("int16", [0x8000]) is None
    assert decode("uint32", [0xFFFF, 0xFFFF]) is None
