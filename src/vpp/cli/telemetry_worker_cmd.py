"""``vpp telemetry-worker``: one more process taking in the district's telemetry."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated

import typer

from vpp.cli.app import app, reports_errors
from vpp.cli.options import FLUSH_S
from vpp.config import load_district

_HELP = (
    "Take in a share of the district's telemetry: subscribe the MQTT 5 shared subscription "
    "$share/vpp/vpp/v1/+/+/telemetry, decode and gate each reading as the controller would, "
    "and publish what was accepted in batches on vpp-internal/v1/telemetry/ID for the "
    "controller to merge. Each worker adds its reading rate (docs/performance.md). Runs until "
    "interrupted."
)


@app.command("telemetry-worker", help=_HELP)
@reports_errors
def telemetry_worker(
    district_file: Annotated[Path, typer.Argument(help="district YAML file (its resources)")],
    broker: Annotated[str, typer.Option(help="broker URL")] = "mqtt://127.0.0.1:1883",
    worker_id: Annotated[str, typer.Option("--id", help="this worker's id (a slug)")] = "w1",
    flush_s: Annotated[float, typer.Option(parser=FLUSH_S, help="batch period [s]")] = 0.1,
    mqtt_password_file: Annotated[
        Path | None,
        typer.Option(
            help="the controller's broker password (controller.password from `vpp gateways "
            "provision`): a worker logs in as the controller",
            dir_okay=False,
            exists=True,
        ),
    ] = None,
    mqtt_ca: Annotated[
        Path | None,
        typer.Option(
            help="CA certificate (PEM) an mqtts:// broker is checked against", exists=True
        ),
    ] = None,
) -> None:
    """Run one telemetry worker (see the help text above)."""
    from vpp.api.devices import controller_auth
    from vpp.telemetry_worker import run_worker

    district = load_district(district_file)
    resources = {ref.key: ref.resource for ref in district.resources()}
    auth = controller_auth(broker, mqtt_password_file, (mqtt_ca, None, None))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker(broker, resources, worker_id, flush_s, auth))
