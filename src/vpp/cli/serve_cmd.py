"""``vpp serve``: the REST API and the controller, together, until interrupted."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal

import typer

from vpp.cli.app import app, reports_errors
from vpp.cli.options import PORT, TIME_SCALE, writable_folder
from vpp.store import DEFAULT_DB_URL

LogLevel = Literal["debug", "info", "warning", "error"]


@app.command("serve")
@reports_errors
def serve_command(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on", parser=PORT)] = 8000,
    db: Annotated[
        str, typer.Option(help="database URL: sqlite+aiosqlite:///FILE or postgresql+asyncpg://...")
    ] = DEFAULT_DB_URL,
    district: Annotated[
        Path | None,
        typer.Option(
            help="district file (peak, feeders, zone, meter history; its enterprises are "
            "registered on first start) \\[default: a 10 MW frame with one feeder]",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    mqtt: Annotated[
        str | None,
        typer.Option(
            help="dispatch over the MQTT broker at mqtt://host:port \\[default: embedded]"
        ),
    ] = None,
    simulated_devices: Annotated[
        bool,
        typer.Option(
            "--simulated-devices",
            help="run a simulated gateway (HIL device physics) for every registered site",
        ),
    ] = False,
    time_scale: Annotated[
        float,
        typer.Option(
            help="run the clock this many times faster than the wall (demos; kept across restarts)",
            parser=TIME_SCALE,
        ),
    ] = 1.0,
    data_dir: Annotated[Path, typer.Option(help="folder for simulation reports")] = Path(
        "vpp-data"
    ),
    scenarios_dir: Annotated[
        Path, typer.Option(help="folder of named scenarios for POST /v1/simulations")
    ] = Path("configs/scenarios"),
    log_level: Annotated[
        LogLevel, typer.Option(case_sensitive=False, help="how much the service logs")
    ] = "info",
) -> None:
    """Start the REST API (docs at /docs) with the controller and the device fabric.

    Events left unfinished by a previous run resume from the current time.
    """
    import uvicorn

    from vpp.api import ServiceSettings, create_app
    from vpp.api.service import preflight
    from vpp.api.settings import DEFAULT_DISTRICT

    settings = ServiceSettings(
        db_url=db,
        district_file=district or DEFAULT_DISTRICT,
        mqtt_url=mqtt,
        simulated_devices=simulated_devices,
        time_scale=time_scale,
        data_dir=data_dir,
        scenarios_dir=scenarios_dir,
    )
    preflight(settings)
    writable_folder(data_dir, "--data-dir")  # simulation reports land there, much later
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level.lower())
