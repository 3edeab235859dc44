"""A VTN for tests: openleadr's own ``OpenADRServer`` on loopback, plain HTTP or mutual TLS,
recording registrations, the VEN's answers (opt per event and modification) and the
reports it receives."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mosquitto_broker import free_port
from vpp.openadr.library import objects, utils

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # signxml's DSA deprecation, at import
    from openleadr import OpenADRServer
    from openleadr import hooks as vtn_hooks

PREFIX = "/OpenADR2/Simple/2.0b"


@dataclass
class Answer:
    event_id: str
    opt_type: str


@dataclass
class TestVtn:
    vtn_id: str = "VTN-TEST"
    port: int = field(default_factory=free_port)
    tls: tuple[Path, Path, Path] | None = None  # cert, key, CA the VEN's certificate is on
    ven_fingerprint: str | None = None
    report_granularity: timedelta = timedelta(seconds=10)
    report_back: timedelta = timedelta(seconds=10)
    registrations: list[dict[str, Any]] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    reports: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    created_event_codes: list[int] = field(default_factory=list)
    server: Any = None

    __test__ = False  # not a test class, whatever pytest thinks of the name

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}{PREFIX}"

    async def start(self) -> TestVtn:
        kwargs: dict[str, Any] = {}
        if self.tls is not None:
            cert, key, ca = self.tls
            kwargs = {
                "http_cert": str(cert),
                "http_key": str(key),
                "http_ca_file": str(ca),
                "cert": str(cert),
                "key": str(key),
                "fingerprint_lookup": self._fingerprint,
            }
        self.server = OpenADRServer(
            vtn_id=self.vtn_id,
            http_host="127.0.0.1",
            http_port=self.port,
            requested_poll_freq=timedelta(seconds=1),
            show_fingerprint=False,
            **kwargs,
        )
        self.server.add_handler("on_create_party_registration", self._register)
        self.server.add_handler("on_register_report", self._register_report)
        vtn_hooks.HOOKS["before_handle"].append(self._before_handle)
        await self.server.run()
        return self

    async def stop(self) -> None:
        if self._before_handle in vtn_hooks.HOOKS["before_handle"]:
            vtn_hooks.HOOKS["before_handle"].remove(self._before_handle)
        if self.server is not None:
            await self.server.stop()
            self.server = None

    # -- handlers ----------------------------------------------------------------------

    def _fingerprint(self, ven_id: str) -> str | None:
        return self.ven_fingerprint

    def _register(self, payload: dict[str, Any]) -> tuple[str, str]:
        self.registrations.append(dict(payload))
        ven_id = payload.get("ven_id") or f"VEN-{payload['ven_name']}"
        registration_id = payload.get("registration_id") or f"REG-{len(self.registrations)}"
        return ven_id, registration_id

    def _register_report(
        self,
        ven_id: str,
        resource_id: str,
        measurement: str,
        unit: str,
        scale: str,
        min_sampling_interval: timedelta,
        max_sampling_interval: timedelta,
    ) -> tuple[Callable[[list[tuple[datetime, float]]], None], timedelta, timedelta]:
        def receive(values: list[tuple[datetime, float]]) -> None:
            self.reports.setdefault(resource_id, []).extend(values)

        return receive, self.report_granularity, self.report_back

    async def _before_handle(self, message_type: str, payload: dict[str, Any]) -> None:
        if message_type == "oadrCreatedEvent":
            self.created_event_codes.append(int(payload["response"]["response_code"]))

    def _answered(self, ven_id: str, event_id: str, opt_type: str) -> None:
        self.answers.append(Answer(event_id, opt_type))

    # -- events --------------------------------------------------------------------------

    def send(
        self,
        ven_id: str,
        start: datetime,
        values: list[float],
        *,
        interval: timedelta = timedelta(minutes=15),
        signal_name: str = "LOAD_DISPATCH",
        signal_type: str = "delta",
        unit_kw: bool = True,
        test_event: bool = False,
        start_after: timedelta | None = None,
        event_id: str | None = None,
    ) -> str:
        """Queue an event for the VEN; returns its eventID."""
        event_id = event_id or utils.generate_id()
        measurement = None
        if signal_name == "LOAD_DISPATCH":
            measurement = objects.Measurement(
                name="powerReal",
                description="RealPower",
                unit="W",
                scale="k" if unit_kw else "M",
                power_attributes=objects.PowerAttributes(hertz=50, voltage=230, ac=True),
            )
        intervals = [
            objects.Interval(dtstart=start + i * interval, duration=interval, signal_payload=v)
            for i, v in enumerate(values)
        ]
        event = objects.Event(
            event_descriptor=objects.EventDescriptor(
                event_id=event_id,
                modification_number=0,
                market_context="http://vtn.test/dr",
                event_status="far",
                created_date_time=start,
                test_event=test_event,
            ),
            active_period=objects.ActivePeriod(
                dtstart=start,
                duration=interval * len(values),
                tolerance=None if start_after is None else {"startafter": start_after},
            ),
            event_signals=[
                objects.EventSignal(
                    intervals=intervals,
                    signal_name=signal_name,
                    signal_type=signal_type,
                    signal_id=utils.generate_id(),
                    measurement=measurement,
                )
            ],
            targets=[{"ven_id": ven_id}],
            response_required="always",
        )
        self.server.add_raw_event(ven_id=ven_id, event=event, callback=self._answered)
        return event_id

    def _event(self, ven_id: str, event_id: str) -> Any:
        return utils.find_by(self.server.events[ven_id], "event_descriptor.event_id", event_id)

    def modify(
        self, ven_id: str, event_id: str, values: list[float], shift: timedelta = timedelta(0)
    ) -> int:
        """Change every interval's value and move the window by ``shift``; the modification
        number goes up by one."""
        event = self._event(ven_id, event_id)
        for interval, value in zip(event.event_signals[0].intervals, values, strict=True):
            interval.signal_payload = value
            interval.dtstart += shift
        period = "active_period.dtstart"
        utils.setmember(event, period, utils.getmember(event, period) + shift)
        number = utils.increment_event_modification_number(event)
        self.server.event_callbacks[event_id] = (event, self._answered)
        self.server.events_updated[ven_id] = True
        return int(number)

    def cancel(self, ven_id: str, event_id: str) -> None:
        event = self._event(ven_id, event_id)
        self.server.event_callbacks[event_id] = (event, self._answered)
        self.server.cancel_event(ven_id, event_id)

    def resend(self, ven_id: str) -> None:
        """Distribute the VEN's events again, unchanged (as after a VTN restart)."""
        for event in self.server.events.get(ven_id, []):
            event_id = event.event_descriptor.event_id
            self.server.event_callbacks[event_id] = (event, self._answered)
        self.server.events_updated[ven_id] = True

    def opts(self, event_id: str) -> list[str]:
        return [a.opt_type for a in self.answers if a.event_id == event_id]


async def until(check: Callable[[], Any], timeout_s: float = 30.0, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy (state, never a fixed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"not reached in {timeout_s} s: {what}")
        await asyncio.sleep(0.05)
