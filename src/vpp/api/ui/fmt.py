"""Figures as a person reads them: local times in the district's zone, kW without decimals,
CNY with two, kWh with one."""

from __future__ import annotations

from datetime import datetime, tzinfo


def local_time(ts: datetime | str | None, tz: tzinfo, with_date: bool = True) -> str:
    if ts is None:
        return "–"
    when = datetime.fromisoformat(ts) if isinstance(ts, str) else ts
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def kw(value: float | None) -> str:
    """Power [kW], no decimals, thousands grouped."""
    return "–" if value is None else f"{value:,.0f}"


def kwh(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


def cny(value: float | None) -> str:
    """Money [CNY], two decimals."""
    return "–" if value is None else f"{value:,.2f}"


def round_kw(value: float) -> int:
    """Power [kW] as drawn and shown: whole kilowatts."""
    return round(value)
