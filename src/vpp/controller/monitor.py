"""What the meters say: telemetry aggregated per resource and interval, and its health.

A telemetry sample's ``power_kw`` is the mean over the period ending at ``ts``, so it
belongs to the interval ``(start, end]`` that holds ``ts``. Stale or stuck telemetry is no
evidence of delivery: callers count such intervals as no response (DOMAIN.md, evcc).

Only readings the plausibility gate accepted are ingested; the gate's refusals are noted
per meter and interval of arrival (:meth:`Monitor.note_refused`) so settlement can say
which meters sent readings that could not be true, and never change a meter's state.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from vpp.device_adapters.base import TelemetryReceived

#: Consecutive identical non-zero readings after which a meter counts as stuck.
STUCK_SAMPLES = 5

#: Readings closer to zero than this never count as stuck (an idle battery reads 0) [kW].
STUCK_MIN_KW = 0.5

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class _Meter:
    sums_kw: dict[datetime, float] = field(default_factory=lambda: defaultdict(float))
    counts: dict[datetime, int] = field(default_factory=lambda: defaultdict(int))
    last_ts: datetime | None = None
    last_power_kw: float | None = None
    last_soc: float | None = None
    available: bool = True
    identical_run: int = 0
    stuck_since: datetime | None = None


class Monitor:
    """Telemetry per resource (``site/resource``), summed into intervals as it arrives."""

    def __init__(self, interval_min: int) -> None:
        self.interval = timedelta(minutes=interval_min)
        self._meters: dict[str, _Meter] = defaultdict(_Meter)
        self.samples = 0
        self.out_of_order = 0
        self._refused: dict[str, Counter[datetime]] = {}

    def interval_start(self, ts: datetime) -> datetime:
        """Start of the interval ``(start, start + interval]`` holding ``ts``."""
        steps = (ts - _EPOCH - timedelta(microseconds=1)) // self.interval
        return _EPOCH + steps * self.interval

    def ingest(self, message: TelemetryReceived) -> None:
        meter = self._meters[message.key]
        sample = message.telemetry
        if meter.last_ts is not None and sample.ts <= meter.last_ts:
            self.out_of_order += 1  # a duplicate or a late sample: keep the first word
            return
        self.samples += 1
        start = self.interval_start(sample.ts)
        meter.sums_kw[start] += sample.power_kw
        meter.counts[start] += 1
        if sample.power_kw == meter.last_power_kw and abs(sample.power_kw) >= STUCK_MIN_KW:
            meter.identical_run += 1
            if meter.identical_run + 1 >= STUCK_SAMPLES and meter.stuck_since is None:
                meter.stuck_since = sample.ts
        else:
            meter.identical_run = 0
            meter.stuck_since = None
        meter.last_ts = sample.ts
        meter.last_power_kw = sample.power_kw
        meter.last_soc = sample.soc
        meter.available = sample.available

    def note_refused(self, key: str, at: datetime) -> None:
        """A reading of a registered meter was refused on arrival at ``at`` (clock time)."""
        self._refused.setdefault(key, Counter())[self.interval_start(at)] += 1

    def refused_in(self, key: str, starts: Iterable[datetime]) -> int:
        """Readings refused on arrival in the intervals starting at ``starts``."""
        refused = self._refused.get(key)
        return 0 if refused is None else sum(refused[start] for start in starts)

    def prune(self, before: datetime) -> int:
        """Forget the interval sums of intervals starting before ``before`` (a service runs
        for months); each meter's last reading stays. Returns how many were dropped."""
        dropped = 0
        for meter in self._meters.values():
            old = [start for start in meter.counts if start < before]
            for start in old:
                del meter.counts[start]
                meter.sums_kw.pop(start, None)
            dropped += len(old)
        for refused in self._refused.values():
            for start in [start for start in refused if start < before]:
                del refused[start]
        return dropped

    def mean_kw(self, key: str, start: datetime) -> float | None:
        """Mean measured power of the interval starting at ``start``; None without samples."""
        meter = self._meters.get(key)
        if meter is None or not meter.counts.get(start):
            return None
        return meter.sums_kw[start] / meter.counts[start]

    def trusted_mean_kw(self, key: str, start: datetime) -> float | None:
        """The interval's mean, or None when the meter had stuck by the interval's end."""
        stuck = self.stuck_since(key)
        if stuck is not None and stuck <= start + self.interval:
            return None
        return self.mean_kw(key, start)

    def last_seen(self, key: str) -> datetime | None:
        meter = self._meters.get(key)
        return None if meter is None else meter.last_ts

    def last_power_kw(self, key: str) -> float | None:
        """The latest sample's power [kW]; None before the first."""
        meter = self._meters.get(key)
        return None if meter is None else meter.last_power_kw

    def last_soc(self, key: str) -> float | None:
        meter = self._meters.get(key)
        return None if meter is None else meter.last_soc

    def stuck_since(self, key: str) -> datetime | None:
        meter = self._meters.get(key)
        return None if meter is None else meter.stuck_since

    def unavailable(self, key: str) -> bool:
        meter = self._meters.get(key)
        return meter is not None and not meter.available
