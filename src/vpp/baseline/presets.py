"""Baseline methods as data: what a method is, and the named ones regulators publish.

A :class:`BaselineMethod` holds every choice the engine makes; :data:`BASELINE_PRESETS`
names the published ones. Sources and exact rules are in ``docs/baselines.md``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from vpp.domain import FrozenModel, VppError


class UnknownBaselineMethodError(VppError, ValueError):
    """A baseline method name that is not a preset; names it and lists the known ones."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown baseline method {name!r}; known: {', '.join(known)}")


class AdjustmentRule(FrozenModel):
    """A day-of adjustment over a window that ends some time before the event starts.

    The window is ``[start - end_before_start_min - length_min, start - end_before_start_min)``
    on the event day (clipped at local midnight). CAISO: 180 min ending 60 min before.
    """

    kind: Literal["multiplicative", "additive"] = "multiplicative"
    length_min: int = Field(default=180, gt=0, le=1440, description="window length [min]")
    end_before_start_min: int = Field(
        default=60, ge=0, le=1440, description="gap from window end to event start [min]"
    )
    clamp: float | None = Field(
        default=0.2,
        ge=0.0,
        le=10.0,
        description=(
            "multiplicative: ratio kept in [1-c, 1+c]; additive: offset kept within "
            "+/-c x the baseline's adjustment-window mean; None: no clamp [unitless]"
        ),
    )

    @model_validator(mode="after")
    def _ratio_stays_positive(self) -> AdjustmentRule:
        if self.kind == "multiplicative" and self.clamp is not None and self.clamp >= 1.0:
            raise ValueError("clamp: a multiplicative clamp must be below 1 (ratio 1-c > 0)")
        return self


class BaselineMethod(FrozenModel):
    """Every choice of a customer-baseline-load method, as data.

    Steps, in order (see :func:`vpp.baseline.compute_baseline`):

    1. Candidates: ``D - first_offset_days`` back to ``D - lookback_days``, most recent
       first, of the event day's type (``day_type="same"``: working vs non-working, with
       statutory holidays and make-up working days) or of any type.
    2. Exclusions: listed event days, listed abnormal days, days missing a reading in an
       interval the method reads, and (when ``abnormal_max_deviation`` is set) days whose
       energy deviates from the median of the look-back pool by more than that fraction.
    3. The ``days`` most recent remaining days; with ``selection="highest"`` the
       ``highest_count`` of them with the highest ``rank_by`` score.
    4. Per-interval average of those days.
    5. Optional day-of ``adjustment``, or ``real_time``: the event window holds the load of
       the interval just before control starts.
    """

    name: str = Field(default="custom", min_length=1)
    source: str = Field(default="", description="where the rule comes from")
    day_type: Literal["same", "any"] = "same"
    days: int = Field(default=5, ge=1, le=366, description="N, candidate days averaged")
    min_days: int | None = Field(
        default=None, ge=1, description="fewest days accepted; None: all N are required"
    )
    first_offset_days: int = Field(
        default=1, ge=1, le=366, description="most recent candidate, days before the event [d]"
    )
    lookback_days: int = Field(
        default=45, ge=1, le=732, description="oldest candidate, days before the event [d]"
    )
    selection: Literal["all", "highest"] = "all"
    highest_count: int | None = Field(
        default=None, ge=1, description="X of 'highest X of N'; only with selection='highest'"
    )
    rank_by: Literal["window_mean", "daily_max"] = "window_mean"
    abnormal_max_deviation: float | None = Field(
        default=None,
        gt=0.0,
        le=10.0,
        description="exclude days whose energy deviates more than this from the pool median",
    )
    adjustment: AdjustmentRule | None = None
    real_time: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> BaselineMethod:
        if self.lookback_days < self.first_offset_days:
            raise ValueError("lookback_days: must not be less than first_offset_days")
        if self.min_days is not None and self.min_days > self.days:
            raise ValueError("min_days: must not exceed days")
        if self.selection == "highest":
            if self.highest_count is None:
                raise ValueError("highest_count: required when selection is 'highest'")
            if self.highest_count > self.days:
                raise ValueError("highest_count: must not exceed days")
        elif self.highest_count is not None:
            raise ValueError("highest_count: only used when selection is 'highest'")
        if self.real_time and self.adjustment is not None:
            raise ValueError("adjustment: a real-time baseline takes no day-of adjustment")
        return self

    @property
    def needs_event_window(self) -> bool:
        """Whether the method depends on when the event starts (adjustment or real time)."""
        return self.adjustment is not None or self.real_time


_JIANGSU = BaselineMethod(
    name="jiangsu",
    source=(
        "Jiangsu demand-response rules (contracted DR): the load curve averaged over the "
        "5 most recent normal working days before the event day"
    ),
    day_type="same",
    days=5,
    first_offset_days=1,
    lookback_days=30,
    abnormal_max_deviation=0.25,
)

BASELINE_PRESETS: dict[str, BaselineMethod] = {
    "jiangsu": _JIANGSU,
    "caiso_10_in_10": BaselineMethod(
        name="caiso_10_in_10",
        source=(
            "CAISO 10-in-10: the 10 most recent non-event weekdays in a 45-day look-back, "
            "multiplicative day-of adjustment over the 3 h ending 1 h before the event, "
            "clamped to +/-20% (weekdays read as Chinese working days)"
        ),
        day_type="same",
        days=10,
        first_offset_days=1,
        lookback_days=45,
        adjustment=AdjustmentRule(
            kind="multiplicative", length_min=180, end_before_start_min=60, clamp=0.2
        ),
    ),
    "beijing": BaselineMethod(
        name="beijing",
        source=(
            "Beijing DR rules: 10 days from D-12 to D-2 of the event day's type (weekends "
            "and holidays removed and replaced by earlier days), the 5 with the highest "
            "daily maximum, averaged"
        ),
        day_type="same",
        days=10,
        first_offset_days=2,
        lookback_days=30,
        selection="highest",
        highest_count=5,
        rank_by="daily_max",
    ),
    "real_time": _JIANGSU.model_copy(
        update={
            "name": "real_time",
            "source": (
                "Jiangsu demand-response rules (real-time DR): the load 15 min before "
                "control starts, held over the event window; outside it the jiangsu profile"
            ),
            "real_time": True,
        }
    ),
}
"""The named baseline methods; ``docs/baselines.md`` gives each one's rule and source.

Examples
--------
>>> BASELINE_PRESETS["caiso_10_in_10"].adjustment.clamp
0.2
"""

DEFAULT_BASELINE = "jiangsu"
"""The preset used when none is named (the China default in DOMAIN.md)."""


def resolve_method(method: BaselineMethod | str) -> BaselineMethod:
    """A method given as itself or by preset name; an unknown name raises an error naming it.

    Raises
    ------
    UnknownBaselineMethodError
        The name is not a key of :data:`BASELINE_PRESETS`.
    """
    if isinstance(method, BaselineMethod):
        return method
    try:
        return BASELINE_PRESETS[method]
    except KeyError:
        raise UnknownBaselineMethodError(method, tuple(BASELINE_PRESETS)) from None
