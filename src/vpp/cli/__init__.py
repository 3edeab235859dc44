"""Command line: ``vpp capability``, ``vpp dispatch``, ``vpp baseline``, ``vpp history``,
``vpp simulate``, ``vpp serve``, ``vpp token``, ``vpp gateways``, ``vpp ocpp``,
``vpp settlement``, ``vpp rotation``, ``vpp protocols``, ``vpp telemetry-worker``."""

from vpp.cli import (  # noqa: F401  (importing registers the commands)
    baseline_cmd,
    capability_cmd,
    dispatch_cmd,
    gateways_cmd,
    history_cmd,
    ocpp_cmd,
    protocols_cmd,
    rotation_cmd,
    serve_cmd,
    settlement_cmd,
    simulate_cmd,
    telemetry_worker_cmd,
    token_cmd,
)
from vpp.cli.app import app
from vpp.planning import register_history_reader
from vpp.synthetic import meter_history

# Demo districts' meter history is generated here, at the edge, never by planning itself.
register_history_reader("synthetic", meter_history)


def main() -> None:
    app()


__all__ = ["app", "main"]
