"""The REST service: FastAPI routers per audience over the store and the controller."""

from vpp.api.app import create_app
from vpp.api.service import Service
from vpp.api.settings import ServiceSettings

__all__ = ["Service", "ServiceSettings", "create_app"]
