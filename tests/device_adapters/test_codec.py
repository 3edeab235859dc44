"""The codec: contract messages decode to typed values; anything else fails with a reason."""

import json
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from vpp.device_adapters import MalformedMessageError, codec, decode, encode, setpoint_message
from vpp.device_adapters.codec import TelemetryEncoder, _decode_payload
from vpp.device_adapters.mqtt import Channel, Topic
from vpp.domain import (
    MAX_PAYLOAD_BYTES,
    Ack,
    AckStatus,
    GatewayStatus,
    Setpoint,
    SetpointMode,
    SetpointPayload,
    Telemetry,
)

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 7, 15, 11, 0, tzinfo=TZ)
TELEMETRY = "vpp/v1/mall/chiller/telemetry"
GOOD_TELEMETRY = {"ts": "2026-07-15T11:00:05+08:00", "power_kw": 812.5, "available": True}


def as_json(value: object) -> bytes:
    return json.dumps(value).encode()


@pytest.mark.parametrize(
    ("topic", "payload", "model"),
    [
        (TELEMETRY, GOOD_TELEMETRY, Telemetry),
        ("vpp/v1/mall/chiller/ack", {"command_id": "c-1", "status": "accepted"}, Ack),
        ("vpp/v1/mall/status", {"state": "offline", "ts": "2026-07-15T11:00:00Z"}, GatewayStatus),
        (
            "vpp/v1/mall/chiller/setpoint",
            {
                "command_id": "c-1",
                "issued_at": "2026-07-15T10:45:00+08:00",
                "mode": "limit",
                "power_kw": 300,
                "valid_from": "2026-07-15T11:00:00+08:00",
                "valid_until": "2026-07-15T11:15:00+08:00",
            },
            SetpointPayload,
        ),
    ],
    ids=["telemetry", "ack", "status", "setpoint"],
)
def test_decode_parses_each_channel(topic, payload, model):
    """Each channel's payload decodes to its model, with the topic's parts."""
    parsed, value = decode(topic, as_json(payload))
    assert parsed == Topic.parse(topic)
    assert isinstance(value, model)


def test_decode_accepts_payload_at_size_limit():
    """A payload of exactly MAX_PAYLOAD_BYTES is still accepted (the limit is inclusive)."""
    body = as_json(GOOD_TELEMETRY)
    padded = body[:-1] + b" " * (MAX_PAYLOAD_BYTES - len(body)) + b"}"
    assert len(padded) == MAX_PAYLOAD_BYTES
    _, value = decode(TELEMETRY, padded)
    assert isinstance(value, Telemetry)


