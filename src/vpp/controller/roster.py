"""Who the controller can address, and how often each was called on a day.

One shared copy for every part of the controller: a registration taken while a plan runs
(:meth:`Roster.update`) is seen by later plans at once, and the resources of a running plan
stay addressable until it ends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime

from vpp.domain import District, Resource, ResourceRef, kind_of


class Roster:
    """The district the controller plans for and every resource it may command."""

    def __init__(self, district: District) -> None:
        self.district = district
        self.refs: dict[str, ResourceRef] = {ref.key: ref for ref in district.resources()}

    def update(self, district: District, live_keys: Iterable[str]) -> None:
        """Take a new district; resources of ``live_keys`` (a running plan's) stay."""
        live = set(live_keys)
        kept = {key: ref for key, ref in self.refs.items() if key in live}
        self.district = district
        self.refs = kept | {ref.key: ref for ref in district.resources()}

    def resource_of(self, key: str) -> Resource | None:
        ref = self.refs.get(key)
        return None if ref is None else ref.resource

    def batteries(self) -> list[str]:
        return [key for key, ref in self.refs.items() if kind_of(ref.resource).stores_energy]

    def day_of(self, ts: datetime) -> date:
        """The district's local calendar day at ``ts`` (participation counts per day)."""
        return ts.astimezone(self.district.tz).date()


class CallCounts:
    """How many events called on each resource, per local day (the rotation's input)."""

    def __init__(self) -> None:
        self._calls: Counter[tuple[date, str]] = Counter()

    def add(self, day: date, keys: Iterable[str]) -> None:
        for key in keys:
            self._calls[(day, key)] += 1

    def on(self, day: date) -> dict[str, int]:
        """Calls per resource on ``day`` (resources never called are left out)."""
        return {key: n for (d, key), n in self._calls.items() if d == day and n > 0}

    def prune(self, first_day: date) -> None:
        """Forget the days before ``first_day``."""
        for day, key in [k for k in self._calls if k[0] < first_day]:
            del self._calls[(day, key)]
