"""What the district can deliver in a window, and the service's clock."""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from vpp.api.deps import Operator, PrincipalDep, ServiceDep
from vpp.api.errors import InvalidInputError
from vpp.api.views import CapabilityView, ClockView
from vpp.domain import District, Notice
from vpp.optimizer import CapabilityReport, DispatchSettings, capability
from vpp.planning import make_event, prepare_problem

router = APIRouter(prefix="/v1", tags=["capability"])

#: Solver time limit for one capability question [s].
CAPABILITY_TIME_LIMIT_S = 10.0


@router.get("/capability", response_model=CapabilityView)
async def get_capability(
    start: Annotated[AwareDatetime, Query(description="window start, with offset")],
    end: Annotated[AwareDatetime, Query(description="window end, with offset")],
    service: ServiceDep,
    _: Operator,
    notice: Notice = Notice.DAY_AHEAD,
) -> CapabilityView:
    """The largest response the registered resources can sustain through every interval."""
    if end <= start:
        raise InvalidInputError("empty window", [("end", "must be after start")])
    if end - start > timedelta(days=1):
        raise InvalidInputError("window too long", [("end", "a window lasts at most 24 h")])
    district = service.require_district()
    for field, ts in (("start", start), ("end", end)):
        service.check_boundary(field, ts, district)
    start, end = start.astimezone(district.tz), end.astimezone(district.tz)
    report = await asyncio.to_thread(
        _capability, district, start, end, notice, service.dispatch_executor
    )
    return CapabilityView(
        start=start,
        end=end,
        notice=notice,
        district_peak_kw=report.district_peak_kw,
        target_pct=report.target_pct,
        target_kw=report.target_kw,
        deliverable_kw=round(report.deliverable_kw, 3),
        percent_of_peak=round(report.percent_of_peak, 3),
        meets_target=report.meets_target,
        margin_kw=round(report.margin_kw, 3),
        solver_status=report.status.value,
        by_kind_kw={k: round(v, 3) for k, v in report.by_kind_kw.items()},
        by_enterprise_kw={k: round(v, 3) for k, v in report.by_enterprise_kw.items()},
    )


def _capability(
    district: District,
    start: datetime,
    end: datetime,
    notice: Notice,
    executor: Executor | None = None,
) -> CapabilityReport:
    event = make_event(district, start, end, notice=notice, event_id="capability")
    problem, _ = prepare_problem(district, event)
    settings = DispatchSettings(time_limit_s=CAPABILITY_TIME_LIMIT_S, mip_rel_gap=1e-4)
    return capability(problem, settings, executor=executor)  # the service's pool, if large


@router.get("/clock", response_model=ClockView)
async def get_clock(service: ServiceDep, _: PrincipalDep) -> ClockView:
    """The service's time (sped up under ``--time-scale``): events are given in it."""
    now = service.clock.now()
    return ClockView(
        now=now,
        time_scale=service.clock.scale,
        timezone=service.frame.timezone,
        next_interval_start=service.next_boundary(now, service.frame),
    )
