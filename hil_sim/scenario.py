"""Scenario files: which district, which day, which events, which faults, how to judge.

Paths inside a scenario resolve from the scenario file's folder; times of day are local to
the district (``"HH:MM-HH:MM"``), and ``window: peak`` means the district's peak hours.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from vpp.config import load_district, read_yaml, validate
from vpp.controller import ControllerSettings
from vpp.domain import (
    PLANNABLE_YEARS,
    DailyWindow,
    DemandResponseEvent,
    District,
    EventKind,
    FrozenModel,
    Notice,
    Slug,
    daily_window_on,
)
from vpp.hil_sim.faults import FaultSpec
from vpp.hil_sim.physics import PhysicsSettings
from vpp.planning import DEFAULT_LEAD, make_event, peak_window
from vpp.settlement import RULE_PRESETS


class ScenarioEvent(FrozenModel):
    """An event the simulated grid operator issues during the run."""

    event_id: Slug
    kind: EventKind = EventKind.PEAK_SHAVING
    window: DailyWindow | None = Field(
        default=None, description="local HH:MM-HH:MM; omitted: the district's peak hours"
    )
    target_kw: Annotated[float, Field(gt=0)] | None = None
    target_pct: Annotated[float, Field(gt=0, le=100)] | None = Field(
        default=None, description="% of district peak; omitted with target_kw: the district's"
    )
    notice: Notice = Notice.DAY_AHEAD
    lead_min: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="issued this long before the window [min]; default by notice"
    )

    @model_validator(mode="after")
    def _one_target(self) -> ScenarioEvent:
        if self.target_kw is not None and self.target_pct is not None:
            raise ValueError("target_kw: give target_kw or target_pct, not both")
        return self

    def to_event(self, district: District, day: date) -> DemandResponseEvent:
        if self.window is None:
            start, end = peak_window(district, day)
        else:
            start, end = daily_window_on(day, self.window, district.tz)
        lead = (
            DEFAULT_LEAD[self.notice] if self.lead_min is None else timedelta(minutes=self.lead_min)
        )
        return make_event(
            district,
            start,
            end,
            target_kw=self.target_kw,
            target_pct=self.target_pct,
            kind=self.kind,
            notice=self.notice,
            issued_at=start - lead,
            event_id=self.event_id,
        )


class Scenario(FrozenModel):
    name: str
    district: Path = Field(description="district file, relative to the scenario file")
    day: date
    seed: int = 0
    tick_s: int = Field(default=60, ge=5, le=900, description="simulation step [s]")
    events: tuple[ScenarioEvent, ...] = ()
    faults: FaultSpec = FaultSpec()
    physics: PhysicsSettings = PhysicsSettings()
    controller: ControllerSettings = ControllerSettings()
    settlement_rule: str = "default"
    protocols: dict[Slug, Literal["mqtt", "ocpp", "modbus"]] = Field(
        default_factory=dict,
        description="sites reached by another protocol than their own, e.g. {depot: ocpp}: "
        "on ocpp the site's EV pools become OCPP charge points, on modbus its batteries and "
        "PV a SunSpec device (a pymodbus server); the rest of the site stays on MQTT",
    )

    @model_validator(mode="after")
    def _valid(self) -> Scenario:
        ids = [e.event_id for e in self.events]
        if len(ids) != len(set(ids)):
            raise ValueError("events: event_id values must be unique")
        if self.settlement_rule not in RULE_PRESETS:
            known = ", ".join(sorted(RULE_PRESETS))
            raise ValueError(f"settlement_rule: unknown rule {self.settlement_rule!r} ({known})")
        if (900 % self.tick_s) != 0:
            raise ValueError("tick_s: must divide 900 s, so ticks meet every interval boundary")
        first, last = PLANNABLE_YEARS
        if not first <= self.day.year <= last:
            raise ValueError(
                f"day: {self.day} is outside the years {first}..{last} vpp can plan for"
            )
        return self

    def load_district(self) -> District:
        return load_district(self.district)

    def day_start(self, district: District) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, tzinfo=district.tz)


def load_scenario(path: Path) -> Scenario:
    """Load and validate a scenario file; its district path resolves from its folder."""
    scenario = validate(Scenario, read_yaml(path), str(path))
    if not scenario.district.is_absolute():
        scenario = scenario.model_copy(update={"district": path.parent / scenario.district})
    return scenario
