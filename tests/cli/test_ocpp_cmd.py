"""``vpp ocpp password``: a password per charge point, printed once, stored hashed."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from vpp.cli import app
from vpp.device_adapters.mqtt.passwords import verify_password
from vpp.device_adapters.ocpp.credentials import read_password_file

runner = CliRunner()

DISTRICT = """
district_id: d
name: D
peak_load_kw: 1000
peak_hours: "11:00-13:00"
feeders:
  - feeder_id: f1
    capacity_kw: 1000
    background_load_kw: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                         0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
enterprises:
  - enterprise_id: acme
    name: Acme
    sector: commercial
    feeder_id: f1
    sites:
      - site_id: depot
        protocol: ocpp
        resources:
          - kind: ev_charger_pool
            resource_id: ev
            chargers: [{charger_id: c1, max_kw: 22}]
            connection:
              charge_points:
                - charge_point_id: DEPOT-1
                  connectors: [{connector_id: 1, max_a: 32, charger_id: c1}]
                - charge_point_id: DEPOT-2
                  connectors: [{connector_id: 1, max_kw: 22}]
"""


def test_password_json_parses_and_only_the_hash_is_stored(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    result = runner.invoke(
        app, ["ocpp", "password", "CP1", "--password-file", str(passwd), "--json"]
    )
    assert result.exit_code == 0, result.output
    issued = json.loads(result.stdout)["issued"]
    assert list(issued) == ["CP1"]
    stored = read_password_file(passwd)
    assert issued["CP1"] not in passwd.read_text()
    assert verify_password(issued["CP1"], stored["CP1"])


def test_password_for_a_district_issues_only_charge_points_without_one(tmp_path: Path) -> None:
    district = tmp_path / "district.yaml"
    district.write_text(DISTRICT)
    passwd = tmp_path / "passwd"
    args = ["ocpp", "password", "--district", str(district), "--password-file", str(passwd)]
    first = runner.invoke(app, ["ocpp", "password", "DEPOT-1", "--password-file", str(passwd)])
    assert first.exit_code == 0, first.output
    kept = read_password_file(passwd)["DEPOT-1"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert list(json.loads(result.stdout)["issued"]) == ["DEPOT-2"]
    assert read_password_file(passwd)["DEPOT-1"] == kept


def test_an_invalid_charge_point_id_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ocpp", "password", "a b", "--password-file", str(tmp_path / "p")])
    assert result.exit_code != 0
    assert not (tmp_path / "p").exists()
