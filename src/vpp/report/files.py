"""Dispatch results as files: setpoints (CSV and JSON) and the whole result (JSON)."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

from vpp.domain import DispatchResult

SETPOINT_COLUMNS = (
    "command_id",
    "site_id",
    "resource_id",
    "mode",
    "power_kw",
    "valid_from",
    "valid_until",
    "issued_at",
)


def write_dispatch_files(
    result: DispatchResult, out_dir: Path, issued_at: datetime
) -> dict[str, Path]:
    """Write ``setpoints.csv``, ``setpoints.json`` and ``dispatch.json``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    setpoints = result.setpoints(issued_at)
    paths = {
        "setpoints_csv": out_dir / "setpoints.csv",
        "setpoints_json": out_dir / "setpoints.json",
        "dispatch_json": out_dir / "dispatch.json",
    }
    with paths["setpoints_csv"].open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(SETPOINT_COLUMNS)
        for sp in setpoints:
            row = sp.model_dump(mode="json")
            writer.writerow([row[c] for c in SETPOINT_COLUMNS])
    paths["setpoints_json"].write_text(
        json.dumps([sp.model_dump(mode="json") for sp in setpoints], indent=1), encoding="utf-8"
    )
    document = result.model_dump(mode="json")
    document["summary"] = {
        "target_kw": result.target_kw,
        "max_shortfall_kw": result.max_shortfall_kw,
        "meets_target": result.meets_target,
        "cost_cny": result.costs.cost_cny,
        "setpoint_count": len(setpoints),
        "rebound_cap_kw": result.rebound_cap_kw,
        "baseline_peak_kw": result.baseline_peak_kw,
        "post_event_peak_kw": result.post_event_peak_kw,
        "max_rebound_excess_kw": result.max_rebound_excess_kw,
    }
    paths["dispatch_json"].write_text(json.dumps(document, indent=1), encoding="utf-8")
    return paths
