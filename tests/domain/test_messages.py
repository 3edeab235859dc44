"""MQTT payload models: valid messages parse, malformed ones are refused."""

import pytest
from pydantic import ValidationError

from vpp.domain import Ack, AckStatus, GatewayStatus, SetpointPayload, Telemetry


def test_telemetry_parses_contract_json():
    """A gateway's telemetry JSON becomes a Telemetry with an aware time."""
    msg = Telemetry.model_validate_json(
        '{"ts": "2026-07-15T11:00:05+08:00", "power_kw": -120.5, "soc": 0.42, "available": true}'
    )
    assert msg.power_kw == -120.5
    assert msg.ts.utcoffset() is not None


@pytest.mark.parametrize(
    "payload",
    [
        '{"ts": "2026-07-15T11:00:05", "power_kw": 1}',  # naive time
        '{"ts": "2026-07-15T11:00:05+08:00", "power_kw": "lots"}',
        '{"ts": "2026-07-15T11:00:05+08:00", "power_kw": NaN}',
        '{"ts": "2026-07-15T11:00:05+08:00", "power_kw": 1, "soc": 1.5}',
        '{"ts": "2026-07-15T11:00:05+08:00", "power_kw": 1, "colour": "red"}',
        "not json",
    ],
    ids=["naive-ts", "text-power", "nan", "soc-above-1", "extra-field", "garbage"],
)
def test_telemetry_refuses_malformed_payloads(payload):
    """Each malformed telemetry payload raises ValidationError (logged and counted upstream)."""
    with pytest.raises(ValidationError):
        Telemetry.model_validate_json(payload)


def test_ack_and_status_parse_contract_json():
    """Acks carry the command id and status; status is online/offline with a time."""
    ack = Ack.model_validate_json('{"command_id": "c-1", "status": "rejected", "reason": "limit"}')
    assert ack.status is AckStatus.REJECTED
    status = GatewayStatus.model_validate_json('{"state": "offline", "ts": "2026-07-15T11:00:00Z"}')
    assert status.state.value == "offline"


def test_setpoint_payload_refuses_unknown_mode():
    """Only limit, power and release are modes of the contract."""
    with pytest.raises(ValidationError, match="mode"):
        SetpointPayload.model_validate_json(
            '{"command_id": "c", "issued_at": "2026-07-15T10:00:00+08:00", "mode": "boost",'
            ' "power_kw": 5, "valid_from": "2026-07-15T11:00:00+08:00",'
            ' "valid_until": "2026-07-15T11:15:00+08:00"}'
        )
