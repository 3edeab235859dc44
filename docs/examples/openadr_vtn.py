"""A small OpenADR 2.0b VTN (the utility's side) that sends one event to vpp's VEN.

It is openleadr's own ``OpenADRServer``: it accepts the VEN's registration, asks for its
TELEMETRY_USAGE report (portfolio load and delivered response), sends one LOAD_DISPATCH
``delta`` event (a reduction of ``--target-kw`` over ``--duration-min``, starting at the
first 15-minute boundary ``--lead-min`` from now on the service's clock), prints the VEN's
answer, waits until vpp has settled the event, prints the delivered response the VEN
reported per interval, and exits: 0 when the event was opted in and delivered, 1 otherwise.

    python docs/examples/openadr_vtn.py --vpp http://127.0.0.1:8000 --token "$OPERATOR"

The token (an operator's) lets the script read the service's clock (``GET /v1/clock``: under
``--time-scale`` the VTN must state its window on the service's time line) and the event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import urllib.request
import warnings
from datetime import datetime, timedelta
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from openleadr import OpenADRServer, enable_default_logging

QUARTER = timedelta(minutes=15)


def get(vpp: str, token: str, path: str) -> Any:
    request = urllib.request.Request(f"{vpp}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


class Vtn:
    def __init__(self, port: int, report_every: timedelta) -> None:
        self.server = OpenADRServer(
            vtn_id="VTN-EXAMPLE",
            http_host="127.0.0.1",
            http_port=port,
            requested_poll_freq=timedelta(seconds=5),
            show_fingerprint=False,
        )
        self.server.add_handler("on_create_party_registration", self.register)
        self.server.add_handler("on_register_report", self.register_report)
        self.ven_id: str | None = None
        self.report_every = report_every
        self.delivered: dict[datetime, float] = {}
        self.answer: asyncio.Future[str] | None = None

    def register(self, payload: dict[str, Any]) -> tuple[str, str]:
        self.ven_id = payload.get("ven_id") or f"VEN-{payload['ven_name']}"
        print(f"VEN {payload['ven_name']!r} registered as {self.ven_id}", flush=True)
        return self.ven_id, payload.get("registration_id") or f"REG-{payload['ven_name']}"

    def register_report(
        self,
        ven_id: str,
        resource_id: str,
        measurement: str,
        unit: str,
        scale: str,
        min_sampling_interval: timedelta,
        max_sampling_interval: timedelta,
    ) -> Any:
        def receive(values: list[tuple[datetime, float]]) -> None:
            if resource_id == "response":
                self.delivered.update(values)
            for at, value in values:
                print(f"report {resource_id}: {at.isoformat()} {value:.1f} kW", flush=True)

        return receive, self.report_every, self.report_every

    def opt(self, ven_id: str, event_id: str, opt_type: str) -> None:
        print(f"VEN answered {opt_type} to event {event_id}", flush=True)
        if self.answer is not None and not self.answer.done():
            self.answer.set_result(opt_type)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vpp", default="http://127.0.0.1:8000", help="vpp serve's URL")
    parser.add_argument("--token", required=True, help="an operator token of that service")
    parser.add_argument("--port", type=int, default=8080, help="the VTN's port")
    parser.add_argument("--target-kw", type=float, default=200.0)
    parser.add_argument("--lead-min", type=int, default=20)
    parser.add_argument("--duration-min", type=int, default=30, help="a multiple of 15")
    parser.add_argument("--timeout-s", type=float, default=600.0, help="give up after [s]")
    args = parser.parse_args()
    logging.getLogger("openleadr").setLevel(logging.WARNING)
    enable_default_logging(logging.WARNING)

    clock = get(args.vpp, args.token, "/v1/clock")
    vtn = Vtn(args.port, report_every=timedelta(minutes=1))
    await vtn.server.run()
    print(f"VTN listening at http://127.0.0.1:{args.port}/OpenADR2/Simple/2.0b", flush=True)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout_s
    while vtn.ven_id is None:
        if loop.time() > deadline:
            print("no VEN registered", flush=True)
            return 1
        await asyncio.sleep(0.2)

    clock = get(args.vpp, args.token, "/v1/clock")
    now = datetime.fromisoformat(clock["now"])
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    earliest = now + timedelta(minutes=args.lead_min)
    start = midnight + -(-(earliest - midnight) // QUARTER) * QUARTER
    count = args.duration_min // 15
    vtn.answer = loop.create_future()
    event_id = vtn.server.add_event(
        ven_id=vtn.ven_id,
        signal_name="LOAD_DISPATCH",
        signal_type="delta",
        intervals=[
            {"dtstart": start + i * QUARTER, "duration": QUARTER, "signal_payload": -args.target_kw}
            for i in range(count)
        ],
        callback=vtn.opt,
        market_context="http://vtn.example/dr",
    )
    print(f"sent event {event_id}: -{args.target_kw:g} kW from {start.isoformat()}", flush=True)
    answer = await asyncio.wait_for(vtn.answer, max(1.0, deadline - loop.time()))
    if answer != "optIn":
        return 1
    while True:
        events = get(args.vpp, args.token, "/v1/events")["items"]
        view = next(e for e in events if e["event"]["vtn_event_id"] == event_id)
        if view["settlement"] is not None and len(vtn.delivered) >= count:
            break
        if loop.time() > deadline:
            print(f"not settled in time: {view['state']}", flush=True)
            return 1
        await asyncio.sleep(1.0)
    print(
        f"event {view['event']['event_id']} {view['state']}: "
        f"{view['delivered_kwh']:.1f} kWh delivered, capability was "
        f"{view['openadr']['capability_kw']:.1f} kW",
        flush=True,
    )
    await vtn.server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
