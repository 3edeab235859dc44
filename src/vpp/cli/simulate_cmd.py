"""``vpp simulate``: a whole event day, controller against simulated devices (HIL).

The simulator is imported inside the command only: the core never imports ``vpp.hil_sim``,
and the other commands do not pay for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from vpp.cli.app import app, console, fail, reports_errors
from vpp.cli.options import SIMULATED_DAYS, writable_folder
from vpp.cli.tables import Column, print_table
from vpp.config import describe_validation_error
from vpp.domain import ConfigError, DemandResponseEvent, District, pct_of_kw, with_rotation
from vpp.settlement import rotation_entries

if TYPE_CHECKING:
    from vpp.controller import EventOutcome
    from vpp.device_adapters.mqtt import ClientAuth
    from vpp.hil_sim.report import DaySeries
    from vpp.hil_sim.runner import SimulationResult
    from vpp.hil_sim.scenario import Scenario

#: How long ``--mqtt`` may take to accept a TCP connection before the run is refused [s].
BROKER_CONNECT_TIMEOUT_S = 3.0

OK = "[green]✓[/]"
NOT_OK = "[red]✗[/]"


@app.command("simulate")
@reports_errors
def simulate_command(
    scenario_file: Annotated[Path, typer.Argument(help="scenario YAML file")],
    out: Annotated[
        Path, typer.Option(help="folder for report.json, the CSV files and the plots")
    ] = Path("out/simulate"),
    mqtt: Annotated[
        str | None,
        typer.Option(
            help="run over the MQTT broker at mqtt[s]://host:port \\[default: embedded broker]"
        ),
    ] = None,
    mqtt_auth: Annotated[
        Path | None,
        typer.Option(
            help="folder from `vpp gateways provision`: the controller and every simulated "
            "gateway log in with their own credentials (needs --mqtt)",
            file_okay=False,
        ),
    ] = None,
    mqtt_ca: Annotated[
        Path | None,
        typer.Option(help="CA certificate (PEM) an mqtts:// broker is checked against"),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="no progress bar and no warnings while it runs")
    ] = False,
    days: Annotated[
        int,
        typer.Option(
            parser=SIMULATED_DAYS,
            help="simulate this many days from the scenario's day, seed + 1 each day; each "
            "day's report goes to OUT/YYYY-MM-DD",
        ),
    ] = 1,
    ledger: Annotated[
        Path | None,
        typer.Option(
            help="rotation ledger (JSON lines): each day's rotation counts come from it, and "
            "each completed event is appended to it (docs/rotation.md)",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Simulate an event day: the controller against simulated devices, with faults.

    Runs the scenario's day on a simulated clock, prints what each event delivered and
    what each enterprise is paid, and writes the report to --out.

    Exit code 0 when every event met its target, 1 when any missed it, 2 on wrong input.
    """
    from vpp.hil_sim.scenario import load_scenario

    scenario = load_scenario(scenario_file)
    district = scenario.load_district()
    auth = _client_auth(mqtt, mqtt_auth, mqtt_ca)
    if mqtt is not None:
        _check_broker(mqtt)
    _events(scenario, district, str(scenario_file))  # a wrong event is refused before any file
    writable_folder(out)
    all_met = True
    for i in range(days):
        today = scenario.model_copy(
            update={"day": scenario.day + timedelta(days=i), "seed": scenario.seed + i}
        )
        folder = out if days == 1 else out / today.day.isoformat()
        day_met = _simulate_day(
            today, district, str(scenario_file), folder, mqtt, auth, quiet, ledger
        )
        all_met = all_met and day_met
    if not all_met:
        raise typer.Exit(1)


def _simulate_day(
    scenario: Scenario,
    district: District,
    source: str,
    out: Path,
    mqtt: str | None,
    auth: ClientAuth | None,
    quiet: bool,
    ledger: Path | None,
) -> bool:
    """One simulated day: run, print, write the report, record rotation; whether all met."""
    from vpp.hil_sim.report import day_series, write_report
    from vpp.hil_sim.runner import simulate
    from vpp.rotation_ledger import append_ledger, read_ledger

    events = _events(scenario, district, source)
    if ledger is not None:
        district = with_rotation(district, read_ledger(ledger), scenario.day_start(district))
    _print_header(scenario, district, events, mqtt)
    if ledger is not None:
        _print_rotation_counts(district, ledger)
    with (
        _log_to_console(logging.ERROR if quiet else logging.WARNING),
        _day_progress(scenario.day_start(district), district, show=not quiet) as progress,
    ):
        result = asyncio.run(
            simulate(scenario, mqtt_url=mqtt, progress=progress, auth=auth, district=district)
        )
    series = day_series(result)  # the day's totals: the printout and the report read them
    all_met = print_result(result, series)
    if quiet:
        paths = write_report(result, out, series)
    else:
        with console.status("writing the report"):
            paths = write_report(result, out, series)
    for path in paths:
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)
    if ledger is not None:
        ids = [e.enterprise_id for e in district.enterprises]
        entries = [e for o in result.outcomes for e in rotation_entries(o.settlement, o.start, ids)]
        written = append_ledger(ledger, entries)
        console.print(f"recorded {written} entries in {ledger}", highlight=False)
    return all_met


