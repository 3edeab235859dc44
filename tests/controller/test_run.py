"""An event run: who takes part (commanded in the window) and who was sent anything (to
release at the end), as distinct from resources commanded only for their recovery."""

from __future__ import annotations

from controller_fakes import BESS, FIRST, LINE, OTHER, planned_run, schedule

from builders import at


def _with_recovery_only_battery():
    """The line limited in the window; the battery commanded only after it (a recharge
    the plan staggers under the rebound cap); the press left alone."""
    return planned_run(
        schedules=(
            schedule(LINE, {t: 800.0 for t in range(FIRST, FIRST + 4)}, 1000.0),
            schedule(BESS, {FIRST + 4: 200.0, FIRST + 5: 200.0}, 0.0),
            schedule(OTHER, {}, 1000.0),
        )
    )


def test_a_resource_commanded_only_after_the_window_is_not_a_participant() -> None:
    run = _with_recovery_only_battery()
    assert run.participants() == [LINE]
    assert run.kept() == [LINE]
    assert run.recovering() == [LINE, BESS]


def test_a_dropped_resource_stays_a_participant_but_is_no_longer_kept() -> None:
    run = _with_recovery_only_battery()
    run.drop(at(11.5), {LINE: "telemetry stale"})
    assert run.participants() == [LINE]
    assert run.kept() == []


def test_sent_to_names_every_resource_a_command_went_to_in_or_after_the_window() -> None:
    run = _with_recovery_only_battery()
    run.sent[(LINE, FIRST)] = 800.0
    run.sent[(BESS, FIRST + 4)] = 200.0
    assert run.sent_to() == sorted([LINE, BESS])
