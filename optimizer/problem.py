"""The dispatch problem: a district, an event, a horizon, baselines and solver settings."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Literal

import numpy as np
from pydantic import ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from vpp.domain import (
    DemandResponseEvent,
    District,
    FrozenModel,
    ReboundCap,
    ResourceRef,
    TimeGrid,
    UnknownReferenceError,
)
from vpp.optimizer.linear import FloatArray

Backend = Literal["highs", "pyomo"]
Objective = Literal["min_cost", "max_response"]
Limits = Literal["wall_clock", "deterministic"]
EvModel = Literal["sessions", "pooled"]

#: Branch-and-bound nodes per MILP solve when limits are deterministic and none is given:
#: far beyond what dispatch problems need (most close at the root), a bound on a pathology.
DETERMINISTIC_MAX_NODES = 20_000


class DispatchSettings(FrozenModel):
    """Solver limits and the prices of soft constraints; every solve has a limit and a gap.

    ``limits`` says which clock bounds a solve. On ``wall_clock`` (the service and the
    CLI, which answer people waiting on the real clock) ``time_limit_s`` does; on
    ``deterministic`` (the simulator, whose clock is simulated) only work limits do
    (``mip_max_nodes``, ``simplex_iteration_limit``), so the same problem gives the same
    answer however loaded the machine is. Work limits given apply in both.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)  # the executor

    limits: Limits = "wall_clock"
    time_limit_s: float = Field(
        default=10.0, gt=0, le=3600, description="per solve, only on wall_clock limits [s]"
    )
    mip_max_nodes: int | None = Field(
        default=None, ge=0, description="branch-and-bound nodes per MILP solve; None: no limit"
    )
    simplex_iteration_limit: int | None = Field(
        default=None, ge=0, description="simplex iterations per solve; None: no limit"
    )
    mip_rel_gap: float = Field(default=0.005, ge=0, le=1)
    lp_first: bool = Field(
        # off by default: it proves the 1,000 x 16 benchmark plan 3x faster than the MILP,
        # but where rounding proves nothing (1,000 x 96, half of the 250 x 16 districts)
        # the relaxation's solve is spent in vain (docs/performance.md)
        default=False,
        description="answer a MILP from its rounded LP relaxation where the relaxation's "
        "bound proves that plan within mip_rel_gap; else the MILP runs as without (HiGHS, "
        "per-session EV model; the pooled model's cut loop ignores it)",
    )
    backend: Backend = "highs"
    threads: int = Field(default=1, ge=1, le=64)
    ev_model: EvModel = Field(
        # "pooled" reaches the same optimum (tests/optimizer/resources/test_ev_charger.py)
        # but only through solve_highs's loop (dispatch() and capability() with HiGHS);
        # it was not faster on the benchmark districts (docs/performance.md), so it is
        # not the default, and code that prices or solves the model itself must not use it
        default="sessions",
        description="EV pools as one column per session and interval, or as pool power "
        "whose feasibility for the sessions is checked after each solve (lazy cuts)",
    )
    seed: int = 0
    shortfall_penalty_cny_per_kwh: float = Field(default=100.0, gt=0)
    target_margin_pct: float = Field(
        default=0.5, ge=0, le=20, description="planned over-delivery absorbing the MIP gap [%]"
    )
    rotation_cny_per_kwh_per_call: float = Field(
        default=0.05, ge=0, description="price adder per event an enterprise served this round"
    )
    curtail_start_stride_min: int = Field(
        default=30, gt=0, description="grid of start times for curtailments shorter than the event"
    )
    release_hold_max_min: int = Field(
        # 60: on the demo day every curtailment ended at 13:00 and their rebound alone broke
        # the cap; with holds of up to 60 min the day-ahead plan holds it (README, rebound)
        default=60,
        ge=0,
        description="how long a curtailment may be held past the window's end, so the "
        "optimiser staggers releases under the rebound cap [min]; 0: all end with the window",
    )
    decompose_above_resources: int | None = Field(
        # the single model still solves at 2,000 within the default 10 s, and no longer at
        # 5,000 (docs/performance.md); decomposed, 2,000 costs about the same time
        default=2500,
        gt=0,
        description="dispatch() decomposes problems with more resources than this; None never",
    )
    executor: SkipJsonSchema[Executor | None] = Field(
        default=None,
        exclude=True,
        repr=False,
        description="where decomposed groups are solved (a process pool, a Dask client's "
        "executor), owned and closed by whoever runs the dispatches; None: one after another "
        "in the calling thread. Not a setting of any file: set in code, never serialised",
    )
    group_by: Literal["enterprise", "feeder"] = Field(
        default="enterprise", description="what decomposed groups keep whole"
    )
    group_resources: int = Field(
        default=250, ge=1, description="resources per decomposed group, about"
    )
    bound_rounds: int = Field(
        # the rounds' plans are also what the coordinator splits the target and the
        # rebound cap's room by: 124 resources in 4 groups took 40 rounds to a 0.6 % gap,
        # 600 in 5 groups 66 to 0.2 % (docs/performance.md); rounds stop at a 0.25 % gap
        default=80,
        ge=0,
        le=200,
        description="price rounds of a decomposed dispatch's certified (Lagrangian) bound, "
        "whose plans also split the target and the rebound cap between groups; 0: no "
        "bound (the gap is not reported), the target split by the groups' cost curves and "
        "the cap's room by their size",
    )
    rebound_cap: ReboundCap | None = Field(
        default=None, description="replaces the district's rebound_cap when given"
    )
    rebound_margin_pct: float = Field(
        # 0 by default: on the demo day both 1% and 2% moved enough response onto resources
        # the day's faults hit that an interval fell short, and 1% made the first plan hard
        # to prove within its time limit (docs: README, rebound under a cap)
        default=0.0,
        ge=0,
        le=20,
        description="plans stay this far under the rebound cap, absorbing forecast error [%]",
    )
    margin_penalty_cny_per_kwh: float | None = Field(
        # None keeps the margin as firm as the target. The controller's re-plans, which
        # make up the measured shortfall, price it below the rebound cap (README, rebound)
        default=None,
        gt=0,
        description="price of planning margin left unplanned, per interval, at most the "
        "shortfall penalty; None: priced as the target. Below rebound_penalty_cny_per_kwh, "
        "a plan gives up margin before it goes above the rebound cap (monolithic solves: a "
        "decomposed dispatch prices the margin as the target)",
    )
    rebound_penalty_cny_per_kwh: float = Field(
        # below the target's shortfall penalty: an event's target comes first, and energy
        # that must come back is spread under the cap as far as it can be
        default=20.0,
        gt=0,
        description="price of portfolio load above the rebound cap, per interval and at worst",
    )

    @model_validator(mode="after")
    def _margin_below_target(self) -> DispatchSettings:
        penalty = self.margin_penalty_cny_per_kwh
        if penalty is not None and penalty > self.shortfall_penalty_cny_per_kwh:
            raise ValueError(
                f"margin_penalty_cny_per_kwh {penalty} is above the target's "
                f"shortfall_penalty_cny_per_kwh {self.shortfall_penalty_cny_per_kwh}"
            )
        return self

    @property
    def margin_factor(self) -> float:
        """The target a plan aims at per kW asked, ``1 + target_margin_pct / 100`` [-]: the
        one place the planning margin is applied (the optimiser's target rows and a
        re-plan's residual target both use it)."""
        return 1.0 + self.target_margin_pct / 100.0

    def deterministic(self) -> DispatchSettings:
        """These settings with work limits only (a node limit unless one is set)."""
        nodes = DETERMINISTIC_MAX_NODES if self.mip_max_nodes is None else self.mip_max_nodes
        return self.model_copy(update={"limits": "deterministic", "mip_max_nodes": nodes})


