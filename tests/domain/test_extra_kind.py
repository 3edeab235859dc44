"""A kind defined only here, a heat pump, dispatches, simulates and settles: adding a kind
is one domain model and spec, one optimiser builder and one physics model, each registered
in one line, without touching shared code."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
from pydantic import Field, ValidationError

from vpp.domain import (
    District,
    ResourceBase,
    ResourceKind,
    ResourceRef,
    SetpointMode,
    command_refusal,
    envelope_kw,
    kind_of,
    register_kind,
    registered_flexibility_kw,
    unregister_kind,
)
from vpp.hil_sim.physics import (
    DEVICE_BUILDERS,
    Command,
    DayClock,
    DeviceContext,
    register_physics,
)
from vpp.hil_sim.physics.base import DeviceState
from vpp.hil_sim.runner import simulate
from vpp.hil_sim.scenario import load_scenario
from vpp.optimizer import dispatch
from vpp.optimizer.check import check_dispatch
from vpp.optimizer.linear import FloatArray, LinearModel
from vpp.optimizer.problem import DispatchProblem, ModelContext
from vpp.optimizer.resources import register_builder, unregister_builder
from vpp.optimizer.resources._block import KindBlock, column, deviating, resources_of

from builders import enterprise, event, problem

DATA = Path(__file__).parent.parent / "data"
KIND = "heat_pump"


class HeatPump(ResourceBase):
    """A building's heat pump as a thermal load: it runs at its nominal power and may be
    held down to ``min_power_kw`` until the building's thermal buffer is spent."""

    kind: Literal["heat_pump"] = "heat_pump"
    nominal_power_kw: float = Field(gt=0)
    min_power_kw: float = Field(default=0.0, ge=0)
    buffer_kwh: float = Field(gt=0, description="electric energy it may defer a day [kWh]")
    price_cny_per_kwh: float = Field(default=0.0, ge=0)


HEAT_PUMP = ResourceKind(
    name=KIND,
    model=HeatPump,
    modes=(SetpointMode.LIMIT,),
    command_range_kw=lambda hp: (0.0, hp.nominal_power_kw),
    range_names=("", "nominal_power_kw"),
    envelope_kw=lambda hp, headroom_pct: (0.0, hp.nominal_power_kw),
    flexibility_kw=lambda hp: hp.nominal_power_kw - hp.min_power_kw,
    ramp_lead_s=120.0,
)


def add_heat_pump(
    m: LinearModel, refs: list[ResourceRef], problem: DispatchProblem, ctx: ModelContext
) -> KindBlock | None:
    """Power [kW] between its minimum and nominal where dispatchable, nominal elsewhere;
    the energy deferred over the horizon within its buffer."""
    if not refs:
        return None
    pumps: list[HeatPump] = resources_of(refs, HeatPump)
    n_r, n_t = len(pumps), ctx.n_t
    nominal = column(pumps, "nominal_power_kw")
    baseline = np.broadcast_to(nominal, (n_r, n_t)).copy()
    active = np.array([ctx.grid.in_daily_windows(p.availability) for p in pumps]) & ctx.free
    lower = np.where(active, column(pumps, "min_power_kw"), baseline)
    power = m.add_variables(f"{KIND}.power_kw", (n_r, n_t), lower, baseline)
    deferrable = baseline.sum(axis=1) * ctx.dt_h - column(pumps, "buffer_kwh")[:, 0]
    m.add_constraints(f"{KIND}.buffer", [(power, ctx.dt_h)], lower=deferrable, shape=(n_r,))

    def setpoint_kw(x: FloatArray) -> FloatArray:
        return deviating(m.value(x, f"{KIND}.power_kw"), baseline)

    price = column(pumps, "price_cny_per_kwh")[:, 0]
    return KindBlock(KIND, refs, baseline, power, SetpointMode.LIMIT, setpoint_kw, price)


class HeatPumpDevice(DeviceState[HeatPump]):  # type: ignore[type-var]
    """Runs at nominal power; under a limit it holds down while the buffer lasts."""

    kind = KIND

    def __init__(self, resource: HeatPump, *, day: date, tz: tzinfo) -> None:
        self.resource = resource
        self.resource_id = resource.resource_id
        self.clock = DayClock(day, tz)
        self.deferred_kwh = 0.0
        self._minute = 0.0

    def step(self, t0: datetime, t1: datetime, command: Command | None) -> float:
        hours = (t1 - t0).total_seconds() / 3600.0
        self._minute = self.clock.minute_of_day(self.clock.seconds(t1))
        hp = self.resource
        power_kw = hp.nominal_power_kw
        if command is not None and self.deferred_kwh < hp.buffer_kwh:
            power_kw = min(hp.nominal_power_kw, max(hp.min_power_kw, command.power_kw))
        self.deferred_kwh += (hp.nominal_power_kw - power_kw) * hours
        return power_kw


