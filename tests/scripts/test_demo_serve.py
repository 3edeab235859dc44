"""``make demo-serve``'s script: the demo district served, one event issued, URL and tokens
printed, and the tokens work on the dashboard and the API."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mosquitto_broker import free_port

SCRIPT = Path(__file__).parents[2] / "scripts" / "demo_serve.py"


@pytest.mark.slow
def test_demo_serve_issues_an_event_and_prints_url_and_tokens(tmp_path: Path):
    port = free_port()
    out = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--once", "--port", str(port), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert f"dashboard:  http://127.0.0.1:{port}/ui/" in done.stdout
    assert re.search(r"event demo-event: \d{4}-\d\d-\d\d \d\d:\d\d-\d\d:\d\d", done.stdout)
    assert re.search(r"operator token:\s+vpp_\w+", done.stdout)
    assert re.search(r"enterprise token \([a-z0-9-]+\): vpp_\w+", done.stdout)
    assert "201 Created" in (out / "serve.log").read_text()
    # the clock starts 15 min before the peak hours (11:00): the event starts in the day,
    # not at night, however long the service took to start (its clock runs meanwhile)
    window = re.search(r"event demo-event: \S+ (\d\d):(\d\d)-", done.stdout)
    assert window is not None
    assert "11:00" <= f"{window[1]}:{window[2]}" < "21:00"
