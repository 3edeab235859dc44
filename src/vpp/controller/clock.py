"""Where the controller reads the time: the wall clock in service, a simulated one in tests
and hardware-in-the-loop runs, which then go as fast as the work allows."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep_until(self, when: datetime) -> None: ...

    def wall_seconds_between(self, start: datetime, end: datetime) -> float | None:
        """How long the span from ``start`` to ``end`` of this clock lasts on the wall [s];
        None when the clock does not run by itself (it moves when told to)."""
        ...


class WallClock:
    """Real time (timezone-aware, UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        await asyncio.sleep(max(0.0, (when - self.now()).total_seconds()))

    def wall_seconds_between(self, start: datetime, end: datetime) -> float:
        return (end - start).total_seconds()


class SimulatedClock:
    """Time that moves only when :meth:`advance_to` says so; sleepers wake in order."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start: must be timezone-aware")
        self._now = start
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, when: datetime) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._seq), future))
        await future

    def wall_seconds_between(self, start: datetime, end: datetime) -> float | None:
        """None: this time stands still until :meth:`advance_to`, however long that takes."""
        return None

    def next_wakeup(self) -> datetime | None:
        """The earliest time a sleeper is waiting for, if any."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)  # cancelled sleepers
        return self._sleepers[0][0] if self._sleepers else None

    def advance_to(self, when: datetime) -> None:
        """Move time forward to ``when`` and wake everyone due by then."""
        if when < self._now:
            raise ValueError(f"when: {when.isoformat()} is before now ({self._now.isoformat()})")
        self._now = when
        while self._sleepers and self._sleepers[0][0] <= when:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
