"""OCPP 1.6J: the central system that reaches EV charger pools through their charge points.

Importing the package registers the ``ocpp`` protocol (:mod:`.adapter`).
"""

from vpp.device_adapters.ocpp.adapter import OcppAdapter
from vpp.device_adapters.ocpp.central_system import CentralSystem, OcppStats
from vpp.device_adapters.ocpp.config import (
    ChargePointConfig,
    Connector,
    OcppConnection,
    OcppServerSettings,
)
from vpp.device_adapters.ocpp.credentials import basic_auth_header, issue_password

__all__ = [
    "CentralSystem",
    "ChargePointConfig",
    "Connector",
    "OcppAdapter",
    "OcppConnection",
    "OcppServerSettings",
    "OcppStats",
    "basic_auth_header",
    "issue_password",
]
