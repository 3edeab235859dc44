"""``vpp serve``: the REST API and the controller, together, until interrupted."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal

import typer

from vpp.cli.app import app, fail, reports_errors
from vpp.cli.options import PORT, TIME_SCALE, writable_folder
from vpp.store import DEFAULT_DB_URL

LogLevel = Literal["debug", "info", "warning", "error"]

#: How long an interrupted service waits for open requests before cutting them off [s].
SHUTDOWN_GRACE_S = 3


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
            help="dispatch over the MQTT broker at mqtt://host:port, or over TLS at "
            "mqtts://user@host:8883 \\[default: embedded]"
        ),
    ] = None,
    mqtt_password_file: Annotated[
        Path | None,
        typer.Option(
            help="file holding the controller's broker password (controller.password from "
            "`vpp gateways provision`)",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    mqtt_ca: Annotated[
        Path | None,
        typer.Option(
            help="CA certificate (PEM) the mqtts:// broker is checked against "
            "\\[default: the system's CAs]",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    mqtt_cert: Annotated[
        Path | None,
        typer.Option(help="client certificate (PEM), if the broker requires one", exists=True),
    ] = None,
    mqtt_key: Annotated[
        Path | None,
        typer.Option(help="the client certificate's private key (PEM)", exists=True),
    ] = None,
    broker_files: Annotated[
        Path | None,
        typer.Option(
            help="folder from `vpp gateways provision --db`: its password file and ACL are "
            "rewritten whenever a registration adds or removes a site",
            file_okay=False,
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

    if mqtt is None and (mqtt_password_file or mqtt_ca or mqtt_cert or mqtt_key):
        raise fail("--mqtt-password-file, --mqtt-ca, --mqtt-cert and --mqtt-key need --mqtt")
    if mqtt_key is not None and mqtt_cert is None:
        raise fail("--mqtt-key: give the client certificate with --mqtt-cert too")
    settings = ServiceSettings(
        db_url=db,
        district_file=district or DEFAULT_DISTRICT,
        mqtt_url=mqtt,
        mqtt_password_file=mqtt_password_file,
        mqtt_ca_file=mqtt_ca,
        mqtt_cert_file=mqtt_cert,
        mqtt_key_file=mqtt_key,
        broker_files_dir=broker_files,
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
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level.lower(),
        # open dashboard streams never end on their own: cut them off, then stop the service
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
