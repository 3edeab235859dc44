"""What the meters say: telemetry aggregated per resource and interval, and its health.

A telemetry sample's ``power_kw`` is the mean over the period ending at ``ts``, so it
belongs to the interval ``(start, end]`` that holds ``ts``. Stale or stuck telemetry is no
evidence of delivery: callers count such intervals as no response (DOMAIN.md, evcc).

Only readings the plausibility gate accepted are ingested; the gate's refusals are noted
per meter and interval of arrival (:meth:`Monitor.note_refused`) so settlement can say
which meters sent readings that could not be true, and never change a meter's state.

Telemetry may be taken in by several worker processes (a shared MQTT subscription splits it
among them, :mod:`vpp.telemetry_worker`); each decodes and gates its share and
sends what it accepted as a :class:`ReadingBatch`, which :meth:`Monitor.merge` ingests, so
one monitor holds the district's state whichever process heard a reading.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain

import msgspec

from vpp.device_adapters.base import TelemetryReceived
from vpp.domain import Refusal

#: Consecutive identical non-zero readings after which a meter counts as stuck.
STUCK_SAMPLES = 5

#: Readings closer to zero than this never count as stuck (an idle battery reads 0) [kW].
STUCK_MIN_KW = 0.5

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_UNIX = datetime(1970, 1, 1, tzinfo=UTC)


_MICROSECOND = timedelta(microseconds=1)


def to_us(ts: datetime) -> int:
    """An aware time as whole microseconds since 1970 (UTC), exactly."""
    return (ts - _UNIX) // _MICROSECOND


#: The last microsecond an aware datetime holds (9999-12-31, UTC) [us since 1970].
MAX_TS_US = (datetime(9999, 12, 31, tzinfo=UTC) - _UNIX) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    return _UNIX + timedelta(microseconds=us)


class ReadingBatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What one telemetry worker heard since its last batch, column by column.

    ``keys[i]`` (``site/resource``) read ``power_kw[i]`` at ``ts_us[i]`` (microseconds since
    1970, UTC); accepted by the worker's plausibility gate, in the order they arrived.
    ``refused`` holds ``(key, arrival time [us], reason)`` of what the gate refused.
    """

    worker_id: str
    seq: int
    keys: list[str] = msgspec.field(default_factory=list)
    ts_us: list[int] = msgspec.field(default_factory=list)
    power_kw: list[float] = msgspec.field(default_factory=list)
    soc: list[float | None] = msgspec.field(default_factory=list)
    available: list[bool] = msgspec.field(default_factory=list)
    refused: list[tuple[str, int, str]] = msgspec.field(default_factory=list)
    received: int = 0
    """Contract messages the worker took in for this batch (malformed ones included)."""
    malformed: dict[str, int] = msgspec.field(default_factory=dict)
    first_arrival_s: float = 0.0
    last_arrival_s: float = 0.0
    """Wall time (``time.time()``) of the batch's first and last message [s]."""
    indoor_temperature_c: list[float | None] = msgspec.field(default_factory=list)
    """A building's indoor temperature with each reading [°C], None for other kinds (empty
    from a worker that sends none)."""
    energy_owed_kwh: list[float | None] = msgspec.field(default_factory=list)
    """An EV pool's energy owed to its plugged-in vehicles with each reading [kWh], None for
    other kinds (empty from a worker that sends none)."""

    def __len__(self) -> int:
        return len(self.keys)

    def fault(self) -> str | None:
        """Why the batch cannot be merged (columns that do not line up, a time no clock
        holds, a reading no gate lets through); None when it can. A worker's gate has
        judged every reading, but a faulty or mismatched worker must not stop the merge."""
        n = len(self.keys)
        for name in ("ts_us", "power_kw", "soc", "available"):
            if len(getattr(self, name)) != n:
                return f"column {name} has {len(getattr(self, name))} rows for {n} keys"
        for name in ("indoor_temperature_c", "energy_owed_kwh"):
            if len(getattr(self, name)) not in (0, n):
                return f"column {name} has {len(getattr(self, name))} rows for {n} keys"
        if any(not 0 <= ts_us <= MAX_TS_US for ts_us in self.ts_us):
            return "a time outside 1970..9999"
        values = chain(self.power_kw, self.soc, self.indoor_temperature_c, self.energy_owed_kwh)
        if not all(v is None or math.isfinite(v) for v in values):
            return "a reading that is not a finite number"
        return None


@dataclass
class Merged:
    """What merged batches told the controller beyond the monitor's own state."""

    accepted: int = 0
    heard: dict[str, datetime] = field(default_factory=dict)
    """Per site, the latest reading accepted (what ``_heard_from`` notes)."""
    refused: Counter[str] = field(default_factory=Counter)
    """Per reason, as :attr:`PlausibilityGate.refused` counts them."""
    malformed: Counter[str] = field(default_factory=Counter)
    received: int = 0


@dataclass
class _Meter:
    sums_kw: dict[datetime, float] = field(default_factory=lambda: defaultdict(float))
    counts: dict[datetime, int] = field(default_factory=lambda: defaultdict(int))
    last_ts: datetime | None = None
    last_us: int | None = None  # last_ts as to_us: compared as a number
    last_power_kw: float | None = None
    last_soc: float | None = None
    last_indoor_c: float | None = None
    last_owed_kwh: float | None = None
    available: bool = True
    identical_run: int = 0
    stuck_since: datetime | None = None
    span: tuple[int, int, datetime] | None = None
    """The interval ``(start, end]`` of the latest sample [us since 1970], and its start
    (the next sample is most likely in it): aware times of two zones (a gateway's and UTC)
    compare slowly, numbers do not."""


