"""The simulator suite's rows against their goals, and older results files still print."""

from bench.runner import _simulator_speed, simulator_table
from bench.simulator_suite import SimulatorSpeed
from rich.console import Console


def row(n_devices: int, speedup: float, setup_s: float) -> SimulatorSpeed:
    return SimulatorSpeed(
        n_devices=n_devices,
        n_sites=n_devices // 2,
        simulated_s=speedup * 60.0,
        wall_s=60.0,
        speedup=speedup,
        setup_s=setup_s,
        peak_rss_mb=100.0,
        setup_cpu_s=setup_s / 2,
        cpu_s=30.0,
        load_1min=(2.0, 3.0),
    )


def test_a_city_meets_its_goal_only_at_both_speed_and_set_up():
    assert row(10_000, 150.0, 30.0).meets_goal() is True
    assert row(10_000, 149.9, 10.0).meets_goal() is False
    assert row(10_000, 400.0, 30.1).meets_goal() is False
    assert row(1_000, 1.0, 999.0).meets_goal() is None  # no goal at that size


def test_table_shows_goal_load_and_speed_per_cpu_second_and_reads_older_rows():
    older = {k: v for k, v in row(10_000, 75.0, 148.0).__dict__.items() if "cpu" not in k}
    del older["load_1min"]
    rows = [_simulator_speed(older), _simulator_speed({**row(10_000, 160.0, 20.0).__dict__})]
    console = Console(width=250, record=True)
    console.print(simulator_table(rows))
    text = console.export_text()
    assert ">= 150x, set-up <= 30 s" in text
    assert "NO" in text
    assert "yes" in text
    assert "2.0-3.0" in text
    assert "320.0" in text  # 9,600 simulated s per 30 CPU s
