"""The VEN's reports: portfolio load (TELEMETRY_USAGE) and the delivered response per
event interval, sent when and as finely as the VTN asks.

One TELEMETRY_USAGE report is offered with two data points (rIDs), both real power in kW:

- ``portfolio-load`` (resource ``portfolio``, report type ``usage``): the registered
  resources' summed metered power, sampled at the requested granularity;
- ``delivered-response`` (resource ``response``, report type ``deltaUsage``): per
  measured interval of an event, baseline minus measured [kW] (positive: delivered), the
  controller's own settlement figures.

A request's samples are taken every ``granularity`` and sent every ``report_back_duration``
on the service's clock; a send the VTN cannot take is kept and retried with the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from vpp.openadr.library import enums, objects

logger = logging.getLogger(__name__)

SPECIFIER_ID = "vpp-telemetry-usage"
LOAD_RID = "portfolio-load"
RESPONSE_RID = "delivered-response"
#: Samples kept for a VTN that cannot take them, per request (the oldest are dropped).
MAX_PENDING = 2000
#: Finest and coarsest sampling offered [s].
MIN_PERIOD = timedelta(seconds=10)
MAX_PERIOD = timedelta(hours=1)

Sender = Callable[[dict[str, Any]], Awaitable[bool]]


class ReportSource(Protocol):
    """Where the figures come from (the service), on its clock."""

    def now(self) -> datetime: ...

    async def sleep_until(self, when: datetime) -> None: ...

    async def portfolio_load_kw(self) -> float | None: ...

    async def delivered_kw(self, after: datetime | None) -> list[tuple[datetime, float]]: ...


@dataclass
class _Request:
    request_id: str
    granularity: timedelta
    back: timedelta
    r_ids: list[str]
    pending: list[tuple[str, datetime, float]] = field(default_factory=list)
    last_interval: datetime | None = None
    task: asyncio.Task[None] | None = None


def _real_power_kw() -> objects.Measurement:
    base = enums.MEASUREMENTS.REAL_POWER
    return objects.Measurement(
        name=base.name,
        description=base.description,
        unit=base.unit,
        scale="k",
        power_attributes=objects.PowerAttributes(hertz=50, voltage=230, ac=True),
    )


class ReportAgent:
    def __init__(self, source: ReportSource, market_context: str = "http://vpp/openadr") -> None:
        self.source = source
        self.market_context = market_context
        self.requests: dict[str, _Request] = {}
        self._send: Sender | None = None

    def descriptions(self) -> list[objects.Report]:
        """The oadrRegisterReport content: one TELEMETRY_USAGE report, two data points."""

        def description(r_id: str, resource: str, report_type: str) -> objects.ReportDescription:
            return objects.ReportDescription(
                r_id=r_id,
                market_context=self.market_context,
                reading_type="Direct Read",
                report_subject=objects.Target(resource_id=resource),
                report_data_source=objects.Target(resource_id=resource),
                report_type=report_type,
                sampling_rate=objects.SamplingRate(MIN_PERIOD, MAX_PERIOD, False),
                measurement=_real_power_kw(),
            )

        return [
            objects.Report(
                report_specifier_id=SPECIFIER_ID,
                report_name="METADATA_TELEMETRY_USAGE",
                report_request_id="0",
                report_descriptions=[
                    description(LOAD_RID, "portfolio", "usage"),
                    description(RESPONSE_RID, "response", "deltaUsage"),
                ],
                duration=MAX_PERIOD,
            )
        ]

    def start(self, send: Sender) -> None:
        self._send = send

    async def stop(self) -> None:
        for request in self.requests.values():
            await _cancel(request.task)
        self.requests.clear()

    def on_create(self, report_requests: list[dict[str, Any]]) -> list[str]:
        """Start the requested reports; returns the request ids taken on."""
        taken = []
        for raw in report_requests:
            specifier = raw.get("report_specifier") or {}
            request_id = str(raw.get("report_request_id") or "")
            if specifier.get("report_specifier_id") != SPECIFIER_ID or not request_id:
                logger.warning("OpenADR: report request %r for an unknown report ignored", raw)
                continue
            granularity = specifier.get("granularity") or MAX_PERIOD
            granularity = min(max(granularity, MIN_PERIOD), MAX_PERIOD)
            back = specifier.get("report_back_duration") or granularity
            r_ids = [
                str(p.get("r_id"))
                for p in specifier.get("specifier_payloads") or []
                if p.get("r_id") in (LOAD_RID, RESPONSE_RID)
            ]
            if not r_ids:
                continue
            self.on_cancel(request_id)
            request = _Request(request_id, granularity, max(back, granularity), r_ids)
            request.task = asyncio.create_task(
                self._run(request), name=f"vpp.openadr.report.{request_id}"
            )
            self.requests[request_id] = request
            taken.append(request_id)
            logger.info(
                "OpenADR: report %s every %s, sampled every %s: %s",
                request_id,
                request.back,
                granularity,
                ", ".join(r_ids),
            )
        return taken

    def on_cancel(self, request_id: Any) -> None:
        request = self.requests.pop(str(request_id), None)
        if request is not None and request.task is not None:
            request.task.cancel()

    async def _run(self, request: _Request) -> None:
        source = self.source
        next_send = source.now() + request.back
        request.last_interval = source.now()
        while True:
            await source.sleep_until(source.now() + request.granularity)
            await self._sample(request)
            if source.now() >= next_send:
                next_send = source.now() + request.back
                await self._flush(request)

    async def _sample(self, request: _Request) -> None:
        now = self.source.now()
        if LOAD_RID in request.r_ids:
            load = await self.source.portfolio_load_kw()
            if load is not None:
                request.pending.append((LOAD_RID, now, round(load, 3)))
        if RESPONSE_RID in request.r_ids:
            for start, value in await self.source.delivered_kw(request.last_interval):
                request.pending.append((RESPONSE_RID, start, round(value, 3)))
                request.last_interval = start

    async def _flush(self, request: _Request) -> None:
        del request.pending[:-MAX_PENDING]
        if not request.pending or self._send is None:
            return
        intervals = [
            objects.ReportInterval(
                dtstart=at, report_payload=objects.ReportPayload(r_id=r_id, value=value)
            )
            for r_id, at, value in request.pending
        ]
        report = objects.Report(
            report_specifier_id=SPECIFIER_ID,
            report_name=enums.REPORT_NAME.TELEMETRY_USAGE,
            report_request_id=request.request_id,
            intervals=intervals,
            dtstart=request.pending[0][1],
            duration=request.back,
        )
        if await self._send(_as_dict(report)):
            request.pending.clear()


def _as_dict(report: objects.Report) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(report)


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