class Monitor:
    """Telemetry per resource (``site/resource``), summed into intervals as it arrives."""

    def __init__(self, interval_min: int) -> None:
        self.interval = timedelta(minutes=interval_min)
        self._meters: dict[str, _Meter] = defaultdict(_Meter)
        self.samples = 0
        self.out_of_order = 0
        self._refused: dict[str, Counter[datetime]] = {}
        self.indoor_keys: set[str] = set()
        """Meters that have reported an indoor temperature (the buildings)."""
        self.owed_keys: set[str] = set()
        """Meters that have reported energy owed to their vehicles (the EV pools)."""

    def interval_start(self, ts: datetime) -> datetime:
        """Start of the interval ``(start, start + interval]`` holding ``ts``."""
        steps = (ts - _EPOCH - timedelta(microseconds=1)) // self.interval
        return _EPOCH + steps * self.interval

    def ingest(self, message: TelemetryReceived) -> None:
        sample = message.telemetry
        self._ingest(
            message.key,
            sample.ts,
            to_us(sample.ts),
            sample.power_kw,
            sample.soc,
            sample.available,
            sample.indoor_temperature_c,
            sample.energy_owed_kwh,
        )

    def _ingest(
        self,
        key: str,
        ts: datetime,
        ts_us: int,
        power_kw: float,
        soc: float | None,
        available: bool,
        indoor_c: float | None = None,
        owed_kwh: float | None = None,
    ) -> None:
        meter = self._meters[key]
        if meter.last_us is not None and ts_us <= meter.last_us:
            self.out_of_order += 1  # a duplicate or a late sample: keep the first word
            return
        self.samples += 1
        span = meter.span
        if span is not None and span[0] < ts_us <= span[1]:
            start = span[2]
        else:
            start = self.interval_start(ts)
            meter.span = (to_us(start), to_us(start + self.interval), start)
        meter.sums_kw[start] += power_kw
        meter.counts[start] += 1
        if power_kw == meter.last_power_kw and abs(power_kw) >= STUCK_MIN_KW:
            meter.identical_run += 1
            if meter.identical_run + 1 >= STUCK_SAMPLES and meter.stuck_since is None:
                meter.stuck_since = ts
        else:
            meter.identical_run = 0
            meter.stuck_since = None
        meter.last_ts = ts
        meter.last_us = ts_us
        meter.last_power_kw = power_kw
        meter.last_soc = soc
        meter.last_indoor_c = indoor_c
        if indoor_c is not None:
            self.indoor_keys.add(key)
        meter.last_owed_kwh = owed_kwh
        if owed_kwh is not None:
            self.owed_keys.add(key)
        meter.available = available

    def merge(self, batches: Sequence[ReadingBatch]) -> Merged:
        """Ingest the readings of workers' batches, each meter's in time order.

        Batches of several workers that arrived together are merged as one: a meter's
        readings are ingested by time whichever worker heard them, so the monitor ends as
        it would had one process heard them all (a reading older than what an earlier merge
        already held is late, as in :meth:`ingest`). Refusals of registered meters are
        noted at their arrival time.
        """
        merged = Merged()
        rows = [
            row
            for b in batches
            for row in zip(
                b.keys,
                b.ts_us,
                b.power_kw,
                b.soc,
                b.available,
                b.indoor_temperature_c or [None] * len(b.keys),
                b.energy_owed_kwh or [None] * len(b.keys),
                strict=True,
            )
        ]
        rows.sort(key=lambda row: (row[0], row[1]))  # each meter's readings by time
        latest: dict[str, int] = {}
        for key, ts_us, power_kw, soc, available, indoor_c, owed_kwh in rows:
            self._ingest(key, from_us(ts_us), ts_us, power_kw, soc, available, indoor_c, owed_kwh)
            latest[key] = ts_us
        merged.accepted = len(rows)
        for key, ts_us in latest.items():
            site_id = key.partition("/")[0]
            ts = from_us(ts_us)
            if merged.heard.get(site_id, ts) <= ts:
                merged.heard[site_id] = ts
        for batch in batches:
            merged.received += batch.received
            merged.malformed.update(batch.malformed)
            for key, at_us, reason in batch.refused:
                merged.refused[reason] += 1
                if reason != Refusal.UNKNOWN_RESOURCE:
                    self.note_refused(key, from_us(at_us))
        return merged

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

    def last_indoor_temperature(self, key: str) -> tuple[datetime, float] | None:
        """A building's last reported indoor temperature [°C] and when it was read."""
        meter = self._meters.get(key)
        if meter is None or meter.last_ts is None or meter.last_indoor_c is None:
            return None
        return meter.last_ts, meter.last_indoor_c

    def last_energy_owed(self, key: str) -> tuple[datetime, float] | None:
        """An EV pool's last reported energy owed to its vehicles [kWh] and when it was read."""
        meter = self._meters.get(key)
        if meter is None or meter.last_ts is None or meter.last_owed_kwh is None:
            return None
        return meter.last_ts, meter.last_owed_kwh

    def last_soc(self, key: str) -> float | None:
        meter = self._meters.get(key)
        return None if meter is None else meter.last_soc

    def stuck_since(self, key: str) -> datetime | None:
        meter = self._meters.get(key)
        return None if meter is None else meter.stuck_since

    def unavailable(self, key: str) -> bool:
        meter = self._meters.get(key)
        return meter is not None and not meter.available
