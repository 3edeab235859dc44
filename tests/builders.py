"""Small districts and events built in code, so optimiser tests can be checked by hand."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from vpp.domain import DemandResponseEvent, District, EventKind, TimeGrid
from vpp.optimizer import DispatchProblem

TZ = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 7, 15, tzinfo=TZ)
FLAT_1000 = [1000.0] * 24


def at(hour: float) -> datetime:
    """A time on the test day, in hours after local midnight."""
    return DAY + timedelta(hours=hour)


def curtailable(resource_id: str, steps: list[tuple[float, float]], **extra: Any) -> dict[str, Any]:
    return {
        "kind": "curtailable_load",
        "resource_id": resource_id,
        "typical_load_kw": extra.pop("typical_load_kw", FLAT_1000),
        "steps": [{"power_kw": p, "price_cny_per_kwh": c} for p, c in steps],
        "min_notice_min": extra.pop("min_notice_min", 0),
        **extra,
    }


def battery(resource_id: str = "bess", **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "kind": "battery",
        "resource_id": resource_id,
        "capacity_kwh": 1000.0,
        "max_charge_kw": 500.0,
        "max_discharge_kw": 500.0,
        "soc_initial": 0.9,
        "soc_final_min": 0.1,
        "price_cny_per_kwh": 0.5,
    }
    spec.update(extra)
    return spec


#: A hot summer day's outdoor temperature, hourly [°C]: a building needs cooling all day.
HOT_AFTERNOON = [28.0] * 8 + [30, 31, 32, 33, 34, 35, 36, 36, 35, 34, 33, 32] + [30.0] * 4


def building(resource_id: str = "chiller", **extra: Any) -> dict[str, Any]:
    """A 400 kW chiller plant in a building that holds 150 kWh/°C (about 2.5 h to drift)."""
    spec: dict[str, Any] = {
        "kind": "hvac_load",
        "resource_id": resource_id,
        "rated_power_kw": 400.0,
        "cop": 3.0,
        "thermal_resistance_c_per_kw": 0.02,
        "thermal_capacitance_kwh_per_c": 150.0,
        "outdoor_temperature_c": HOT_AFTERNOON,
    }
    spec.update(extra)
    return spec


def enterprise(
    enterprise_id: str,
    resources: list[dict[str, Any]],
    feeder_id: str = "f1",
    sector: str = "industrial",
) -> dict[str, Any]:
    return {
        "enterprise_id": enterprise_id,
        "name": enterprise_id.title(),
        "sector": sector,
        "feeder_id": feeder_id,
        "sites": [{"site_id": f"{enterprise_id}-site", "resources": resources}],
    }


def district(
    *enterprises: dict[str, Any],
    feeders: list[dict[str, Any]] | None = None,
    peak_load_kw: float = 10_000.0,
    **extra: Any,
) -> District:
    return District.model_validate(
        {
            "district_id": "test",
            "name": "Test district",
            "peak_load_kw": peak_load_kw,
            "peak_hours": "11:00-13:00",
            "feeders": feeders
            or [{"feeder_id": "f1", "capacity_kw": 1e6, "background_load_kw": [0.0] * 24}],
            "enterprises": list(enterprises),
            **extra,
        }
    )


def event(
    start_h: float = 11,
    end_h: float = 13,
    target_kw: float = 100.0,
    kind: EventKind = EventKind.PEAK_SHAVING,
    issued_h: float = -12,
) -> DemandResponseEvent:
    return DemandResponseEvent(
        event_id="ev",
        kind=kind,
        start=at(start_h),
        end=at(end_h),
        target_kw=target_kw,
        issued_at=at(issued_h),
    )


def problem(d: District, ev: DemandResponseEvent, **extra: Any) -> DispatchProblem:
    """The event over the whole test day, baselines from the typical loads."""
    return DispatchProblem(d, ev, TimeGrid.for_day(DAY.date(), TZ), **extra)