@dataclass(frozen=True)
class DispatchProblem:
    """Everything the optimiser needs, prepared by the caller.

    ``load_baselines_kw`` gives each curtailable load's customer baseline over ``grid``
    (key ``site_id/resource_id``); the other kinds' baselines follow from their physics.
    ``first_free_index`` is the first interval whose power may still change (intervals
    before it are in the past or already committed and follow the baseline).
    """

    district: District
    event: DemandResponseEvent
    grid: TimeGrid
    load_baselines_kw: Mapping[str, FloatArray] = field(default_factory=dict)
    events_today: Mapping[str, int] = field(default_factory=dict)
    first_free_index: int | None = None
    resource_keys: frozenset[str] | None = None
    """Only these resources take part (capability breakdowns, re-plans); None means all."""
    target_override_kw: FloatArray | None = None
    """Target per event interval replacing the event's own (receding-horizon re-plans) [kW]."""
    target_margin_kw: FloatArray | None = None
    """Planning margin per event interval on top of the target [kW]; None: the target
    times ``DispatchSettings.target_margin_pct`` (a re-plan gives the margin of its
    residual, whose target is the firm part)."""
    issued_at: datetime | None = None
    """When the instructions go out, for notice rules; None means the event's issue time."""
    rebound_other_kw: FloatArray | None = None
    """Load other plans add to the portfolio per interval of the horizon, which this
    problem's physics do not know (an earlier event's rebound and recovery): it takes room
    under the cap [kW]."""
    rebound_limit_kw: FloatArray | None = None
    """Limit on the taking-part resources' load per interval of the horizon, outside the
    window, replacing the district's cap (re-plans of part of the portfolio) [kW]. Without
    it a problem restricted by ``resource_keys`` has no rebound cap: the cap is on the
    whole portfolio, and a part cannot know the rest's load."""

    def __post_init__(self) -> None:
        # Profiles, availability windows and EV sessions are read at the grid's clock hours:
        # those must be the district's, whatever offset the caller's times carried.
        object.__setattr__(self, "grid", self.grid.in_zone(self.district.tz))

    def refs(self) -> list[ResourceRef]:
        refs = list(self.district.resources())
        if self.resource_keys is None:
            return refs
        return [ref for ref in refs if ref.key in self.resource_keys]

    def rebound_capped(self, settings: DispatchSettings) -> bool:
        """Whether the plan's load after the window is capped (``system.rebound_limit``):
        a part of the portfolio only with a limit of its own."""
        if self.rebound_limit_kw is not None:
            return True
        if self.resource_keys is not None:
            return False
        return (settings.rebound_cap or self.district.rebound_cap) != "none"

    def first_free(self) -> int:
        """The first interval whose power may still change: ``first_free_index``, or the
        first starting at or after the instructions go out."""
        if self.first_free_index is not None:
            return self.first_free_index
        return self.grid.first_index_at_or_after(self.issued_at or self.event.issued_at)

    def restricted_to(self, keys: frozenset[str]) -> DispatchProblem:
        return replace(self, resource_keys=keys)


