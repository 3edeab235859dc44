"""Measurement and verification of one event: asked vs delivered, credited, paid, penalised.

Inputs are plain records (:class:`ResourceDelivery`) so settlement never depends on how the
controller planned or measured. Response follows the event's direction: peak shaving
(``direction=+1``) is ``baseline - measured``, valley filling (``-1``) is
``measured - baseline``. The effective-response rule applies per enterprise, the market
participant, on energies summed over its resources and the event's intervals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated

import numpy as np
import numpy.typing as npt
from pydantic import Field, computed_field, field_validator, model_validator

from vpp.domain import (
    FrozenModel,
    Resource,
    Slug,
    UnknownReferenceError,
    VppError,
    kind_of,
)
from vpp.settlement.rules import (
    DEFAULT_RULE,
    EffectiveResponseRule,
    performance_ratio,
    resolve_rule,
)

_FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
_NonNegativeFloat = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]


ASKED_TOL_KW = 1e-6
"""An enterprise asked no more than this in an interval was asked nothing in it [kW]."""


def counted_from(asked_kw: Sequence[float]) -> int:
    """The first interval of an event from which a participant's load counts toward the
    portfolio's delivery: the first it was asked something in (before it, its load is its
    own, not a response to the event: an EV pool asked from 12:30 whose cars came early at
    12:15 has not under-delivered at 12:15); 0 for one asked nothing (dropped before its
    first ask: its whole window counts). From then on everything counts, its release and
    rebound inside the window included."""
    return next((t for t, v in enumerate(asked_kw) if v > ASKED_TOL_KW), 0)


class SettlementError(VppError, ValueError):
    """Deliveries that cannot be settled together; names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class ResourceDelivery(FrozenModel):
    """What one resource was asked for and what its meter shows, per event interval.

    ``measured_kw`` is the mean measured power of each interval; ``None`` marks an interval
    without trustworthy telemetry, counted pessimistically as no response (measured =
    baseline).
    """

    enterprise_id: Slug
    site_id: Slug
    resource_id: Slug
    kind: str
    asked_kw: tuple[_NonNegativeFloat, ...] = Field(
        min_length=1, description="planned response per event interval [kW, >= 0]"
    )
    baseline_kw: tuple[_FiniteFloat, ...] = Field(description="baseline per interval [kW]")
    measured_kw: tuple[_FiniteFloat | None, ...] = Field(
        description="mean measured power per interval; None: no trustworthy telemetry [kW]"
    )
    price_cny_per_kwh: _NonNegativeFloat = Field(description="asked price [CNY/kWh]")
    direction: float = Field(
        default=1.0, description="+1 peak shaving (less load), -1 valley filling (more load)"
    )
    refused_samples: int = Field(
        default=0, ge=0, description="readings refused as implausible during the event"
    )

    @field_validator("direction")
    @classmethod
    def _unit_direction(cls, value: float) -> float:
        if value not in (1.0, -1.0):
            raise ValueError(f"must be +1 (peak shaving) or -1 (valley filling), got {value}")
        return value

    @model_validator(mode="after")
    def _same_length(self) -> ResourceDelivery:
        n = len(self.asked_kw)
        for field in ("baseline_kw", "measured_kw"):
            if len(getattr(self, field)) != n:
                raise ValueError(
                    f"{field}: {len(getattr(self, field))} values, but asked_kw has {n}"
                )
        return self

    @property
    def key(self) -> str:
        return f"{self.site_id}/{self.resource_id}"

    @property
    def response_kw(self) -> tuple[float, ...]:
        """Delivered response per interval, in the event's direction; 0 without telemetry [kW]."""
        return tuple(
            0.0 if measured is None else self.direction * (baseline - measured)
            for baseline, measured in zip(self.baseline_kw, self.measured_kw, strict=True)
        )

    @property
    def missing_intervals(self) -> int:
        return sum(measured is None for measured in self.measured_kw)


