"""One Modbus TCP connection with the back-off OpenEMS uses: 2 s after a loss, doubling
to 5 min, on the adapter's clock (so a simulated clock drives it as it drives the rest).

pymodbus's own reconnection is switched off: a lost connection is reported once, the
caller waits :meth:`ModbusEndpoint.backoff_s` and calls :meth:`connect` again. pymodbus's
errors never leave this module: every failure is :class:`ModbusLinkError`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from vpp.device_adapters.modbus.config import ModbusSettings

logger = logging.getLogger(__name__)


class ModbusLinkError(ConnectionError):
    """The device did not answer (connection refused or lost, timeout)."""


class DeviceRefusedError(ValueError):
    """The device answered with a Modbus exception (an illegal address or value)."""


class ModbusEndpoint:
    """A host and port; requests name the unit id."""

    def __init__(self, host: str, port: int, *, timeout_s: float, settings: ModbusSettings) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.settings = settings
        self.failures = 0  # consecutive failed connects or requests
        self.requests = 0
        self._client: AsyncModbusTcpClient | None = None

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    def backoff_s(self) -> float:
        """How long to wait before the next attempt: 2 s, 4 s, ... up to 300 s [s]."""
        exponent = max(0, self.failures - 1)
        return min(self.settings.backoff_max_s, self.settings.backoff_min_s * 2.0**exponent)

    async def connect(self) -> None:
        await self.close()
        client = AsyncModbusTcpClient(
            self.host, port=self.port, timeout=self.timeout_s, retries=0, reconnect_delay=0
        )
        try:
            ok = await client.connect()
        except (OSError, ModbusException) as exc:
            ok = False
            logger.debug("%s: connect failed: %s", self.name, exc)
        if not ok:
            client.close()
            self.failures += 1
            raise ModbusLinkError(f"{self.name}: no connection")
        self._client = client
        self.failures = 0

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def read(self, unit_id: int, address: int, count: int) -> list[int]:
        client = self._ready()
        self.requests += 1
        try:
            response = await client.read_holding_registers(address, count=count, device_id=unit_id)
        except (OSError, ModbusException) as exc:
            await self._lost(exc)
            raise ModbusLinkError(f"{self.name}: read {address}+{count}: {exc}") from None
        if response.isError():
            raise DeviceRefusedError(f"{self.name}: read {address}+{count} refused: {response}")
        return list(response.registers)

    async def write(self, unit_id: int, address: int, values: Sequence[int]) -> None:
        client = self._ready()
        self.requests += 1
        try:
            response = await client.write_registers(address, list(values), device_id=unit_id)
        except (OSError, ModbusException) as exc:
            await self._lost(exc)
            raise ModbusLinkError(f"{self.name}: write {address}: {exc}") from None
        if response.isError():
            raise DeviceRefusedError(f"{self.name}: write {address} refused: {response}")

    def _ready(self) -> AsyncModbusTcpClient:
        if self._client is None or not self._client.connected:
            raise ModbusLinkError(f"{self.name}: not connected")
        return self._client

    async def _lost(self, exc: BaseException) -> None:
        logger.warning("%s: connection lost: %s", self.name, exc)
        self.failures += 1
        await self.close()