def _print_rotation_counts(district: District, ledger: Path) -> None:
    """The calls each enterprise counts for today (the optimiser's rotation adder)."""
    counts = sorted(district.rotation_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    listed = ", ".join(f"{k} {v}" for k, v in counts) or "none yet"
    console.print(f"  rotation counts from {ledger}: {listed}", highlight=False)


# -- before the run --------------------------------------------------------------------


def _events(scenario: Scenario, district: District, source: str) -> list[DemandResponseEvent]:
    """The scenario's events on its day, checked before the run starts."""
    day_end = scenario.day_start(district) + timedelta(days=1)
    events = []
    for spec in scenario.events:
        where = f"events.{spec.event_id}"
        try:
            event = spec.to_event(district, scenario.day)
        except ValidationError as exc:
            problems = [(f"{where}.{f}", why) for f, why in describe_validation_error(exc)]
            raise ConfigError(source, problems) from None
        if event.end > day_end:
            raise ConfigError(source, [(where, "must end on the simulated day")])
        events.append(event)
    return sorted(events, key=lambda e: e.issued_at)


def _client_auth(
    mqtt: str | None, mqtt_auth: Path | None, mqtt_ca: Path | None
) -> ClientAuth | None:
    """The logins of a provisioned folder and the CA, checked before the run starts."""
    if mqtt_auth is None and mqtt_ca is None:
        return None
    if mqtt is None:
        raise fail("--mqtt-auth and --mqtt-ca need --mqtt (the embedded broker has no logins)")
    from vpp.device_adapters.mqtt import ClientAuth, Login, TlsFiles, parse_broker_url
    from vpp.device_adapters.mqtt.broker_files import read_client_credentials

    logins = {}
    if mqtt_auth is not None:
        found = read_client_credentials(mqtt_auth)
        logins = {c: Login(cred.username, cred.password) for c, cred in found.items()}
    tls = None
    if parse_broker_url(mqtt).tls:
        tls = TlsFiles(ca_file=mqtt_ca)
        tls.context()  # an unreadable CA file is wrong input, not a run that never connects
    elif mqtt_ca is not None:
        raise fail("--mqtt-ca: the broker URL is mqtt://; use mqtts:// for TLS")
    return ClientAuth(logins=logins, tls=tls)


def _check_broker(url: str) -> None:
    """Refuse the run at once when the broker is not there (the links would retry forever)."""
    from vpp.device_adapters.mqtt import parse_url  # raises MqttUrlError, a VppError

    host, port = parse_url(url)
    try:
        with socket.create_connection((host, port), timeout=BROKER_CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise fail(
            f"--mqtt: no MQTT broker at {host}:{port} ({reason}); start one "
            f"(e.g. `mosquitto -p {port}`) or leave --mqtt out to use the embedded broker"
        ) from None


def _print_header(
    scenario: Scenario, district: District, events: list[DemandResponseEvent], mqtt: str | None
) -> None:
    console.print(
        f"[bold]{scenario.name}[/]: {district.name} ({district.district_id}) on "
        f"{scenario.day}, seed {scenario.seed}, tick {scenario.tick_s} s, "
        f"{'MQTT broker ' + mqtt if mqtt else 'embedded broker'}",
        highlight=False,
    )
    for event in events:
        target = event.target_kw_for(district.peak_load_kw)
        console.print(
            f"  {event.event_id}: {event.kind.value} {_window(event.start, event.end, district)}, "
            f"target {target:,.0f} kW ({pct_of_kw(target, district.peak_load_kw):.2f}% of peak), "
            f"{event.notice.value}, issued {_local(event.issued_at, district):%m-%d %H:%M}",
            highlight=False,
        )


@contextlib.contextmanager
def _log_to_console(level: int) -> Iterator[None]:
    """The package's log messages at ``level`` and above, printed above the progress bar.

    No time stamps: wall-clock times mean nothing in a simulated day, and the tables after
    the run give the simulated time of every fault and re-dispatch.
    """
    handler = RichHandler(
        console=console, level=level, show_time=False, show_path=False, markup=False
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("vpp")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


@contextlib.contextmanager
def _day_progress(
    start: datetime, district: District, show: bool
) -> Iterator[Callable[[datetime, datetime], None] | None]:
    """The runner's progress callback: a bar over the simulated day with its clock."""
    if not show:
        yield None
        return
    progress = Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.fields[clock]}"),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    task = progress.add_task("day", total=86400.0, clock="00:00")

    def advance(now: datetime, end: datetime) -> None:
        progress.update(
            task,
            completed=(now - start).total_seconds(),
            total=(end - start).total_seconds(),
            clock="24:00" if now >= end else f"{_local(now, district):%H:%M}",
        )

    with progress:
        yield advance


# -- after the run ---------------------------------------------------------------------


def print_result(result: SimulationResult, series: DaySeries) -> bool:
    """Every table of the run; returns whether every event met its target."""
    district = result.district
    console.print(f"district peak {district.peak_load_kw:,.0f} kW", highlight=False)
    outcomes = {o.event_id: o for o in result.outcomes}
    all_met = True
    for event in result.events:
        outcome = outcomes.get(event.event_id)
        if outcome is None:
            state = result.runs[event.event_id].lifecycle.state.value
            console.print(
                f"[bold red]{event.event_id}: NOT MET[/]: never planned ({state}); "
                "see the warnings above",
                highlight=False,
            )
            all_met = False
            continue
        _print_intervals(outcome, district)
        all_met = _print_verdict(outcome) and all_met
        _print_settlement(outcome)
    _print_rebound(result, series)
    _print_faults(result)
    _print_messages(result)
    simulated_h = (result.end - result.start).total_seconds() / 3600
    console.print(
        f"simulated {simulated_h:g} h in {result.wall_s:,.1f} s: speed-up "
        f"{result.speedup:,.0f} simulated s per wall s ({result.transport})",
        highlight=False,
    )
    return all_met


def _print_rebound(result: SimulationResult, series: DaySeries) -> None:
    """The post-event peak, metered and true, against the rebound cap and the baseline peak."""
    from vpp.hil_sim.report import rebound_summary

    summary = rebound_summary(result, series)
    peak, base, cap = (
        summary["post_event_peak_kw"],
        summary["baseline_peak_kw"],
        summary["cap_kw"],
    )
    if peak is None:
        return
    above, true_above = summary["intervals_above_cap"], summary["true_intervals_above_cap"]
    cap_text = "no cap" if cap is None else f"cap {cap:,.0f} kW"
    verdict = ""
    if cap is not None:
        verdict = (
            f" {OK}"
            if above == true_above == 0
            else f" {NOT_OK} (intervals above the cap: {above} metered, {true_above} true)"
        )
    planned, true = summary["planned_post_event_peak_kw"], summary["true_post_event_peak_kw"]
    console.print(
        f"post-event peak {peak:,.0f} kW at {summary['post_event_peak_at'][11:16]} metered, "
        f"{true:,.0f} kW at {summary['true_post_event_peak_at'][11:16]} true (the plans' "
        f"{planned:,.0f} kW), baseline peak {base:,.0f} kW, {cap_text}{verdict}",
        highlight=False,
    )


def _print_intervals(outcome: EventOutcome, district: District) -> None:
    missing = any(i.missing_meters for i in outcome.intervals)
    columns = [Column(n) for n in ("start", "target", "planned", "baseline", "actual")]
    columns += [Column("delivered")]
    columns += [Column("no meter")] if missing else []
    columns += [Column("met")]
    rows = []
    for i in outcome.intervals:
        row = [
            f"{_local(i.start, district):%H:%M}",
            f"{i.target_kw:,.0f}",
            f"{i.planned_kw:,.0f}",
            f"{i.baseline_kw:,.0f}",
            f"{i.actual_kw:,.0f}",
            f"{i.delivered_kw:,.0f}",
        ]
        if missing:
            row.append(str(i.missing_meters))
        row.append(OK if i.met else NOT_OK)
        rows.append(row)
    print_table(
        console,
        columns,
        rows,
        title=(
            f"{outcome.event_id}: {outcome.kind} "
            f"{_window(outcome.start, outcome.end, district)}"
            f", target {outcome.target_kw:,.0f} kW, {outcome.state}"
        ),
        caption="portfolio of the event's participants per interval \\[kW]",
    )


def _print_verdict(outcome: EventOutcome) -> bool:
    ratio = (
        f"performance ratio {outcome.performance_ratio:.3f} (delivered / target energy), "
        f"lowest interval {outcome.min_delivered_kw:,.0f} kW"
    )
    if outcome.met:
        console.print(
            f"{outcome.event_id}: [bold green]MET[/] in all {len(outcome.intervals)} "
            f"intervals; {ratio}",
            highlight=False,
        )
        return True
    short = [i for i in outcome.intervals if not i.met]
    worst = max((i.target_kw - i.delivered_kw for i in short), default=0.0)
    if not outcome.intervals:
        detail = "no event interval was measured"
    else:
        detail = (
            f"shortfall in {len(short)} of {len(outcome.intervals)} intervals, "
            f"up to {worst:,.0f} kW"
        )
    console.print(
        f"{outcome.event_id}: [bold red]NOT MET[/]: {detail}; {ratio}",
        highlight=False,
    )
    return False


def _print_settlement(outcome: EventOutcome) -> None:
    settlement = outcome.settlement
    columns = [Column("enterprise", numeric=False)]
    columns += [Column(n) for n in ("asked", "delivered", "ratio", "effective", "payment")]
    columns += [Column("penalty")]
    rows = [
        [
            line.enterprise_id,
            f"{line.asked_kwh:,.1f}",
            f"{line.delivered_kwh:,.1f}",
            _ratio(line.performance_ratio),
            OK if line.effective else NOT_OK,
            f"{line.payment_cny:,.2f}",
            f"{line.penalty_cny:,.2f}",
        ]
        for line in settlement.enterprises
    ]
    total = [
        "total",
        f"{settlement.asked_kwh:,.1f}",
        f"{settlement.delivered_kwh:,.1f}",
        _ratio(settlement.performance_ratio),
        f"{sum(line.effective for line in settlement.enterprises)}/{len(settlement.enterprises)}",
        f"{settlement.payment_cny:,.2f}",
        f"{settlement.penalty_cny:,.2f}",
    ]
    print_table(
        console,
        columns,
        rows,
        total=total,
        title=f"{outcome.event_id}: settlement (rule {settlement.rule.name})",
        caption="asked and delivered \\[kWh], payment and penalty \\[CNY]",
    )
    _print_settlement_notes(outcome)
    _print_refused_samples(outcome)


def _print_settlement_notes(outcome: EventOutcome) -> None:
    """Lines that need a reason (asked in part, load rose), and the unasked response apart."""
    settlement = outcome.settlement
    for line in settlement.enterprises:
        if line.note:
            console.print(f"  {line.enterprise_id}: {line.note}", highlight=False)
    if settlement.unasked:
        listed = ", ".join(
            f"{line.enterprise_id} {line.unasked_kwh:,.1f} kWh" for line in settlement.unasked
        )
        console.print(
            f"{outcome.event_id}: unasked response (asked nothing: not paid, not penalised): "
            f"{listed}",
            highlight=False,
        )


def _print_refused_samples(outcome: EventOutcome) -> None:
    """Which meters sent readings that could not be true during the event (not measured)."""
    if outcome.refused_samples:
        listed = ", ".join(f"{k} {n:,}" for k, n in sorted(outcome.refused_samples.items()))
        console.print(f"{outcome.event_id}: readings refused as implausible: {listed}")


def _print_faults(result: SimulationResult) -> None:
    district = result.district
    plan = result.fault_plan
    injected = [[a.target, a.fault.describe()] for a in plan.assignments]
    injected += [["broker", outage.describe()] for outage in plan.broker_outages]
    if injected:
        print_table(
            console,
            [Column("where", numeric=False), Column("fault", numeric=False)],
            injected,
            title=f"Faults injected (seed {result.scenario.seed})",
        )
    else:
        console.print("no faults injected")

    seen = [
        [f"{_local(fault.at, district):%H:%M}", fault.event_id, fault.key, fault.reason]
        for fault in result.faults_seen
    ]
    if seen:
        columns = [Column("time"), *(Column(n, numeric=False) for n in ("event", "resource"))]
        columns += [Column("reason", numeric=False)]
        print_table(console, columns, seen, title="Faults seen by the controller")
    else:
        console.print("no faults seen by the controller")

    redispatch = [
        [
            f"{_local(r.at, district):%H:%M}",
            event_id,
            f"{_local(r.first_interval, district):%H:%M}",
            str(len(r.dropped)),
            str(len(r.added)),
            f"{r.residual_kw:,.0f}",
            f"{r.rebound_excess_kw:,.0f}",
            r.status,
            short_reason(r.reason),
        ]
        for event_id, run in result.runs.items()
        for r in run.replans
    ]
    if redispatch:
        # Narrow terminals lose the solver's status first (nearly always optimal), then the
        # re-plan's first interval (the next one after "time"), before the reason folds.
        columns = [Column("time"), Column("event", numeric=False), Column("from", optional=2)]
        columns += [Column(n) for n in ("dropped", "added", "residual \\[kW]", "over cap \\[kW]")]
        columns += [Column("solver", numeric=False, optional=3), Column("why", numeric=False)]
        print_table(console, columns, redispatch, title="Re-dispatches")
    else:
        console.print("no re-dispatches")


def _print_messages(result: SimulationResult) -> None:
    stats = result.adapter_stats
    gateways = result.gateway_totals()
    table = Table(title="Messages", show_header=False)
    table.add_column()
    table.add_column()
    by_channel = ", ".join(f"{k} {v:,}" for k, v in sorted(stats.received.items()))
    table.add_row("received", f"{sum(stats.received.values()):,} ({by_channel or 'none'})")
    by_reason = ", ".join(f"{k} {v:,}" for k, v in sorted(stats.malformed.items()))
    table.add_row(
        "malformed", f"{stats.malformed_total:,}" + (f" ({by_reason})" if by_reason else "")
    )
    refused = ", ".join(f"{k} {v:,}" for k, v in sorted(result.refused.items()))
    table.add_row(
        "refused as implausible",
        f"{sum(result.refused.values()):,}" + (f" ({refused})" if refused else ""),
    )
    table.add_row("setpoints sent", f"{stats.sent:,}")
    table.add_row("re-sent on reconnection", f"{stats.resent:,}")
    table.add_row("not sent, broker down", f"{stats.send_failed:,}")
    table.add_row("duplicate acks", f"{stats.duplicate_acks:,}")
    table.add_row("reconnects", f"{stats.reconnects:,}")
    table.add_row(
        "gateways",
        f"{gateways['received']:,} setpoints ({gateways['duplicates']:,} duplicates, "
        f"{gateways['ignored']:,} ignored by a fault); {gateways['telemetry_sent']:,} "
        f"telemetry ({gateways['telemetry_suppressed']:,} suppressed by a fault)",
    )
    table.add_row("ticks that timed out", f"{result.settle_timeouts:,}")
    _add_protocol_rows(table, result)
    console.print(table)


#: How the Messages table names each protocol.
PROTOCOL_NAMES = {"mqtt": "MQTT", "ocpp": "OCPP", "modbus": "Modbus"}


def _add_protocol_rows(table: Table, result: SimulationResult) -> None:
    """Per protocol in use: messages each way, its own counts, and setpoint to ack."""
    from vpp.hil_sim.report import by_protocol, round_trips_ms

    trips = round_trips_ms(result).get("setpoint_to_ack", {})
    for name, counts in by_protocol(result).items():
        label = PROTOCOL_NAMES.get(name, name)
        line = (
            f"{counts['resources']:,} resources: {counts['setpoints']:,} setpoints, "
            f"{counts['acks']:,} acks, {counts['telemetry']:,} telemetry"
        )
        if name == "ocpp" and "calls_from_charge_points" in counts:
            calls_in = _counts(counts["calls_from_charge_points"])
            calls_out = _counts(counts["calls_to_charge_points"])
            line += f"; {counts['charge_points']:,} charge points: {calls_in}; to them: "
            line += calls_out or "none"
        elif name == "modbus":
            line += (
                f"; {counts['polls']:,} polls, {counts['reads']:,} reads, "
                f"{counts['writes']:,} writes"
            )
        table.add_row(label, line)
        trip = trips.get(name, {"n": 0})
        if trip["n"]:
            table.add_row(
                f"{label} setpoint to ack",
                f"median {trip['p50']:.1f} ms, p95 {trip['p95']:.1f} ms, max {trip['max']:.1f} ms"
                f" (n={trip['n']:,}, wall clock)",
            )


def _counts(by_name: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in by_name.items())


# -- formatting ------------------------------------------------------------------------


def _local(ts: datetime, district: District) -> datetime:
    return ts.astimezone(district.tz)


def _window(start: datetime, end: datetime, district: District) -> str:
    return f"{_local(start, district):%H:%M}-{_local(end, district):%H:%M}"


def short_reason(reason: str) -> str:
    """A re-dispatch's reason without the resource names the faults table already lists:
    ``"a/x: gateway offline; b/y: gateway offline"`` becomes ``"gateway offline x2"``."""
    counts: dict[str, int] = {}
    for part in reason.split("; "):
        head, sep, tail = part.partition(": ")
        why = tail if sep and "/" in head else part
        if why.startswith("delivered "):
            why = "under-delivery"
        counts[why] = counts.get(why, 0) + 1
    return ", ".join(why if n == 1 else f"{why} x{n}" for why, n in counts.items())


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
