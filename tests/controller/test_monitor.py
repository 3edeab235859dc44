from datetime import UTC, datetime, timedelta, timezone

from vpp.controller import Monitor
from vpp.controller.monitor import STUCK_SAMPLES, ReadingBatch, to_us
from vpp.device_adapters import TelemetryReceived
from vpp.domain import Telemetry

T0 = datetime(2026, 7, 15, 3, 0, tzinfo=UTC)


def sample(minute: int, power_kw: float, key: str = "s1/r1") -> TelemetryReceived:
    site, resource = key.split("/")
    ts = T0 + timedelta(minutes=minute)
    return TelemetryReceived(site, resource, Telemetry(ts=ts, power_kw=power_kw))


def test_monitor_assigns_samples_to_the_interval_they_close() -> None:
    monitor = Monitor(15)
    for minute, power in [(1, 10.0), (15, 20.0), (16, 100.0)]:
        monitor.ingest(sample(minute, power))
    assert monitor.mean_kw("s1/r1", T0) == 15.0  # (03:00, 03:15]
    assert monitor.mean_kw("s1/r1", T0 + timedelta(minutes=15)) == 100.0
    assert monitor.mean_kw("s1/r1", T0 + timedelta(minutes=30)) is None


def test_monitor_ignores_duplicate_and_out_of_order_samples() -> None:
    monitor = Monitor(15)
    monitor.ingest(sample(5, 10.0))
    monitor.ingest(sample(5, 99.0))
    monitor.ingest(sample(4, 99.0))
    assert monitor.mean_kw("s1/r1", T0) == 10.0
    assert monitor.out_of_order == 2


def test_monitor_reads_samples_stamped_in_any_offset_as_the_same_moments() -> None:
    """A gateway stamping in +08:00, -05:00 or UTC: the same intervals, the same boundary
    (a sample at an interval's end closes it), the same late and duplicate samples."""
    utc, stamped = Monitor(15), Monitor(15)
    zones = [timezone(timedelta(hours=8)), timezone(timedelta(hours=-5)), UTC]
    for i, (minute, power) in enumerate(
        [(15, 10.0), (15, 30.0), (16, 20.0), (14, 5.0), (30, 40.0)]
    ):
        utc.ingest(sample(minute, power))
        ts = (T0 + timedelta(minutes=minute)).astimezone(zones[i % 3])
        stamped.ingest(TelemetryReceived("s1", "r1", Telemetry(ts=ts, power_kw=power)))
    for monitor in (utc, stamped):
        assert monitor.mean_kw("s1/r1", T0) == 10.0
        assert monitor.mean_kw("s1/r1", T0 + timedelta(minutes=15)) == 30.0
        assert monitor.out_of_order == 2


def test_monitor_flags_a_meter_repeating_one_nonzero_value_as_stuck() -> None:
    monitor = Monitor(15)
    for minute in range(1, STUCK_SAMPLES + 1):
        monitor.ingest(sample(minute, 42.0))
    assert monitor.stuck_since("s1/r1") == T0 + timedelta(minutes=STUCK_SAMPLES)
    monitor.ingest(sample(STUCK_SAMPLES + 1, 41.0))
    assert monitor.stuck_since("s1/r1") is None


def test_monitor_never_calls_an_idle_zero_reading_stuck() -> None:
    monitor = Monitor(15)
    for minute in range(1, 3 * STUCK_SAMPLES):
        monitor.ingest(sample(minute, 0.0))
    assert monitor.stuck_since("s1/r1") is None


def test_monitor_prune_forgets_old_intervals_and_keeps_the_last_reading() -> None:
    monitor = Monitor(15)
    for minute in (5, 20, 35, 50):
        monitor.ingest(sample(minute, 10.0 + minute, "s1/r1"))
    monitor.ingest(sample(6, 1.0, "s2/r2"))
    assert monitor.prune(T0 + timedelta(minutes=30)) == 3
    assert monitor.mean_kw("s1/r1", T0) is None
    assert monitor.mean_kw("s1/r1", T0 + timedelta(minutes=15)) is None
    assert monitor.mean_kw("s1/r1", T0 + timedelta(minutes=30)) == 45.0
    assert monitor.mean_kw("s1/r1", T0 + timedelta(minutes=45)) == 60.0
    assert monitor.last_seen("s2/r2") == T0 + timedelta(minutes=6)
    monitor.ingest(sample(7, 2.0, "s2/r2"))  # a meter pruned to nothing still counts on
    assert monitor.mean_kw("s2/r2", T0) == 2.0


def test_monitor_keeps_a_buildings_last_indoor_temperature_with_its_time() -> None:
    monitor = Monitor(15)
    site, resource = "mall", "chiller"
    for minute, indoor_c in [(1, 24.5), (2, 25.25)]:
        ts = T0 + timedelta(minutes=minute)
        reading = Telemetry(ts=ts, power_kw=300.0, indoor_temperature_c=indoor_c)
        monitor.ingest(TelemetryReceived(site, resource, reading))
    assert monitor.last_indoor_temperature("mall/chiller") == (T0 + timedelta(minutes=2), 25.25)
    monitor.ingest(sample(3, 10.0, "mall/chiller"))  # a reading without one: none known now
    assert monitor.last_indoor_temperature("mall/chiller") is None
    assert monitor.last_indoor_temperature("nobody/here") is None


def test_monitor_merges_indoor_temperatures_from_workers_that_send_them_and_not() -> None:
    """A worker's batch carries each reading's indoor temperature; an older worker's batch
    without the column merges as readings without one."""
    with_column = ReadingBatch(
        "w1", 0, ["mall/chiller"], [to_us(T0 + timedelta(minutes=1))], [300.0], [None], [True]
    )
    with_column.indoor_temperature_c.append(25.5)
    without = ReadingBatch("w2", 0, ["mall/pump"], [to_us(T0)], [10.0], [None], [True])
    monitor = Monitor(15)
    monitor.merge([with_column, without])
    assert monitor.last_indoor_temperature("mall/chiller") == (T0 + timedelta(minutes=1), 25.5)
    assert monitor.last_indoor_temperature("mall/pump") is None


def test_monitor_keeps_an_ev_pools_last_energy_owed_and_merges_it_from_workers() -> None:
    """A pool's reading carries the energy its vehicles still need; a worker's batch carries
    it as a column, and a batch without the column merges as readings without it."""
    monitor = Monitor(15)
    reading = Telemetry(ts=T0 + timedelta(minutes=1), power_kw=80.0, energy_owed_kwh=212.5)
    monitor.ingest(TelemetryReceived("garage", "chargers", reading))
    assert monitor.last_energy_owed("garage/chargers") == (T0 + timedelta(minutes=1), 212.5)
    assert monitor.owed_keys == {"garage/chargers"}
    with_column = ReadingBatch(
        "w1", 0, ["garage/chargers"], [to_us(T0 + timedelta(minutes=2))], [90.0], [None], [True]
    )
    with_column.energy_owed_kwh.append(190.0)
    without = ReadingBatch("w2", 0, ["mall/pump"], [to_us(T0)], [10.0], [None], [True])
    monitor.merge([with_column, without])
    assert monitor.last_energy_owed("garage/chargers") == (T0 + timedelta(minutes=2), 190.0)
    assert monitor.last_energy_owed("mall/pump") is None
    monitor.ingest(sample(3, 10.0, "garage/chargers"))  # a reading without it: none known now
    assert monitor.last_energy_owed("garage/chargers") is None
