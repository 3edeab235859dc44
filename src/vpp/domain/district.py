"""Who owns what: enterprises, their sites and resources, the feeders and the district."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from vpp.domain._base import (
    DailyProfile,
    DailyWindow,
    FrozenModel,
    NonNegativeFloat,
    PositiveFloat,
    Slug,
)
from vpp.domain.event import kw_of_pct
from vpp.domain.kinds import Resource, on_kinds_changed
from vpp.domain.rotation import RotationPolicy
from vpp.domain.timegrid import zone


class Sector(StrEnum):
    INDUSTRIAL = "industrial"
    COMMERCIAL = "commercial"
    PUBLIC_CHARGING = "public_charging"
    RESIDENTIAL_CHARGING = "residential_charging"
    STORAGE_OPERATOR = "storage_operator"


class Site(FrozenModel):
    """A metered location behind one gateway; its id is part of the MQTT topics."""

    site_id: Slug
    name: str | None = None
    protocol: Slug = Field(
        default="mqtt", description="how vpp reaches this site's devices (mqtt, ocpp, modbus)"
    )
    resources: tuple[Resource, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_resources(self) -> Site:
        _require_unique("resources", [r.resource_id for r in self.resources], "resource_id")
        return self


class Enterprise(FrozenModel):
    enterprise_id: Slug
    name: str
    sector: Sector
    feeder_id: Slug
    sites: tuple[Site, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_sites(self) -> Enterprise:
        _require_unique("sites", [s.site_id for s in self.sites], "site_id")
        return self


class Feeder(FrozenModel):
    """A distribution feeder; rebound and valley filling must stay under its capacity."""

    feeder_id: Slug
    capacity_kw: PositiveFloat
    background_load_kw: DailyProfile = Field(
        description="load on the feeder from customers outside the VPP [kW]"
    )


class SyntheticHistory(FrozenModel):
    """Meter history made by vpp's seeded generator (see vpp.synthetic)."""

    source: Literal["synthetic"] = "synthetic"
    seed: int = 0
    days: int = Field(default=60, ge=7, le=400)
    noise_pct: NonNegativeFloat = Field(default=4.0, le=50.0)


class CsvHistory(FrozenModel):
    """Meter history from a CSV file (columns timestamp, meter_id, power_kw)."""

    source: Literal["csv"] = "csv"
    path: Path


MeterHistorySource = Annotated[SyntheticHistory | CsvHistory, Field(discriminator="source")]


ReboundCap = Literal["baseline_peak", "none"] | PositiveFloat
"""The portfolio's load limit outside an event window: the day's baseline peak, a figure
[kW], or no limit."""


def rebound_cap_kw(cap: ReboundCap, baseline_kw: Iterable[float]) -> float | None:
    """The cap in kW for a portfolio baseline over the horizon [kW]; None when there is none.

    ``baseline_peak`` is the baseline's largest value: dispatch may move load in time but
    must not make the day's peak higher than it would have been without the event.
    """
    if cap == "none":
        return None
    if cap == "baseline_peak":
        return float(max(baseline_kw, default=0.0))
    return float(cap)


class ResourceRef(NamedTuple):
    """A resource with the ownership facts the optimiser and the controller need."""

    enterprise: Enterprise
    site: Site
    resource: Resource

    @property
    def key(self) -> str:
        """``site_id/resource_id``: unique in a district, and the MQTT topic's middle part."""
        return f"{self.site.site_id}/{self.resource.resource_id}"

    @property
    def protocol(self) -> str:
        """The protocol that reaches this resource: its own, else its site's."""
        return self.resource.protocol or self.site.protocol


class District(FrozenModel):
    """A district VPP: its peak, its feeders and the enterprises that pool resources in it."""

    district_id: Slug
    name: str
    timezone: str = "Asia/Shanghai"
    peak_load_kw: PositiveFloat = Field(description="the district's stated peak load [kW]")
    peak_hours: DailyWindow = Field(
        description="local hours of the district peak, e.g. '11:00-13:00'"
    )
    response_target_pct: Annotated[float, Field(gt=0, le=100)] = Field(
        default=5.0, description="required response capability [% of peak]"
    )
    energy_price_cny_per_kwh: NonNegativeFloat = Field(
        default=0.65, description="flat tariff pricing extra energy (battery losses, pre-cooling)"
    )
    feeders: tuple[Feeder, ...] = Field(min_length=1)
    enterprises: tuple[Enterprise, ...] = Field(min_length=1)
    rotation_counts: dict[Slug, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict,
        description="events each enterprise was dispatched in the current rotation round",
    )
    rotation: RotationPolicy = Field(
        default_factory=RotationPolicy,
        description="which past calls count for rotation, and the rounds (domain/rotation.py)",
    )
    meter_history: MeterHistorySource | None = None
    rebound_cap: ReboundCap = Field(
        default="baseline_peak",
        description="portfolio load limit outside event windows: 'baseline_peak', kW, 'none'",
    )
    storage_reserve: Annotated[float, Field(ge=0, le=1)] = Field(
        # 0 by default: a district that expects no later call that day should not give up
        # the day-ahead energy a reserve locks away (README, "Rebound under a cap")
        default=0.0,
        description="state of charge [0..1] day-ahead plans keep in every battery for "
        "intraday and real-time calls, which may use it",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @model_validator(mode="after")
    def _references(self) -> District:
        _require_unique("feeders", [f.feeder_id for f in self.feeders], "feeder_id")
        _require_unique("enterprises", [e.enterprise_id for e in self.enterprises], "enterprise_id")
        feeders = {f.feeder_id for f in self.feeders}
        for i, enterprise in enumerate(self.enterprises):
            if enterprise.feeder_id not in feeders:
                raise ValueError(
                    f"enterprises.{i}.feeder_id: unknown feeder {enterprise.feeder_id!r}"
                )
        # Site ids name MQTT topics, so they must be unique across the district, not only
        # within an enterprise.
        seen: set[str] = set()
        for i, enterprise in enumerate(self.enterprises):
            for j, site in enumerate(enterprise.sites):
                if site.site_id in seen:
                    raise ValueError(
                        f"enterprises.{i}.sites.{j}.site_id: duplicate {site.site_id!r}"
                    )
                seen.add(site.site_id)
        known = {e.enterprise_id for e in self.enterprises}
        for enterprise_id in self.rotation_counts:
            if enterprise_id not in known:
                raise ValueError(f"rotation_counts.{enterprise_id}: unknown enterprise")
        for i, group in enumerate(self.rotation.rounds):
            for enterprise_id in group:
                if enterprise_id not in known:
                    raise ValueError(f"rotation.rounds.{i}: unknown enterprise {enterprise_id!r}")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def target_kw(self) -> float:
        """The response the district must be able to deliver [kW]."""
        return kw_of_pct(self.response_target_pct, self.peak_load_kw)

    def resources(self) -> Iterator[ResourceRef]:
        for enterprise in self.enterprises:
            for site in enterprise.sites:
                for resource in site.resources:
                    yield ResourceRef(enterprise, site, resource)

    def feeder(self, feeder_id: str) -> Feeder:
        for feeder in self.feeders:
            if feeder.feeder_id == feeder_id:
                return feeder
        raise KeyError(feeder_id)


def _require_unique(field: str, values: list[str], key: str) -> None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            raise ValueError(f"{field}.{i}.{key}: duplicate {value!r}")
        seen.add(value)


def _rebuild_for_new_kinds() -> None:
    """Models that embed a resource validate the kinds registered when they were built."""
    for model in (Site, Enterprise, District):
        model.model_rebuild(force=True)


on_kinds_changed(_rebuild_for_new_kinds)
