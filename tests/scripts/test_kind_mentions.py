"""Knowledge of each resource kind stays in its own modules: the files that name a kind
elsewhere are the few counted here (15 before the kind spec, 5 after it, 11 with the OCPP
and Modbus adapters), and no more."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "scripts" / "kind_mentions.py"

#: What is left, and why: battery state of charge, building comfort and EV pool catch-up
#: re-planning from the measured state (controller), meter-history baselines of curtailable
#: loads, the explanation's offer prices and notice rules, and the field protocols'
#: adapters and simulated devices: Modbus
#: maps a battery onto SunSpec storage controls and PV onto an inverter's power limit, OCPP
#: speaks only for EV charger pools (a protocol's own business: its device models are per
#: kind).
MENTIONS = {
    "curtailable_load": ["optimizer/explain.py", "src/vpp/planning.py", "src/vpp/synthetic.py"],
    "battery": [
        "device_adapters/modbus/controls.py",
        "device_adapters/modbus/maps.py",
        "hil_sim/modbus_device.py",
        "optimizer/explain.py",
        "src/vpp/controller/planning.py",
        "src/vpp/controller/replanner.py",
    ],
    "ev_charger_pool": [
        "device_adapters/ocpp/adapter.py",
        "hil_sim/ocpp_sites.py",
        "hil_sim/ocpp_station.py",
        "src/vpp/controller/planning.py",
    ],
    "hvac_load": ["src/vpp/controller/planning.py"],
    "pv": [
        "device_adapters/modbus/controls.py",
        "device_adapters/modbus/maps.py",
        "hil_sim/modbus_device.py",
        "optimizer/explain.py",
    ],
}


def run(*args: str | Path) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, check=True
    )
    return done.stdout


def test_kinds_are_named_only_where_counted():
    """A new mention of a kind outside its modules fails here: ask the kind spec instead."""
    report = json.loads(run("--json"))
    assert report["kinds"] == MENTIONS
    assert report["files"] == 11


def test_a_new_mention_is_found(tmp_path):
    """The count is real: a file comparing a kind string is reported under that kind."""
    for top in ("src/vpp", "optimizer", "hil_sim", "device_adapters"):
        (tmp_path / top).mkdir(parents=True)
    (tmp_path / "src/vpp/rogue.py").write_text('if kind == "pv":\n    pass\n')
    (tmp_path / "hil_sim/other.py").write_text("isinstance(r, EvChargerPool)\n")
    report = json.loads(run("--json", "--root", tmp_path))
    assert report["kinds"]["pv"] == ["src/vpp/rogue.py"]
    assert report["kinds"]["ev_charger_pool"] == ["hil_sim/other.py"]
    assert report["files"] == 2
