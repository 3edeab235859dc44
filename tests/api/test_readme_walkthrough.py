"""The README's "Run the service" walkthrough, command for command: the service in one
process, the curl commands in a shell, as a newcomer runs them.

Two things differ, and only these: a free port instead of 8000, and a clock 600 times
faster than the wall instead of 60, so the test takes seconds instead of a minute.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from serve_process import ServeProcess

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"


def section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def commands(block: str) -> list[str]:
    """The ``$``-prefixed commands of a console block, continuation lines joined."""
    out: list[str] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            out.append(line[2:])
        elif out and out[-1].endswith("\\"):
            out[-1] = out[-1][:-1].rstrip() + " " + line.strip()
    return out


def replies(output: str) -> list[dict[str, Any]]:
    """The JSON documents curl printed, one after another (curl adds no newline)."""
    decoder = json.JSONDecoder()
    out, at = [], 0
    while at < len(output):
        if output[at].isspace():
            at += 1
            continue
        document, at = decoder.raw_decode(output, at)
        out.append(document)
    return out


def walkthrough() -> tuple[list[str], list[str]]:
    blocks = re.findall(
        r"```console\n(.*?)```", section(README.read_text(), "Run the service"), re.S
    )
    assert len(blocks) == 2, "the walkthrough has a server block and a client block"
    return commands(blocks[0]), commands(blocks[1])


@pytest.mark.slow
def test_readme_walkthrough_registers_dispatches_and_settles(tmp_path: Path) -> None:
    (serve,), client = walkthrough()
    assert serve.startswith("vpp serve ")
    args = serve.removeprefix("vpp serve ").replace("--time-scale 60", "--time-scale 600").split()
    server = ServeProcess(tmp_path, *args)
    (tmp_path / "docs" / "examples").mkdir(parents=True)
    shutil.copy(ROOT / "docs/examples/acme-enterprise.json", tmp_path / "docs/examples")
    script = "\n".join(client).replace("127.0.0.1:8000", f"127.0.0.1:{server.port}")
    server.start()
    try:
        env = os.environ | {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,  # a guard against a hang: the paced clock slows down when busy
        )
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr + done.stdout
    registration, created, event, settlements = replies(done.stdout)
    assert registration["created"] is True
    assert created["plan"]["solver_status"] == "optimal"
    assert set(created["plan"]["participants"]) == {"acme-works/furnace", "acme-works/bess"}
    assert event["state"] == "completed"
    assert all(i["met"] for i in event["intervals"]), event["intervals"]
    assert event["settlement"]["enterprises"][0]["effective"] is True
    assert settlements["items"][0]["event_id"] == "ev-1"
    assert settlements["items"][0]["line"]["payment_cny"] > 0
