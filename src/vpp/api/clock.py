"""The service's clock: wall time, or wall time sped up by a constant factor for demos.

A sped-up clock maps wall time to simulated time from a fixed origin. The origin is kept
in the store, so a restarted service continues the same time line: the time it was down
passes for the controller as it would in the field.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime


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
