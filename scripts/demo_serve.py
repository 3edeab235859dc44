"""``make demo-serve``: the dashboard with something happening in it.

Starts ``vpp serve`` on the demo district with a simulated gateway per site on a sped-up
clock, creates an operator token and one enterprise token, issues one peak-shaving event
(the district's required share of its peak, starting at the next interval after
``--lead-min``), prints the dashboard URL and the tokens, then runs until Ctrl-C.

The service's clock starts ``--lead-min`` before today's peak hours (``peak_hours`` of the
district, in its zone), so the event falls where the district can deliver it whatever the
wall time (at night its loads cannot give 5 %); ``--now`` keeps the wall time.

Usage::

    .venv/bin/python scripts/demo_serve.py                 # port 8000, x60, out/demo-serve
    .venv/bin/python scripts/demo_serve.py --once          # exit once the event is issued

Each run starts from a fresh database in ``--out``.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import yaml

VPP = Path(sys.executable).with_name("vpp")
ROOT = Path(__file__).resolve().parent.parent
#: How long the service may take to start and register the district [s].
START_TIMEOUT_S = 120.0


def _token(db: str, *args: str) -> str:
    out = subprocess.run(
        [str(VPP), "token", "create", "--db", db, *args], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def _wait_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"vpp serve exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.terminate()
    sys.exit(f"vpp serve not ready in {START_TIMEOUT_S:.0f} s; see {log}")


def _before_peak(district: dict[str, object], tz: ZoneInfo, lead_min: int) -> datetime:
    """``lead_min`` before the start of today's peak hours in the district's zone."""
    first = str(district.get("peak_hours", "11:00-13:00")).split(",")[0].split("-")[0]
    hour, minute = (int(part) for part in first.strip().split(":"))
    today = datetime.now(tz).date()
    start = datetime(today.year, today.month, today.day, hour, minute, tzinfo=tz)
    return start - timedelta(minutes=lead_min)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--district", type=Path, default=ROOT / "configs/districts/demo.yaml")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--lead-min", type=int, default=15)
    parser.add_argument("--duration-min", type=int, default=60)
    parser.add_argument("--out", type=Path, default=ROOT / "out/demo-serve")
    parser.add_argument("--once", action="store_true", help="stop once the event is issued")
    parser.add_argument(
        "--now", action="store_true", help="keep the wall time instead of the peak hours"
    )
    args = parser.parse_args(argv)

    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    db = f"sqlite+aiosqlite:///{(args.out / 'vpp.db').resolve()}"
    url = f"http://127.0.0.1:{args.port}"
    district = yaml.safe_load(args.district.read_text())
    enterprise_id = district["enterprises"][0]["enterprise_id"]
    operator = _token(db, "--role", "operator", "--name", "demo-serve")
    enterprise = _token(db, "--role", "enterprise", "--enterprise", enterprise_id)

    log = args.out / "serve.log"
    tz = ZoneInfo(district.get("timezone", "Asia/Shanghai"))
    command = [
        str(VPP), "serve", "--db", db, "--port", str(args.port),
        "--district", str(args.district.resolve()), "--simulated-devices",
        "--time-scale", f"{args.time_scale:g}",
    ]  # fmt: skip
    if not args.now:
        command += ["--clock-start", _before_peak(district, tz, args.lead_min).isoformat()]
    with log.open("wb") as sink:
        server = subprocess.Popen(command, cwd=args.out, stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_ready(url, server, log)
        reply = httpx.post(
            f"{url}/v1/events",
            json={
                "event_id": "demo-event",
                "lead_min": args.lead_min,
                "duration_min": args.duration_min,
                "target_pct_of_peak": float(district.get("response_target_pct", 5.0)),
                "notice": "real_time",
            },
            headers={"Authorization": f"Bearer {operator}"},
            timeout=120,
        )
        if reply.status_code != 201:
            sys.exit(f"issuing the demo event failed ({reply.status_code}): {reply.text}")
        event = reply.json()
        start, end = (
            datetime.fromisoformat(event["event"][k]).astimezone(tz) for k in ("start", "end")
        )
        print(f"vpp serve: {url} (clock x{args.time_scale:g}, log {log})")
        print(
            f"event demo-event: {start:%Y-%m-%d %H:%M}-{end:%H:%M} ({tz.key}), "
            f"target {event['target_kw']:,.0f} kW"
        )
        print(f"dashboard:  {url}/ui/   (API docs: {url}/docs)")
        print(f"operator token:   {operator}")
        print(f"enterprise token ({enterprise_id}): {enterprise}")
        sys.stdout.flush()
        if args.once:
            return 0
        print("Ctrl-C stops the service.")
        server.wait()
        return server.returncode
    except KeyboardInterrupt:
        return 130
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    sys.exit(main())
