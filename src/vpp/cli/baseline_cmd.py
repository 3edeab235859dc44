"""``vpp baseline``: the customer baseline load of metered sites for an event day."""

from __future__ import annotations

import csv
import json
import math
from datetime import date, tzinfo
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape

from vpp.baseline import (
    BASELINE_PRESETS,
    DEFAULT_BASELINE,
    BaselineMethod,
    BaselineResult,
    DailyLoad,
    UnknownBaselineMethodError,
    compute_baseline,
    read_meter_csv,
    resolve_method,
)
from vpp.cli.app import app, console, fail, reports_errors
from vpp.cli.options import INTERVAL_MIN, parse_day
from vpp.cli.tables import Column, print_table
from vpp.domain import ALL_DAY, DailyWindow, daily_window_on, zone

_HELP = (
    "Customer baseline load (CBL) of each meter in METER.csv for an event day.\n\n"
    "METER.csv has the columns timestamp,meter_id,power_kw: ISO 8601 interval starts with "
    "their UTC offset, power in kW.\n\n"
    "The event window (--window) decides which intervals are shown and which readings a day "
    "needs to count as a candidate. It is required for methods whose day-of step is placed "
    "relative to the event start (caiso_10_in_10: adjustment over the 3 h ending 1 h before; "
    "real_time: the interval before control). For the others it defaults to the whole day "
    "(00:00-24:00), so candidate days then need a complete day of readings.\n\n"
    "Prints the baseline over the window (--all-intervals: the whole day), the days used and "
    "the adjustment; --out writes the same rows as CSV. Exit code 2 on wrong input.\n\n"
    f"Methods: {', '.join(BASELINE_PRESETS)} (default {DEFAULT_BASELINE}); docs/baselines.md "
    "gives each rule and its source."
)


