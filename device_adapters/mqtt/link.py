"""The :class:`vpp.device_adapters.link.Link` over a real MQTT broker, on aiomqtt.

One background task per link (named ``vpp.mqtt.<client_id>``) owns the connection: it
connects with a clean session, subscribes (QoS 1), awaits the ``on_connect`` handler, then
hands every message to ``on_message``, straight from the read of the socket, many packets
per readiness event, with no queue and no task per message (telemetry arrives tens of
thousands of times a second). When the broker goes away it logs, waits a jittered, capped
exponential back-off (reset after every successful connection) and starts again, so
the owner only ever sees ``connected`` flip and ``publish`` return False meanwhile.
``aiomqtt.MqttError`` never leaves this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from vpp.device_adapters.link import ConnectHandler, LinkStats, MessageHandler, Traffic, Will
from vpp.device_adapters.mqtt.client_auth import Login, TlsFiles
from vpp.domain import VppError

logger = logging.getLogger(__name__)

#: Port of ``mqtt://host`` when the URL names none.
DEFAULT_PORT = 1883
#: Port of ``mqtts://host`` (MQTT over TLS) when the URL names none.
DEFAULT_TLS_PORT = 8883
#: Packets read per readiness event of the socket at most, so other work gets its turn.
MAX_PACKETS_PER_READ = 256
#: Bytes read from the socket at once; paho takes each packet from them [bytes].
READ_AHEAD_BYTES = 65_536


class MqttUrlError(VppError, ValueError):
    """A broker URL that is not ``mqtt[s]://[user@]host[:port]``."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"url {url!r}: {reason}")


@dataclass(frozen=True)
class BrokerUrl:
    """A parsed broker URL: ``mqtt://`` plain, ``mqtts://`` over TLS, maybe a username."""

    host: str
    port: int
    tls: bool
    username: str | None


def parse_broker_url(url: str) -> BrokerUrl:
    """Parse ``mqtt[s]://[user@]host[:port]`` (port 1883, or 8883 over TLS, by default).

    A password in the URL is refused: it would show in process lists and logs.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise MqttUrlError(url, "expected mqtt://host:port or mqtts://host:port")
    try:
        port = parts.port
    except ValueError:
        raise MqttUrlError(url, "port must be an integer in 1..65535") from None
    if port == 0:
        raise MqttUrlError(url, "port must be an integer in 1..65535")
    if not parts.hostname:
        raise MqttUrlError(url, "no host")
    if parts.password is not None:
        raise MqttUrlError(url, "no password in the URL: give it in a password file")
    if parts.username == "":
        raise MqttUrlError(url, "empty username")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise MqttUrlError(url, "expected mqtt[s]://[user@]host:port and nothing else")
    tls = parts.scheme == "mqtts"
    default = DEFAULT_TLS_PORT if tls else DEFAULT_PORT
    username = None if parts.username is None else unquote(parts.username)
    return BrokerUrl(parts.hostname, default if port is None else port, tls, username)


def parse_url(url: str) -> tuple[str, int]:
    """Host and port of ``mqtt[s]://[user@]host[:port]``, or MqttUrlError."""
    parsed = parse_broker_url(url)
    return parsed.host, parsed.port


