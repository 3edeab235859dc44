"""The service's side of the OpenADR VEN: VTN events become vpp events, decided from
capability, stored with the VTN's ids and the decision, run by the controller like any
other; and the figures the VEN reports.

Times: the VTN's times are read on the service's clock. Under ``--time-scale`` a VTN must
state its windows on the service's time line (``GET /v1/clock``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import re
from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vpp.api.views import EventChange
from vpp.domain import DemandResponseEvent, EventSource, kw_of_pct
from vpp.openadr.decision import Decision, Opt, decide, deliverable_kw, notice_for, refuse
from vpp.openadr.mapping import UnsupportedEventError, VtnEvent, ask_of, served_window
from vpp.openadr.reports import ReportAgent
from vpp.openadr.settings import VenSettings
from vpp.openadr.ven import Ven
from vpp.store import EventRecord

if TYPE_CHECKING:
    from vpp.api.service import Service

logger = logging.getLogger(__name__)

#: Settings key of the VEN's registration with its VTN (venID, registrationID).
REGISTRATION_KEY = "openadr_registration"
#: How many recent events the delivered-response report looks through.
REPORT_LOOKBACK_EVENTS = 20


def internal_event_id(vtn_event_id: str, modification_number: int | None = None) -> str:
    """A slug for a VTN's event id (any string): readable prefix plus a short digest."""
    readable = re.sub(r"[^a-z0-9_-]+", "-", vtn_event_id.lower()).strip("-_")[:32]
    digest = hashlib.sha256(vtn_event_id.encode()).hexdigest()[:8]
    base = f"oadr-{readable}-{digest}" if readable else f"oadr-{digest}"
    return base if not modification_number else f"{base}-m{modification_number}"


