"""``vpp history``: write a district's synthetic meter history as a meter CSV."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from vpp.baseline.meter import MINUTES_PER_DAY
from vpp.baseline.meter_csv import write_meter_csv
from vpp.cli.app import app, console, fail, reports_errors
from vpp.cli.options import HISTORY_DAYS, INTERVAL_MIN, parse_day
from vpp.config import load_district
from vpp.synthetic import meter_history

_HELP = (
    "Write the synthetic meter history of a district's curtailable loads as METER.csv.\n\n"
    "One meter per curtailable load, named SITE_ID/RESOURCE_ID; the days run from "
    "END_DAY minus --days (default: the district's meter_history.days) to END_DAY inclusive. "
    "The output has the columns timestamp,meter_id,power_kw (ISO 8601 interval starts with "
    "their UTC offset, kW) and is what `vpp baseline` reads. The district's meter_history must "
    "be `source: synthetic`; the same seed always gives the same numbers (docs/demo-district.md "
    "states the generator's assumptions). Exit code 2 on wrong input."
)


@app.command("history", help=_HELP)
@reports_errors
def history(
    district_file: Annotated[Path, typer.Argument(help="district YAML file")],
    end_day: Annotated[str, typer.Option("--end-day", help="last day, YYYY-MM-DD (local)")],
    out: Annotated[Path, typer.Option("--out", help="CSV file to write (overwritten)")],
    days: Annotated[
        int | None,
        typer.Option(
            "--days", parser=HISTORY_DAYS, help="days before END_DAY [default: from the file]"
        ),
    ] = None,
    interval_min: Annotated[
        int,
        typer.Option(
            "--interval-min", parser=INTERVAL_MIN, help="meter interval [min]; must divide 1440"
        ),
    ] = 15,
) -> None:
    """Write the district's synthetic meter history (see the help text above)."""
    last = parse_day(end_day, "--end-day")
    if interval_min <= 0 or MINUTES_PER_DAY % interval_min:
        raise fail(f"--interval-min: must divide a day (1440 min) evenly, got {interval_min}")
    district = load_district(district_file)
    source = district.meter_history
    if source is None or source.source != "synthetic":
        what = "no meter_history" if source is None else f"meter_history source {source.source!r}"
        raise fail(
            f"{district_file}: {what}; `vpp history` generates synthetic history only "
            "(set meter_history: {source: synthetic, seed: ..., days: ..., noise_pct: ...})"
        )
    if days is not None:
        source = source.model_copy(update={"days": days})
    loads = meter_history(district, last, source, interval_min)
    if not loads:
        raise fail(f"{district_file}: the district has no curtailable loads, so no meters")
    try:
        write_meter_csv(out, loads.values(), district.tz)
    except OSError as exc:
        raise fail(f"--out: cannot write {out}: {exc.strerror or exc}") from None
    first = last.toordinal() - source.days
    rows = sum(int(load.values_kw.size) for load in loads.values())
    console.print(
        f"wrote {out}: {len(loads)} meters x {source.days + 1} days "
        f"({date.fromordinal(first)} .. {last}, {interval_min}-min), {rows:,} rows",
        highlight=False,
    )
