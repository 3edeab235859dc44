"""Rooftop PV: a forecast that lowers its site's net load; it takes no commands."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from vpp.domain._base import DailyProfile, PositiveFloat
from vpp.domain.kinds.spec import ResourceBase, ResourceKind


class Pv(ResourceBase):
    """Rooftop PV: a forecast, not dispatchable; its generation lowers the site's net load."""

    kind: Literal["pv"] = "pv"
    capacity_kw: PositiveFloat
    generation_kw: DailyProfile = Field(description="typical generation forecast [kW, >= 0]")

    @model_validator(mode="after")
    def _within_capacity(self) -> Pv:
        if min(self.generation_kw) < 0 or max(self.generation_kw) > self.capacity_kw + 1e-9:
            raise ValueError(f"generation_kw: must lie within 0..capacity_kw ({self.capacity_kw})")
        return self


PV = ResourceKind(
    name="pv",
    model=Pv,
    modes=(),
    command_range_kw=None,
    envelope_kw=lambda pv, headroom_pct: (-pv.capacity_kw, 0.0),
    flexibility_kw=lambda pv: 0.0,
    asked_price_cny_per_kwh=lambda pv, asked_kw: 0.0,
    plot_color="#CCB974",
)