@app.command("baseline", help=_HELP)
@reports_errors
def baseline(
    meter_csv: Annotated[
        Path,
        typer.Argument(metavar="METER.csv", help="meter history (timestamp,meter_id,power_kw)"),
    ],
    day: Annotated[str, typer.Option("--day", help="event day, YYYY-MM-DD (local)")],
    method: Annotated[
        str, typer.Option("--method", help=f"baseline method: {', '.join(BASELINE_PRESETS)}")
    ] = DEFAULT_BASELINE,
    meter: Annotated[
        str | None, typer.Option("--meter", help="only this meter (default: every meter)")
    ] = None,
    window: Annotated[
        str | None,
        typer.Option(
            "--window",
            help="event window HH:MM-HH:MM, local; required for caiso_10_in_10 and real_time, "
            "otherwise the whole day",
        ),
    ] = None,
    tz_name: Annotated[str, typer.Option("--tz", help="IANA time zone of the local days")] = (
        "Asia/Shanghai"
    ),
    interval_min: Annotated[
        int,
        typer.Option(
            "--interval-min",
            parser=INTERVAL_MIN,
            help="meter interval in minutes; must divide 1440",
        ),
    ] = 15,
    event_days: Annotated[
        list[str] | None,
        typer.Option("--event-day", help="an earlier event day to exclude (repeatable)"),
    ] = None,
    abnormal_days: Annotated[
        list[str] | None,
        typer.Option("--abnormal-day", help="a known abnormal day to exclude (repeatable)"),
    ] = None,
    all_intervals: Annotated[
        bool, typer.Option("--all-intervals", help="show the whole day, not just the window")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="also write CSV: timestamp,meter_id,baseline_kw"),
    ] = None,
) -> None:
    event_day = _parse_day("--day", day)
    tz = _parse_zone(tz_name)
    if interval_min <= 0 or 1440 % interval_min:
        raise fail(f"--interval-min: must divide a day (1440 min) evenly, got {interval_min}")
    chosen_method = _parse_method(method)
    event_window = _parse_window(window, chosen_method)
    excluded = tuple(_parse_day("--event-day", text) for text in event_days or ())
    abnormal = tuple(_parse_day("--abnormal-day", text) for text in abnormal_days or ())

    loads = _select_meters(read_meter_csv(meter_csv, tz, interval_min), meter, meter_csv)
    start, end = daily_window_on(event_day, event_window, tz)
    results = [
        compute_baseline(
            load, start, end, chosen_method, tz=tz, event_days=excluded, abnormal_days=abnormal
        )
        for load in loads
    ]
    rows = range(1440 // interval_min) if all_intervals else range(*_indices(results[0]))

    if out is not None:
        _write_csv(out, results, rows)
    if as_json:
        payload = _to_json(results, event_window, tz_name, rows)
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    _print_table(results, event_window, tz_name, rows)
    if out is not None:
        console.print(
            f"wrote {len(rows) * len(results)} rows to {escape(str(out))}", highlight=False
        )


def _parse_day(option: str, text: str) -> date:
    return parse_day(text, option)


def _parse_zone(name: str) -> tzinfo:
    try:
        return zone(name)
    except ValueError as exc:
        raise fail(f"--tz: {exc}") from None


def _parse_method(name: str) -> BaselineMethod:
    try:
        return resolve_method(name)
    except UnknownBaselineMethodError as exc:
        raise fail(f"--method: {exc}") from None


def _parse_window(text: str | None, method: BaselineMethod) -> DailyWindow:
    """The event window; required where the method's day-of step is relative to its start."""
    if text is None:
        if method.needs_event_window:
            raise fail(
                f"--window: required for method {method.name!r}, whose day-of "
                "adjustment or real-time reading is placed relative to the event start"
            )
        return ALL_DAY
    try:
        return DailyWindow.model_validate(text)
    except ValidationError as exc:
        reason = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        raise fail(f"--window: {reason}") from None


def _select_meters(loads: dict[str, DailyLoad], meter: str | None, path: Path) -> list[DailyLoad]:
    if not loads:
        raise fail(f"{path}: no readings")
    if meter is None:
        return list(loads.values())
    if meter not in loads:
        known = list(loads)
        listed = ", ".join(known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
        raise fail(f"--meter: no meter {meter!r} in {path}; meters in it: {listed}")
    return [loads[meter]]


def _indices(result: BaselineResult) -> tuple[int, int]:
    window = result.window
    return window.start, window.stop


def _kw(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


def _adjustment_text(result: BaselineResult) -> str:
    adj = result.adjustment
    if adj is None:
        return "none"
    unit, fmt = ("ratio", "{:.3f}") if adj.kind == "multiplicative" else ("offset", "{:+.3f} kW")
    text = f"{adj.kind} {unit} {fmt.format(adj.raw)}"
    return f"{text}, clamped to {fmt.format(adj.applied)}" if adj.clamped else text


def _print_table(
    results: list[BaselineResult], window: DailyWindow, tz_name: str, rows: range
) -> None:
    first = results[0]
    starts = first.interval_starts
    print_table(
        console,
        [Column("interval start"), *(Column(escape(f"{r.meter_id} [kW]")) for r in results)],
        [
            [
                starts[i].strftime("%H:%M"),
                *(
                    f"{r.values_kw[i]:.3f}" if not math.isnan(r.values_kw[i]) else "-"
                    for r in results
                ),
            ]
            for i in rows
        ],
        title=escape(f"Baseline {first.method!r} for {first.day} (window {window}, {tz_name})"),
    )
    for result in results:
        used = ", ".join(d.isoformat() for d in result.days_used)
        console.print(f"[bold]{escape(result.meter_id)}[/]: days used {used}", highlight=False)
        console.print(f"  adjustment: {escape(_adjustment_text(result))}", highlight=False)
        for warning in result.warnings:
            console.print(f"  [yellow]warning:[/] {escape(warning)}", highlight=False)


def _to_json(
    results: list[BaselineResult], window: DailyWindow, tz_name: str, rows: range
) -> dict[str, Any]:
    first = results[0]
    return {
        "day": first.day.isoformat(),
        "method": first.method,
        "window": str(window),
        "timezone": tz_name,
        "interval_min": first.interval_min,
        "meters": [
            {
                "meter_id": r.meter_id,
                "days_used": [d.isoformat() for d in r.days_used],
                "skipped": [{"day": d.isoformat(), "reason": why} for d, why in r.skipped],
                "adjustment": None
                if r.adjustment is None
                else {
                    "kind": r.adjustment.kind,
                    "raw": r.adjustment.raw,
                    "applied": r.adjustment.applied,
                    "clamped": r.adjustment.clamped,
                    "baseline_window_kw": r.adjustment.baseline_window_kw,
                    "actual_window_kw": r.adjustment.actual_window_kw,
                },
                "window_mean_kw": _kw(float(r.window_kw.mean())),
                "warnings": list(r.warnings),
                "intervals": [
                    {
                        "start": r.interval_starts[i].isoformat(),
                        "baseline_kw": _kw(float(r.values_kw[i])),
                    }
                    for i in rows
                ],
            }
            for r in results
        ],
    }


def _write_csv(path: Path, results: list[BaselineResult], rows: range) -> None:
    try:
        with path.open("w", encoding="utf-8", newline="") as file:
            writer = csv.writer(file, lineterminator="\n")
            writer.writerow(("timestamp", "meter_id", "baseline_kw"))
            for result in results:
                starts = result.interval_starts
                for i in rows:
                    value = _kw(float(result.values_kw[i]))
                    writer.writerow(
                        (starts[i].isoformat(), result.meter_id, "" if value is None else value)
                    )
    except OSError as exc:
        raise fail(f"--out: cannot write {path}: {exc.strerror or exc}") from None
