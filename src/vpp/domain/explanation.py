"""Why a dispatch is what it is: a reason per resource and the price of the target.

Written by the optimiser next to a :class:`~vpp.domain.dispatch.DispatchResult`, printed by
``vpp dispatch --explain`` and served with an event's record. Prices are per kWh of
response [CNY/kWh], so they compare directly with the prices resources ask.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field

from vpp.domain._base import FrozenModel, Slug


class Reason(StrEnum):
    """The one reason a resource was called or left out, most decisive first."""

    # called
    CHEAPER_THAN_MARGINAL = "cheaper_than_marginal"
    SETS_MARGINAL_PRICE = "sets_marginal_price"
    CALLED_FOR_FIT = "called_for_fit"
    # not called
    NOT_AVAILABLE = "not_available"
    NOTICE_TOO_SHORT = "notice_too_short"
    MAX_EVENTS_REACHED = "max_events_reached"
    CANNOT_RESPOND = "cannot_respond"
    FEEDER_LIMIT = "feeder_limit"
    REBOUND_CAP = "rebound_cap"
    ROTATION_TIPPED = "rotation_tipped"
    DEARER_THAN_MARGINAL = "dearer_than_marginal"
    STEP_TOO_LARGE = "step_too_large"
    NO_HEADROOM = "no_headroom"

    @property
    def called(self) -> bool:
        return self in CALLED_REASONS


CALLED_REASONS = frozenset(
    {Reason.CHEAPER_THAN_MARGINAL, Reason.SETS_MARGINAL_PRICE, Reason.CALLED_FOR_FIT}
)


class ResourceExplanation(FrozenModel):
    """One resource: called or not, the reason and the figures behind it."""

    enterprise_id: Slug
    site_id: Slug
    resource_id: Slug
    kind: str
    feeder_id: Slug
    called: bool
    reason: Reason
    detail: str = Field(description="the reason in words, with its figures")
    merit_position: int | None = Field(
        description="1 = cheapest asked price plus rotation adder; None: not dispatchable"
    )
    price_cny_per_kwh: float | None = Field(description="asked price (cheapest step) [CNY/kWh]")
    rotation_adder_cny_per_kwh: float = 0.0
    marginal_cost_cny_per_kwh: float = Field(
        description="dearest marginal cost of the target where it acts (or could) [CNY/kWh]"
    )
    net_cost_cny_per_kwh: float | None = Field(
        default=None,
        description="called: what its response cost per kWh, less the energy it saved [CNY/kWh]",
    )
    mean_response_kw: float = Field(description="mean response over the event window [kW]")
    extra_cost_cny: float | None = Field(
        default=None, description="what calling it would have added to the dispatch [CNY]"
    )
    binding_limits: tuple[str, ...] = Field(
        default=(), description="its own limits that bind in the dispatch, by model name"
    )

    @property
    def key(self) -> str:
        return f"{self.site_id}/{self.resource_id}"

    @property
    def effective_price_cny_per_kwh(self) -> float | None:
        if self.price_cny_per_kwh is None:
            return None
        return self.price_cny_per_kwh + self.rotation_adder_cny_per_kwh


class IntervalPrice(FrozenModel):
    """The target's marginal cost in one event interval: the dual of its target row."""

    start: AwareDatetime
    marginal_cost_cny_per_kwh: float
    shortfall_kw: float


class ShortfallExplanation(FrozenModel):
    """What the missing response would cost and what stops the portfolio giving it."""

    max_shortfall_kw: float
    extra_kw_cost_cny_per_kwh: float = Field(
        description="cheapest extra kW of target in a short interval [CNY/kWh]"
    )
    binding_constraints: tuple[str, ...] = Field(
        description="limits that bind in the short intervals, largest shadow price first"
    )


class DispatchExplanation(FrozenModel):
    """Every resource's reason, the target's price per interval and any shortfall."""

    event_id: str
    status: str = Field(description="explained, or why the prices are missing")
    method: str = Field(description="how the prices were obtained")
    marginal_cost_cny_per_kwh: float = Field(
        description="one more kW of target through the whole event, per kWh [CNY/kWh]"
    )
    intervals: tuple[IntervalPrice, ...]
    resources: tuple[ResourceExplanation, ...]
    shortfall: ShortfallExplanation | None = None
    binding_constraints: tuple[str, ...] = Field(
        default=(),
        description="limits with a shadow price in the pricing LP, largest first, as "
        "'<family> (<resource>)': what sets the marginal cost where no asked price does",
    )
