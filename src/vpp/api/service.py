"""The running service: store, controller, device fabric and clock together.

It owns the one copy of the district (frame + registered enterprises), persists every
event before the controller sees it, writes the controller's progress to the store, and
on start resumes the events a previous process left unfinished.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import secrets
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from vpp.api.broker_accounts import BrokerAccounts
from vpp.api.clock import PacedClock, ScaledClock, resume_clock
from vpp.api.devices import DeviceFabric, client_auth
from vpp.api.district import DistrictFrame, load_frame
from vpp.api.errors import ConflictError, InvalidInputError, NotFoundError
from vpp.api.progress import ProgressWriter, settle
from vpp.api.settings import ServiceSettings
from vpp.api.simulations import SimulationManager
from vpp.api.views import EventChange, EventRequest
from vpp.config import describe_validation_error
from vpp.controller import Controller, EventRun
from vpp.controller.lifecycle import TERMINAL
from vpp.controller.planning import remaining_event
from vpp.device_adapters.registry import ProtocolNotConfiguredError, connection_problems
from vpp.domain import (
    ConfigError,
    DemandResponseEvent,
    District,
    Enterprise,
    check_plannable,
    with_rotation,
)
from vpp.optimizer import process_pool
from vpp.settlement import resolve_rule
from vpp.store import EventRecord, Store, create_engine, open_store
from vpp.telemetry_worker import WORKER_BATCHES_CLIENT_ID, WorkerBatches

if TYPE_CHECKING:
    from vpp.openadr.ven import Ven

logger = logging.getLogger(__name__)

#: Settings key of the clock's origin, so a restart continues the same time line.
CLOCK_KEY = "clock"
#: How often the controller forgets what it no longer needs (service time).
PRUNE_EVERY = timedelta(hours=1)
#: How long a cancel request waits for the run to release its setpoints [s].
CANCEL_WAIT_S = 10.0


def preflight(settings: ServiceSettings) -> None:
    """Refuse wrong settings before serving, each error naming its option and reason."""
    create_engine(settings.db_url)  # DatabaseUrlError names --db
    frame = load_frame(settings.district_file)  # ConfigError names the file and the field
    if frame.enterprises:  # an unknown protocol or a bad connection block: refused here
        with contextlib.suppress(ValidationError):  # the start names those, by field
            problems = connection_problems(frame.with_enterprises(frame.enterprises))
            if problems:
                fields = [(f"{p.key}.{p.field}", p.reason) for p in problems]
                raise ConfigError(str(settings.district_file), fields)
    resolve_rule(settings.settlement_rule)
    if settings.clock_start is not None:
        asyncio.run(_check_clock_start(settings))  # a kept clock past it: refused by name
    if settings.mqtt_url is not None:
        from vpp.device_adapters.mqtt import parse_broker_url

        parse_broker_url(settings.mqtt_url)
        auth = client_auth(settings)  # an unreadable password file names itself
        if auth is not None and auth.tls is not None:
            auth.tls.context()  # so does an unusable CA or client certificate


async def _check_clock_start(settings: ServiceSettings) -> None:
    """The clock the service would start with (ClockStartError where it cannot)."""
    async with open_store(settings.db_url) as store:
        stored = await store.settings.get(CLOCK_KEY)
    resume_clock(
        stored,
        settings.time_scale,
        paced=settings.paced,
        start=settings.clock_start,
    )


class Service:
    """Everything ``vpp serve`` runs; the API routes call its methods."""

    def __init__(self, settings: ServiceSettings, store: Store) -> None:
        resolve_rule(settings.settlement_rule)  # an unknown rule fails at start, by name
        self.settings = settings
        self.store = store
        self.frame: DistrictFrame = load_frame(settings.district_file)
        self.district: District | None = None
        self.clock: ScaledClock | PacedClock = ScaledClock.resume(None, settings.time_scale)
        self.fabric: DeviceFabric | None = None
        self.worker_batches: WorkerBatches | None = None
        self.controller: Controller | None = None
        self.writer: ProgressWriter | None = None
        self.simulations = SimulationManager(store, settings.data_dir, settings.scenarios_dir)
        self.broker_accounts = BrokerAccounts(store, settings.broker_files_dir)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vpp-solve")
        self._owned = contextlib.ExitStack()
        self.dispatch_executor: Executor | None = None
        """Where large dispatches and capability checks solve their groups: the service's
        process pool, opened at start and closed at stop (processes start on first use)."""
        self._registration_lock = asyncio.Lock()
        self._event_lock = asyncio.Lock()
        self._sync_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._pruned_at: datetime | None = None
        self.ven: Ven | None = None  # with --openadr-vtn

    @property
    def paced(self) -> bool:
        """A sped-up clock over simulated devices waits for the work (see PacedClock)."""
        return self.settings.paced

    @property
    def interval(self) -> timedelta:
        return timedelta(minutes=self.settings.controller.interval_min)

    # -- start and stop --------------------------------------------------------------

    async def start(self) -> None:
        self.clock = resume_clock(
            await self.store.settings.get(CLOCK_KEY),
            self.settings.time_scale,
            paced=self.paced,
            start=self.settings.clock_start,
        )
        await self.store.settings.put(CLOCK_KEY, self.clock.to_dict())
        now = self.clock.now()
        await self.store.simulations.interrupt_running(now)
        if self.dispatch_executor is None:
            self.dispatch_executor = self._owned.enter_context(process_pool())
        self.fabric = DeviceFabric(
            self.clock,
            self.settings.mqtt_url,
            self.settings.simulated_devices,
            self.settings.device_tick_s,
            client_auth(self.settings),
            ocpp=self.settings.ocpp,
            telemetry_workers=self.settings.telemetry_workers,
        )
        await self.fabric.start()
        enterprises = await self._seed_from_frame(now)
        await self.broker_accounts.sync(now)
        if enterprises:
            await self._apply(self.frame.with_enterprises(enterprises))
        await self._recover(now)
        self._sync_task = asyncio.create_task(self._sync_loop(), name="vpp.api.sync")
        if self.settings.openadr is not None:
            from vpp.api.openadr import start_ven

            self.ven = start_ven(self, self.settings.openadr)
        logger.info(
            "service started: %d enterprises, clock %s (x%g), devices %s",
            len(enterprises),
            now.isoformat(timespec="seconds"),
            self.clock.scale,
            self.fabric.name,
        )

    async def stop(self) -> None:
        """Write what is left and disconnect. Setpoints in force are not released: their
        leases end on their own, and a restarted service resumes the events."""
        if self.ven is not None:
            await self.ven.stop()
        self._stopping.set()  # the loop finishes its round: no write is cut off midway
        if self._sync_task is not None:
            with contextlib.suppress(Exception):
                await self._sync_task
        with contextlib.suppress(Exception):
            await self.sync_once()
        await self.simulations.stop()
        if self.worker_batches is not None:
            await self.worker_batches.close()
        if self.controller is not None:
            await self.controller.stop(release=False)
        if self.fabric is not None:
            await self.fabric.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self._owned.close)  # waits for group solves still running
        self.dispatch_executor = None

    async def _seed_from_frame(self, now: datetime) -> list[Enterprise]:
        """Register the district file's enterprises the store does not have yet."""
        stored = await self.store.enterprises.all()
        known = {e.enterprise_id for e in stored}
        missing = [e for e in self.frame.enterprises if e.enterprise_id not in known]
        if missing:
            self.frame.with_enterprises([*stored, *missing])  # refuses a clash, by field
            await self.store.enterprises.save(missing, now)
            logger.info(
                "registered %d enterprises from %s", len(missing), self.settings.district_file
            )
        return sorted([*stored, *missing], key=lambda e: e.enterprise_id)

    async def _apply(self, district: District) -> None:
        """Make a district current: the controller plans with it, gateways follow it."""
        assert self.fabric is not None
        self.district = district
        waiting = await self.fabric.route(district)  # before the controller may send to them
        if waiting:
            logger.warning(
                "%d resources registered on a running protocol wait for a restart: %s",
                len(waiting),
                ", ".join(waiting[:10]),
            )
        if self.controller is None:
            dispatch = self.settings.controller.dispatch.model_copy(
                update={"executor": self.dispatch_executor}
            )
            self.controller = Controller(
                district,
                self.fabric.adapter,
                self.clock,
                self.settings.controller.model_copy(update={"dispatch": dispatch}),
                executor=self._executor,
            )
            self.writer = ProgressWriter(
                self.store,
                self.controller.monitor,
                self.settings.controller.evaluation_delay_s,
                self.settings.settlement_rule,
            )
            await self.controller.start()
            if self.settings.telemetry_workers:
                self.worker_batches = WorkerBatches(
                    self.fabric.links.link(WORKER_BATCHES_CLIENT_ID),
                    self.controller.monitor,
                    self.controller.take_merged,
                )
                await self.worker_batches.start()
            self.fabric.pace(self.controller)
        else:
            self.controller.update_district(district)
        await self.fabric.follow(district)

    async def _recover(self, now: datetime) -> None:
        """Resume unfinished events from now; settle those whose window passed meanwhile."""
        for record in await self.store.events.unfinished():
            event = record.event
            resumed = (
                None if record.state in TERMINAL else remaining_event(event, now, self.interval)
            )
            if resumed is None or self.controller is None or self.writer is None:
                if record.state not in TERMINAL:
                    note = "the window passed while the service was down"
                    await self.store.events.record_progress(
                        event.event_id,
                        record.incarnation + 1,
                        [(0, now, "completed", note)],
                        [],
                        [],
                        now,
                    )
                await settle(
                    self.store,
                    event,
                    self.settings.controller.interval_min,
                    self.settings.settlement_rule,
                    now,
                )
                continue
            incarnation = record.incarnation + 1
            await self.store.events.update(event.event_id, now, incarnation=incarnation)
            run = self.controller.submit(resumed)
            note = f"resumed after a restart, dispatching from {resumed.start.isoformat()}"
            self.writer.track(run, incarnation, note)
            logger.warning("event %s: %s", event.event_id, note)

    async def _sync_loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.settings.sync_period_s)
            try:
                await self.sync_once()
            except Exception:
                logger.exception("writing progress to the store failed; retrying")

    async def sync_once(self) -> None:
        if isinstance(self.clock, PacedClock):  # a restart resumes from here
            await self.store.settings.put(CLOCK_KEY, self.clock.to_dict())
        if self.writer is not None and self.fabric is not None:
            await self.writer.sync(self.clock.now(), self.fabric.adapter.drain, self.district)
        self._prune(self.clock.now())

    def _prune(self, now: datetime) -> None:
        """Once an hour, the controller drops finished events and old telemetry intervals
        (the store keeps them): a service that runs for months holds a bounded amount."""
        if self.controller is None:
            return
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            self.controller.prune(now)
            self._pruned_at = now

    # -- registrations ---------------------------------------------------------------

    async def register(self, enterprise: Enterprise) -> bool:
        """Create or replace an enterprise; refused whole when the district would be
        invalid. Returns whether it was created."""
        async with self._registration_lock:
            stored = await self.store.enterprises.all()
            others = [e for e in stored if e.enterprise_id != enterprise.enterprise_id]
            enterprises = sorted([*others, enterprise], key=lambda e: e.enterprise_id)
            try:
                district = self.frame.with_enterprises(enterprises)
            except ValidationError as exc:
                prefix = f"enterprises.{enterprises.index(enterprise)}."
                problems = [
                    (path.removeprefix(prefix), reason)
                    for path, reason in describe_validation_error(exc)
                ]
                raise InvalidInputError("the registration is not valid", problems) from None
            where = {
                f"{site.site_id}/{resource.resource_id}": f"sites.{i}.resources.{j}"
                for i, site in enumerate(enterprise.sites)
                for j, resource in enumerate(site.resources)
            }
            reach = [
                (f"{where[p.key]}.{p.field}", p.reason)
                for p in connection_problems(district)
                if p.key in where
            ]
            if reach:  # an unknown protocol, a connection block its protocol refuses
                raise InvalidInputError("the registration is not valid", reach)
            if self.fabric is not None:  # reach its devices before it is stored
                try:
                    await self.fabric.route(district)
                except ProtocolNotConfiguredError as exc:
                    raise InvalidInputError(
                        "the registration is not valid", [("protocol", str(exc))]
                    ) from None
            created = (await self.store.enterprises.save([enterprise], self.clock.now()))[0]
            await self._apply(district)
            return created

    async def enterprise(self, enterprise_id: str) -> Enterprise:
        found = await self.store.enterprises.get(enterprise_id)
        if found is None:
            raise NotFoundError(f"enterprise {enterprise_id!r}: not registered")
        return found

    # -- events ----------------------------------------------------------------------

    def require_district(self) -> District:
        return self._live()[2]

    def _live(self) -> tuple[Controller, ProgressWriter, District]:
        if self.controller is None or self.writer is None or self.district is None:
            raise ConflictError("no enterprise is registered yet: nothing to dispatch")
        return self.controller, self.writer, self.district

    async def submit_event(
        self, event: DemandResponseEvent, openadr: dict[str, Any] | None = None
    ) -> EventRecord:
        """Store and submit an event made elsewhere (the OpenADR VEN's, with its decision)."""
        async with self._event_lock:
            controller, writer, _ = self._live()
            record = await self.store.events.create(event, self.clock.now(), openadr=openadr)
            writer.track(controller.submit(event), 0)
        return record

    async def create_event(
        self, request: EventRequest, idempotency_key: str | None
    ) -> tuple[EventRecord, bool]:
        """Store and submit an event; a repeated idempotency key returns the first one."""
        digest = hashlib.sha256(request.model_dump_json().encode()).hexdigest()
        async with self._event_lock:
            if idempotency_key is not None:
                existing = await self.store.events.by_idempotency_key(idempotency_key)
                if existing is not None:
                    if existing.request_digest != digest:
                        raise ConflictError(
                            "Idempotency-Key: already used for a different request",
                            [("Idempotency-Key", "reuse it only to retry the same request")],
                        )
                    return existing, False
            controller, writer, district = self._live()
            now = self.clock.now()
            event = self._event(request, district, now)
            record = await self.store.events.create(event, now, idempotency_key, digest)
            # the rotation adder counts the calls the ledger has before this event
            ledger = await self.store.rotation.ledger()
            controller.update_district(with_rotation(district, ledger, event.start))
            run = controller.submit(event)
            writer.track(run, 0)
        await self._wait_for_plan(run)
        return record, True

    def _event(
        self, request: EventRequest, district: District, now: datetime
    ) -> DemandResponseEvent:
        step = self.interval
        if request.start is not None:
            start = request.start
            self.check_boundary("start", start, district)
            if start < now:
                raise InvalidInputError(
                    "start is in the past",
                    [("start", f"must not be before now ({now.isoformat(timespec='seconds')})")],
                )
        else:
            assert request.lead_min is not None
            earliest = now + timedelta(minutes=request.lead_min)
            start = self.next_boundary(earliest, district)
        if request.end is not None:
            end = request.end
            self.check_boundary("end", end, district)
        else:
            assert request.duration_min is not None
            end = start + timedelta(minutes=request.duration_min)
            if (end - start) % step:
                raise InvalidInputError(
                    "duration_min is not a whole number of intervals",
                    [
                        (
                            "duration_min",
                            f"must be a multiple of {self.settings.controller.interval_min}",
                        )
                    ],
                )
        if end <= start:
            raise InvalidInputError("empty window", [("end", "must be after start")])
        if end - start > timedelta(days=1):
            raise InvalidInputError("window too long", [("end", "a window lasts at most 24 h")])
        # the same instants in the district's zone, whatever offset the request used
        start, end = start.astimezone(district.tz), end.astimezone(district.tz)
        event_id = request.event_id or f"ev-{start:%Y%m%d-%H%M}-{secrets.token_hex(2)}"
        return DemandResponseEvent(
            event_id=event_id,
            kind=request.kind,
            start=start,
            end=end,
            target_kw=request.target_kw,
            target_pct_of_peak=request.target_pct_of_peak,
            notice=request.notice,
            issued_at=min(now, start).astimezone(district.tz),
        )

    def check_boundary(self, field: str, ts: datetime, district: District) -> None:
        check_plannable(ts, field)
        local = ts.astimezone(district.tz)
        minutes = local.hour * 60 + local.minute
        if local.second or local.microsecond or minutes % self.settings.controller.interval_min:
            raise InvalidInputError(
                f"{field} is not on an interval boundary",
                [(field, f"must fall on a {self.settings.controller.interval_min}-min boundary")],
            )

    def next_boundary(self, ts: datetime, district: District) -> datetime:
        local = ts.astimezone(district.tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        steps = math.ceil((local - midnight) / self.interval)
        return (midnight + steps * self.interval).astimezone(ts.tzinfo)

    async def _wait_for_plan(self, run: EventRun) -> None:
        """Until the first plan exists (or the wait is over): the reply carries it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.plan_wait_s
        while run.initial is None and not run.lifecycle.finished and loop.time() < deadline:
            await asyncio.sleep(0.05)

    async def event_record(self, event_id: str) -> EventRecord:
        record = await self.store.events.get(event_id)
        if record is None:
            raise NotFoundError(f"event {event_id!r}: not found")
        return record

    def live_run(self, event_id: str) -> EventRun | None:
        if self.writer is None:
            return None
        tracked = self.writer.tracked.get(event_id)
        return None if tracked is None else tracked.run

    async def modify_event(self, event_id: str, change: EventChange) -> EventRecord:
        record = await self.event_record(event_id)
        run = self.live_run(event_id)
        if run is None or run.lifecycle.finished or self.controller is None:
            raise ConflictError(f"event {event_id!r}: already {record.state}; it cannot change")
        self.controller.modify(
            event_id, target_kw=change.target_kw, target_pct=change.target_pct_of_peak
        )
        event = record.event.model_copy(
            update={"target_kw": change.target_kw, "target_pct_of_peak": change.target_pct_of_peak}
        )
        await self.store.events.update(event_id, self.clock.now(), event=event)
        return await self.event_record(event_id)

    async def cancel_event(self, event_id: str, reason: str) -> EventRecord:
        record = await self.event_record(event_id)
        run = self.live_run(event_id)
        if run is None or run.lifecycle.finished or self.controller is None:
            raise ConflictError(f"event {event_id!r}: already {record.state}; nothing to cancel")
        self.controller.cancel(event_id, reason)
        # the run acts on it at once, even mid-solve; answer with the state it reaches (a
        # run that failed instead is stored as cancelled by the controller all the same)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self.controller.wait(event_id)), CANCEL_WAIT_S)
        await self.sync_once()
        return await self.event_record(event_id)