class MqttLink:
    """A client of an MQTT broker; implements :class:`vpp.device_adapters.link.Link`.

    Parameters
    ----------
    url
        The broker, ``mqtt://host:port`` or ``mqtts://[user@]host:port`` (TLS).
    client_id
        MQTT client identifier; a second connection with the same id takes over.
    will
        Published (by the broker) when this client vanishes without a DISCONNECT.
    traffic
        Message counts shared by the links of one process (the simulator's pacing).
    keepalive_s
        MQTT keep-alive; the broker declares a silent client dead after 1.5 times it [s].
    backoff_initial_s, backoff_max_s
        First and largest wait between connection attempts; each failure doubles the
        wait, each attempt waits a random 50-100 % of it [s].
    timeout_s
        Limit on each exchange with the broker: CONNACK, SUBACK, PUBACK [s].
    login
        Username and password (None: the URL's username, if any, and no password). A
        broker that refuses them is retried like one that is away (each refusal logged).
    tls
        CA and client certificate for ``mqtts://`` (None: the system's CAs, no client
        certificate); refused with an ``mqtt://`` URL.
    """

    def __init__(
        self,
        url: str,
        client_id: str,
        *,
        will: Will | None = None,
        traffic: Traffic | None = None,
        keepalive_s: int = 30,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 5.0,
        timeout_s: float = 10.0,
        login: Login | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        broker = parse_broker_url(url)
        self.host, self.port = broker.host, broker.port
        if tls is not None and not broker.tls:
            raise MqttUrlError(url, "TLS files given for a plain mqtt:// URL; use mqtts://")
        self.username = login.username if login is not None else broker.username
        self._password = None if login is None else login.password
        self._tls_context = (tls or TlsFiles()).context() if broker.tls else None
        if not client_id:
            raise ValueError("client_id: must not be empty")
        if keepalive_s < 1:
            raise ValueError(f"keepalive_s: must be at least 1, got {keepalive_s}")
        if not 0 < backoff_initial_s <= backoff_max_s:
            raise ValueError(
                "backoff_initial_s, backoff_max_s: need 0 < initial <= max, got "
                f"{backoff_initial_s}, {backoff_max_s}"
            )
        if timeout_s <= 0:
            raise ValueError(f"timeout_s: must be positive, got {timeout_s}")
        self.url = url
        self.client_id = client_id
        self.will = will
        self.traffic = traffic
        self.stats = LinkStats()
        self.subscriptions: tuple[str, ...] = ()
        self._keepalive_s = keepalive_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._timeout_s = timeout_s
        self._on_message: MessageHandler = lambda topic, payload: None
        self._on_connect: ConnectHandler | None = None
        self._client: aiomqtt.Client | None = None
        self._session_lost: asyncio.Future[None] | None = None
        self._connected = False
        self._stopping = False
        self._killed = False
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def wanted(self) -> bool:
        return self._task is not None and not self._stopping

    def on_message(self, handler: MessageHandler) -> None:
        self._on_message = handler

    def on_connect(self, handler: ConnectHandler) -> None:
        self._on_connect = handler

    async def start(self, subscriptions: tuple[str, ...] = ()) -> None:
        """Start the connection task; return once the first attempt has connected or failed."""
        if self._task is not None and not self._task.done():
            if not self._stopping:
                raise RuntimeError(f"{self.client_id}: link already started")
            await asyncio.wait({self._task})  # killed or closing: let the old task end first
        self.subscriptions = tuple(subscriptions)
        self._stopping = self._killed = False
        first_attempt = asyncio.Event()
        task = asyncio.create_task(self._run(first_attempt), name=f"vpp.mqtt.{self.client_id}")
        self._task = task
        attempted = asyncio.ensure_future(first_attempt.wait())
        try:
            await asyncio.wait({attempted, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            attempted.cancel()
        if task.done() and not task.cancelled():
            task.result()  # a bug in the loop itself: surface it here, not in a log

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> bool:
        """Hand a message to the broker (QoS 1: wait for its PUBACK); False when disconnected."""
        client, lost = self._client, self._session_lost
        if not self._connected or client is None or lost is None or lost.done():
            return self._drop(topic, "not connected")
        if self.traffic is not None:
            self.traffic.sent(topic, payload)  # in flight from now: a simulation waits for it
        sending = asyncio.ensure_future(client.publish(topic, payload, qos=qos, retain=retain))
        try:
            # a connection lost mid-way would leave aiomqtt waiting out its whole timeout
            await asyncio.wait({sending, lost}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            sending.cancel()
            raise
        if not sending.done():
            sending.cancel()
            sending.add_done_callback(_retrieve)  # it may still end in aiomqtt's own error
            return self._drop(topic, "connection lost", unsent=payload)
        try:
            sending.result()
        except aiomqtt.MqttError as exc:
            self.stats.errors["publish"] += 1
            return self._drop(topic, str(exc), unsent=payload)
        self.stats.published += 1
        return True

    async def close(self) -> None:
        """Disconnect cleanly (the broker discards the will) and end the connection task.

        A connection attempt under way is let finish first (at most ``timeout_s``), so no
        half-open session outlives the link.
        """
        self._stopping = True
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.wait({task})
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s: connection task failed", self.client_id, exc_info=task.exception())

    def kill(self) -> None:
        """Vanish without a DISCONNECT (power cut, crash): the broker publishes the will.

        The socket is shut down under paho, so not another byte reaches the broker, and the
        connection task ends; :meth:`close` afterwards waits for it.
        """
        self._stopping = self._killed = True
        self._connected = False
        if self._client is not None:
            _shut_down_socket(self._client)
        if self._task is not None:
            self._task.cancel()

    async def _run(self, first_attempt: asyncio.Event) -> None:
        delay_s = self._backoff_initial_s
        try:
            while not self._stopping:
                connects = self.stats.connects
                try:
                    await self._session(first_attempt)
                    reason = "connection ended"
                except aiomqtt.MqttError as exc:
                    reason = str(exc) or type(exc).__name__
                    self.stats.errors["connection"] += 1
                except Exception as exc:  # a bug below us must not end the link for good
                    logger.exception("%s: connection task failed", self.client_id)
                    reason = repr(exc)
                    self.stats.errors["unexpected"] += 1
                first_attempt.set()
                if self._stopping:
                    break
                if self.stats.connects > connects:
                    delay_s = self._backoff_initial_s  # it worked for a while: start afresh
                wait_s = delay_s * random.uniform(0.5, 1.0)
                logger.warning(
                    "%s: no connection to %s:%d (%s); retrying in %.2f s",
                    self.client_id,
                    self.host,
                    self.port,
                    reason,
                    wait_s,
                )
                await asyncio.sleep(wait_s)
                delay_s = min(2 * delay_s, self._backoff_max_s)
        finally:
            first_attempt.set()

    async def _session(self, first_attempt: asyncio.Event) -> None:
        """One connection: connect, subscribe, announce, then read until it breaks."""
        will = self.will
        client = aiomqtt.Client(
            self.host,
            self.port,
            identifier=self.client_id,
            clean_session=True,
            keepalive=self._keepalive_s,
            timeout=self._timeout_s,
            username=self.username,
            password=self._password,
            tls_context=self._tls_context,
            will=None
            if will is None
            else aiomqtt.Will(will.topic, will.payload, qos=will.qos, retain=will.retain),
        )
        await self._enter(client)
        # aiomqtt keeps an unexpected disconnection as an exception on a future that nobody
        # reads once the session is over; read it, or asyncio logs it as never retrieved
        client._disconnected.add_done_callback(_retrieve)
        self._session_lost = asyncio.get_running_loop().create_future()
        self._client = client
        try:
            for topic_filter in self.subscriptions:
                granted = await client.subscribe(topic_filter, qos=1)
                if any(_code(c) >= 0x80 for c in granted):
                    logger.error("%s: broker refused subscription %r", self.client_id, topic_filter)
                    self.stats.errors["subscribe"] += 1
            self._connected = True
            self.stats.connects += 1
            logger.info("%s: connected to %s:%d", self.client_id, self.host, self.port)
            await self._announce()
            first_attempt.set()
            self._read_directly(client)
            await _disconnection(client)
        finally:
            self._connected = False
            self._client = None
            self._session_lost.set_result(None)
            await self._leave(client)

    async def _enter(self, client: aiomqtt.Client) -> None:
        """Connect; a close or kill meanwhile lets the attempt finish, then ends it properly."""
        entering = asyncio.ensure_future(client.__aenter__())
        try:
            await asyncio.shield(entering)
        except asyncio.CancelledError:
            # cancelled, the attempt would go on in aiomqtt's thread and leave a session
            # behind that the broker would later end with the will
            with contextlib.suppress(Exception):
                await entering
                if self._killed:
                    _shut_down_socket(client)
                await self._leave(client)
            raise

    async def _leave(self, client: aiomqtt.Client) -> None:
        """Send DISCONNECT if the connection is still up (after :meth:`kill` it cannot be)."""
        if self._killed:
            # Let paho read the end of the shut-down socket and close it; a DISCONNECT now
            # would register a writer for a descriptor paho is about to close. A vanished
            # client handles nothing more, so whatever is still queued is discarded.
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                async with asyncio.timeout(self._timeout_s):
                    async for _ in client.messages:
                        pass
        try:
            await client.__aexit__(None, None, None)
        except Exception as exc:  # the connection broke while we said goodbye
            logger.debug("%s: disconnect: %r", self.client_id, exc)

    async def _announce(self) -> None:
        if self._on_connect is None:
            return
        try:
            await self._on_connect()
        except Exception:  # a handler bug must not kill the link
            logger.exception("%s: connect handler failed", self.client_id)
            self.stats.errors["on_connect"] += 1

    def _read_directly(self, client: aiomqtt.Client) -> None:
        """From now on, hand each message over as paho decodes it, many per read.

        Until now (subscribing, announcing) messages waited in aiomqtt's queue; they are
        handed over first, in the same step, so the order is kept. aiomqtt's own reading
        makes an asyncio task and a wait per message and reads one packet per readiness
        event, three turns of the event loop a message; this reads up to
        :data:`MAX_PACKETS_PER_READ` packets a turn.
        """
        mqtt = client._client
        mqtt.on_message = self._on_paho_message
        queue = client._queue
        while not queue.empty():
            message = queue.get_nowait()
            self._deliver(message.topic.value, message.payload)
        sock = mqtt.socket()
        if sock is None or not hasattr(mqtt, "_packet_read"):
            return  # nothing to read from, or a paho that reads otherwise: keep aiomqtt's
        disconnected = client._disconnected
        loop = asyncio.get_running_loop()
        ahead = _ReadAhead(mqtt._sock_recv)
        mqtt._sock_recv = ahead  # type: ignore[method-assign,assignment]

        whole_packets = mqtt._protocol != paho.MQTTv5  # 3.1.1 PUBLISH: no properties

        def read() -> None:
            try:
                for _ in range(MAX_PACKETS_PER_READ):
                    if mqtt._sock is None:
                        return  # closed by what was just read (paho said so)
                    if whole_packets and mqtt._in_packet["command"] == 0:
                        message = ahead.qos0_publish()
                        if message is not None:
                            mqtt._last_bytes_received = time.monotonic()  # as paho notes it
                            self._deliver(*message)
                            continue
                    rc = mqtt._packet_read()
                    if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                        return  # read everything there was
                    if rc > 0:  # the connection broke: paho closes it and says so
                        mqtt._loop_rc_handle(rc)
                        return
                # more to read; bytes read ahead (or decrypted by TLS) wake no selector
                pending = getattr(mqtt._sock, "pending", None)
                if ahead.buffered > 0 or (pending is not None and pending() > 0):
                    loop.call_soon(read)
            except Exception as exc:  # as aiomqtt's reader: the connection is broken
                if not disconnected.done():
                    disconnected.set_exception(exc)

        loop.add_reader(sock.fileno(), read)  # replaces aiomqtt's reader

    def _on_paho_message(
        self, _client: paho.Client, _userdata: object, message: paho.MQTTMessage
    ) -> None:
        self._deliver(message.topic, message.payload)

    def _deliver(self, topic: str, raw: str | bytes | bytearray | int | float | None) -> None:
        self.stats.received += 1
        payload = _as_bytes(raw)
        if self.traffic is not None:
            self.traffic.arrived(topic, payload)
        try:
            self._on_message(topic, payload)
        except Exception:  # a handler bug must not kill the link
            logger.exception("%s: message handler failed on %s", self.client_id, topic)
            self.stats.errors["handler"] += 1

    def _drop(self, topic: str, reason: str, *, unsent: bytes | None = None) -> bool:
        """Count a message that will not arrive; ``unsent`` when it was counted as sent."""
        logger.debug("%s: dropped message to %s: %s", self.client_id, topic, reason)
        self.stats.dropped += 1
        if self.traffic is not None:
            self.traffic.dropped += 1
            if unsent is not None:
                self.traffic.unsent(topic, unsent)
        return False


class _ReadAhead:
    """paho's ``_sock_recv`` reading the socket in large chunks.

    paho reads each packet in three calls (its type, its length, the rest): three system
    calls a message. This reads up to :data:`READ_AHEAD_BYTES` at once and hands paho its
    bytes from memory; whoever reads must go on while :attr:`buffered` is not 0, as no
    selector will say that there is more.
    """

    def __init__(self, recv: Callable[[int], bytes]) -> None:
        self._recv = recv
        self._data = b""
        self._at = 0

    @property
    def buffered(self) -> int:
        return len(self._data) - self._at

    def qos0_publish(self) -> tuple[str, bytes] | None:
        """Topic and payload of the QoS 0 PUBLISH (MQTT 3.1.1) that is next in the buffer,
        taken out; None (nothing taken) for any other packet or one not wholly read yet.

        paho spends some 10 µs on each (a message object, two log calls, three locks, a
        match against per-topic callbacks); telemetry needs none of it. Everything else
        (acks, pings, QoS 1, a packet cut by the end of the buffer) is left to paho.
        """
        data, at = self._data, self._at
        end = len(data)
        if end - at < 4 or data[at] & 0xF6 != 0x30:  # PUBLISH, QoS 0 (retain, dup: any)
            return None
        length, shift, i = 0, 0, at + 1
        while True:
            if i >= end or shift > 21:
                return None
            byte = data[i]
            length |= (byte & 0x7F) << shift
            i += 1
            if not byte & 0x80:
                break
            shift += 7
        stop = i + length
        if stop > end or length < 2:
            return None
        topic_end = i + 2 + ((data[i] << 8) | data[i + 1])
        if topic_end > stop:
            return None
        try:
            topic = data[i + 2 : topic_end].decode()
        except UnicodeDecodeError:
            return None  # paho says what is wrong with it
        self._at = stop
        return topic, data[topic_end:stop]

    def __call__(self, size: int) -> bytes:
        if self._at >= len(self._data):
            self._data, self._at = self._recv(READ_AHEAD_BYTES), 0  # b"": the peer closed
        start = self._at
        self._at = min(start + size, len(self._data))
        return self._data[start : self._at]


async def _disconnection(client: aiomqtt.Client) -> None:
    """Wait until the connection ends; MqttError as aiomqtt's message iterator raises it."""
    disconnected = client._disconnected
    with contextlib.suppress(Exception):  # not CancelledError: a close ends the wait
        await asyncio.shield(disconnected)
    cause = disconnected.exception() if disconnected.done() else None
    raise aiomqtt.MqttError("Disconnected during message iteration") from cause


def _retrieve(future: asyncio.Future[None]) -> None:
    """Read a future's outcome nobody awaits, so asyncio does not log it as never retrieved."""
    if not future.cancelled():
        future.exception()


def _as_bytes(payload: str | bytes | bytearray | int | float | None) -> bytes:
    """aiomqtt types a payload loosely; from the wire it is bytes, but normalise anyway."""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, bytearray):
        return bytes(payload)
    if payload is None:
        return b""
    return str(payload).encode()


def _code(granted: int | ReasonCode) -> int:
    """A SUBACK return code (MQTT 3.1.1 gives ints, paho's v2 API reason codes)."""
    return granted.value if isinstance(granted, ReasonCode) else int(granted)


def _shut_down_socket(client: aiomqtt.Client) -> None:
    """End the TCP connection under paho without a DISCONNECT packet."""
    # aiomqtt has no public way to drop a connection uncleanly; paho's socket is the way.
    sock = client._client.socket()
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already closed by the peer
            sock.shutdown(socket.SHUT_RDWR)
