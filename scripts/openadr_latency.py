"""How long from a VTN's ``add_event`` to the first setpoint on the devices.

Usage::

    .venv/bin/python scripts/openadr_latency.py [--runs 5] [--poll-s 5 1]

Each run starts, in this process, openleadr's ``OpenADRServer`` on loopback and the vpp
service (SQLite in a temporary folder, simulated devices, the wall clock) as its VEN,
registers the Acme enterprise of docs/examples, and once the VEN is registered and has
polled, at a random phase of its poll period, sends one
LOAD_DISPATCH event (200 kW less, from the next 15-minute boundary). It measures, on the
wall clock, from ``add_event`` to the VTN receiving the VEN's ``optIn``, and to the first
setpoint the controller issues for the event. The controller's send lead is set to 30 min
for the measurement, so the first setpoint is due at once and the figure is the VEN and
controller's own latency (a poll period at most, the capability solve, the plan), not the
wait for the window; in normal operation setpoints leave ``send_lead_s`` plus the longest
ramp lead before the window, and an event is answered within the same latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vpp.api import ServiceSettings, create_app
from vpp.api.service import Service
from vpp.controller import ControllerSettings
from vpp.domain import Enterprise
from vpp.openadr import VenSettings
from vpp.openadr.library import utils

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from openleadr import OpenADRServer

ROOT = Path(__file__).parents[1]
QUARTER = timedelta(minutes=15)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(check: Any, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.005)
    raise TimeoutError("not reached")


async def one_run(folder: Path, poll_s: float) -> tuple[float, float]:
    port = free_port()
    server = OpenADRServer(
        vtn_id="VTN-LATENCY", http_host="127.0.0.1", http_port=port, show_fingerprint=False
    )
    answered: dict[str, float] = {}
    server.add_handler(
        "on_create_party_registration",
        lambda payload: (f"VEN-{payload['ven_name']}", utils.generate_id()),
    )
    await server.run()
    settings = ServiceSettings(
        db_url=f"sqlite+aiosqlite:///{folder / 'vpp.db'}",
        data_dir=folder / "data",
        simulated_devices=True,
        sync_period_s=0.05,
        controller=ControllerSettings(send_lead_s=1800.0),
        openadr=VenSettings(
            vtn_url=f"http://127.0.0.1:{port}/OpenADR2/Simple/2.0b",
            ven_name="latency",
            poll_s=poll_s,
        ),
    )
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            service: Service = app.state.service
            acme = json.loads((ROOT / "docs/examples/acme-enterprise.json").read_text())
            await service.register(Enterprise.model_validate(acme))
            ven = service.ven
            assert ven is not None
            await until(lambda: ven.registered and ven.health.counts.get("polls", 0) > 0)
            # the event arrives at a random phase of the VEN's poll period, as in the field
            await asyncio.sleep(random.uniform(0.0, poll_s))
            now = service.clock.now()
            start = service.next_boundary(now + timedelta(minutes=1), service.frame)
            wall0 = time.monotonic()
            issued0 = datetime.now(UTC)
            event_id = server.add_event(
                ven_id="VEN-latency",
                signal_name="LOAD_DISPATCH",
                signal_type="delta",
                intervals=[{"dtstart": start, "duration": QUARTER, "signal_payload": -200.0}],
                callback=lambda ven_id, event_id, opt_type: answered.setdefault(
                    opt_type, time.monotonic()
                ),
            )
            await until(lambda: answered)
            if "optIn" not in answered:
                raise RuntimeError(f"the VEN answered {answered}")

            async def first_setpoint() -> datetime | None:
                record = await service.store.events.by_vtn_event(event_id)
                if record is None:
                    return None
                rows, _ = await service.store.records.setpoints(
                    "acme", 0, 1, event_id=record.event.event_id
                )
                return rows[0].issued_at if rows else None

            issued = await until(first_setpoint)
            return answered["optIn"] - wall0, (issued - issued0).total_seconds()
    finally:
        await server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--poll-s", type=float, nargs="+", default=[5.0, 1.0])
    args = parser.parse_args()
    for poll_s in args.poll_s:
        answers, setpoints = [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as folder:
                answer_s, setpoint_s = await one_run(Path(folder), poll_s)
            answers.append(answer_s)
            setpoints.append(setpoint_s)
        print(
            f"poll {poll_s:g} s, {args.runs} runs: add_event -> optIn "
            f"median {statistics.median(answers):.2f} s (max {max(answers):.2f}); "
            f"add_event -> first setpoint median {statistics.median(setpoints):.2f} s "
            f"(min {min(setpoints):.2f}, max {max(setpoints):.2f})",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
