"""The service's clock across restarts: a scaled time line continues, a paced one resumes
where it was stored, and time never runs backwards when the kind of clock changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vpp.api.clock import ClockStartError, PacedClock, ScaledClock, resume_clock

T0 = datetime(2026, 7, 15, 3, 0, tzinfo=UTC)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def test_paced_clock_resumes_where_it_was_stored_however_long_the_service_was_down() -> None:
    stored = PacedClock(T0, 240.0).to_dict() | {"wall_origin": LONG_AGO.isoformat()}
    clock = resume_clock(stored, 240.0, paced=True)
    assert isinstance(clock, PacedClock)
    assert clock.now() == T0
    assert clock.scale == 240.0


def test_paced_clock_moves_only_when_advanced_and_needs_no_wall_floor() -> None:
    clock = PacedClock(T0, 600.0)
    assert clock.wall_seconds(30.0) == pytest.approx(0.05)
    assert clock.wall_seconds_between(T0, T0 + timedelta(hours=1)) is None
    clock.advance_to(T0 + timedelta(seconds=30))
    assert clock.now() == T0 + timedelta(seconds=30)


def test_scaled_clock_continues_its_time_line_across_a_restart() -> None:
    wall = datetime.now(UTC)
    stored = ScaledClock(T0, wall - timedelta(seconds=10), 60.0).to_dict()
    clock = resume_clock(stored, 60.0, paced=False)
    assert isinstance(clock, ScaledClock)
    assert clock.now() >= T0 + timedelta(minutes=10)  # the 10 s it was down, 60 times
    assert clock.wall_seconds_between(T0, T0 + timedelta(minutes=1)) == pytest.approx(1.0)


def test_changing_the_kind_of_clock_never_runs_time_backwards() -> None:
    ahead = datetime.now(UTC) + timedelta(days=3)
    scaled = ScaledClock(ahead, datetime.now(UTC), 60.0).to_dict()
    paced = resume_clock(scaled, 60.0, paced=True)
    assert isinstance(paced, PacedClock)
    assert paced.now() >= ahead
    back = resume_clock(PacedClock(ahead, 60.0).to_dict(), 60.0, paced=False)
    assert isinstance(back, ScaledClock)
    assert back.now() >= ahead
    behind = resume_clock(PacedClock(T0, 1.0).to_dict(), 1.0, paced=False)
    assert behind.now() >= datetime.now(UTC) - timedelta(seconds=1)  # the wall clock again


def test_paced_clock_refuses_a_scale_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        PacedClock(T0, 0.5)


def test_a_clock_start_moves_a_fresh_sped_up_clock_to_that_moment() -> None:
    """--clock-start: a demo's event in the peak hours whatever the wall time."""
    start = datetime(2026, 7, 15, 2, 45, tzinfo=UTC)  # 10:45 in Shanghai
    paced = resume_clock(None, 60.0, paced=True, start=start)
    assert isinstance(paced, PacedClock)
    assert paced.now() == start
    scaled = resume_clock(None, 60.0, paced=False, start=start)
    assert start <= scaled.now() < start + timedelta(minutes=5)


def test_a_clock_start_never_sets_a_kept_clock_back_nor_moves_the_wall_clock() -> None:
    kept = PacedClock(T0, 60.0).to_dict()
    with pytest.raises(ClockStartError, match="never runs backwards"):
        resume_clock(kept, 60.0, paced=True, start=T0 - timedelta(minutes=1))
    later = resume_clock(kept, 60.0, paced=True, start=T0 + timedelta(hours=2))
    assert later.now() == T0 + timedelta(hours=2)  # forward is fine
    with pytest.raises(ClockStartError, match="sped-up"):
        resume_clock(None, 1.0, paced=False, start=T0)
