"""Bytes on a topic to typed values and back: the one place the JSON contract is parsed.

Every failure is a :class:`MalformedMessageError` with a short reason the adapters count by.

Telemetry arrives tens of thousands of times a second, so the common case is cheap: a
topic string is parsed once and remembered, and a payload is validated straight from its
bytes by the pydantic model (its own JSON parser, ~1.3 µs). Anything that refuses is
decoded again the careful way (``json.loads``, then the model), so a malformed message
gets exactly the reason and detail it always got; the models stay the one schema.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache

from pydantic import AwareDatetime, BaseModel, TypeAdapter, ValidationError

from vpp.device_adapters.mqtt.topics import Channel, Topic, TopicError
from vpp.domain import (
    MAX_PAYLOAD_BYTES,
    Ack,
    GatewayStatus,
    Setpoint,
    SetpointPayload,
    Telemetry,
    VppError,
)

PAYLOAD_MODELS: dict[Channel, type[BaseModel]] = {
    Channel.TELEMETRY: Telemetry,
    Channel.SETPOINT: SetpointPayload,
    Channel.ACK: Ack,
    Channel.STATUS: GatewayStatus,
}


class MalformedMessageError(VppError, ValueError):
    """A message that is not part of the contract; ``reason`` is a counter key."""

    def __init__(self, topic: str, reason: str, detail: str) -> None:
        self.topic = topic
        self.reason = reason
        self.detail = detail
        super().__init__(f"{topic!r}: {reason}: {detail}")


#: Distinct topic strings whose parse is remembered (a district's resources, many times over).
TOPIC_CACHE_SIZE = 65_536


@lru_cache(maxsize=TOPIC_CACHE_SIZE)
def _parse_topic(topic: str) -> Topic:
    """``Topic.parse``, remembered per string (a refusal is not remembered, so a flood of
    made-up topics cannot push the district's topics out for long)."""
    return Topic.parse(topic)


def decode(topic: str, payload: bytes) -> tuple[Topic, BaseModel]:
    """The contract topic and its validated payload, or MalformedMessageError saying why not."""
    try:
        parsed = _parse_topic(topic)
    except TopicError as exc:
        raise MalformedMessageError(topic, "topic", exc.reason) from None
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MalformedMessageError(
            topic, "oversized", f"{len(payload)} bytes, limit {MAX_PAYLOAD_BYTES}"
        )
    model = PAYLOAD_MODELS[parsed.channel]
    try:
        return parsed, model.model_validate_json(payload)
    except ValidationError:
        pass  # say why exactly as the careful path does
    return parsed, _decode_payload(topic, model, payload)


def _decode_payload(topic: str, model: type[BaseModel], payload: bytes) -> BaseModel:
    """The careful path: UTF-8, then JSON, then the model, each failure with its reason."""
    try:
        data = json.loads(payload.decode("utf-8"))  # bytes alone would also pass UTF-16/32
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedMessageError(topic, "not_json", str(exc)[:200]) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise MalformedMessageError(topic, "invalid", f"{where}: {first['msg']}") from None


def encode(model: BaseModel) -> bytes:
    return model.model_dump_json(exclude_none=True).encode()


_TIMESTAMP = TypeAdapter(AwareDatetime)


_last_timestamp: tuple[datetime | None, str] = (None, "")


def _timestamp_json(ts: datetime) -> str | None:
    """An aware ``ts`` as pydantic writes it (None for a naive one); the last one is kept
    for every encoder (a simulated city's gateways all stamp a tick with the same time)."""
    global _last_timestamp
    last, json = _last_timestamp
    if ts is not last:
        if ts.utcoffset() is None:
            return None
        json = _TIMESTAMP.dump_json(ts).decode()
        _last_timestamp = (ts, json)
    return json


class TelemetryEncoder:
    """Telemetry payloads byte for byte as :func:`encode` writes them, without building and
    dumping a model per reading (a simulated city sends ~10,000 a tick, all stamped alike).

    Plain values go through a template: a float whose ``repr`` is plain decimal is written
    as pydantic writes it (both write the shortest digits that read back the same), and the
    time as pydantic wrote it for the last distinct ``ts``. Any other reading (an exponent,
    not finite, not a float, a state of charge outside 0..1, a naive time) takes the
    model's own way, so what is refused, and how, is unchanged.
    """

    def __call__(
        self,
        ts: datetime,
        power_kw: float,
        soc: float | None,
        available: bool,
        indoor_temperature_c: float | None = None,
        energy_owed_kwh: float | None = None,
    ) -> bytes:
        ts_json = _timestamp_json(ts)
        power = _plain_float(power_kw)
        if ts_json is None or power is None or type(available) is not bool:
            return _telemetry_by_model(
                ts, power_kw, soc, available, indoor_temperature_c, energy_owed_kwh
            )
        soc_json = ""
        if soc is not None:
            fraction = _plain_float(soc)
            if fraction is None or not 0.0 <= soc <= 1.0:
                return _telemetry_by_model(
                    ts, power_kw, soc, available, indoor_temperature_c, energy_owed_kwh
                )
            soc_json = f',"soc":{fraction}'
        extra_json = ""
        if indoor_temperature_c is not None:
            indoor = _plain_float(indoor_temperature_c)
            if indoor is None:
                return _telemetry_by_model(
                    ts, power_kw, soc, available, indoor_temperature_c, energy_owed_kwh
                )
            extra_json = f',"indoor_temperature_c":{indoor}'
        if energy_owed_kwh is not None:
            owed = _plain_float(energy_owed_kwh)
            if owed is None:
                return _telemetry_by_model(
                    ts, power_kw, soc, available, indoor_temperature_c, energy_owed_kwh
                )
            extra_json += f',"energy_owed_kwh":{owed}'
        flag = "true" if available else "false"
        return (
            f'{{"ts":{ts_json},"power_kw":{power}{soc_json},"available":{flag}{extra_json}}}'
        ).encode()


def _plain_float(value: object) -> str | None:
    """A float's JSON as pydantic writes it, where that is its plain decimal ``repr``
    (finite, no exponent); None for anything else."""
    if not isinstance(value, float):
        return None
    text = repr(float(value))
    return None if "e" in text or "n" in text else text


def _telemetry_by_model(
    ts: datetime,
    power_kw: float,
    soc: float | None,
    available: bool,
    indoor_temperature_c: float | None,
    energy_owed_kwh: float | None = None,
) -> bytes:
    return encode(
        Telemetry(
            ts=ts,
            power_kw=power_kw,
            soc=soc,
            available=available,
            indoor_temperature_c=indoor_temperature_c,
            energy_owed_kwh=energy_owed_kwh,
        )
    )


def setpoint_message(setpoint: Setpoint) -> tuple[str, bytes]:
    """Topic and payload of a setpoint (its site and resource go in the topic)."""
    topic = Topic(setpoint.site_id, setpoint.resource_id, Channel.SETPOINT)
    payload = SetpointPayload.model_validate(
        setpoint.model_dump(exclude={"site_id", "resource_id"})
    )
    return str(topic), encode(payload)
