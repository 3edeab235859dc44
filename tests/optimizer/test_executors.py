"""Executors belong to whoever runs the dispatches: the optimiser keeps no pool, and the
answer is the same in the calling thread, on a process pool or through the settings."""

from __future__ import annotations

import multiprocessing

import pytest

from scaled import scaled_problem
from vpp.optimizer import DispatchSettings, InlineExecutor, dispatch, process_pool

SETTINGS = DispatchSettings(decompose_above_resources=30, group_resources=25)


def test_a_decomposed_dispatch_without_an_executor_starts_no_process_and_matches_a_pool():
    p = scaled_problem(62)
    here = dispatch(p, SETTINGS)
    assert here.solve.termination.startswith("decomposed")
    assert multiprocessing.active_children() == []  # no pool made behind the caller's back
    with process_pool(2) as pool:
        pooled = dispatch(p, SETTINGS, executor=pool)
        through_settings = dispatch(p, SETTINGS.model_copy(update={"executor": pool}))
    assert multiprocessing.active_children() == []  # closed by its owner on leaving
    for other in (pooled, through_settings):
        assert other.costs == here.costs
        assert [s.power_kw for s in other.schedules] == [s.power_kw for s in here.schedules]


def test_the_settings_executor_is_never_serialised():
    with process_pool(1) as pool:
        settings = SETTINGS.model_copy(update={"executor": pool})
        assert "executor" not in settings.model_dump()
        assert "executor" not in settings.model_dump_json()
        assert "executor" not in DispatchSettings.model_json_schema()["properties"]


def test_inline_executor_hands_errors_to_the_reader():
    future = InlineExecutor().submit(int, "not a number")
    with pytest.raises(ValueError, match="invalid literal"):
        future.result()
