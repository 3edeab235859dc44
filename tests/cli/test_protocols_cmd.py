"""``vpp protocols`` lists what a site may name; a district file naming a protocol vpp does
not know, or a connection block its protocol refuses, is refused whole with one error."""

from __future__ import annotations

import json
from pathlib import Path

from test_json_stdout import run_vpp
from typer.testing import CliRunner

from fake_protocol import fake_protocol_registered
from vpp.cli import app

DATA = Path(__file__).parent.parent / "data"
TINY = DATA / "tiny_district.yaml"
runner = CliRunner()


def test_protocols_json_lists_mqtt_and_the_named_protocols_on_a_clean_stdout():
    done = run_vpp("protocols", "--json")
    assert done.returncode == 0, done.stderr
    entries = {p["name"]: p for p in json.loads(done.stdout)["protocols"]}
    assert {"mqtt", "ocpp", "modbus"} <= set(entries)
    assert entries["mqtt"]["available"] is True
    assert "MQTT contract v1" in entries["mqtt"]["summary"]
    for entry in entries.values():  # available, or saying why not
        assert entry["available"] or entry["error"]


def test_protocols_lists_a_protocol_registered_at_run_time():
    with fake_protocol_registered():
        result = runner.invoke(app, ["protocols", "--json"])
    assert result.exit_code == 0, result.output
    (fake,) = [p for p in json.loads(result.output)["protocols"] if p["name"] == "fake"]
    assert fake == {
        "name": "fake",
        "available": True,
        "summary": "an in-memory protocol for tests",
        "connection_block": True,
        "late_resources": False,
    }


def _district_file(tmp_path: Path, site_lines: str) -> Path:
    """The tiny district with ``site_lines`` added under the mall site."""
    text = TINY.read_text().replace(
        "      - site_id: mall\n", f"      - site_id: mall\n{site_lines}", 1
    )
    assert text != TINY.read_text()
    path = tmp_path / "district.yaml"
    path.write_text(text)
    return path


def test_a_district_on_an_unknown_protocol_is_refused_with_one_error_line(tmp_path):
    district = _district_file(tmp_path, "        protocol: pigeon\n")
    result = runner.invoke(app, ["capability", str(district), "--day", "2026-07-15"])
    assert result.exit_code == 2
    assert "mall/" in result.output
    assert "protocol 'pigeon' is not known" in result.output
    assert "Traceback" not in result.output


def test_a_bad_connection_block_refuses_the_district_and_a_good_one_is_accepted(tmp_path):
    with fake_protocol_registered():
        district = _district_file(tmp_path, "        protocol: fake\n")
        result = runner.invoke(app, ["capability", str(district), "--day", "2026-07-15"])
        assert result.exit_code == 2
        assert "connection.device_no: Field required" in result.output
        text = district.read_text().replace(
            "          - kind: ev_charger_pool\n",
            "          - kind: ev_charger_pool\n            connection: {device_no: 1}\n",
        )
        text = text.replace(
            "          - kind: hvac_load\n",
            "          - kind: hvac_load\n            connection: {device_no: 2}\n",
        )
        district.write_text(text)
        result = runner.invoke(app, ["capability", str(district), "--day", "2026-07-15", "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["deliverable_kw"] > 0
