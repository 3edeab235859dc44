"""The log-log plot of build and solve time against resources and intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter

#: Statuses whose solve and total times are plotted: a fallback or a failure at the time
#: limit measures the limit, not the solve.
SOLVED = ("optimal", "feasible")


def scaling_plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Left: seconds against resources at 16 intervals; right: against intervals at 1,000.

    Build times are plotted for every case, solve and total times only where it solved.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {
        ("ours", "build"): ("build + translation, ours", "o-", "C0"),
        ("reference", "build"): ("build + translation, reference", "s--", "C1"),
        ("ours", "solve"): ("solve (HiGHS), ours", "o-", "C2"),
        ("decomposed", "total"): ("total, decomposed", "^-", "C3"),
        ("ours", "total"): ("total, ours", "o:", "C4"),
    }
    for (emitter, what), (label, style, color) in styles.items():
        for ax, fixed, axis in ((left, "n_intervals", "n_resources"), (right, None, "n_intervals")):
            points = sorted(
                (r[axis], _seconds(r, what))
                for r in rows
                if r["emitter"] == emitter
                and (r["n_intervals"] == 16 if fixed else r["n_resources"] == 1_000)
                and _seconds(r, what) is not None
                and (what == "build" or r["status"] in SOLVED)
            )
            if len(points) >= 1:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, style, color=color, label=label)
    left.set(xscale="log", yscale="log", xlabel="resources (16 intervals)", ylabel="seconds")
    right.set(xscale="log", yscale="log", xlabel="intervals (1,000 resources)", ylabel="seconds")
    right.set_xticks([16, 96], labels=["16", "96"])
    right.xaxis.set_minor_formatter(NullFormatter())
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    fig.suptitle("Dispatch time against problem size (median of runs, log-log)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _seconds(row: dict[str, Any], what: str) -> float | None:
    if what == "build":
        if row["build_s"] is None:
            return None
        return float(row["build_s"] + (row["translate_s"] or 0.0))
    value = row["solve_s" if what == "solve" else "total_s"]
    return None if value is None else float(value)