@dataclass(frozen=True)
class ModelContext:
    """Arrays and indices every resource-kind builder shares (see the package glossary)."""

    grid: TimeGrid
    window: slice
    direction: float
    target_kw: float
    target_profile_kw: FloatArray  # per event interval
    margin_profile_kw: FloatArray  # per event interval: the planning margin on top
    first_free: int
    issued_at: datetime
    energy_price_cny_per_kwh: float
    settings: DispatchSettings
    objective: Objective
    rotation_calls: Mapping[str, int]

    @property
    def n_t(self) -> int:
        return self.grid.count

    @property
    def dt_h(self) -> float:
        return self.grid.dt_h

    @cached_property
    def in_window(self) -> np.ndarray:
        mask = np.zeros(self.n_t, dtype=bool)
        mask[self.window] = True
        return mask

    @cached_property
    def free(self) -> np.ndarray:
        """Intervals whose power the dispatch may change."""
        mask = np.zeros(self.n_t, dtype=bool)
        mask[self.first_free :] = True
        return mask

    def index_after(self, ts: datetime) -> int:
        return self.grid.first_index_at_or_after(ts)

    def interval_count(self, minutes: int) -> int:
        """Whole intervals in a duration, rounded down (a limit is never exceeded)."""
        return minutes // self.grid.interval_min

    def rotation_adder(self, enterprise_id: str) -> float:
        calls = self.rotation_calls.get(enterprise_id, 0)
        return calls * self.settings.rotation_cny_per_kwh_per_call

    def notice_index(self, notice_min: int) -> int:
        """First interval a resource needing ``notice_min`` of notice can act in."""
        return max(
            self.first_free, self.index_after(self.issued_at + timedelta(minutes=notice_min))
        )


def build_context(
    problem: DispatchProblem, settings: DispatchSettings, objective: Objective
) -> ModelContext:
    grid = problem.grid
    window = grid.slice_of(problem.event.start, problem.event.end)
    first_free = problem.first_free()
    keys = {ref.key for ref in problem.district.resources()}
    for key in problem.events_today:
        if key not in keys:
            raise UnknownReferenceError("events_today", key)
    target_kw = problem.event.target_kw_for(problem.district.peak_load_kw)
    n_window = window.stop - window.start
    profile = np.full(n_window, target_kw)
    if problem.target_override_kw is not None:
        profile = np.asarray(problem.target_override_kw, dtype=float)
        if profile.shape != (n_window,) or not np.all(np.isfinite(profile)) or profile.min() < 0:
            raise ValueError(
                f"target_override_kw: need {n_window} finite values >= 0, one per event interval"
            )
    margin = profile * (settings.margin_factor - 1.0)
    if problem.target_margin_kw is not None:
        margin = np.asarray(problem.target_margin_kw, dtype=float)
        if margin.shape != (n_window,) or not np.all(np.isfinite(margin)) or margin.min() < 0:
            raise ValueError(
                f"target_margin_kw: need {n_window} finite values >= 0, one per event interval"
            )
    return ModelContext(
        grid=grid,
        window=window,
        direction=problem.event.direction,
        target_kw=target_kw,
        target_profile_kw=profile,
        margin_profile_kw=margin,
        first_free=first_free,
        issued_at=problem.issued_at or problem.event.issued_at,
        energy_price_cny_per_kwh=problem.district.energy_price_cny_per_kwh,
        settings=settings,
        objective=objective,
        rotation_calls=problem.district.rotation_counts,  # ids checked by District
    )
