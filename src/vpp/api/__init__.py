"""The REST service: FastAPI routers per audience over the store and the controller."""

from vpp.api.app import create_app
from vpp.api.service import Service
from vpp.api.settings import ServiceSettings
from vpp.planning import register_history_reader
from vpp.synthetic import meter_history

# Demo districts' meter history is generated here, at the edge, never by planning itself.
register_history_reader("synthetic", meter_history)

__all__ = ["Service", "ServiceSettings", "create_app"]
