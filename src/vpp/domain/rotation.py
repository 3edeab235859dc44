"""Rotation kept across events (分轮次): who was called in which event, and what it counts for.

The ledger records, per completed event and enterprise, whether it was called, its asked and
delivered energy and its net earnings. The optimiser's rotation adder reads call counts per
enterprise (``District.rotation_counts``, a price adder per call); :func:`with_rotation`
fills them from the ledger over the district's rotation window, plus the static counts of
the district file. Rounds (轮次) are groups of enterprises called in order, as
orderly-power-use plans do: the current round is the first with the fewest events called;
an enterprise of a later round counts ``round_weight_calls`` extra calls per round it is
away, so it is called only when the current round cannot cover the target.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import AwareDatetime, Field, computed_field, field_validator, model_validator

from vpp.domain._base import FiniteFloat, FrozenModel, NonNegativeFloat, Slug
from vpp.domain.kinds import kind_of

if TYPE_CHECKING:
    from vpp.domain.district import District, Enterprise


class RotationEntry(FrozenModel):
    """One enterprise in one completed event."""

    event_id: Slug
    start: AwareDatetime = Field(description="the event's start")
    enterprise_id: Slug
    called: bool = Field(description="asked something in the event")
    asked_kwh: NonNegativeFloat = Field(default=0.0, description="asked response [kWh]")
    delivered_kwh: FiniteFloat = Field(
        default=0.0, description="delivered response in the asked intervals [kWh]"
    )
    net_cny: FiniteFloat = Field(default=0.0, description="payment less penalty [CNY]")

    @property
    def key(self) -> tuple[str, datetime, str]:
        return (self.event_id, self.start, self.enterprise_id)


class RotationPolicy(FrozenModel):
    """Which past calls count, and the district's rounds."""

    window_days: Annotated[int, Field(ge=1, le=3660)] | None = Field(
        default=None, description="rolling window of past events counted [days]; None: all"
    )
    season_start: str | None = Field(
        default=None,
        description="MM-DD the season starts each year; calls before it do not count",
    )
    rounds: tuple[tuple[Slug, ...], ...] = Field(
        default=(), description="groups of enterprise_id called in order (轮次)"
    )
    round_weight_calls: Annotated[int, Field(ge=0)] = Field(
        default=20, description="extra calls counted per round an enterprise is away from turn"
    )

    @field_validator("season_start")
    @classmethod
    def _month_day(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                date.fromisoformat(f"2001-{value}")  # not a leap year: no 02-29 season
            except ValueError:
                raise ValueError(f"expected MM-DD, got {value!r}") from None
        return value

    @model_validator(mode="after")
    def _rounds_disjoint(self) -> RotationPolicy:
        seen: set[str] = set()
        for i, group in enumerate(self.rounds):
            if not group:
                raise ValueError(f"rounds.{i}: a round needs at least one enterprise")
            for enterprise_id in group:
                if enterprise_id in seen:
                    raise ValueError(f"rounds.{i}: {enterprise_id!r} is in two rounds")
                seen.add(enterprise_id)
        return self

    def window_start(self, at: datetime) -> datetime | None:
        """The earliest event start that still counts at ``at``; None: all count."""
        starts = []
        if self.window_days is not None:
            starts.append(at - timedelta(days=self.window_days))
        if self.season_start is not None:
            month, day = (int(x) for x in self.season_start.split("-"))
            season = at.replace(month=month, day=day, hour=0, minute=0, second=0, microsecond=0)
            if season > at:
                season = season.replace(year=at.year - 1)
            starts.append(season)
        return max(starts) if starts else None


class EnterpriseRotation(FrozenModel):
    """One enterprise's share of the load over a window."""

    enterprise_id: Slug
    events: int = Field(description="events recorded in the window")
    calls: int = Field(description="events it was called in")
    asked_kwh: float
    delivered_kwh: float
    net_cny: float
    flexibility_kw: float = Field(description="registered flexibility (nominal) [kW]")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def calls_per_mw(self) -> float | None:
        """Calls per MW of registered flexibility; None without flexibility [1/MW]."""
        return self.calls / (self.flexibility_kw / 1000.0) if self.flexibility_kw > 0 else None


class RotationLedger(FrozenModel):
    """Every recorded (event, enterprise) entry; one entry per key."""

    entries: tuple[RotationEntry, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> RotationLedger:
        seen: set[tuple[str, datetime, str]] = set()
        for i, entry in enumerate(self.entries):
            if entry.key in seen:
                raise ValueError(f"entries.{i}: {entry.event_id}/{entry.enterprise_id} twice")
            seen.add(entry.key)
        return self

    def merged(self, entries: Iterable[RotationEntry]) -> RotationLedger:
        """The ledger with new entries; an entry already recorded is kept as it was."""
        known = {e.key for e in self.entries}
        new = [e for e in entries if e.key not in known]
        return RotationLedger(entries=(*self.entries, *new))

    def between(self, since: datetime | None, until: datetime) -> RotationLedger:
        """Entries of events that started in ``[since, until)``."""
        return RotationLedger(
            entries=tuple(
                e for e in self.entries if e.start < until and (since is None or e.start >= since)
            )
        )

    def calls(self) -> Counter[str]:
        """Events each enterprise was called in."""
        return Counter(e.enterprise_id for e in self.entries if e.called)

    def summary(self, district: District) -> list[EnterpriseRotation]:
        """Per enterprise of the district (and any other in the ledger), in district order."""
        ids = [e.enterprise_id for e in district.enterprises]
        ids += sorted({e.enterprise_id for e in self.entries} - set(ids))
        flex = {e.enterprise_id: registered_flexibility_kw(e) for e in district.enterprises}
        out = []
        for enterprise_id in ids:
            mine = [e for e in self.entries if e.enterprise_id == enterprise_id]
            out.append(
                EnterpriseRotation(
                    enterprise_id=enterprise_id,
                    events=len({(e.event_id, e.start) for e in mine}),
                    calls=sum(e.called for e in mine),
                    asked_kwh=sum(e.asked_kwh for e in mine),
                    delivered_kwh=sum(e.delivered_kwh for e in mine),
                    net_cny=sum(e.net_cny for e in mine),
                    flexibility_kw=flex.get(enterprise_id, 0.0),
                )
            )
        return out


def registered_flexibility_kw(enterprise: Enterprise) -> float:
    """Nominal flexibility an enterprise registered [kW]: each resource's kind says how much
    (curtailment steps, battery discharge, EV chargers' maximum, HVAC rated power; PV none)."""
    return (
        sum(
            kind_of(resource).flexibility_kw(resource)
            for site in enterprise.sites
            for resource in site.resources
        )
        + 0.0
    )


def fairness(rows: Iterable[EnterpriseRotation]) -> tuple[float, float]:
    """Spread (max - min) and coefficient of variation of calls per MW of registered
    flexibility, over enterprises with flexibility; 0 is perfectly even [1/MW, -]."""
    values = np.array([r.calls_per_mw for r in rows if r.calls_per_mw is not None])
    if values.size == 0:
        return 0.0, 0.0
    mean = float(values.mean())
    cv = float(values.std() / mean) if mean > 0 else 0.0
    return float(values.max() - values.min()), cv


def current_round(policy: RotationPolicy, calls_by_event: Mapping[str, set[str]]) -> int | None:
    """Index of the round whose turn it is: the first with the fewest events called.

    ``calls_by_event`` maps each counted event to the enterprises called in it.
    """
    if not policy.rounds:
        return None
    called = [
        sum(1 for members in calls_by_event.values() if members & set(group))
        for group in policy.rounds
    ]
    return called.index(min(called))


def rotation_counts(district: District, ledger: RotationLedger, at: datetime) -> dict[str, int]:
    """Calls each enterprise counts for at ``at``: the district file's static counts, the
    ledger's calls in the rotation window, and the round distance (module docstring)."""
    policy = district.rotation
    counted = ledger.between(policy.window_start(at), at)
    counts: Counter[str] = Counter(district.rotation_counts)
    counts.update(counted.calls())
    by_event: dict[str, set[str]] = {}
    for e in counted.entries:
        members = by_event.setdefault(f"{e.event_id}@{e.start.isoformat()}", set())
        if e.called:
            members.add(e.enterprise_id)
    turn = current_round(policy, by_event)
    if turn is not None:
        n = len(policy.rounds)
        for i, group in enumerate(policy.rounds):
            for enterprise_id in group:
                counts[enterprise_id] += ((i - turn) % n) * policy.round_weight_calls
    known = {e.enterprise_id for e in district.enterprises}
    return {k: v for k, v in counts.items() if k in known and v > 0}


def with_rotation(district: District, ledger: RotationLedger, at: datetime) -> District:
    """The district with its rotation counts taken from the ledger at ``at``."""
    return district.model_copy(update={"rotation_counts": rotation_counts(district, ledger, at)})
