"""``vpp serve``: the REST API and the controller, together, until interrupted."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal

import typer

from vpp.cli.app import app, fail, reports_errors
from vpp.cli.options import FRACTION, POLL_S, PORT, TIME_SCALE, parse_moment, writable_folder
from vpp.openadr import VenSettings
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
    telemetry_workers: Annotated[
        bool,
        typer.Option(
            "--telemetry-workers",
            help="take telemetry from `vpp telemetry-worker` processes on the --mqtt broker "
            "(a shared subscription) instead of reading it here",
        ),
    ] = False,
    ocpp_port: Annotated[
        int | None,
        typer.Option(
            help="run the OCPP 1.6J central system: charge points connect to "
            "ws://HOST:PORT/{charge_point_id}",
            parser=PORT,
        ),
    ] = None,
    ocpp_password_file: Annotated[
        Path,
        typer.Option(help="charge point passwords from `vpp ocpp password`", dir_okay=False),
    ] = Path("ocpp/passwd"),
    ocpp_tls_cert: Annotated[
        Path | None,
        typer.Option(
            help="server certificate (PEM): charge points connect over wss://", exists=True
        ),
    ] = None,
    ocpp_tls_key: Annotated[
        Path | None, typer.Option(help="the server certificate's private key (PEM)", exists=True)
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
    clock_start: Annotated[
        str | None,
        typer.Option(
            help="with --simulated-devices and --time-scale: start a fresh clock at this "
            "moment, ISO with its UTC offset (e.g. 2026-07-15T10:45+08:00: an event in the "
            "peak hours whatever the wall time); a kept clock is never set back",
        ),
    ] = None,
    data_dir: Annotated[Path, typer.Option(help="folder for simulation reports")] = Path(
        "vpp-data"
    ),
    scenarios_dir: Annotated[
        Path, typer.Option(help="folder of named scenarios for POST /v1/simulations")
    ] = Path("configs/scenarios"),
    openadr_vtn: Annotated[
        str | None,
        typer.Option(
            help="register as an OpenADR 2.0b VEN with the VTN at this URL (e.g. "
            "http://host:8080/OpenADR2/Simple/2.0b) and take its events; needs vpp[openadr]"
        ),
    ] = None,
    openadr_ven_name: Annotated[
        str | None, typer.Option(help="the VEN's name toward the VTN (with --openadr-vtn)")
    ] = None,
    openadr_poll_s: Annotated[
        float, typer.Option(help="poll the VTN this often [s]", parser=POLL_S)
    ] = 5.0,
    openadr_cert: Annotated[
        Path | None,
        typer.Option(help="VEN certificate (PEM) for mutual TLS with an https:// VTN", exists=True),
    ] = None,
    openadr_key: Annotated[
        Path | None, typer.Option(help="the VEN certificate's private key (PEM)", exists=True)
    ] = None,
    openadr_ca: Annotated[
        Path | None,
        typer.Option(help="CA (PEM) the VTN's certificate is checked against", exists=True),
    ] = None,
    openadr_min_fraction: Annotated[
        float,
        typer.Option(
            help="optIn when the capability covers this fraction of the target (a "
            "programme's partial-delivery rule)",
            parser=FRACTION,
        ),
    ] = 1.0,
    openadr_simple_levels: Annotated[
        str,
        typer.Option(help="SIMPLE signal levels as % of the district peak: LEVEL=PCT,..."),
    ] = "1=5,2=10,3=15",
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
    if telemetry_workers and mqtt is None:
        raise fail("--telemetry-workers needs --mqtt: the workers read the broker's telemetry")
    if telemetry_workers and time_scale != 1.0:
        raise fail("--telemetry-workers runs on the wall clock: leave --time-scale at 1")
    start = None if clock_start is None else parse_moment(clock_start, "--clock-start")
    if start is not None and not (simulated_devices and time_scale > 1.0):
        raise fail("--clock-start needs --simulated-devices and a --time-scale above 1")
    if start is not None and (ocpp_port is not None or openadr_vtn is not None):
        raise fail("--clock-start: charge points and the VTN keep the wall clock")
    if ocpp_port is None and (ocpp_tls_cert or ocpp_tls_key):
        raise fail("--ocpp-tls-cert and --ocpp-tls-key need --ocpp-port")
    if (ocpp_tls_cert is None) != (ocpp_tls_key is None):
        raise fail("--ocpp-tls-cert and --ocpp-tls-key go together")
    ocpp = None
    if ocpp_port is not None:
        from vpp.device_adapters.ocpp.config import OcppServerSettings

        ocpp = OcppServerSettings(
            host=host,
            port=ocpp_port,
            password_file=ocpp_password_file,
            tls_cert=ocpp_tls_cert,
            tls_key=ocpp_tls_key,
        )
    openadr = _ven_settings(
        openadr_vtn,
        openadr_ven_name,
        openadr_poll_s,
        (openadr_cert, openadr_key, openadr_ca),
        openadr_min_fraction,
        openadr_simple_levels,
    )
    settings = ServiceSettings(
        db_url=db,
        district_file=district or DEFAULT_DISTRICT,
        mqtt_url=mqtt,
        mqtt_password_file=mqtt_password_file,
        mqtt_ca_file=mqtt_ca,
        mqtt_cert_file=mqtt_cert,
        mqtt_key_file=mqtt_key,
        broker_files_dir=broker_files,
        telemetry_workers=telemetry_workers,
        simulated_devices=simulated_devices,
        time_scale=time_scale,
        clock_start=start,
        data_dir=data_dir,
        scenarios_dir=scenarios_dir,
        openadr=openadr,
        ocpp=ocpp,
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


def _ven_settings(
    vtn: str | None,
    ven_name: str | None,
    poll_s: float,
    tls: tuple[Path | None, Path | None, Path | None],
    min_fraction: float,
    simple_levels: str,
) -> VenSettings | None:
    """The --openadr-* options as the VEN's settings; None without --openadr-vtn."""
    cert, key, ca = tls
    if vtn is None:
        if ven_name or cert or key or ca:
            raise fail(
                "--openadr-ven-name, --openadr-cert, --openadr-key and --openadr-ca "
                "need --openadr-vtn"
            )
        return None
    if not vtn.startswith(("http://", "https://")):
        raise fail("--openadr-vtn: give an http:// or https:// URL")
    if not ven_name:
        raise fail("--openadr-vtn: give the VEN's name with --openadr-ven-name")
    if (cert is None) != (key is None):
        raise fail("--openadr-cert and --openadr-key go together")
    if cert is not None and not vtn.startswith("https://"):
        raise fail("--openadr-cert: a client certificate needs an https:// VTN")
    try:
        levels = {
            int(level): float(pct)
            for level, pct in (item.split("=") for item in simple_levels.split(",") if item)
        }
    except ValueError:
        raise fail("--openadr-simple-levels: write LEVEL=PCT pairs, e.g. 1=5,2=10,3=15") from None
    try:
        import vpp.openadr.library  # noqa: F401  (the optional extra is installed)
    except ImportError as exc:
        raise fail(f"--openadr-vtn: {exc}") from None
    return VenSettings(
        vtn_url=vtn,
        ven_name=ven_name,
        poll_s=poll_s,
        cert_file=cert,
        key_file=key,
        ca_file=ca,
        min_fraction=min_fraction,
        simple_levels_pct=levels,
    )
