"""The service's clock: wall time, or time sped up by a constant factor for demos.

A sped-up clock for real gateways maps wall time to simulated time from a fixed origin.
The origin is kept in the store, so a restarted service continues the same time line: the
time it was down passes for the controller as it would in the field.

With simulated devices the sped-up clock is paced instead (:class:`PacedClock`): it moves
a device tick at a time once the work of the last one is done, so a loaded machine slows
the demo down rather than changing its outcome.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from vpp.controller import SimulatedClock
from vpp.domain import VppError


class ClockStartError(VppError):
    """A clock start that cannot be: on the wall clock, or before the kept clock's time."""


class ScaledClock:
    """``now = origin + (wall - wall_origin) * scale``; ``scale`` 1 is the wall clock."""

    def __init__(self, origin: datetime, wall_origin: datetime, scale: float) -> None:
        if scale < 1.0:
            raise ValueError(f"scale: {scale} must be at least 1")
        self.origin = origin
        self.wall_origin = wall_origin
        self.scale = scale

    def now(self) -> datetime:
        return self.origin + (datetime.now(UTC) - self.wall_origin) * self.scale

    def wall_seconds(self, seconds: float) -> float:
        """How long ``seconds`` of this clock last on the wall [s]."""
        return seconds / self.scale

    def wall_time(self, ts: datetime) -> datetime:
        """When, on the wall, this clock read (or will read) ``ts``."""
        return self.wall_origin + (ts - self.origin) / self.scale

    def wall_seconds_between(self, start: datetime, end: datetime) -> float:
        """How long the span from ``start`` to ``end`` of this clock lasts on the wall [s]."""
        return (end - start).total_seconds() / self.scale

    async def sleep_until(self, when: datetime) -> None:
        await asyncio.sleep(max(0.0, (when - self.now()).total_seconds() / self.scale))

    def to_dict(self) -> dict[str, object]:
        return {
            "origin": self.origin.isoformat(),
            "wall_origin": self.wall_origin.isoformat(),
            "scale": self.scale,
        }

    @classmethod
    def resume(cls, stored: dict[str, object] | None, scale: float) -> ScaledClock:
        """The stored time line when its scale is unchanged; otherwise a new one starting
        where the stored one is now, so time never runs backwards across a restart."""
        wall = datetime.now(UTC)
        if stored is None:
            return cls(wall, wall, scale)
        previous = cls(
            datetime.fromisoformat(str(stored["origin"])),
            datetime.fromisoformat(str(stored["wall_origin"])),
            float(str(stored["scale"])),
        )
        if previous.scale == scale:
            return previous
        return cls(max(previous.now(), wall), wall, scale)


class PacedClock(SimulatedClock):
    """A sped-up clock for simulated devices that never outruns the work.

    The device fabric moves it one device tick at a time, no sooner than ``tick / scale``
    of wall time after the last tick and only once every message in flight has arrived
    and no solve runs. On an idle machine it runs ``scale`` times faster than the wall; on
    a busy one it slows down instead of letting the devices run ahead of the controller,
    so a run's outcome does not depend on the machine's speed. It stands still while the
    service is down: a restart resumes from the last time written to the store.
    """

    def __init__(self, now: datetime, scale: float) -> None:
        if scale < 1.0:
            raise ValueError(f"scale: {scale} must be at least 1")
        super().__init__(now)
        self.scale = scale

    def wall_seconds(self, seconds: float) -> float:
        """How long ``seconds`` of this clock last on the wall at least [s]."""
        return seconds / self.scale

    def wall_time(self, ts: datetime) -> datetime:
        """When, on the wall, this clock read ``ts`` (an estimate at its full pace)."""
        return datetime.now(UTC) - (self.now() - ts) / self.scale

    def to_dict(self) -> dict[str, object]:
        return {
            "origin": self.now().isoformat(),
            "wall_origin": datetime.now(UTC).isoformat(),
            "scale": self.scale,
            "paced": True,
        }


def resume_clock(
    stored: dict[str, object] | None,
    scale: float,
    *,
    paced: bool,
    start: datetime | None = None,
) -> ScaledClock | PacedClock:
    """The service's clock after a (re)start: paced from the stored time (or now), or the
    stored scaled time line; time never runs backwards across a restart. ``start`` moves a
    sped-up clock to that moment (a demo's peak hours): refused where the kept clock is
    already past it."""
    wall = datetime.now(UTC)
    if start is not None:
        if scale <= 1.0:
            raise ClockStartError("clock start: only a sped-up clock (time scale above 1) moves")
        if stored is not None:
            kept = resume_clock(stored, scale, paced=paced).now()
            if kept > start:
                raise ClockStartError(
                    f"clock start {start.isoformat()}: the service's clock already reads "
                    f"{kept.isoformat()}, and time never runs backwards"
                )
        return PacedClock(start, scale) if paced else ScaledClock(start, wall, scale)
    if stored is None:
        return PacedClock(wall, scale) if paced else ScaledClock(wall, wall, scale)
    if stored.get("paced"):
        paused_at = datetime.fromisoformat(str(stored["origin"]))
        return (
            PacedClock(paused_at, scale)
            if paced
            else ScaledClock(max(paused_at, wall), wall, scale)
        )
    if paced:
        previous = ScaledClock.resume(stored, float(str(stored["scale"])))
        return PacedClock(previous.now(), scale)
    return ScaledClock.resume(stored, scale)