def build_heat_pump(ref: ResourceRef, ctx: DeviceContext) -> HeatPumpDevice:
    assert isinstance(ref.resource, HeatPump)
    return HeatPumpDevice(ref.resource, day=ctx.day, tz=ctx.tz)


@pytest.fixture
def heat_pump_kind() -> Iterator[None]:
    """The heat pump known to every part, one line each; forgotten afterwards."""
    register_kind(HEAT_PUMP)
    register_builder(KIND, add_heat_pump)
    register_physics(KIND, build_heat_pump)
    yield
    DEVICE_BUILDERS.pop(KIND)
    unregister_builder(KIND)
    unregister_kind(KIND)


def heat_pump(resource_id: str = "hp", **extra: object) -> dict[str, object]:
    return {
        "kind": KIND,
        "resource_id": resource_id,
        "nominal_power_kw": 400.0,
        "min_power_kw": 100.0,
        "buffer_kwh": 200.0,
        "price_cny_per_kwh": 0.2,
        **extra,
    }


def tiny_district() -> District:
    return load_scenario(DATA / "tiny_scenario.yaml").load_district()


def with_heat_pump(district: District) -> District:
    """The district with a further enterprise whose site holds one heat pump."""
    data = district.model_dump(mode="json")
    data["enterprises"].append(enterprise("warmth", [heat_pump()], sector="commercial"))
    return District.model_validate(data)


def test_an_unknown_kind_is_refused_naming_the_known_ones():
    """Before it is registered, a heat pump is no kind; the error lists the kinds."""
    tiny = tiny_district()
    with pytest.raises(ValidationError, match=r"heat_pump.*'battery'"):
        with_heat_pump(tiny)


def test_a_registered_kind_validates_and_answers_for_itself(heat_pump_kind):
    """Registered, its registrations validate (and are refused whole when invalid), and
    plausibility, rotation and the command bound ask its spec."""
    district = with_heat_pump(tiny_district())
    hp = district.enterprises[-1].sites[0].resources[0]
    assert isinstance(hp, HeatPump)
    assert kind_of(hp) is HEAT_PUMP
    assert envelope_kw(hp) == (0.0, 400.0)
    assert registered_flexibility_kw(district.enterprises[-1]) == 300.0
    assert command_refusal(hp, SetpointMode.LIMIT, 150.0) is None
    assert "nominal_power_kw" in (command_refusal(hp, SetpointMode.LIMIT, 401.0) or "")
    assert "takes limit, not power" in (command_refusal(hp, SetpointMode.POWER, 150.0) or "")
    data = district.model_dump(mode="json")
    data["enterprises"][-1]["sites"][0]["resources"][0]["buffer_kwh"] = -1
    with pytest.raises(ValidationError, match="buffer_kwh"):
        District.model_validate(data)


def test_a_heat_pump_is_dispatched_within_its_buffer(heat_pump_kind):
    """The cheapest response: held down in the window, the deferred energy within its
    buffer, and the independent check finds nothing."""
    d = with_heat_pump(tiny_district())
    p = problem(d, event(11, 12, target_kw=250.0))
    result = dispatch(p)
    assert check_dispatch(p, result) == []
    (schedule,) = [s for s in result.schedules if s.kind == KIND]
    base, power = np.array(schedule.baseline_kw), np.array(schedule.power_kw)
    shed_kw = base - power
    assert 100.0 < shed_kw.max() <= 300.0 + 1e-6  # down to min_power_kw at most
    assert shed_kw.sum() * result.grid.dt_h == pytest.approx(200.0)  # its whole buffer
    assert any(v is not None for v in schedule.setpoint_kw)


async def test_a_heat_pump_is_simulated_and_settled(heat_pump_kind):
    """Over the simulated day (embedded broker, its own physics behind a simulated
    gateway) it is commanded, responds, and its enterprise is paid for the response."""
    scenario = load_scenario(DATA / "tiny_scenario.yaml")
    district = with_heat_pump(scenario.load_district())
    result = await simulate(scenario, district=district)
    (outcome,) = result.outcomes
    assert outcome.met
    (line,) = [e for e in outcome.settlement.enterprises if e.enterprise_id == "warmth"]
    assert line.delivered_kwh > 0
    assert line.payment_cny > 0
    assert result.gateways["warmth-site"].stats.acks["accepted"] > 0
    device = result.gateways["warmth-site"].devices["hp"]
    assert isinstance(device, HeatPumpDevice)
    assert 0.0 < device.deferred_kwh <= 200.0  # held down by its commands, within its buffer
