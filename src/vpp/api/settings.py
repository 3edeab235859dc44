"""How ``vpp serve`` runs: database, district, device fabric, clock and limits."""

from __future__ import annotations

from pathlib import Path

from pydantic import AwareDatetime, Field, model_validator

from vpp.controller import ControllerSettings
from vpp.device_adapters.ocpp.config import OcppServerSettings
from vpp.domain import FrozenModel
from vpp.openadr.settings import VenSettings
from vpp.settlement import DEFAULT_RULE
from vpp.store import DEFAULT_DB_URL

#: The district frame used when ``--district`` is not given (feeders, peak, zone, history).
DEFAULT_DISTRICT = Path(__file__).with_name("default_district.yaml")


class ServiceSettings(FrozenModel):
    db_url: str = DEFAULT_DB_URL
    district_file: Path = DEFAULT_DISTRICT
    mqtt_url: str | None = Field(
        default=None, description="mqtt[s]://[user@]host:port; None: the embedded broker"
    )
    mqtt_password_file: Path | None = Field(
        default=None, description="the controller's broker password, alone in a file"
    )
    mqtt_ca_file: Path | None = Field(
        default=None, description="CA (PEM) an mqtts:// broker is checked against"
    )
    mqtt_cert_file: Path | None = Field(default=None, description="client certificate (PEM)")
    mqtt_key_file: Path | None = Field(default=None, description="client certificate's key")
    broker_files_dir: Path | None = Field(
        default=None,
        description="where the broker's password file and ACL are regenerated on registration",
    )
    telemetry_workers: bool = Field(
        default=False,
        description="telemetry comes from `vpp telemetry-worker` processes on the broker "
        "(a shared subscription), merged into the controller's monitor; needs mqtt_url",
    )
    simulated_devices: bool = Field(
        default=False, description="simulated gateways for every registered site"
    )
    time_scale: float = Field(
        default=1.0, ge=1.0, le=3600.0, description="simulated seconds per wall second"
    )
    clock_start: AwareDatetime | None = Field(
        default=None,
        description="a fresh sped-up clock starts at this moment instead of now (demos: an "
        "event in the district's peak hours whatever the wall time); needs simulated_devices "
        "and time_scale > 1, and never sets a kept clock back",
    )
    data_dir: Path = Field(default=Path("vpp-data"), description="simulation reports")
    scenarios_dir: Path = Field(
        default=Path("configs/scenarios"), description="where named scenarios are looked up"
    )
    max_body_bytes: int = Field(default=1 << 20, gt=0)
    settlement_rule: str = DEFAULT_RULE
    plan_wait_s: float = Field(
        default=15.0, ge=0, description="how long POST /v1/events waits for the first plan [s]"
    )
    sync_period_s: float = Field(
        default=1.0, gt=0, description="how often progress is written to the store [s, wall]"
    )
    device_tick_s: float = Field(
        default=30.0, gt=0, description="simulated gateways report this often [s, clock]"
    )
    controller: ControllerSettings = ControllerSettings()
    ocpp: OcppServerSettings | None = Field(
        default=None, description="an OCPP 1.6J central system for EV pools on protocol ocpp"
    )
    openadr: VenSettings | None = Field(
        default=None, description="an OpenADR 2.0b VEN toward this VTN (needs vpp[openadr])"
    )

    @property
    def paced(self) -> bool:
        """A sped-up clock over simulated devices waits for the work (see PacedClock)."""
        return self.simulated_devices and self.time_scale > 1.0

    @model_validator(mode="after")
    def _workers_need_a_broker_and_the_wall_clock(self) -> ServiceSettings:
        # workers are processes on a real broker, and they gate readings on their own wall
        # clock: a service on a faster clock would see its own readings refused as stale
        if self.telemetry_workers and self.mqtt_url is None:
            raise ValueError("telemetry_workers: the workers need a broker (mqtt_url)")
        if self.telemetry_workers and self.time_scale != 1.0:
            raise ValueError("telemetry_workers: the workers run on the wall clock (time_scale 1)")
        if self.clock_start is not None and (not self.paced or self.ocpp or self.openadr):
            # charge points and utilities keep the wall clock: setpoints' expiry and the
            # utility's event times are moments on it
            raise ValueError(
                "clock_start: only for simulated devices on a sped-up clock (no OCPP, no OpenADR)"
            )
        return self
