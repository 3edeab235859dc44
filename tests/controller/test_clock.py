import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from vpp.controller import SimulatedClock

T0 = datetime(2026, 7, 15, 3, 0, tzinfo=UTC)


async def test_simulated_clock_wakes_sleepers_in_time_order() -> None:
    clock = SimulatedClock(T0)
    woke: list[int] = []

    async def sleeper(minutes: int) -> None:
        await clock.sleep_until(T0 + timedelta(minutes=minutes))
        woke.append(minutes)

    tasks = [asyncio.create_task(sleeper(m)) for m in (10, 5, 20)]
    await asyncio.sleep(0)
    clock.advance_to(T0 + timedelta(minutes=12))
    await asyncio.sleep(0)
    assert woke == [5, 10]
    assert clock.next_wakeup() == T0 + timedelta(minutes=20)
    clock.advance_to(T0 + timedelta(minutes=20))
    await asyncio.gather(*tasks)
    assert woke == [5, 10, 20]


async def test_simulated_clock_sleep_into_the_past_returns_at_once() -> None:
    clock = SimulatedClock(T0)
    await asyncio.wait_for(clock.sleep_until(T0 - timedelta(hours=1)), timeout=1)


def test_simulated_clock_refuses_to_go_back_or_naive_start() -> None:
    clock = SimulatedClock(T0)
    with pytest.raises(ValueError, match="before now"):
        clock.advance_to(T0 - timedelta(seconds=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        SimulatedClock(datetime(2026, 7, 15))  # noqa: DTZ001