class EnterpriseSettlement(FrozenModel):
    """One market participant's line on an event's statement.

    Only the intervals in which the enterprise was asked something are settled (a participant
    dropped mid-event is settled for the intervals before it was dropped); its response in the
    other intervals is ``unasked_kwh``, listed but neither paid nor penalised. An enterprise
    asked nothing at all is an "unasked response" line (:attr:`unasked_response`).
    """

    enterprise_id: Slug
    asked_kwh: float = Field(description="asked response energy over the event [kWh]")
    delivered_kwh: float = Field(
        description="delivered response energy in the asked intervals; < 0: load moved the "
        "wrong way [kWh]"
    )
    unasked_kwh: float = Field(
        default=0.0,
        description="response energy in the intervals it was asked nothing; neither paid nor "
        "penalised [kWh]",
    )
    asked_intervals: int = Field(
        default=0, ge=0, description="event intervals in which it was asked something"
    )
    asked_after_window_intervals: int = Field(
        default=0,
        ge=0,
        description="of those, intervals past the window (a hold, a battery absorbing the "
        "others' rebound; docs/settlement.md rule 9)",
    )
    asked_kw: float = Field(description="mean asked response over the asked intervals [kW]")
    delivered_kw: float = Field(description="mean delivered response over the asked intervals [kW]")
    performance_ratio: float | None = Field(
        description="delivered / asked, 0 when the load rose (see note); None: nothing asked [-]"
    )
    effective: bool = Field(description="performance ratio within the rule's [floor, cap]")
    credited_kwh: float = Field(description="energy that is paid [kWh]")
    price_cny_per_kwh: float = Field(
        description="asked-energy-weighted mean of resource prices; 0: nothing asked [CNY/kWh]"
    )
    payment_cny: float = Field(description="credited energy at the asked price [CNY]")
    penalty_cny: float = Field(description="shortfall penalty, >= 0 [CNY]")
    missing_intervals: int = Field(
        ge=0,
        description="resource-intervals without telemetry in the asked intervals, counted as "
        "no response",
    )
    refused_samples: int = Field(
        default=0,
        ge=0,
        description="readings of its meters refused as implausible during the event; they "
        "count for nothing",
    )
    note: str = Field(default="", description="why the line reads as it does, when it is unusual")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def net_cny(self) -> float:
        """Payment less penalty [CNY]."""
        return self.payment_cny - self.penalty_cny

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unasked_response(self) -> bool:
        """Asked nothing in the event: listed apart, no payment, no penalty."""
        return self.performance_ratio is None