class OpenAdrBridge:
    """VenHost and ReportSource over the service."""

    def __init__(self, service: Service, settings: VenSettings, rng: random.Random) -> None:
        self.service = service
        self.settings = settings
        self.rng = rng
        self._lock = asyncio.Lock()
        self.test_events = 0

    # -- registration ----------------------------------------------------------------

    async def load_registration(self) -> dict[str, Any] | None:
        stored = await self.service.store.settings.get(REGISTRATION_KEY)
        return stored or None

    async def save_registration(self, registration: dict[str, Any] | None) -> None:
        await self.service.store.settings.put(REGISTRATION_KEY, registration or {})

    # -- events ----------------------------------------------------------------------

    async def on_event(self, event: VtnEvent) -> Opt:
        async with self._lock:  # one VTN event at a time: decisions see each other
            return await self._on_event(event)

    async def _on_event(self, event: VtnEvent) -> Opt:
        store = self.service.store
        record = await store.events.by_vtn_event(event.vtn_event_id)
        seen = None if record is None else record.openadr
        if seen is not None and int(seen["modification_number"]) >= event.modification_number:
            opt: Opt = seen["opt"]
            return opt  # the same (or a stale) version again: the answer already given
        if event.test_event:
            self.test_events += 1
            logger.info("OpenADR: test event %s acknowledged, not dispatched", event.vtn_event_id)
            return "optIn"
        if event.cancelled:
            if record is not None:
                await self._cancel(record, event, "cancelled by the VTN")
            return "optIn"
        now = self.service.clock.now()
        plan = await self._decide(event, now)
        if isinstance(plan, Decision):  # answered before any planning: nothing to store
            logger.warning("OpenADR: event %s: %s, %s", event.vtn_event_id, plan.opt, plan.reason)
            return plan.opt
        internal, decision = plan
        logger.info(
            "OpenADR: event %s (modification %d): %s, %s",
            event.vtn_event_id,
            event.modification_number,
            decision.opt,
            decision.reason,
        )
        if record is not None and await self._modify(record, event, internal, decision):
            return decision.opt
        await self._create(record, event, internal, decision)
        return decision.opt

    async def _decide(
        self, event: VtnEvent, now: datetime
    ) -> Decision | tuple[DemandResponseEvent, Decision]:
        """The internal event and the decision; or a refusal with its reason."""
        district = self.service.district
        if district is None:
            return refuse("no enterprise is registered: nothing could respond")
        if event.end <= now:
            return refuse("the window has passed")
        local = replace(
            event, start=event.start.astimezone(district.tz), end=event.end.astimezone(district.tz)
        )
        window = served_window(local, now.astimezone(district.tz), self.service.interval, self.rng)
        if window is None:
            return refuse("no whole interval of the window is left")
        start, end = window
        try:
            ask = ask_of(event, self.settings.simple_levels_pct)
        except UnsupportedEventError as exc:
            return refuse(str(exc))
        if ask.nothing:
            return Decision("optIn", "the event asks for no response: nothing to dispatch")
        notice = notice_for(start - now)
        capability_kw, baseline_kw = await asyncio.to_thread(
            deliverable_kw,
            district,
            start,
            end,
            ask.kind,
            notice,
            now,
            executor=self.service.dispatch_executor,
        )
        if ask.target_kw is not None:
            target_kw = ask.target_kw
        elif ask.target_pct is not None:
            target_kw = kw_of_pct(ask.target_pct, district.peak_load_kw)
        else:
            assert ask.level_kw is not None
            target_kw = baseline_kw - ask.level_kw
            if not target_kw > 0:
                return Decision("optIn", "the load is already at or under the level asked")
        decision = decide(target_kw, capability_kw, self.settings.min_fraction)
        internal = DemandResponseEvent(
            event_id=internal_event_id(event.vtn_event_id),
            kind=ask.kind,
            start=start,
            end=end,
            target_kw=target_kw,
            notice=notice,
            issued_at=min(now, start),
            source=EventSource.OPENADR,
            vtn_event_id=event.vtn_event_id,
            modification_number=event.modification_number,
        )
        return internal, decision

    def _record_of(self, event: VtnEvent, decision: Decision) -> dict[str, Any]:
        return {
            **decision.as_record(event.vtn_event_id, event.modification_number),
            "vtn_start": event.start.isoformat(),
            "vtn_end": event.end.isoformat(),
        }

    async def _modify(
        self,
        record: EventRecord,
        event: VtnEvent,
        internal: DemandResponseEvent,
        decision: Decision,
    ) -> bool:
        """Re-plan the running event when only the target changed; True when done."""
        seen = record.openadr or {}
        same_window = (seen.get("vtn_start"), seen.get("vtn_end")) == (
            event.start.isoformat(),
            event.end.isoformat(),
        )
        run = self.service.live_run(record.event.event_id)
        live = run is not None and not run.lifecycle.finished
        if live and same_window and decision.opt == "optIn":
            event_id = record.event.event_id
            assert internal.target_kw is not None
            await self.service.modify_event(event_id, EventChange(target_kw=internal.target_kw))
            now = self.service.clock.now()
            current = (await self.service.event_record(event_id)).event
            await self.service.store.events.update(
                event_id,
                now,
                event=current.model_copy(update={"modification_number": event.modification_number}),
                openadr=self._record_of(event, decision),
            )
            return True
        if live:
            reason = "modified by the VTN: " + (
                "new window" if decision.opt == "optIn" else decision.reason
            )
            await self._cancel(record, event, reason)
        return False

    async def _create(
        self,
        record: EventRecord | None,
        event: VtnEvent,
        internal: DemandResponseEvent,
        decision: Decision,
    ) -> None:
        if record is not None:  # a later version of a known event: its own internal event
            internal = internal.model_copy(
                update={
                    "event_id": internal_event_id(event.vtn_event_id, event.modification_number)
                }
            )
            if await self.service.store.events.get(internal.event_id) is not None:
                return
        data = self._record_of(event, decision)
        if decision.opt == "optIn":
            await self.service.submit_event(internal, data)
            return
        store = self.service.store
        now = self.service.clock.now()
        await store.events.create(internal, now, openadr=data)
        await store.events.record_progress(
            internal.event_id, 0, [(1, now, "declined", decision.reason)], [], [], now
        )
        await store.events.update(internal.event_id, now, finalized=True)

    async def _cancel(self, record: EventRecord, event: VtnEvent, reason: str) -> None:
        event_id = record.event.event_id
        run = self.service.live_run(event_id)
        if run is not None and not run.lifecycle.finished:
            await self.service.cancel_event(event_id, reason)
            logger.info("OpenADR: event %s: %s", event.vtn_event_id, reason)
        seen = dict(record.openadr or {})
        seen.update(modification_number=event.modification_number, status=event.status)
        await self.service.store.events.update(event_id, self.service.clock.now(), openadr=seen)

    # -- report figures --------------------------------------------------------------

    def now(self) -> datetime:
        return self.service.clock.now()

    async def sleep_until(self, when: datetime) -> None:
        await self.service.clock.sleep_until(when)

    async def portfolio_load_kw(self) -> float | None:
        controller, district = self.service.controller, self.service.district
        if controller is None or district is None:
            return None
        readings = [controller.monitor.last_power_kw(ref.key) for ref in district.resources()]
        known = [r for r in readings if r is not None]
        return sum(known) if known else None

    async def delivered_kw(self, after: datetime | None) -> list[tuple[datetime, float]]:
        """Per measured interval of recent events: baseline minus measured [kW]."""
        store = self.service.store
        records, _ = await store.events.page(0, REPORT_LOOKBACK_EVENTS)
        out: dict[datetime, float] = defaultdict(float)
        for record in records:
            if record.state == "declined":
                continue
            direction = record.event.direction
            # The event's window: rows past it are holds, settled but not the event's report.
            rows = [
                r
                for r in await store.events.deliveries(record.event.event_id)
                if r.interval_start < record.event.end
            ]
            complete: dict[datetime, bool] = defaultdict(lambda: True)
            for row in rows:
                complete[row.interval_start] &= row.measured_kw is not None
            for row in rows:
                if row.measured_kw is None or not complete[row.interval_start]:
                    continue
                if after is not None and row.interval_start <= after:
                    continue
                out[row.interval_start] += direction * (row.baseline_kw - row.measured_kw)
        return sorted(out.items())


def start_ven(service: Service, settings: VenSettings) -> Ven:
    """The VEN of ``vpp serve --openadr-vtn``, started."""
    bridge = OpenAdrBridge(service, settings, random.Random())
    ven = Ven(settings, bridge, ReportAgent(bridge))
    ven.start()
    return ven
