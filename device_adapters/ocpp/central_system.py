"""The OCPP 1.6J central system: a websockets server, one ``ocpp.v16.ChargePoint`` per
connected charge point at ``ws(s)://host:port/{charge_point_id}``.

It authenticates (basic auth per charge point: security profile 1, over TLS profile 2),
answers the charge points' CALLs by asking a :class:`StationHandler` (the adapter, which
keeps the pools' state), and lets the adapter send CALLs back. A handler must not await a
CALL to the same charge point (its answer arrives through the loop that runs the handler):
the adapter spawns those as tasks.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import Counter
from collections.abc import Callable, Collection, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any, Protocol

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from vpp.device_adapters.ocpp.config import OcppServerSettings
from vpp.device_adapters.ocpp.credentials import check_basic_auth

logger = logging.getLogger(__name__)

SUBPROTOCOL = Subprotocol("ocpp1.6")


class ChargePointOfflineError(ConnectionError):
    """A CALL to a charge point that is not connected (or dropped before answering)."""


class StationHandler(Protocol):
    """What the central system asks of the adapter; every method returns at once."""

    def cp_connected(self, cp_id: str) -> None: ...
    def cp_disconnected(self, cp_id: str) -> None: ...
    def booted(self, cp_id: str) -> None: ...
    def status(self, cp_id: str, connector_id: int, status: str, error_code: str) -> None: ...
    def start_transaction(self, cp_id: str, connector_id: int, meter_start_wh: int) -> int | None:
        """A new transaction id, or None to refuse it."""
        ...

    def stop_transaction(self, cp_id: str, transaction_id: int) -> None: ...
    def meter_values(
        self, cp_id: str, connector_id: int, transaction_id: int | None, values: list[Any]
    ) -> None: ...


@dataclass
class OcppStats:
    """Message counts and round trips an operator reads (CALLs both ways)."""

    calls_in: Counter[str] = field(default_factory=Counter)  # by action
    calls_out: Counter[str] = field(default_factory=Counter)  # by action
    call_failures: Counter[str] = field(default_factory=Counter)  # timeout, offline, error
    refused: Counter[str] = field(default_factory=Counter)  # connections, by reason
    connects: int = 0
    disconnects: int = 0
    round_trip_s: list[float] = field(default_factory=list)  # CALL to answer [s, wall]


class _Station(ChargePoint):  # type: ignore[misc]
    """One connected charge point, as the central system sees it."""

    def __init__(
        self,
        cp_id: str,
        connection: ServerConnection,
        handler: StationHandler,
        settings: OcppServerSettings,
        now: Callable[[], datetime],
        stats: OcppStats,
    ) -> None:
        super().__init__(cp_id, connection, response_timeout=settings.response_timeout_s)
        self._handler = handler
        self._settings = settings
        self._now = now
        self._stats = stats
        self.closed = asyncio.Event()  # set when the connection is gone

    def _count(self, action: str) -> None:
        self._stats.calls_in[action] += 1

    @on(Action.boot_notification)  # type: ignore[untyped-decorator]
    def _on_boot(self, charge_point_vendor: str, charge_point_model: str, **_: Any) -> Any:
        self._count("BootNotification")
        logger.info("%s booted (%s %s)", self.id, charge_point_vendor, charge_point_model)
        self._handler.booted(self.id)
        return call_result.BootNotification(
            current_time=self._now().isoformat(),
            interval=self._settings.heartbeat_interval_s,
            status=RegistrationStatus.accepted,
        )

    @on(Action.heartbeat)  # type: ignore[untyped-decorator]
    def _on_heartbeat(self) -> Any:
        self._count("Heartbeat")
        return call_result.Heartbeat(current_time=self._now().isoformat())

    @on(Action.status_notification)  # type: ignore[untyped-decorator]
    def _on_status(self, connector_id: int, error_code: str, status: str, **_: Any) -> Any:
        self._count("StatusNotification")
        self._handler.status(self.id, connector_id, status, error_code)
        return call_result.StatusNotification()

    @on(Action.authorize)  # type: ignore[untyped-decorator]
    def _on_authorize(self, id_tag: str) -> Any:
        # vpp steers power, it does not bill: every id tag may charge
        self._count("Authorize")
        return call_result.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.start_transaction)  # type: ignore[untyped-decorator]
    def _on_start(self, connector_id: int, id_tag: str, meter_start: int, **_: Any) -> Any:
        self._count("StartTransaction")
        tx = self._handler.start_transaction(self.id, connector_id, meter_start)
        status = AuthorizationStatus.accepted if tx is not None else AuthorizationStatus.invalid
        return call_result.StartTransaction(transaction_id=tx or 0, id_tag_info={"status": status})

    @on(Action.stop_transaction)  # type: ignore[untyped-decorator]
    def _on_stop(self, meter_stop: int, timestamp: str, transaction_id: int, **_: Any) -> Any:
        self._count("StopTransaction")
        self._handler.stop_transaction(self.id, transaction_id)
        return call_result.StopTransaction()

    @on(Action.meter_values)  # type: ignore[untyped-decorator]
    def _on_meter_values(
        self, connector_id: int, meter_value: list[Any], transaction_id: int | None = None
    ) -> Any:
        self._count("MeterValues")
        self._handler.meter_values(self.id, connector_id, transaction_id, meter_value)
        return call_result.MeterValues()


class CentralSystem:
    """Accepts registered charge points and carries CALLs to them."""

    def __init__(
        self,
        settings: OcppServerSettings,
        handler: StationHandler,
        now: Callable[[], datetime],
        hashes: Callable[[], Mapping[str, str]],
    ) -> None:
        self.settings = settings
        self.stats = OcppStats()
        self.known: Collection[str] = frozenset()  # charge point ids that may log in
        self._handler = handler
        self._now = now
        self._hashes = hashes
        self._stations: dict[str, _Station] = {}
        self._server: Server | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one chosen when the settings say 0)."""
        if self._server is None:
            raise RuntimeError("the central system is not started")
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def listening(self) -> bool:
        return self._server is not None

    def is_connected(self, cp_id: str) -> bool:
        return cp_id in self._stations

    async def start(self) -> None:
        tls: ssl.SSLContext | None = None
        if self.settings.tls_cert is not None and self.settings.tls_key is not None:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(self.settings.tls_cert, self.settings.tls_key)
        self._server = await serve(
            self._serve_station,
            self.settings.host,
            self.settings.port,
            subprotocols=[SUBPROTOCOL],
            process_request=self._authenticate,
            ssl=tls,
        )
        scheme = "wss" if tls else "ws"
        logger.info("OCPP 1.6J central system on %s://%s:%d/{id}", scheme, self.settings.host,
                    self.port)  # fmt: skip

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _authenticate(self, connection: ServerConnection, request: Request) -> Response | None:
        cp_id = _charge_point_id(request.path)
        if cp_id not in self.known:
            return self._refuse(connection, HTTPStatus.NOT_FOUND, "unknown_charge_point", cp_id)
        if not check_basic_auth(request.headers.get("Authorization"), cp_id, self._hashes()):
            response = self._refuse(connection, HTTPStatus.UNAUTHORIZED, "bad_credentials", cp_id)
            response.headers = Headers(response.headers)
            response.headers["WWW-Authenticate"] = 'Basic realm="vpp ocpp"'
            return response
        if SUBPROTOCOL not in _offered(request):
            return self._refuse(connection, HTTPStatus.BAD_REQUEST, "no_ocpp16", cp_id)
        return None

    def _refuse(
        self, connection: ServerConnection, status: HTTPStatus, reason: str, cp_id: str
    ) -> Response:
        self.stats.refused[reason] += 1
        logger.warning("refused charge point %r: %s", cp_id[:64], reason)
        return connection.respond(status, f"{reason}\n")

    async def _serve_station(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        cp_id = _charge_point_id(connection.request.path)
        station = _Station(cp_id, connection, self._handler, self.settings, self._now, self.stats)
        old = self._stations.get(cp_id)
        self._stations[cp_id] = station
        if old is not None:  # the newer connection wins (a charge point that rebooted)
            await old._connection.close()
        self.stats.connects += 1
        self._handler.cp_connected(cp_id)
        try:
            await station.start()
        except ConnectionClosed:
            pass
        finally:
            station.closed.set()  # CALLs waiting on it fail now, not at their timeout
            if self._stations.get(cp_id) is station:
                del self._stations[cp_id]
                self.stats.disconnects += 1
                self._handler.cp_disconnected(cp_id)

    async def call(self, cp_id: str, payload: Any) -> Any:
        """Send a CALL to a charge point; its answer (raises ChargePointOfflineError,
        TimeoutError)."""
        station = self._stations.get(cp_id)
        action = type(payload).__name__
        if station is None:
            self.stats.call_failures["offline"] += 1
            raise ChargePointOfflineError(f"{cp_id} is not connected")
        self.stats.calls_out[action] += 1
        started = time.perf_counter()
        try:
            result = await _unless_closed(station, station.call(payload, suppress=False))
        except ConnectionClosed:
            self.stats.call_failures["offline"] += 1
            raise ChargePointOfflineError(f"{cp_id} dropped before answering {action}") from None
        except TimeoutError:
            self.stats.call_failures["timeout"] += 1
            raise
        except Exception:
            self.stats.call_failures["error"] += 1
            raise
        self.stats.round_trip_s.append(time.perf_counter() - started)
        return result


async def _unless_closed(station: _Station, exchange: Coroutine[Any, Any, Any]) -> Any:
    """The CALL's answer; ConnectionClosed as soon as the charge point is gone."""
    answer = asyncio.ensure_future(exchange)
    closed = asyncio.ensure_future(station.closed.wait())
    try:
        await asyncio.wait({answer, closed}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        closed.cancel()
    if not answer.done():
        answer.cancel()
        await asyncio.gather(answer, return_exceptions=True)
        raise ConnectionClosed(None, None)
    return answer.result()


def _charge_point_id(path: str) -> str:
    return path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _offered(request: Request) -> list[str]:
    header = request.headers.get("Sec-WebSocket-Protocol") or ""
    return [p.strip() for p in header.split(",")]
