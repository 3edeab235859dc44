"""What the dashboard's live views push: an event's chart, participants, faults,
re-dispatches and settlement, and one enterprise's part in its events.

Figures come from the same views the API answers with (``vpp.api.live``), topped up for
the running interval with the meters' mean so far, so the delivered line grows while the
interval is still open. Everything is rounded and times are local: the browser only draws.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from vpp.api.live import enterprise_event_view, event_view
from vpp.api.ui.fmt import cny, kw, kwh, local_time, round_kw
from vpp.api.views import EventView

if TYPE_CHECKING:
    from vpp.api.service import Service
    from vpp.controller import EventRun

#: Event states grouped as the operator reads them.
UPCOMING = ("received", "scheduled", "notified")
ACTIVE = ("active",)


def _wall_ms(service: Service, ts: datetime) -> float:
    """The wall-clock time [ms since the epoch] at which the service's clock read ``ts``."""
    return service.clock.wall_time(ts).timestamp() * 1000.0


def _running(
    service: Service, run: EventRun, now: datetime, enterprise_id: str | None = None
) -> dict[datetime, float]:
    """Response so far [kW] of each started interval, from the meters' mean so far, of
    every participant still in the event (or one enterprise's)."""
    controller = service.controller
    if controller is None or run.problem is None:
        return {}
    monitor = controller.monitor
    keys = run.kept()
    if enterprise_id is not None:
        mine = {
            r.key
            for r in run.problem.district.resources()
            if r.enterprise.enterprise_id == enterprise_id
        }
        keys = [k for k in keys if k in mine]
    out: dict[datetime, float] = {}
    for t in range(run.window.start, run.window.stop):
        start = run.grid.starts[t]
        if start > now:
            break
        total = 0.0
        for key in keys:
            mean = monitor.trusted_mean_kw(key, start)
            baseline = float(run.schedules[key].baseline_kw[t])
            total += 0.0 if mean is None else run.event.direction * (baseline - mean)
        out[start] = total
    return out


def _participants(service: Service, run: EventRun, now: datetime) -> list[dict[str, str]]:
    """Each participant's state: dropped (and why), offline, planned, commanded,
    acknowledged or delivering."""
    controller = service.controller
    fabric = service.fabric
    if controller is None or fabric is None or run.problem is None:
        return []
    enterprise_of = {r.key: r.enterprise.enterprise_id for r in run.problem.district.resources()}
    awaiting = {
        f"{s.site_id}/{s.resource_id}"
        for s in fabric.adapter.awaiting_ack()
        if s.command_id in run.command_ids
    }
    stale = timedelta(seconds=service.settings.controller.telemetry_stale_s)
    out = []
    for key in run.participants():
        reason = ""
        last = controller.monitor.last_seen(key)
        site_id = key.split("/")[0]
        if key in run.dropped:
            state, reason = "dropped", run.dropped[key].reason
        elif controller.site_online.get(site_id) is False or last is None or now - last > stale:
            state = "offline"
        elif not run.was_sent(key):
            state = "planned_state"
        elif key in awaiting:
            state = "commanded"
        elif run.lifecycle.state.value == "active":
            state = "delivering"
        else:
            state = "acknowledged"
        out.append(
            {"key": key, "enterprise": enterprise_of.get(key, ""), "state": state, "reason": reason}
        )
    return out


def _why(reason: str, key: str) -> str:
    """One resource's part of a re-plan's reason (``"key: why; key: why"``)."""
    for part in reason.split("; "):
        if part.startswith(f"{key}: "):
            return part.removeprefix(f"{key}: ")
    return reason


