"""The VEN: registers with the VTN, polls it, answers its events and sends its reports.

It speaks OpenADR 2.0b simple HTTP (pull) with openleadr's message codec and its own
aiohttp session, so that every failure is seen here: a VTN that cannot be reached, answers
garbage or refuses is retried with capped, jittered exponential back-off, logged each time
and shown by :meth:`Ven.health`; nothing the VTN sends stops the service.

What an event means for the portfolio is the host's business (:class:`VenHost`); the VEN
only carries the answer back. Unlike openleadr's own client it answers 200 to a VTN whose
``vtnID`` is all lower case (openleadr's client answers 452 there), and it stops cleanly
with a request in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

import aiohttp

from vpp.openadr.decision import Opt
from vpp.openadr.library import create_message, parse_message, utils, validate_xml_schema
from vpp.openadr.mapping import VtnEvent, parse_event
from vpp.openadr.reports import ReportAgent
from vpp.openadr.settings import VenSettings

logger = logging.getLogger(__name__)

#: Messages read per poll round before waiting again (the VTN may have queued several).
MAX_MESSAGES_PER_ROUND = 10


class VtnUnreachableError(Exception):
    """The VTN could not be reached, or answered something that is not OpenADR."""


class VtnRefusedError(Exception):
    """The VTN answered, but refused (no registration id, a non-200 response code)."""


class VenHost(Protocol):
    """What the VEN needs from the service: its stored registration and event handling."""

    async def load_registration(self) -> dict[str, Any] | None: ...

    async def save_registration(self, registration: dict[str, Any] | None) -> None: ...

    async def on_event(self, event: VtnEvent) -> Opt: ...


@dataclass
class VenHealth:
    """What GET /v1/health shows of the VEN."""

    vtn_url: str
    state: str = "starting"  # starting | registered | unreachable | refused | stopped
    ven_id: str | None = None
    registration_id: str | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    last_contact_at: datetime | None = None
    next_try_in_s: float | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "vtn_url": self.vtn_url,
            "state": self.state,
            "ven_id": self.ven_id,
            "registration_id": self.registration_id,
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
            "last_contact_at": None
            if self.last_contact_at is None
            else self.last_contact_at.isoformat(),
            "next_try_in_s": self.next_try_in_s,
            "counts": dict(self.counts),
        }


class Ven:
    def __init__(
        self,
        settings: VenSettings,
        host: VenHost,
        reports: ReportAgent | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.host = host
        self.reports = reports
        self.health = VenHealth(settings.vtn_url.rstrip("/"))
        self._rng = rng or random.Random()
        cert = key = None
        if settings.cert_file is not None and settings.key_file is not None:
            cert, key = settings.cert_file.read_bytes(), settings.key_file.read_bytes()
        self._create = partial(create_message, cert=cert, key=key, disable_signature=cert is None)
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._warned_lowercase = False
        self._send_lock = asyncio.Lock()
        self._reports_offered = False

    @property
    def registered(self) -> bool:
        return self.health.registration_id is not None and self.health.state == "registered"

    # -- start and stop --------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="vpp.openadr.ven")
        if self.reports is not None:
            self.reports.start(self._send_report)

    async def stop(self) -> None:
        """Cancel the loop even mid-request; the session is closed, nothing is logged as
        an error (openleadr's own client logs a CancelledError here)."""
        if self.reports is not None:
            await self.reports.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()
        self.health.state = "stopped"

    # -- the loop --------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                if not self.registered:
                    await self._register()
                if self.reports is not None and not self._reports_offered:
                    await self._offer_reports()
                await self._poll_round()
            except (VtnUnreachableError, VtnRefusedError) as exc:
                await self._back_off(exc)
                continue
            except Exception as exc:  # a bug must not end the VEN: log it and retry
                logger.exception("OpenADR: unexpected error; retrying")
                await self._back_off(exc)
                continue
            self.health.consecutive_failures = 0
            self.health.next_try_in_s = None
            await asyncio.sleep(self.settings.poll_s)

    async def _back_off(self, exc: BaseException) -> None:
        health = self.health
        health.consecutive_failures += 1
        health.last_error = f"{type(exc).__name__}: {exc}"
        health.state = "refused" if isinstance(exc, VtnRefusedError) else "unreachable"
        base = min(
            self.settings.backoff_max_s,
            self.settings.poll_s * 2 ** min(health.consecutive_failures - 1, 16),
        )
        delay = base * self._rng.uniform(0.8, 1.0)
        health.next_try_in_s = round(delay, 3)
        health.count("failures")
        logger.warning(
            "OpenADR: VTN %s %s (%s); try %d, next in %.1f s",
            health.vtn_url,
            health.state,
            health.last_error,
            health.consecutive_failures,
            delay,
        )
        health.registration_id = None if health.state == "refused" else health.registration_id
        await asyncio.sleep(delay)

    # -- transport -------------------------------------------------------------------

    def _ssl(self) -> ssl.SSLContext | None:
        s = self.settings
        if not s.vtn_url.startswith("https://"):
            return None
        context = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
        if s.cert_file is not None and s.key_file is not None:
            context.load_cert_chain(s.cert_file, s.key_file)
        return context

    async def exchange(
        self, service: str, message_type: str, **payload: Any
    ) -> tuple[str, dict[str, Any]]:
        """Send one message and parse the answer; VtnUnreachableError on any failure."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"content-type": "application/xml"},
                timeout=aiohttp.ClientTimeout(total=self.settings.request_timeout_s),
                connector=aiohttp.TCPConnector(ssl=self._ssl() or False),
            )
        message = self._create(message_type, **payload)
        url = f"{self.health.vtn_url}/{service}"
        try:
            async with self._session.post(url, data=message) as response:
                content = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise VtnUnreachableError(f"{type(exc).__name__}: {exc}") from exc
        if status != 200:
            raise VtnUnreachableError(f"HTTP {status} from {service}: {content[:200]!r}")
        self.health.last_contact_at = datetime.now(UTC)
        if not content:
            return "oadrResponse", {}
        try:
            validate_xml_schema(content)
            answer_type, answer = parse_message(content)
        except Exception as exc:
            self.health.count("malformed")
            raise VtnUnreachableError(f"unparsable answer from {service}: {exc}") from exc
        return str(answer_type), dict(answer)

    # -- registration ----------------------------------------------------------------

    async def _register(self) -> None:
        stored = await self.host.load_registration()
        if stored is not None and stored.get("vtn_url") != self.health.vtn_url:
            stored = None  # another VTN: register afresh
        _, query = await self.exchange(
            "EiRegisterParty", "oadrQueryRegistration", request_id=utils.generate_id()
        )
        request_id = (query.get("response") or {}).get("request_id") or utils.generate_id()
        _, answer = await self.exchange(
            "EiRegisterParty",
            "oadrCreatePartyRegistration",
            request_id=request_id,
            ven_name=self.settings.ven_name,
            ven_id=None if stored is None else stored.get("ven_id"),
            registration_id=None if stored is None else stored.get("registration_id"),
            http_pull_model=True,
            xml_signature=False,
            report_only=False,
            profile_name="2.0b",
            transport_name="simpleHttp",
            transport_address=None,
        )
        code = (answer.get("response") or {}).get("response_code", 200)
        if code != 200 or not answer.get("registration_id") or not answer.get("ven_id"):
            raise VtnRefusedError(f"registration refused (response code {code})")
        self.health.ven_id = str(answer["ven_id"])
        self.health.registration_id = str(answer["registration_id"])
        self.health.state = "registered"
        await self.host.save_registration(
            {
                "vtn_url": self.health.vtn_url,
                "ven_id": self.health.ven_id,
                "registration_id": self.health.registration_id,
                "ven_name": self.settings.ven_name,
            }
        )
        if stored is not None and stored.get("registration_id") != self.health.registration_id:
            logger.warning(
                "OpenADR: the VTN replaced registration %s by %s",
                stored.get("registration_id"),
                self.health.registration_id,
            )
        logger.info(
            "OpenADR: registered with %s as venID %s, registration %s",
            self.health.vtn_url,
            self.health.ven_id,
            self.health.registration_id,
        )
        self._reports_offered = False

    async def _offer_reports(self) -> None:
        """oadrRegisterReport, and the requests the answer may carry; a failure is logged
        and the offer repeated on the next round, registration stands."""
        assert self.reports is not None
        try:
            answer = await self._send(
                "EiReport",
                "oadrRegisterReport",
                request_id=utils.generate_id(),
                reports=self.reports.descriptions(),
                ven_id=self.health.ven_id,
            )
            self._reports_offered = True
            if answer.get("report_requests"):
                await self._create_reports(answer)
        except VtnUnreachableError as exc:
            self.health.count("report_offer_failures")
            logger.warning("OpenADR: offering reports failed (%s); offered again later", exc)

    async def _create_reports(self, payload: dict[str, Any]) -> None:
        """Take on the VTN's report requests and confirm them (oadrCreatedReport)."""
        assert self.reports is not None
        created = self.reports.on_create(payload.get("report_requests") or [])
        request_id = payload.get("request_id") or (payload.get("response") or {}).get("request_id")
        await self._send(
            "EiReport",
            "oadrCreatedReport",
            response=_ok(request_id),
            pending_reports=[{"report_request_id": r} for r in created],
            ven_id=self.health.ven_id,
        )

    # -- polling ---------------------------------------------------------------------

    async def _poll_round(self) -> None:
        for _ in range(MAX_MESSAGES_PER_ROUND):
            kind, payload = await self.exchange("OadrPoll", "oadrPoll", ven_id=self.health.ven_id)
            self.health.count("polls")
            if kind == "oadrResponse":
                return
            await self._handle(kind, payload)

    async def _handle(self, kind: str, payload: dict[str, Any]) -> None:
        ven_id = self.health.ven_id
        if kind == "oadrDistributeEvent":
            await self._on_distribute(payload)
        elif kind == "oadrRequestReregistration":
            logger.info("OpenADR: the VTN asks us to register again")
            await self._respond("EiRegisterParty", payload)
            self.health.registration_id = None
            self.health.state = "starting"
        elif kind == "oadrCancelPartyRegistration":
            logger.warning("OpenADR: the VTN cancelled our registration")
            await self._send(
                "EiRegisterParty",
                "oadrCanceledPartyRegistration",
                response=_ok(payload.get("request_id")),
                registration_id=self.health.registration_id,
                ven_id=ven_id,
            )
            self.health.registration_id = None
            self.health.state = "starting"
            await self.host.save_registration(None)
        elif kind == "oadrCreateReport" and self.reports is not None:
            await self._create_reports(payload)
        elif kind == "oadrCancelReport" and self.reports is not None:
            self.reports.on_cancel(payload.get("report_request_id"))
            await self._send(
                "EiReport",
                "oadrCanceledReport",
                response=_ok(payload.get("request_id")),
                pending_reports=[],
                ven_id=ven_id,
            )
        elif kind == "oadrRegisterReport":  # reports from the VTN: none wanted
            await self._send(
                "EiReport",
                "oadrRegisteredReport",
                response=_ok(payload.get("request_id")),
                report_requests=[],
                ven_id=ven_id,
            )
        else:
            self.health.count("ignored_messages")
            logger.warning("OpenADR: %s from the VTN is not handled; ignored", kind)

    async def _on_distribute(self, payload: dict[str, Any]) -> None:
        vtn_id = str(payload.get("vtn_id") or "")
        if vtn_id.islower() and not self._warned_lowercase:
            self._warned_lowercase = True
            logger.warning(
                "OpenADR: the VTN's vtnID %r is all lower case; answered 200 all the same",
                vtn_id,
            )
        responses = []
        for raw in payload.get("events") or []:
            try:
                event = parse_event(raw)
            except (ValueError, TypeError, AttributeError) as exc:
                self.health.count("malformed_events")
                logger.warning("OpenADR: an event that does not parse was ignored: %s", exc)
                continue
            self.health.count("events")
            try:
                opt = await self.host.on_event(event)
            except Exception:
                logger.exception(
                    "OpenADR: event %s could not be handled; optOut", event.vtn_event_id
                )
                opt = "optOut"
            if event.response_required:
                responses.append(
                    {
                        "response_code": 200,
                        "response_description": "OK",
                        "opt_type": opt,
                        "request_id": payload.get("request_id"),
                        "modification_number": event.modification_number,
                        "event_id": event.vtn_event_id,
                    }
                )
        if responses:
            await self._send(
                "EiEvent",
                "oadrCreatedEvent",
                response=_ok(payload.get("request_id")),
                event_responses=responses,
                ven_id=self.health.ven_id,
            )

    async def _respond(self, service: str, payload: dict[str, Any]) -> None:
        await self._send(
            service,
            "oadrResponse",
            response=_ok(payload.get("request_id")),
            ven_id=self.health.ven_id,
        )

    async def _send(self, service: str, message_type: str, **payload: Any) -> dict[str, Any]:
        """A message whose answer only confirms; a non-200 code is logged."""
        async with self._send_lock:
            _, answer = await self.exchange(service, message_type, **payload)
        code = (answer.get("response") or {}).get("response_code", 200)
        if code != 200:
            logger.warning("OpenADR: the VTN answered %s to %s", code, message_type)
        return answer

    async def _send_report(self, report: dict[str, Any]) -> bool:
        """Send one oadrUpdateReport; False (and logged) when the VTN cannot take it now."""
        if not self.registered:
            return False
        try:
            await self._send(
                "EiReport",
                "oadrUpdateReport",
                request_id=utils.generate_id(),
                reports=[report],
                ven_id=self.health.ven_id,
            )
        except VtnUnreachableError as exc:
            logger.warning("OpenADR: report not sent (%s); kept for the next try", exc)
            return False
        self.health.count("reports_sent")
        return True


def _ok(request_id: Any) -> dict[str, Any]:
    return {"response_code": 200, "response_description": "OK", "request_id": request_id}
