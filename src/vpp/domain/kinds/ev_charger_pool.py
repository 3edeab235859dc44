"""EV chargers of one site: commanded a limit, up to the sum of the chargers' ratings."""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import Field, model_validator

from vpp.domain._base import FrozenModel, NonNegativeFloat, PositiveFloat, Slug
from vpp.domain.dispatch import SetpointMode
from vpp.domain.kinds.spec import ResourceBase, ResourceKind


class Charger(FrozenModel):
    charger_id: Slug
    max_kw: PositiveFloat
    min_kw: NonNegativeFloat = Field(default=0.0, description="lowest power when on [kW]")

    @model_validator(mode="after")
    def _min_below_max(self) -> Charger:
        if self.min_kw > self.max_kw:
            raise ValueError(f"min_kw: {self.min_kw} exceeds max_kw ({self.max_kw})")
        return self


class EvSession(FrozenModel):
    """A recurring daily plug-in: a departure at or before the arrival time is the next day."""

    charger_id: Slug
    arrival: time
    departure: time
    energy_kwh: PositiveFloat = Field(description="energy the vehicle needs by departure")

    @property
    def connected_min(self) -> int:
        arrive = self.arrival.hour * 60 + self.arrival.minute
        depart = self.departure.hour * 60 + self.departure.minute
        return (depart - arrive) % 1440 or 1440


class EvChargerPool(ResourceBase):
    """Chargers of one site controlled together; the baseline is uncontrolled full-power charging.

    Dispatch may delay or reduce charging, but each session still receives its energy by
    departure (or as much as the charger could give it when uncontrolled).
    """

    kind: Literal["ev_charger_pool"] = "ev_charger_pool"
    chargers: tuple[Charger, ...] = Field(min_length=1)
    sessions: tuple[EvSession, ...] = ()
    price_cny_per_kwh: NonNegativeFloat = Field(default=0.0, description="asked price for response")

    @model_validator(mode="after")
    def _sessions_on_known_chargers(self) -> EvChargerPool:
        ids = [charger.charger_id for charger in self.chargers]
        if len(set(ids)) != len(ids):
            raise ValueError("chargers: charger_id values must be unique")
        busy: dict[str, list[tuple[int, int]]] = {}
        for i, session in enumerate(self.sessions):
            if session.charger_id not in ids:
                raise ValueError(f"sessions.{i}.charger_id: unknown charger {session.charger_id!r}")
            start = session.arrival.hour * 60 + session.arrival.minute
            spans = busy.setdefault(session.charger_id, [])
            for other_start, other_len in spans:
                if _daily_overlap(start, session.connected_min, other_start, other_len):
                    raise ValueError(
                        f"sessions.{i}: overlaps another session on charger {session.charger_id!r}"
                    )
            spans.append((start, session.connected_min))
        return self

    @property
    def max_kw(self) -> float:
        return sum(charger.max_kw for charger in self.chargers)


def _daily_overlap(start_a: int, len_a: int, start_b: int, len_b: int) -> bool:
    """Whether two recurring daily spans (minutes) overlap on any day."""
    for shift in (-1440, 0, 1440):
        b0 = start_b + shift
        if start_a < b0 + len_b and b0 < start_a + len_a:
            return True
    return False


def energy_owed_max_kwh(pool: EvChargerPool) -> float:
    """The most a pool's plugged-in vehicles can plausibly still need [kWh]: a day of every
    charger at full power (no one plug-in asks more of its charger than a day gives)."""
    return pool.max_kw * 24.0


def _pool_range_kw(pool: EvChargerPool) -> tuple[float, float]:
    return 0.0, pool.max_kw


EV_CHARGER_POOL = ResourceKind(
    name="ev_charger_pool",
    model=EvChargerPool,
    modes=(SetpointMode.LIMIT,),
    command_range_kw=_pool_range_kw,
    range_names=("", "the chargers' max_kw"),
    envelope_kw=lambda pool, headroom_pct: _pool_range_kw(pool),
    flexibility_kw=lambda pool: pool.max_kw,
    ramp_lead_s=60.0,
    recovers_under_command=True,  # catches up on the energy owed under limits
    energy_owed_max_kwh=energy_owed_max_kwh,
    plot_color="#C44E52",
)
