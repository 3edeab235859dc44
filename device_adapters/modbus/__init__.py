"""Modbus TCP / SunSpec batteries and PV inverters (``protocol: modbus``).

Importing this package registers the protocol (the registry imports it on first use).
"""

from vpp.device_adapters.modbus.adapter import ModbusAdapter, ModbusCounts
from vpp.device_adapters.modbus.config import ModbusConnection, ModbusSettings
from vpp.device_adapters.modbus.maps import CustomMap, MapError, load_map

__all__ = [
    "CustomMap",
    "MapError",
    "ModbusAdapter",
    "ModbusConnection",
    "ModbusCounts",
    "ModbusSettings",
    "load_map",
]
