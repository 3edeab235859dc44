"""The README's "Events from the utility (OpenADR 2.0b)" walkthrough, command for command:
``vpp serve --openadr-vtn`` as a process, the example VTN script and curl in a shell.

Only ports differ (free ones instead of 8000 and 8080), the clock runs 600 times faster
than the wall instead of 60, and the VEN polls every 0.1 s instead of 1 s (the same service
time between polls).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from serve_process import ServeProcess
from test_readme_walkthrough import README, ROOT, commands, section

from mosquitto_broker import free_port

TITLE = "Events from the utility (OpenADR 2.0b)"


@pytest.mark.slow
def test_readme_openadr_walkthrough_opts_in_delivers_and_reports(tmp_path: Path) -> None:
    blocks = re.findall(r"```console\n(.*?)```", section(README.read_text(), TITLE), re.S)
    assert len(blocks) == 2, "a server block and a client block"
    (serve,), client = commands(blocks[0]), commands(blocks[1])
    vtn_port = free_port()
    args = (
        serve.removeprefix("vpp serve ")
        .replace("--time-scale 60", "--time-scale 600")
        .replace("127.0.0.1:8080", f"127.0.0.1:{vtn_port}")
        .replace("--openadr-poll-s 1", "--openadr-poll-s 0.1")
        .split()
    )
    server = ServeProcess(tmp_path, *args)
    shutil.copytree(ROOT / "docs/examples", tmp_path / "docs/examples")
    script = (
        "\n".join(client)
        .replace("127.0.0.1:8000", f"127.0.0.1:{server.port}")
        .replace("--port 8080", f"--port {vtn_port}")
    )
    server.start()
    try:
        env = os.environ | {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr + done.stdout + server.log.read_text()[-3000:]
    assert "VEN answered optIn" in done.stdout
    assert re.search(r"report response: \S+ \d+\.\d kW", done.stdout)
    assert re.search(r"event oadr-\S+ completed: \d+\.\d kWh delivered", done.stdout)
    health = json.loads(done.stdout[done.stdout.rindex('{"status"') :])
    assert health["openadr"]["ven_id"] == "VEN-beichen-vpp"
    assert health["openadr"]["counts"]["events"] >= 1
    assert health["openadr"]["counts"]["reports_sent"] >= 1
    if health["openadr"]["state"] != "registered":  # the VTN has exited: the VEN noticed
        assert health["status"] == "degraded"
        assert health["openadr"]["state"] == "unreachable"
