"""Command line: ``vpp capability``, ``vpp dispatch``, ``vpp baseline``, ``vpp history``,
``vpp simulate``, ``vpp serve``, ``vpp token``, ``vpp gateways``, ``vpp ocpp``, ``vpp settlement``,
``vpp rotation``."""

from vpp.cli import (  # noqa: F401  (importing registers the commands)
    baseline_cmd,
    capability_cmd,
    dispatch_cmd,
    gateways_cmd,
    history_cmd,
    ocpp_cmd,
    rotation_cmd,
    serve_cmd,
    settlement_cmd,
    simulate_cmd,
    token_cmd,
)
from vpp.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
