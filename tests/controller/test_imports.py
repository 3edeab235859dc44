"""The controller reaches devices through the adapter interface: importing it loads no
protocol library (the MQTT client, OCPP, Modbus) and no simulator or demo-data code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).parents[2] / "src"

PROTOCOL_LIBRARIES = ("aiomqtt", "paho", "websockets", "ocpp", "pymodbus")


def _loaded_after(statement: str) -> set[str]:
    code = f"{statement}; import sys, json; print(json.dumps(sorted(sys.modules)))"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def test_importing_the_controller_loads_no_protocol_library_simulator_or_demo_data():
    loaded = _loaded_after("import vpp.controller")
    assert "vpp.controller.controller" in loaded  # the import did happen
    libraries = {m for m in loaded if m.split(".")[0] in PROTOCOL_LIBRARIES}
    assert libraries == set()
    assert not {m for m in loaded if m.startswith(("vpp.hil_sim", "vpp.synthetic"))}
    adapters = {m for m in loaded if m.startswith("vpp.device_adapters.")}
    assert adapters == {"vpp.device_adapters.base"}


def test_the_mqtt_adapter_still_loads_its_client_when_asked_for():
    loaded = _loaded_after("from vpp.device_adapters.mqtt import MqttLink")
    assert "aiomqtt" in loaded
