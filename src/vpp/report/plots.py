"""Plots of a dispatch: what the portfolio would draw, what it draws instead, and who helps."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np

from vpp.domain import DispatchResult, kind_of


def plot_dispatch(result: DispatchResult, path: Path, title: str | None = None) -> Path:
    """Two panels: baseline, dispatched net load, target and rebound cap; response stacked
    by kind."""
    starts = list(result.grid.starts)
    tz = result.grid.tz
    base = np.array([i.baseline_kw for i in result.intervals]) / 1000
    power = np.array([i.expected_power_kw for i in result.intervals]) / 1000
    in_event = np.array([i.in_event for i in result.intervals])
    direction = result.event.direction
    target_line = np.where(in_event, base - direction * result.target_kw / 1000, np.nan)

    by_kind: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(len(starts)))
    for s in result.schedules:
        by_kind[s.kind] += direction * (np.array(s.baseline_kw) - np.array(s.power_kw)) / 1000

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, height_ratios=[3, 2])
    top.step(starts, base, where="post", label="baseline", color="0.45", lw=1.6)
    top.step(starts, power, where="post", label="dispatched net load", color="#C44E52", lw=1.8)
    top.step(
        starts,
        target_line,
        where="post",
        label="target (baseline - target)",
        color="k",
        ls="--",
        lw=1.2,
    )
    if result.rebound_cap_kw is not None:
        top.axhline(
            result.rebound_cap_kw / 1000,
            color="#DD8452",
            ls=":",
            lw=1.4,
            label=f"rebound cap {result.rebound_cap_kw / 1000:,.1f} MW",
        )
    top.axvspan(
        result.event.start, result.event.end, color="#FFD966", alpha=0.25, label="event window"
    )
    top.set_ylabel("portfolio load [MW]")
    top.legend(loc="upper left", fontsize=8)
    top.set_title(title or f"Dispatch {result.event.event_id}: target {result.target_kw:,.0f} kW")
    top.grid(alpha=0.3)

    positive = np.zeros(len(starts))
    negative = np.zeros(len(starts))
    width = result.grid.interval_min / 1440
    for kind, values in by_kind.items():
        if not np.any(np.abs(values) > 1e-6):
            continue
        bottom_for = np.where(values >= 0, positive, negative)
        bottom.bar(
            starts,
            values,
            width=width,
            bottom=bottom_for,
            align="edge",
            color=kind_of(kind).plot_color,
            label=kind,
            linewidth=0,
        )
        positive += np.where(values >= 0, values, 0)
        negative += np.where(values < 0, values, 0)
    bottom.step(
        starts,
        np.where(in_event, result.target_kw / 1000, np.nan),
        where="post",
        color="k",
        ls="--",
        lw=1.2,
        label="target",
    )
    bottom.axhline(0, color="0.3", lw=0.8)
    bottom.set_ylabel("response by kind [MW]")
    bottom.legend(loc="upper left", fontsize=8, ncol=3)
    bottom.grid(alpha=0.3)
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=tz))
    bottom.set_xlabel(f"local time ({result.grid.start:%Y-%m-%d}, {tz})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