@pytest.mark.parametrize(
    ("topic", "payload", "reason", "detail"),
    [
        ("vpp/v2/mall/chiller/telemetry", as_json(GOOD_TELEMETRY), "topic", "vpp/v1/"),
        ("vpp/v1/mall/chiller/power", as_json(GOOD_TELEMETRY), "topic", "unknown channel"),
        ("vpp/v1/Mall/chiller/telemetry", as_json(GOOD_TELEMETRY), "topic", "not a slug"),
        (TELEMETRY, b"[" + b" " * MAX_PAYLOAD_BYTES + b"]", "oversized", "limit 4096"),
        (TELEMETRY, b"power=5", "not_json", ""),
        (TELEMETRY, b"", "not_json", ""),
        (TELEMETRY, b'{"power_kw": 5', "not_json", ""),
        (TELEMETRY, b'{"power_kw": "\xff\xfe"}', "not_json", "utf-8"),
        (TELEMETRY, json.dumps(GOOD_TELEMETRY).encode("utf-16"), "not_json", "utf-8"),
        (TELEMETRY, as_json([GOOD_TELEMETRY]), "invalid", "payload"),
        (TELEMETRY, as_json({**GOOD_TELEMETRY, "power_kw": "lots"}), "invalid", "power_kw"),
        (TELEMETRY, as_json({**GOOD_TELEMETRY, "available": [1]}), "invalid", "available"),
        (TELEMETRY, as_json({**GOOD_TELEMETRY, "ts": "2026-07-15T11:00:05"}), "invalid", "ts"),
        (TELEMETRY, as_json({"ts": "2026-07-15T11:00:05+08:00"}), "invalid", "power_kw"),
        (TELEMETRY, as_json({**GOOD_TELEMETRY, "colour": "red"}), "invalid", "colour"),
        (
            "vpp/v1/mall/chiller/ack",
            as_json({"command_id": 7, "status": "accepted"}),
            "invalid",
            "command_id",
        ),
        (
            "vpp/v1/mall/chiller/ack",
            as_json({"command_id": "c", "status": "maybe"}),
            "invalid",
            "status",
        ),
        ("vpp/v1/mall/chiller/ack", as_json({"status": "accepted"}), "invalid", "command_id"),
        ("vpp/v1/mall/status", as_json({"state": "online"}), "invalid", "ts"),
    ],
    ids=[
        "topic-version",
        "topic-channel",
        "topic-slug",
        "oversized",
        "not-json",
        "empty",
        "truncated",
        "not-utf8",
        "utf16",
        "not-an-object",
        "wrong-type-number",
        "wrong-type-bool",
        "naive-time",
        "missing-field",
        "unknown-field",
        "ack-wrong-type",
        "ack-unknown-status",
        "ack-missing-field",
        "status-missing-field",
    ],
)
def test_decode_refuses_malformed_message_with_reason(topic, payload, reason, detail):
    """Each malformed message raises MalformedMessageError; its reason is a counter key."""
    with pytest.raises(MalformedMessageError) as exc_info:
        decode(topic, payload)
    error = exc_info.value
    assert (error.topic, error.reason) == (topic, reason)
    assert detail.lower() in error.detail.lower()
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("power_kw", "30"),
        ("power_kw", True),
        ("soc", "0.5"),
        ("available", "yes"),
        ("available", 1),
        ("indoor_temperature_c", "24.5"),
        ("energy_owed_kwh", "212.5"),
        ("energy_owed_kwh", True),
    ],
)
def test_decode_refuses_a_number_written_as_text_or_a_flag(field, value):
    """Telemetry's numbers are JSON numbers and its flags JSON booleans: ``"30"`` or
    ``true`` for a power is no reading, whatever a lax parser would make of it."""
    with pytest.raises(MalformedMessageError) as exc_info:
        decode(TELEMETRY, as_json({**GOOD_TELEMETRY, field: value}))
    assert (exc_info.value.reason, exc_info.value.detail.split(":")[0]) == ("invalid", field)


def test_decode_takes_a_whole_number_for_a_number():
    value = decode(TELEMETRY, as_json({**GOOD_TELEMETRY, "power_kw": 30, "soc": 1}))[1]
    assert isinstance(value, Telemetry)
    assert (value.power_kw, value.soc) == (30.0, 1.0)


def test_decode_checks_topic_before_payload():
    """A bad topic is reported as such even when its payload is garbage too."""
    with pytest.raises(MalformedMessageError) as exc_info:
        decode("elsewhere/x", b"\xff" * (MAX_PAYLOAD_BYTES + 1))
    assert exc_info.value.reason == "topic"


def test_encode_omits_absent_optional_fields():
    """Optional fields left out (soc, reason) are not sent as null."""
    ack = Ack(command_id="c-1", status=AckStatus.ACCEPTED)
    assert json.loads(encode(ack)) == {"command_id": "c-1", "status": "accepted"}


def test_setpoint_message_puts_site_and_resource_in_topic():
    """A setpoint's site and resource go in the topic; the payload decodes back to the rest."""
    setpoint = Setpoint(
        command_id="c-9",
        site_id="mall",
        resource_id="chiller",
        issued_at=T0,
        mode=SetpointMode.POWER,
        power_kw=-150.0,
        valid_from=T0,
        valid_until=T0 + timedelta(minutes=15),
    )
    topic, payload = setpoint_message(setpoint)
    assert topic == str(Topic("mall", "chiller", Channel.SETPOINT))
    assert "site_id" not in json.loads(payload)
    _, value = decode(topic, payload)
    assert value == SetpointPayload.model_validate(
        setpoint.model_dump(exclude={"site_id", "resource_id"})
    )


_TIMES = st.sampled_from(
    [
        "2026-07-15T11:00:05+08:00",
        "2026-07-15T11:00:05Z",
        "2026-07-15t11:00:05z",
        "2026-07-15 11:00:05+08:00",
        "2026-07-15T11:00:05.1234567891+08:00",
        "2026-07-15T11:00:05-00:00",
        "2026-07-15T11:00:05+0800",
        "2026-07-15T11:00:05+08",
        "2026-07-15T11:00:05",
        "2026-07-15",
        "2026-W29-3T11:00:05+08:00",
        "2026-07-15T23:59:60Z",
        "2999-01-01T00:00:00Z",
        " 2026-07-15T11:00:05Z ",
    ]
)
_VALUES = st.one_of(
    _TIMES,
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.booleans(),
    st.none(),
    st.sampled_from(["5", "true", "yes", "1e3", "", "nan", [], {}, [1]]),
)
_FIELDS = st.sampled_from(
    ["ts", "power_kw", "soc", "available", "indoor_temperature_c", "energy_owed_kwh", "colour"]
)