def _from_store(
    service: Service, view: EventView
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Faults and participants of an event no longer running, from its stored decisions."""
    tz = service.frame.tz
    district = service.district
    enterprise_of = (
        {r.key: r.enterprise.enterprise_id for r in district.resources()} if district else {}
    )
    faults = [
        {"at": local_time(r.at, tz), "key": key, "reason": _why(r.reason, key)}
        for r in view.redispatches
        for key in r.dropped
    ]
    dropped = {f["key"]: f["reason"] for f in faults}
    keys = list((view.plan or {}).get("participants", []))
    keys += [k for r in view.redispatches for k in r.added if k not in keys]
    participants = [
        {
            "key": key,
            "enterprise": enterprise_of.get(key, ""),
            "state": "dropped" if key in dropped else "done",
            "reason": dropped.get(key, ""),
        }
        for key in keys
    ]
    return faults, participants


def _after_event(view: EventView, tz: tzinfo) -> dict[str, str]:
    """The rebound figures as the page shows them: the cap, the peak after the event as
    planned and as measured (with the time, local), '–' where there is none."""
    rebound = view.rebound
    if rebound is None:
        return {"rebound_cap_kw": "–", "after_planned_kw": "–", "after_measured_kw": "–"}
    measured = kw(rebound.measured_peak_kw)
    if rebound.measured_peak_at is not None:
        measured += f" ({local_time(rebound.measured_peak_at, tz, with_date=False)})"
    return {
        "rebound_cap_kw": kw(rebound.cap_kw),
        "after_planned_kw": kw(rebound.planned_peak_kw),
        "after_measured_kw": measured,
    }


async def event_feed(service: Service, event_id: str) -> dict[str, Any]:
    """One event as the operator's page draws it."""
    record = await service.event_record(event_id)
    view = await event_view(service, record)
    tz = service.frame.tz
    now = service.clock.now()
    run = service.live_run(event_id)
    running = _running(service, run, now) if run is not None else {}
    baseline_ahead: dict[datetime, float] = {}
    if run is not None and run.problem is not None:
        for t in range(run.window.start, run.window.stop):
            baseline_ahead[run.grid.starts[t]] = sum(
                float(run.schedules[k].baseline_kw[t]) for k in run.participants()
            )
    intervals = []
    for i in view.intervals:
        delivered, live = i.delivered_kw, False
        if delivered is None and i.start in running:
            delivered, live = running[i.start], True
        baseline = i.baseline_kw if i.baseline_kw is not None else baseline_ahead.get(i.start)
        intervals.append(
            {
                "t": i.start.timestamp(),
                "label": local_time(i.start, tz, with_date=False),
                "target_kw": round_kw(i.target_kw),
                "planned_kw": round_kw(i.planned_kw),
                "baseline_kw": None if baseline is None else round_kw(baseline),
                "delivered_kw": None if delivered is None else round_kw(delivered),
                "live": live,
                "met": i.met,
            }
        )
    participants: list[dict[str, str]] = []
    faults: list[dict[str, str]] = []
    telemetry_wall_ms = None
    if run is not None:
        participants = _participants(service, run, now)
        faults = [
            {"at": local_time(f.at, tz), "key": f.key, "reason": f.reason}
            for f in sorted(run.dropped.values(), key=lambda f: f.at)
        ]
        if service.controller is not None:
            seen = [service.controller.monitor.last_seen(k) for k in run.participants()]
            latest = max((s for s in seen if s is not None), default=None)
            if latest is not None:
                telemetry_wall_ms = _wall_ms(service, latest)
    else:
        faults, participants = _from_store(service, view)
    settlement = None
    if view.settlement is not None:
        s = view.settlement
        settlement = {
            "asked_kwh": kwh(s["asked_kwh"]),
            "delivered_kwh": kwh(s["delivered_kwh"]),
            "payment_cny": cny(s["payment_cny"]),
            "penalty_cny": cny(s["penalty_cny"]),
            "enterprises": [
                {
                    "enterprise": line.get("enterprise_id", ""),
                    "asked_kwh": kwh(line.get("asked_kwh")),
                    "delivered_kwh": kwh(line.get("delivered_kwh")),
                    "payment_cny": cny(line.get("payment_cny")),
                    "penalty_cny": cny(line.get("penalty_cny")),
                }
                for line in s["enterprises"]
            ],
        }
    return {
        "event_id": event_id,
        "state": view.state,
        "target_kw": round_kw(view.target_kw),
        "window": f"{local_time(view.event.start, tz)}–{local_time(view.event.end, tz, False)}",
        "delivered_kwh": kwh(view.delivered_kwh),
        "shortfall_kwh": kwh(view.shortfall_kwh),
        "intervals": intervals,
        "participants": participants,
        "faults": faults,
        "redispatches": [
            {
                "at": local_time(r.at, tz),
                "reason": r.reason,
                "dropped": ", ".join(r.dropped),
                "added": ", ".join(r.added),
                "residual_kw": round_kw(r.residual_kw),
                "over_cap_kw": round_kw(r.rebound_excess_kw),
            }
            for r in view.redispatches
        ],
        **_after_event(view, tz),
        "settlement": settlement,
        "telemetry_wall_ms": telemetry_wall_ms,
    }


async def enterprise_feed(service: Service, enterprise_id: str) -> dict[str, Any]:
    """One enterprise's events: its resources, asked and delivered energy, settlement."""
    tz = service.frame.tz
    records, _ = await service.store.events.page(0, 50, enterprise_id=enterprise_id)
    events = []
    for record in records:
        view = await enterprise_event_view(service, record, enterprise_id)
        run = service.live_run(view.event.event_id)
        state = run.lifecycle.state.value if run is not None else view.state
        now_kw = None
        if run is not None and state in ACTIVE:
            running = _running(service, run, service.clock.now(), enterprise_id)
            now_kw = running[max(running)] if running else None
        events.append(
            {
                "event_id": view.event.event_id,
                "state": state,
                "upcoming": state in UPCOMING,
                "window": f"{local_time(view.event.start, tz)}–"
                f"{local_time(view.event.end, tz, False)}",
                "resources": ", ".join(view.resources),
                "asked_kwh": kwh(view.asked_kwh),
                "delivered_kwh": kwh(view.delivered_kwh),
                "now_kw": None if now_kw is None else round_kw(now_kw),
            }
        )
    return {"enterprise_id": enterprise_id, "events": events}
