"""One enterprise's earnings across events: its settlement lines summed.

An event in which the enterprise was asked nothing counts as an "unasked" event: its
response is summed apart (``unasked_kwh``) and adds nothing to payment or penalty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import Field, computed_field

from vpp.domain import FrozenModel, Slug
from vpp.settlement.compute import EnterpriseSettlement
from vpp.settlement.rules import performance_ratio


class EnterpriseTotals(FrozenModel):
    """What one enterprise was asked, delivered and earned over several events."""

    enterprise_id: Slug
    events: int = Field(ge=0, description="events in which it was asked something")
    unasked_events: int = Field(ge=0, description="events it took part in but was asked nothing")
    effective_events: int = Field(ge=0, description="events with a ratio in the rule's band")
    asked_kwh: float = Field(description="asked response energy [kWh]")
    delivered_kwh: float = Field(description="delivered response in the asked intervals [kWh]")
    unasked_kwh: float = Field(description="response outside any ask, not settled [kWh]")
    credited_kwh: float = Field(description="energy paid [kWh]")
    payment_cny: float = Field(description="payments [CNY]")
    penalty_cny: float = Field(description="penalties, >= 0 [CNY]")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def net_cny(self) -> float:
        """Payments less penalties [CNY]."""
        return self.payment_cny - self.penalty_cny

    @computed_field  # type: ignore[prop-decorator]
    @property
    def performance_ratio(self) -> float | None:
        """Delivered over asked energy across the events, 0 when the load rose; None when
        nothing was ever asked [-]."""
        ratio = performance_ratio(self.asked_kwh, self.delivered_kwh)
        return None if ratio is None else max(0.0, ratio)


def enterprise_totals(
    enterprise_id: str, lines: Iterable[EnterpriseSettlement]
) -> EnterpriseTotals:
    """Sum an enterprise's lines; a line of another enterprise is an error naming it."""
    mine = list(lines)
    for line in mine:
        if line.enterprise_id != enterprise_id:
            raise ValueError(
                f"enterprise_id: a line of {line.enterprise_id!r} among {enterprise_id!r}'s"
            )
    asked = [line for line in mine if not line.unasked_response]
    return EnterpriseTotals(
        enterprise_id=enterprise_id,
        events=len(asked),
        unasked_events=len(mine) - len(asked),
        effective_events=sum(line.effective for line in asked),
        asked_kwh=sum(line.asked_kwh for line in asked),
        delivered_kwh=sum(line.delivered_kwh for line in asked),
        unasked_kwh=sum(line.unasked_kwh for line in mine),
        credited_kwh=sum(line.credited_kwh for line in asked),
        payment_cny=sum(line.payment_cny for line in asked),
        penalty_cny=sum(line.penalty_cny for line in asked),
    )


def stored_line(data: Mapping[str, Any]) -> EnterpriseSettlement:
    """A settlement line from its JSON form (computed fields dropped, as stored or reported)."""
    computed = set(EnterpriseSettlement.model_computed_fields)
    return EnterpriseSettlement.model_validate({k: v for k, v in data.items() if k not in computed})