@given(
    st.dictionaries(_FIELDS, _VALUES, max_size=5),
    st.sampled_from(["plain", "duplicate", "trailing", "bom", "latin-1"]),
)
@settings(max_examples=400, deadline=None)
def test_fast_decode_agrees_with_the_careful_path(payload, variant):
    """Whatever a payload holds, the fast path accepts what the careful path accepts, as the
    same value, and refuses with the same reason and detail (it falls back to say why)."""
    body = json.dumps(payload)  # NaN and Infinity as Python writes them, too
    if variant == "duplicate" and payload:
        body = body[:-1] + ", " + body[1:]  # every key twice
    elif variant == "trailing":
        body += " x"
    raw = body.encode("latin-1", "replace") if variant == "latin-1" else body.encode()
    if variant == "bom":
        raw = b"\xef\xbb\xbf" + raw
    try:
        careful: object = _decode_payload(TELEMETRY, Telemetry, raw)
    except MalformedMessageError as exc:
        careful = (exc.reason, exc.detail)
    try:
        fast: object = decode(TELEMETRY, raw)[1]
    except MalformedMessageError as exc:
        fast = (exc.reason, exc.detail)
    assert fast == careful
    if isinstance(fast, Telemetry):
        assert isinstance(careful, Telemetry)
        assert fast.ts.utcoffset() == careful.ts.utcoffset()


def _by_model_or_refusal(ts, power_kw, soc, available, indoor_c, owed_kwh):
    try:
        reading = Telemetry(
            ts=ts,
            power_kw=power_kw,
            soc=soc,
            available=available,
            indoor_temperature_c=indoor_c,
            energy_owed_kwh=owed_kwh,
        )
        return encode(reading)
    except ValidationError as exc:
        return exc.errors(include_url=False)


def _by_encoder_or_refusal(encoder, ts, power_kw, soc, available, indoor_c, owed_kwh):
    try:
        return encoder(ts, power_kw, soc, available, indoor_c, owed_kwh)
    except ValidationError as exc:
        return exc.errors(include_url=False)


@settings(max_examples=500)
@given(
    ts=st.datetimes(timezones=st.sampled_from([TZ, UTC, timezone(timedelta(hours=-3)), None])),
    power_kw=st.floats() | st.integers(-(10**20), 10**20),
    soc=st.none() | st.floats(-0.5, 1.5) | st.floats(),
    available=st.booleans(),
    indoor_c=st.none() | st.floats(-60, 90) | st.floats() | st.integers(-100, 100),
    owed_kwh=st.none() | st.floats(0, 5000) | st.floats() | st.integers(-100, 10**6),
)
def test_telemetry_encoder_writes_what_the_model_writes(
    ts, power_kw, soc, available, indoor_c, owed_kwh
):
    """The template encoder's bytes are the model's, byte for byte, for any reading; what
    the model refuses it refuses alike (a second call with the time cached, too)."""
    encoder = TelemetryEncoder()
    expected = _by_model_or_refusal(ts, power_kw, soc, available, indoor_c, owed_kwh)
    for _ in range(2):
        got = _by_encoder_or_refusal(encoder, ts, power_kw, soc, available, indoor_c, owed_kwh)
        assert got == expected


def test_telemetry_encoder_uses_the_template_for_plain_readings(monkeypatch):
    """A reading in decimal notation is written without the model; one with an exponent
    goes to the model (which writes "1e-7", where Python writes "1e-07")."""
    encoder = TelemetryEncoder()
    expected = encode(Telemetry(ts=T0, power_kw=812.5, soc=0.25, available=True))
    by_model = []
    monkeypatch.setattr(codec, "_telemetry_by_model", lambda *args: by_model.append(args))
    assert encoder(T0, 812.5, 0.25, True) == expected
    assert by_model == []
    encoder(T0, 1e-7, None, False)
    assert by_model == [(T0, 1e-7, None, False, None, None)]
    by_model.clear()
    with_indoor = encode(
        Telemetry(ts=T0, power_kw=812.5, available=True, indoor_temperature_c=25.25)
    )
    assert encoder(T0, 812.5, None, True, 25.25) == with_indoor
    with_owed = encode(Telemetry(ts=T0, power_kw=812.5, available=True, energy_owed_kwh=140.5))
    assert encoder(T0, 812.5, None, True, None, 140.5) == with_owed
    assert by_model == []
