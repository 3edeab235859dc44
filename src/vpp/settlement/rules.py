"""Effective-response rules as data: which part of a delivery is paid, and when it is penalised.

Provinces settle demand response differently (DOMAIN.md, "Event products"), but every rule
seen so far fits four numbers: a band ``[floor, cap]`` of the performance ratio in which
response counts fully, a value fraction for response above the cap, and a penalty threshold
with a multiplier. :data:`RULE_PRESETS` names the ones we encode.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from vpp.domain import FrozenModel, VppError


class UnknownRuleError(VppError, ValueError):
    """A rule name that is not a preset; names it and lists the known ones."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown effective-response rule {name!r}; known: {', '.join(known)}")


class EffectiveResponseRule(FrozenModel):
    """How one programme turns a performance ratio into credited energy and a penalty.

    With ``r = delivered / asked`` (energies over the event, per enterprise):

    - ``r < floor_ratio``: nothing is credited;
    - ``floor_ratio <= r``: credited = ``min(delivered, cap_ratio * asked)
      + excess_value_fraction * max(0, delivered - cap_ratio * asked)``;
    - ``r < penalty_below_ratio``: penalty energy, charged at the asked price, =
      ``penalty_multiplier * (penalty_below_ratio * asked - delivered)``.
    """

    name: str = Field(default="custom", min_length=1)
    source: str = Field(default="", description="where the rule comes from")
    floor_ratio: float = Field(
        default=0.8, ge=0.0, allow_inf_nan=False, description="lowest ratio that is paid [-]"
    )
    cap_ratio: float = Field(
        default=1.5, gt=0.0, allow_inf_nan=False, description="ratio above which excess is cut [-]"
    )
    excess_value_fraction: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="share of the price paid for response above cap_ratio x asked [0..1]",
    )
    penalty_below_ratio: float | None = Field(
        default=None,
        ge=0.0,
        allow_inf_nan=False,
        description="ratio below which the shortfall is penalised; None: no penalty [-]",
    )
    penalty_multiplier: float = Field(
        default=0.0,
        ge=0.0,
        allow_inf_nan=False,
        description="penalty per kWh of shortfall, in multiples of the asked price [-]",
    )

    @model_validator(mode="after")
    def _consistent(self) -> EffectiveResponseRule:
        if self.floor_ratio > self.cap_ratio:
            raise ValueError(
                f"floor_ratio: {self.floor_ratio} must not exceed cap_ratio ({self.cap_ratio})"
            )
        if self.penalty_below_ratio is not None and self.penalty_below_ratio > self.floor_ratio:
            raise ValueError(
                f"penalty_below_ratio: {self.penalty_below_ratio} must not exceed floor_ratio "
                f"({self.floor_ratio}); a response cannot be paid and penalised at once"
            )
        return self

    def credited_kwh(self, asked_kwh: float, delivered_kwh: float) -> float:
        """Energy that is paid [kWh]: none below the floor, excess above the cap at a fraction;
        never negative (a load that rose is penalised, not charged through the payment)."""
        ratio = performance_ratio(asked_kwh, delivered_kwh)
        if ratio is None or ratio < self.floor_ratio - RATIO_TOL:
            return 0.0
        cap_kwh = self.cap_ratio * asked_kwh
        excess_kwh = max(0.0, delivered_kwh - cap_kwh)
        return max(0.0, min(delivered_kwh, cap_kwh) + self.excess_value_fraction * excess_kwh)

    def penalised_kwh(self, asked_kwh: float, delivered_kwh: float) -> float:
        """Shortfall energy charged at the asked price, multiplier included [kWh]."""
        ratio = performance_ratio(asked_kwh, delivered_kwh)
        threshold = self.penalty_below_ratio
        if ratio is None or threshold is None or ratio >= threshold - RATIO_TOL:
            return 0.0
        return self.penalty_multiplier * (threshold * asked_kwh - delivered_kwh)

    def is_effective(self, ratio: float | None) -> bool:
        """Whether a performance ratio lies within the fully counted band [floor, cap]."""
        if ratio is None:
            return False
        return self.floor_ratio - RATIO_TOL <= ratio <= self.cap_ratio + RATIO_TOL


NOTHING_ASKED_KWH = 1e-9
"""Asked energy at or below this is "nothing asked": no ratio, no payment, no penalty [kWh]."""

RATIO_TOL = 1e-9
"""Slack on band edges, so 80 kWh of 100 asked is effective despite float rounding [-]."""


def performance_ratio(asked_kwh: float, delivered_kwh: float) -> float | None:
    """Delivered over asked energy [-]; None when nothing was asked."""
    if asked_kwh <= NOTHING_ASKED_KWH:
        return None
    return delivered_kwh / asked_kwh


RULE_PRESETS: dict[str, EffectiveResponseRule] = {
    "default": EffectiveResponseRule(
        name="default",
        source="common pattern (DOMAIN.md, unverified): counts between 80% and 150% of the ask",
    ),
    "sichuan": EffectiveResponseRule(
        name="sichuan",
        source=(
            "Sichuan-type (DOMAIN.md, unverified): 90%..110% counts fully, above 110% at half "
            "value, shortfall below 90% penalised; multiplier 1.0 is our assumption"
        ),
        floor_ratio=0.9,
        cap_ratio=1.1,
        excess_value_fraction=0.5,
        penalty_below_ratio=0.9,
        penalty_multiplier=1.0,
    ),
    "guangdong": EffectiveResponseRule(
        name="guangdong",
        source=(
            "Guangdong-type (DOMAIN.md, unverified): shortfall below 50% penalised; band "
            "80%..150% and multiplier 1.0 are our assumptions"
        ),
        penalty_below_ratio=0.5,
        penalty_multiplier=1.0,
    ),
}
"""Named rules. Only "default" follows a stated common pattern; the provincial presets are
*unverified* paraphrases of DOMAIN.md, with penalty multipliers we chose. Check a programme's
current notice before settling real money with them.
"""

DEFAULT_RULE = "default"


def resolve_rule(rule: EffectiveResponseRule | str) -> EffectiveResponseRule:
    """A rule given as itself or by preset name; an unknown name is an error listing presets."""
    if isinstance(rule, EffectiveResponseRule):
        return rule
    try:
        return RULE_PRESETS[rule]
    except KeyError:
        raise UnknownRuleError(rule, tuple(RULE_PRESETS)) from None