class EventSettlement(FrozenModel):
    """An event's statement: one line per enterprise asked something, totals summed over
    them, and apart from them the enterprises asked nothing ("unasked response")."""

    event_id: Slug
    rule: EffectiveResponseRule
    interval_h: float = Field(gt=0.0, description="length of one event interval [h]")
    n_intervals: int = Field(
        ge=0, description="intervals settled: the window's and any after it holding an ask"
    )
    enterprises: tuple[EnterpriseSettlement, ...]
    unasked: tuple[EnterpriseSettlement, ...] = Field(
        default=(), description="enterprises asked nothing: response listed, not settled"
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def asked_kwh(self) -> float:
        return sum(line.asked_kwh for line in self.enterprises)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def delivered_kwh(self) -> float:
        return sum(line.delivered_kwh for line in self.enterprises)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unasked_kwh(self) -> float:
        """Response outside any ask, of every line, unasked ones included [kWh]."""
        return sum(line.unasked_kwh for line in (*self.enterprises, *self.unasked))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def credited_kwh(self) -> float:
        return sum(line.credited_kwh for line in self.enterprises)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def payment_cny(self) -> float:
        return sum(line.payment_cny for line in self.enterprises)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def penalty_cny(self) -> float:
        return sum(line.penalty_cny for line in self.enterprises)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def net_cny(self) -> float:
        return self.payment_cny - self.penalty_cny

    @property
    def performance_ratio(self) -> float | None:
        """Portfolio delivered over asked energy, 0 when the load rose [-]; None when nothing
        was asked."""
        ratio = performance_ratio(self.asked_kwh, self.delivered_kwh)
        return None if ratio is None else max(0.0, ratio)

    def for_enterprise(self, enterprise_id: str) -> EnterpriseSettlement:
        """The line of one enterprise, unasked or not; one not in the event is an error."""
        for line in (*self.enterprises, *self.unasked):
            if line.enterprise_id == enterprise_id:
                return line
        raise UnknownReferenceError("enterprise_id", enterprise_id)


def settle_event(
    event_id: str,
    deliveries: Sequence[ResourceDelivery],
    interval_h: float,
    rule: EffectiveResponseRule | str = DEFAULT_RULE,
    window_intervals: int | None = None,
) -> EventSettlement:
    """Settle one event per enterprise under an effective-response rule.

    Per enterprise ``e`` over its resources ``r`` and its asked intervals ``t in A(e)`` (those
    in which ``sum_r asked_kw[r, t] > 0``; docs/settlement.md)::

        asked_kwh     = sum_r,t in A(e) asked_kw[r, t] * interval_h
        delivered_kwh = sum_r,t in A(e) direction * (baseline_kw - measured_kw)[r, t] * interval_h
        unasked_kwh   = the same sum over the window's other intervals: listed, never paid
                        or penalised
        price         = sum_r asked_kwh[r] * price[r] / asked_kwh
        payment_cny   = rule.credited_kwh(asked_kwh, delivered_kwh) * price
        penalty_cny   = rule.penalised_kwh(asked_kwh, delivered_kwh) * price

    Parameters
    ----------
    event_id
        The event settled.
    deliveries
        One record per resource, all over the same event intervals and in one direction.
    interval_h
        Length of one interval [h].
    rule
        The programme's rule, or a key of :data:`RULE_PRESETS`.
    window_intervals
        How many of the intervals are the event's window; the others follow it and hold
        asks past it (docs/settlement.md, rule 9): an enterprise is settled on those it is
        asked something in, and the rest are not its (neither asked nor unasked). None:
        all are the window.
    """
    resolved = resolve_rule(rule)
    if not (math.isfinite(interval_h) and interval_h > 0):
        raise SettlementError("interval_h", f"must be a positive number of hours, got {interval_h}")
    n_intervals = _check_together(deliveries)
    by_enterprise: dict[str, list[ResourceDelivery]] = {}
    for delivery in deliveries:
        by_enterprise.setdefault(delivery.enterprise_id, []).append(delivery)
    in_window = np.arange(n_intervals) < (
        n_intervals if window_intervals is None else window_intervals
    )
    lines = [
        _settle_enterprise(enterprise_id, group, interval_h, resolved, in_window)
        for enterprise_id, group in by_enterprise.items()
    ]
    return EventSettlement(
        event_id=event_id,
        rule=resolved,
        interval_h=interval_h,
        n_intervals=n_intervals,
        enterprises=tuple(line for line in lines if not line.unasked_response),
        unasked=tuple(line for line in lines if line.unasked_response),
    )


def _check_together(deliveries: Sequence[ResourceDelivery]) -> int:
    """The common interval count, after refusing duplicates, mixed lengths and directions."""
    if not deliveries:
        return 0
    n_intervals = len(deliveries[0].asked_kw)
    direction = deliveries[0].direction
    seen: set[str] = set()
    for i, delivery in enumerate(deliveries):
        if delivery.key in seen:
            raise SettlementError(f"deliveries.{i}", f"resource {delivery.key!r} appears twice")
        seen.add(delivery.key)
        if len(delivery.asked_kw) != n_intervals:
            raise SettlementError(
                f"deliveries.{i}.asked_kw",
                f"{len(delivery.asked_kw)} intervals, but deliveries.0 has {n_intervals}",
            )
        if delivery.direction != direction:
            raise SettlementError(
                f"deliveries.{i}.direction",
                "an event is either peak shaving or valley filling, not both",
            )
    return n_intervals


def _settle_enterprise(
    enterprise_id: str,
    deliveries: Sequence[ResourceDelivery],
    interval_h: float,
    rule: EffectiveResponseRule,
    in_window: npt.NDArray[np.bool_],
) -> EnterpriseSettlement:
    """Apply the rule once to the enterprise's energies summed over its asked intervals;
    its response in the window's other intervals is unasked."""
    asked = np.array([d.asked_kw for d in deliveries]) * interval_h  # [r, t] kWh
    response = np.array([d.response_kw for d in deliveries]) * interval_h
    missing = np.array([[m is None for m in d.measured_kw] for d in deliveries])
    prices = np.array([d.price_cny_per_kwh for d in deliveries])
    was_asked = asked.sum(axis=0) > ASKED_TOL_KW * interval_h  # [t]: asked something
    asked_by_resource = asked[:, was_asked].sum(axis=1)
    asked_kwh = float(asked_by_resource.sum())
    delivered_kwh = float(response[:, was_asked].sum())
    unasked_kwh = float(response[:, ~was_asked & in_window].sum())
    ratio = performance_ratio(asked_kwh, delivered_kwh)
    price = 0.0 if ratio is None else float(asked_by_resource @ prices) / asked_kwh
    credited_kwh = rule.credited_kwh(asked_kwh, delivered_kwh)
    asked_intervals = int(was_asked.sum())
    duration_h = max(asked_intervals, 1) * interval_h
    return EnterpriseSettlement(
        enterprise_id=enterprise_id,
        asked_kwh=asked_kwh,
        delivered_kwh=delivered_kwh,
        unasked_kwh=unasked_kwh,
        asked_intervals=asked_intervals,
        asked_after_window_intervals=int((was_asked & ~in_window).sum()),
        asked_kw=asked_kwh / duration_h,
        delivered_kw=delivered_kwh / duration_h,
        performance_ratio=None if ratio is None else max(0.0, ratio),
        effective=rule.is_effective(ratio),
        credited_kwh=credited_kwh,
        price_cny_per_kwh=price,
        payment_cny=credited_kwh * price,
        penalty_cny=rule.penalised_kwh(asked_kwh, delivered_kwh) * price,
        missing_intervals=int(missing[:, was_asked].sum()),
        refused_samples=sum(d.refused_samples for d in deliveries),
        note=_note(
            asked_intervals, int((was_asked | in_window).sum()), delivered_kwh, unasked_kwh, ratio
        ),
    )


def _note(
    asked_intervals: int,
    n_intervals: int,
    delivered_kwh: float,
    unasked_kwh: float,
    ratio: float | None,
) -> str:
    """Why a line reads as it does: asked nothing, asked in part, or the load rose."""
    if ratio is None:
        return (
            f"asked nothing: {unasked_kwh:.1f} kWh of response is listed as unasked, "
            "neither paid nor penalised"
        )
    notes = []
    if delivered_kwh < 0:
        notes.append(
            f"load rose {-delivered_kwh:.1f} kWh above its baseline in the asked intervals "
            "(negative delivery): ratio shown as 0, nothing paid"
        )
    if asked_intervals < n_intervals:
        notes.append(
            f"asked in {asked_intervals} of {n_intervals} intervals (dropped, released or "
            f"not yet called): settled on those; {unasked_kwh:.1f} kWh outside them is unasked"
        )
    return "; ".join(notes)


def asked_price_cny_per_kwh(resource: Resource, asked_kw: float) -> float:
    """The price a resource asks for ``asked_kw`` of response [CNY/kWh], as its kind prices
    it: a curtailable load the shed-weighted mean of the steps it covers, PV nothing, the
    others their one asked price."""
    return kind_of(resource).asked_price_cny_per_kwh(resource, asked_kw)
