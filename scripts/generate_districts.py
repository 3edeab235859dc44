"""Generate the demo and stressed district files (seeded, reproducible).

Usage::

    .venv/bin/python scripts/generate_districts.py            # write configs/districts/*.yaml
    .venv/bin/python scripts/generate_districts.py --check    # exit 1 if the files are stale

The YAML files are committed and are what users read; this script is how they were made.
Edit the specs below (counts, size catalogues, notice, durations) and re-run it rather than
editing the YAML by hand. It prints each district's hand estimate of deliverable response
(the rules in docs/demo-district.md) and each feeder's headroom.

Every name is invented. Sizes follow DOMAIN.md and the references cited in the YAML header.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vpp.config import validate
from vpp.domain import District

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "configs" / "districts"

HOURS = 24
Profile = list[float]

# ---------------------------------------------------------------------------------------------
# Shared daily shapes (hourly, local time). Loads are normalised to a maximum of 1.0.
# ---------------------------------------------------------------------------------------------

OUTDOOR_SUMMER_C: Profile = [
    28.2, 27.8, 27.5, 27.2, 27.0, 27.1, 27.6, 28.5, 29.6, 30.8, 31.9, 32.9,
    33.8, 34.6, 35.3, 35.8, 35.6, 34.9, 33.8, 32.4, 31.2, 30.3, 29.5, 28.8,
]  # fmt: skip
"""A clear mid-July weekday in Tianjin: 27 °C before dawn, 36 °C around 15:00 [°C]."""

HEATWAVE_OFFSET_C = 2.5
"""The stressed district's heatwave: the summer day shifted up [°C] (29.5-38.3 °C)."""

PV_SHAPE: Profile = [
    0.0, 0.0, 0.0, 0.0, 0.0, 0.02, 0.08, 0.2, 0.34, 0.48, 0.6, 0.68,
    0.71, 0.69, 0.62, 0.51, 0.38, 0.24, 0.11, 0.03, 0.0, 0.0, 0.0, 0.0,
]  # fmt: skip
"""Clear-sky summer PV output as a fraction of DC capacity, after a ~0.8 performance ratio."""

LOAD_SHAPES: dict[str, Profile] = {
    # Continuous process (air separation, chemicals, pharmaceuticals): flat, small lunch dip.
    "three_shift": [
        0.88, 0.87, 0.86, 0.86, 0.86, 0.87, 0.89, 0.92, 0.95, 0.98, 1.0, 0.99,
        0.96, 0.99, 1.0, 0.98, 0.95, 0.93, 0.92, 0.91, 0.9, 0.9, 0.89, 0.88,
    ],
    # Two shifts 08:00-24:00 (stamping, wire drawing, packaging).
    "two_shift": [
        0.35, 0.3, 0.28, 0.28, 0.28, 0.3, 0.4, 0.65, 0.92, 0.98, 1.0, 0.97,
        0.88, 0.97, 1.0, 0.98, 0.95, 0.9, 0.85, 0.88, 0.9, 0.88, 0.8, 0.55,
    ],
    # One day shift 08:00-17:30 with a lunch break (machining, precast concrete).
    "day_shift": [
        0.18, 0.17, 0.17, 0.17, 0.17, 0.18, 0.22, 0.45, 0.88, 0.97, 1.0, 0.98,
        0.84, 0.95, 1.0, 0.97, 0.9, 0.6, 0.3, 0.24, 0.22, 0.2, 0.19, 0.18,
    ],
    # Food processing with cold storage: refrigeration follows the afternoon heat.
    "cold_chain": [
        0.7, 0.68, 0.66, 0.65, 0.65, 0.66, 0.7, 0.78, 0.86, 0.92, 0.96, 0.98,
        0.99, 1.0, 1.0, 0.99, 0.96, 0.92, 0.88, 0.84, 0.8, 0.77, 0.74, 0.72,
    ],
    # Commercial buildings without their chillers (lighting, lifts, plug loads, kitchens).
    "office": [
        0.3, 0.28, 0.28, 0.28, 0.28, 0.3, 0.38, 0.6, 0.88, 0.97, 1.0, 0.98,
        0.93, 0.97, 1.0, 0.98, 0.93, 0.8, 0.6, 0.48, 0.42, 0.38, 0.34, 0.32,
    ],
    "mall": [
        0.25, 0.22, 0.22, 0.22, 0.22, 0.22, 0.25, 0.35, 0.55, 0.8, 0.95, 1.0,
        1.0, 0.98, 0.97, 0.97, 0.98, 0.99, 1.0, 1.0, 0.95, 0.75, 0.45, 0.3,
    ],
    "hotel": [
        0.55, 0.5, 0.48, 0.47, 0.47, 0.5, 0.62, 0.78, 0.82, 0.8, 0.82, 0.88,
        0.9, 0.85, 0.82, 0.82, 0.85, 0.92, 1.0, 1.0, 0.95, 0.86, 0.72, 0.62,
    ],
}  # fmt: skip

BACKGROUND_SHAPES: dict[str, Profile] = {
    # Industry-heavy feeder: the midday peak the district is named for.
    "industrial_mix": [
        0.7, 0.67, 0.65, 0.64, 0.64, 0.66, 0.72, 0.82, 0.92, 0.96, 0.98, 1.0,
        0.995, 0.975, 0.98, 0.97, 0.95, 0.9, 0.87, 0.88, 0.87, 0.84, 0.79, 0.74,
    ],
    # Commercial and residential feeder: air conditioning keeps it high all afternoon.
    "afternoon_mix": [
        0.6, 0.55, 0.52, 0.5, 0.5, 0.52, 0.6, 0.72, 0.83, 0.9, 0.95, 0.98,
        0.99, 1.0, 1.0, 0.99, 0.96, 0.93, 0.94, 0.96, 0.95, 0.88, 0.78, 0.68,
    ],
}  # fmt: skip

# ---------------------------------------------------------------------------------------------
# A small YAML writer: block style, flow style for short lists and maps, named anchors for
# values that repeat, and comments. PyYAML's dumper names anchors &id001 and drops comments.
# ---------------------------------------------------------------------------------------------


class Flow(list[Any]):
    """A list written inline: ``[a, b, c]`` (wrapped at the line width)."""


class FlowMap(dict[str, Any]):
    """A mapping written inline: ``{a: 1, b: 2}``."""


@dataclass(frozen=True)
class Shared:
    """A value that may repeat: written once with ``&name``, then as ``*name``."""

    name: str
    value: Any


@dataclass(frozen=True)
class Comment:
    """A comment line in a sequence (not an item)."""

    text: str


_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_YAML_WORDS = {"yes", "no", "on", "off", "true", "false", "null", "y", "n"}
LINE_WIDTH = 96


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(round(value, 6))
    if isinstance(value, str):
        if _PLAIN.match(value) and value.lower() not in _YAML_WORDS:
            return value
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write {type(value).__name__} as a YAML scalar")


def _inline(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return _scalar(value)


class YamlWriter:
    """Writes a tree of dicts, lists, :class:`Flow`, :class:`FlowMap` and :class:`Shared`."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.uses: dict[str, int] = {}
        self.values: dict[str, Any] = {}
        self._count(root)
        self.written: set[str] = set()

    def _count(self, node: Any) -> None:
        if isinstance(node, Shared):
            if node.name in self.values and self.values[node.name] != node.value:
                raise ValueError(f"anchor {node.name!r} names two different values")
            self.values[node.name] = node.value
            self.uses[node.name] = self.uses.get(node.name, 0) + 1
            self._count(node.value)
        elif isinstance(node, Mapping):
            for value in node.values():
                self._count(value)
        elif isinstance(node, list):
            for value in node:
                self._count(value)

    def render(self, header: str) -> str:
        lines = [f"# {line}".rstrip() for line in header.strip("\n").splitlines()]
        lines.append("")
        lines += self._mapping(self.root, 0)
        return "\n".join(lines) + "\n"

    def _anchor(self, node: Shared) -> tuple[str, bool]:
        """The tag to write before the value, and whether the value itself follows."""
        if self.uses[node.name] < 2:
            return "", True
        if node.name in self.written:
            return f"*{node.name}", False
        self.written.add(node.name)
        return f"&{node.name}", True

    def _mapping(self, node: Mapping[str, Any], indent: int) -> list[str]:
        pad = " " * indent
        lines: list[str] = []
        for key, value in node.items():
            lines += self._entry(f"{pad}{key}:", value, indent)
        return lines

    def _entry(self, lead: str, value: Any, indent: int) -> list[str]:
        """``lead`` is ``key:`` (or ``-``); the value goes after it or on the lines below."""
        if isinstance(value, Shared):
            tag, follows = self._anchor(value)
            if not follows:
                return [f"{lead} {tag}"]
            lead = f"{lead} {tag}" if tag else lead
            value = value.value
        if isinstance(value, Flow | FlowMap) or not isinstance(value, Mapping | list):
            return self._wrapped(lead, _inline(value), indent)
        if not value:
            return [f"{lead} {'{}' if isinstance(value, Mapping) else '[]'}"]
        if isinstance(value, Mapping):
            return [lead, *self._mapping(value, indent + 2)]
        return [lead, *self._sequence(value, indent + 2)]

    def _sequence(self, items: list[Any], indent: int) -> list[str]:
        pad = " " * indent
        lines: list[str] = []
        for item in items:
            if isinstance(item, Comment):
                lines.append(f"{pad}# {item.text}".rstrip())
            elif isinstance(item, Mapping) and not isinstance(item, FlowMap) and item:
                body = self._mapping(item, indent + 2)
                lines.append(f"{pad}- {body[0].lstrip()}")
                lines += body[1:]
            else:
                lines += self._entry(f"{pad}-", item, indent)
        return lines

    @staticmethod
    def _wrapped(lead: str, text: str, indent: int) -> list[str]:
        line = f"{lead} {text}"
        if len(line) <= LINE_WIDTH or not text.startswith("["):
            return [line]
        # Break a long flow sequence after commas; continuation lines are indented deeper.
        cont = " " * (indent + 4)
        lines: list[str] = []
        current = f"{lead} "
        for part in _split_flow(text):
            if len(current) + len(part) > LINE_WIDTH and current.strip():
                lines.append(current.rstrip())
                current = cont
            current += part
        lines.append(current.rstrip())
        return lines


def _split_flow(text: str) -> Iterator[str]:
    """Split ``[a, {b: 1, c: 2}, d]`` into pieces ending after top-level commas."""
    depth = 0
    start = 0
    for i, char in enumerate(text):
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 1:
            yield text[start : i + 2]
            start = i + 2
    yield text[start:]


# ---------------------------------------------------------------------------------------------
# Specifications of the two districts
# ---------------------------------------------------------------------------------------------


DAY_AHEAD_MIN = 960
"""A "day-ahead" notice [min]: the invitation arrives by 19:00 the evening before an 11:00
event (16 h), so a day-ahead event issued that evening can use the load."""


@dataclass(frozen=True)
class Industry:
    """An industrial archetype: what the plant makes, its shift shape and size catalogue."""

    key: str
    label: str
    process: str
    """What the curtailment steps switch off."""
    shape: str
    sizes_kw: tuple[int, ...]
    """Catalogue of site maximum loads [kW]."""
    notice_min: tuple[int, ...]
    """Notice the plant may ask for [min]."""


INDUSTRIES: tuple[Industry, ...] = (
    Industry(
        "airsep",
        "Industrial Gases",
        "air compressors and liquefiers",
        "three_shift",
        (3200, 4000, 5000),
        (30, 60),
    ),
    Industry(
        "wire",
        "Steel Wire Products",
        "drawing machines and annealing furnaces",
        "two_shift",
        (1600, 2500, 3200),
        (30, 60, 120),
    ),
    Industry(
        "stamping",
        "Auto Parts Stamping",
        "press lines and welding cells",
        "two_shift",
        (1200, 1600, 2500),
        (60, 120, DAY_AHEAD_MIN),
    ),
    Industry(
        "battery-pack",
        "New Energy Battery Packs",
        "formation and ageing racks",
        "two_shift",
        (1600, 2500),
        (120, DAY_AHEAD_MIN),
    ),
    Industry(
        "electronics",
        "Electronics Assembly",
        "reflow ovens and test benches",
        "two_shift",
        (800, 1200, 1600),
        (60, 240),
    ),
    Industry(
        "moulding",
        "Injection Moulding",
        "moulding machines and dryers",
        "three_shift",
        (600, 800, 1200),
        (15, 30, 60),
    ),
    Industry(
        "food",
        "Food Processing",
        "freezer tunnels and cold-room compressors",
        "cold_chain",
        (600, 800, 1200),
        (30, 60),
    ),
    Industry(
        "pharma",
        "Pharmaceuticals",
        "dryers, mills and utility chillers",
        "three_shift",
        (1200, 1600, 2500),
        (DAY_AHEAD_MIN,),
    ),
    Industry(
        "machinery",
        "Machinery Works",
        "machine tools and heat treatment",
        "day_shift",
        (400, 600, 800),
        (15, 30, 60),
    ),
    Industry(
        "precast",
        "Precast Concrete",
        "batching plant, mixers and curing boilers",
        "day_shift",
        (1200, 1600),
        (60, 120),
    ),
    Industry(
        "coatings",
        "Coatings and Resins",
        "dispersers, mills and tank agitators",
        "three_shift",
        (2500, 3200),
        (240, DAY_AHEAD_MIN),
    ),
    Industry(
        "packaging",
        "Paper Packaging",
        "corrugators and printing lines",
        "two_shift",
        (800, 1200, 1600),
        (30, 60, 120),
    ),
)

BRANDS = (
    "Hengtai", "Ruixiang", "Jinhai", "Huatong", "Xinyuan", "Dingsheng", "Yongkang", "Haoyu",
    "Beiyang", "Tongda", "Jiacheng", "Lianhe", "Shengda", "Baoli", "Fuxin", "Guangyao",
    "Hongji", "Jiuzhou", "Kaitai", "Longxin", "Minghua", "Qianfeng", "Runze", "Taihe",
    "Weiye", "Xiangyun", "Yida", "Zhenhua", "Anxin", "Boyuan", "Chengxin", "Dongfang",
    "Fengrun", "Haixing", "Jintai", "Liyuan", "Mingde", "Nuoxin", "Pengcheng", "Qihang",
    "Ruifeng", "Shunda", "Tianyi", "Wanrong", "Xinhe", "Yaoguang", "Zhiyuan", "Huiyang",
)  # fmt: skip

COMMERCIAL_KINDS = (
    # (label, non-HVAC shape, building load sizes [kW], chiller rated powers [kW])
    ("Office Tower", "office", (500, 800, 1200), (400, 600, 800)),
    ("Shopping Mall", "mall", (800, 1200, 1600), (600, 800, 1000)),
    ("Business Hotel", "hotel", (400, 600), (300, 400, 500)),
    ("Science Park Office Campus", "office", (600, 800), (400, 500, 600)),
)


@dataclass(frozen=True)
class FeederSpec:
    feeder_id: str
    name: str
    background: str
    weight: float
    headroom: float | None
    """Capacity above the feeder's own maximum [fraction]; None: the tight feeder."""


@dataclass(frozen=True)
class DistrictSpec:
    """Everything that distinguishes one generated district from another."""

    file: str
    district_id: str
    name: str
    summary: str
    seed: int
    peak_load_kw: float
    outdoor_offset_c: float
    feeders: tuple[FeederSpec, ...]
    industrial: int
    industrial_battery_kw: tuple[int, ...]
    industrial_pv_kw: tuple[int, ...]
    step_fraction: tuple[float, float]
    """Range of an industrial site's total curtailment [fraction of its max load]."""
    max_duration_min: tuple[int, ...]
    """Longest curtailment of the loads that can hold a 2-h event [min]."""
    long_notice: bool
    """Every plant asks for the longest notice of its industry (intraday events find less)."""
    short_or_off_peak: int
    """Industrial loads that cannot hold a 2-h peak event (short duration or not available)."""
    commercial: int
    public_stations: tuple[tuple[int, int], ...]
    """(chargers, max_kw) per public charging station."""
    station_battery_kw: tuple[int, ...]
    lunch_session_share: float
    """Share of public chargers with a long session across the midday peak."""
    residential: tuple[int, ...]
    """Chargers per residential community."""
    storage: tuple[tuple[int, float, float], ...]
    """(power kW, duration h, initial SoC) per storage-operator battery."""
    rotation: int
    history_days: int = 60
    noise_pct: float = 4.0
    aim: tuple[float, float] = (1.25, 1.5)
    """Accepted range of hand-estimated deliverable / target."""
    storage_reserve: float | None = None
    """State of charge day-ahead plans keep in batteries for later calls (None: default)."""


DEMO = DistrictSpec(
    file="demo.yaml",
    district_id="beichen-shuangjie",
    name="Beichen Shuangjie Industrial Park (demo)",
    summary=(
        "An invented industrial park in Beichen, Tianjin, on a summer weekday: about 40 "
        "enterprises of every sector pool curtailable process loads, chillers, public and "
        "residential chargers, batteries and rooftop PV. Sized so the 5 % target is "
        "deliverable with margin: about 130 % of it by the hand estimate, about 140 % by "
        "`vpp capability` (which also pre-charges batteries and pre-cools buildings)."
    ),
    seed=20260715,
    peak_load_kw=180_000,
    # Half the batteries' charge stays for the day's intraday calls: emptied in the
    # day-ahead window, they would recharge into the afternoon peak (README, rebound).
    storage_reserve=0.5,
    outdoor_offset_c=0.0,
    feeders=(
        FeederSpec(
            "f1-shuangjie-north", "Shuangjie 35 kV line 1 (north)", "industrial_mix", 0.26, 0.12
        ),
        FeederSpec(
            "f2-shuangjie-south", "Shuangjie 35 kV line 2 (south)", "industrial_mix", 0.24, 0.10
        ),
        FeederSpec(
            "f3-yixing-bu",
            "Yixingbu 35 kV line (commercial and residential)",
            "afternoon_mix",
            0.18,
            None,
        ),
        FeederSpec("f4-xiaodian", "Xiaodian 35 kV line", "industrial_mix", 0.18, 0.14),
        FeederSpec("f5-tianmu", "Tianmu 35 kV line (logistics)", "industrial_mix", 0.14, 0.09),
    ),
    industrial=20,
    industrial_battery_kw=(500,),
    industrial_pv_kw=(400, 600, 1000, 1000, 1500, 2000),
    step_fraction=(0.08, 0.18),
    max_duration_min=(120, 180, 240),
    long_notice=False,
    short_or_off_peak=3,
    commercial=8,
    public_stations=((20, 120), (30, 120), (16, 60), (24, 120), (12, 60), (36, 120)),
    station_battery_kw=(250,),
    lunch_session_share=0.5,
    residential=(60, 90, 120, 80, 40),
    storage=((2000, 2.0, 0.9), (1500, 2.0, 0.85), (1000, 2.0, 0.9)),
    rotation=8,
)

STRESSED = DistrictSpec(
    file="stressed.yaml",
    district_id="xiqing-dasi-heatwave",
    name="Xiqing Dasi Manufacturing Park in a heatwave (stress case)",
    summary=(
        "An invented, thinner manufacturing park in Xiqing, Tianjin, on a heatwave weekday "
        "(outdoor temperature 2.5 °C above the demo's): a peak high for its resources, "
        "smaller curtailment steps with long notice, several loads that cannot hold a 2-h "
        "event, one small battery and fewer midday charging sessions. It must NOT reach the "
        "5 % target: about 65 % of it by the hand estimate, about 75 % by `vpp capability`. "
        "Use it to exercise shortfall reporting."
    ),
    seed=20260716,
    peak_load_kw=150_000,
    outdoor_offset_c=HEATWAVE_OFFSET_C,
    feeders=(
        FeederSpec("f1-dasi-east", "Dasi 35 kV line 1 (east)", "industrial_mix", 0.36, 0.10),
        FeederSpec("f2-dasi-west", "Dasi 35 kV line 2 (west)", "industrial_mix", 0.34, 0.08),
        FeederSpec(
            "f3-jingwu",
            "Jingwu 35 kV line (commercial and residential)",
            "afternoon_mix",
            0.30,
            None,
        ),
    ),
    industrial=18,
    industrial_battery_kw=(500,),
    industrial_pv_kw=(400, 1000),
    step_fraction=(0.05, 0.12),
    max_duration_min=(120, 150),
    long_notice=True,
    short_or_off_peak=5,
    commercial=5,
    public_stations=((16, 120), (12, 60), (20, 120), (24, 120)),
    station_battery_kw=(),
    lunch_session_share=0.25,
    residential=(60, 80, 40, 100),
    storage=((1000, 2.0, 0.6),),
    rotation=5,
    aim=(0.55, 0.85),
)

# ---------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------

ALL_DAY = "00:00-24:00"


def _round_to(value: float, step: float) -> float:
    return float(round(value / step) * step)


def _hhmm(minute: int) -> str:
    minute %= 1440
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _profile(shape: Profile, scale: float, step: float = 1.0) -> Flow:
    return Flow(_round_to(v * scale, step) for v in shape)


def _shape_anchor(shape: str, size_kw: float) -> str:
    return f"{shape}_{int(size_kw)}kw"


@dataclass
class Builder:
    """Assembles one district from its spec with one seeded random stream."""

    spec: DistrictSpec
    rng: np.random.Generator = field(init=False)
    enterprises: list[dict[str, Any]] = field(default_factory=list)
    brands: list[str] = field(default_factory=list)
    outdoor: Shared = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.spec.seed)
        self.brands = list(BRANDS)
        self.rng.shuffle(self.brands)
        temps = [round(t + self.spec.outdoor_offset_c, 1) for t in OUTDOOR_SUMMER_C]
        anchor = "outdoor_heatwave_c" if self.spec.outdoor_offset_c else "outdoor_summer_c"
        self.outdoor = Shared(anchor, Flow(temps))

    # -- helpers -----------------------------------------------------------------------------

    def pick(self, options: Sequence[Any]) -> Any:
        return options[int(self.rng.integers(len(options)))]

    def uniform(self, low: float, high: float, step: float) -> float:
        return _round_to(float(self.rng.uniform(low, high)), step)

    def brand(self) -> str:
        return self.brands.pop()

    def feeder_for(self, index: int) -> str:
        return self.spec.feeders[index % len(self.spec.feeders)].feeder_id

    def pv(self, capacity_kw: int) -> dict[str, Any]:
        return {
            "resource_id": "rooftop-pv",
            "kind": "pv",
            "capacity_kw": capacity_kw,
            "generation_kw": Shared(f"pv_{capacity_kw}kw", _profile(PV_SHAPE, capacity_kw, 1.0)),
        }

    def battery(
        self, power_kw: float, hours: float, soc_initial: float, **extra: Any
    ) -> dict[str, Any]:
        return {
            "resource_id": extra.pop("resource_id", "bess"),
            "kind": "battery",
            "name": f"{power_kw / 1000:g} MW / {power_kw * hours / 1000:g} MWh LFP storage",
            "capacity_kwh": power_kw * hours,
            "max_charge_kw": power_kw,
            "max_discharge_kw": power_kw,
            "charge_efficiency": 0.95,
            "discharge_efficiency": 0.95,
            "soc_min": 0.1,
            "soc_max": 0.9,
            "soc_initial": soc_initial,
            "soc_final_min": min(0.5, soc_initial),
            "degradation_cny_per_kwh": extra.pop("degradation", 0.06),
            "price_cny_per_kwh": extra.pop("price", 0.4),
        }

    # -- sectors -----------------------------------------------------------------------------

    def industrial(self) -> list[dict[str, Any]]:
        spec = self.spec
        items: list[dict[str, Any]] = []
        order = [INDUSTRIES[i % len(INDUSTRIES)] for i in range(spec.industrial)]
        weak = set(self.rng.choice(spec.industrial, size=spec.short_or_off_peak, replace=False))
        batteries = list(spec.industrial_battery_kw)
        pvs = list(spec.industrial_pv_kw)
        for i, industry in enumerate(order):
            brand = self.brand()
            ent_id = f"{brand.lower()}-{industry.key}"
            size = float(self.pick(industry.sizes_kw))
            n_steps = int(self.rng.choice([1, 2, 3], p=[0.3, 0.4, 0.3]))
            total = size * float(self.rng.uniform(*spec.step_fraction))
            parts = self.rng.dirichlet(np.full(n_steps, 4.0)) * total
            price = self.uniform(0.8, 1.4, 0.05)
            steps: list[FlowMap] = []
            for part in parts:
                steps.append(
                    FlowMap(power_kw=max(_round_to(part, 10), 10.0), price_cny_per_kwh=price)
                )
                price = min(3.0, _round_to(price + float(self.rng.uniform(0.3, 0.8)), 0.05))
            availability = Flow(["08:00-18:00"] if industry.shape == "day_shift" else [ALL_DAY])
            duration = int(self.pick(spec.max_duration_min))
            if i in weak:
                if self.rng.random() < 0.5:
                    duration = int(self.pick((60, 90)))
                else:  # the peak hours are this plant's critical batch
                    availability = Flow(["00:00-11:00", "13:00-24:00"])
            load: dict[str, Any] = {
                "resource_id": "process",
                "kind": "curtailable_load",
                "name": industry.process,
                "availability": availability,
                "typical_load_kw": Shared(
                    _shape_anchor(industry.shape, size),
                    _profile(LOAD_SHAPES[industry.shape], size, 5.0),
                ),
                "steps": steps,
                "min_notice_min": max(industry.notice_min)
                if spec.long_notice
                else int(self.pick(industry.notice_min)),
                "max_duration_min": duration,
                "max_events_per_day": int(self.pick((1, 2, 2))),
                "min_rest_min": int(self.pick((60, 120, 240))),
                "rebound_fraction": self.uniform(0.2, 0.6, 0.05),
                "rebound_duration_min": int(self.pick((60, 90, 120, 180))),
            }
            resources: list[dict[str, Any]] = [load]
            if batteries and i % 4 == 1:
                resources.append(self.battery(batteries.pop(0), 2.0, 0.6, price=0.5))
            if pvs and i % 3 == 0:
                resources.append(self.pv(pvs.pop(0)))
            items.append(
                {
                    "enterprise_id": ent_id,
                    "name": f"Tianjin {brand} {industry.label} Co., Ltd.",
                    "sector": "industrial",
                    "feeder_id": self.feeder_for(i),
                    "sites": [
                        {
                            "site_id": f"{ent_id}-plant",
                            "name": f"{brand} plant",
                            "resources": resources,
                        }
                    ],
                }
            )
        return items

    def commercial(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for i in range(self.spec.commercial):
            label, shape, sizes, chillers = COMMERCIAL_KINDS[i % len(COMMERCIAL_KINDS)]
            brand = self.brand()
            ent_id = f"{brand.lower()}-{label.split()[-1].lower()}"
            size = float(self.pick(sizes))
            rated = float(self.pick(chillers))
            cop = self.uniform(3.0, 4.0, 0.1)
            setpoint = float(self.pick((24.0, 24.5, 25.0)))
            # Size R so the baseline at the hottest hour needs ~85 % of rated power, and C so
            # the building's time constant R*C is 2-4 h (light commercial construction).
            hottest = max(OUTDOOR_SUMMER_C) + self.spec.outdoor_offset_c
            resistance = (hottest - setpoint) / (0.85 * rated * cop)
            tau_h = self.uniform(2.0, 4.0, 0.5)
            hvac: dict[str, Any] = {
                "resource_id": "chillers",
                "kind": "hvac_load",
                "name": f"chiller plant, {rated:g} kW electric",
                "availability": Flow(["08:00-20:00"]),
                "rated_power_kw": rated,
                "cop": cop,
                "thermal_resistance_c_per_kw": float(f"{resistance:.4g}"),
                "thermal_capacitance_kwh_per_c": _round_to(tau_h / resistance, 1.0),
                "comfort_min_c": setpoint - 1.0,
                "comfort_max_c": setpoint + 2.0,
                "setpoint_c": setpoint,
                "outdoor_temperature_c": self.outdoor,
                "price_cny_per_kwh": self.uniform(0.6, 1.2, 0.05),
            }
            step_kw = _round_to(size * float(self.rng.uniform(0.05, 0.09)), 10)
            lighting: dict[str, Any] = {
                "resource_id": "lighting",
                "kind": "curtailable_load",
                "name": "lighting, escalators, fountains and display screens",
                "availability": Flow(["09:00-21:00"]),
                "typical_load_kw": Shared(
                    _shape_anchor(shape, size), _profile(LOAD_SHAPES[shape], size, 5.0)
                ),
                "steps": [
                    FlowMap(power_kw=step_kw, price_cny_per_kwh=self.uniform(0.8, 1.5, 0.05))
                ],
                "min_notice_min": int(self.pick((30, 60))),
                "max_duration_min": int(self.pick((120, 180))),
                "max_events_per_day": 1,
                "min_rest_min": 60,
                "rebound_fraction": 0.2,
                "rebound_duration_min": 60,
            }
            resources = [hvac, lighting]
            if i % 3 == 0:
                resources.append(self.pv(int(self.pick((200, 400)))))
            items.append(
                {
                    "enterprise_id": ent_id,
                    "name": f"{brand} {label}",
                    "sector": "commercial",
                    "feeder_id": self.tight_feeder() if i % 2 == 0 else self.feeder_for(i + 1),
                    "sites": [
                        {
                            "site_id": f"{ent_id}-bldg",
                            "name": f"{brand} {label}",
                            "resources": resources,
                        }
                    ],
                }
            )
        return items

    def tight_feeder(self) -> str:
        for feeder in self.spec.feeders:
            if feeder.headroom is None:
                return feeder.feeder_id
        return self.spec.feeders[0].feeder_id

    def public_stations(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        batteries = list(self.spec.station_battery_kw)
        for i, (count, max_kw) in enumerate(self.spec.public_stations):
            brand = self.brand()
            ent_id = f"{brand.lower()}-charging"
            min_kw = 10.0 if max_kw >= 100 else 5.0
            chargers = Shared(
                f"dc_{count}x{max_kw}kw",
                [
                    FlowMap(charger_id=f"dc{k + 1:02d}", max_kw=max_kw, min_kw=min_kw)
                    for k in range(count)
                ],
            )
            sessions: list[FlowMap] = []
            for k in range(count):
                sessions += self.public_sessions(f"dc{k + 1:02d}", max_kw)
            pool = {
                "resource_id": "chargers",
                "kind": "ev_charger_pool",
                "name": f"{count} DC chargers of {max_kw} kW",
                "chargers": chargers,
                "sessions": sessions,
                "price_cny_per_kwh": self.uniform(0.5, 1.0, 0.05),
            }
            resources: list[dict[str, Any]] = [pool]
            if batteries and i % 2 == 0:  # a "PV-storage-charging" station (光储充)
                resources.append(self.battery(batteries.pop(0), 2.0, 0.6, price=0.45))
                resources.append(self.pv(200))
            items.append(
                {
                    "enterprise_id": ent_id,
                    "name": f"{brand} Public Charging Station",
                    "sector": "public_charging",
                    "feeder_id": self.feeder_for(i + 2),
                    "sites": [
                        {
                            "site_id": f"{ent_id}-station",
                            "name": f"{brand} charging hub",
                            "resources": resources,
                        }
                    ],
                }
            )
        return items

    def public_sessions(self, charger_id: str, max_kw: float) -> list[FlowMap]:
        """A day of taxi, ride-hailing and fleet sessions on one DC charger (5-min grid)."""
        rng = self.rng
        spans: list[tuple[int, int, float]] = []  # (arrival, departure, energy) [min, min, kWh]
        if rng.random() < self.spec.lunch_session_share:
            # Driver's lunch and nap, or a fleet van parked over midday: long and flexible.
            arrive = int(rng.integers(10 * 12 + 9, 12 * 12 + 9)) * 5  # 10:45-12:40
            dwell = int(rng.integers(24, 42)) * 5  # 2:00-3:25
            energy = _round_to(min(0.8 * max_kw * dwell / 60, float(rng.uniform(40, 70))), 1)
            spans.append((arrive, arrive + dwell, energy))
        overnight = rng.random() < 0.3
        t = int(rng.integers(6 * 12, 8 * 12)) * 5
        if overnight:
            t = max(t, 7 * 60)
        end_of_day = 22 * 60 + 30
        while t < end_of_day:
            dwell = int(rng.integers(6, 16)) * 5  # 30-75 min: a quick top-up
            energy = _round_to(max_kw * dwell / 60 * float(rng.uniform(0.35, 0.75)), 1)
            energy = min(energy, 70.0)
            start, stop = t, t + dwell
            if stop > end_of_day:
                break
            clash = next((s for s in spans if start < s[1] + 5 and s[0] < stop + 5), None)
            if clash is not None:
                t = clash[1] + int(rng.integers(2, 8)) * 5
                continue
            spans.append((start, stop, energy))
            gap = int(rng.integers(2, 10 if 10 * 60 <= stop <= 14 * 60 else 30)) * 5
            t = stop + gap
        if overnight:  # a taxi charging overnight, leaving before the first session
            arrive = int(rng.integers(22 * 12 + 9, 23 * 12 + 6)) * 5  # 22:45-23:30
            first = min((s[0] for s in spans), default=7 * 60)
            depart = min(first - 10, 6 * 60 + int(rng.integers(0, 12)) * 5)
            energy = _round_to(float(rng.uniform(40, 65)), 1)
            spans.append((arrive, depart + 1440, energy))
        spans.sort()
        return [
            FlowMap(charger_id=charger_id, arrival=_hhmm(a), departure=_hhmm(d), energy_kwh=e)
            for a, d, e in spans
        ]

    def residential(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for i, count in enumerate(self.spec.residential):
            brand = self.brand()
            ent_id = f"{brand.lower()}-community"
            chargers = Shared(
                f"ac_{count}x7kw",
                [FlowMap(charger_id=f"ac{k + 1:03d}", max_kw=7, min_kw=1.4) for k in range(count)],
            )
            sessions: list[FlowMap] = []
            for k in range(count):
                cid = f"ac{k + 1:03d}"
                if self.rng.random() < 0.12:  # home during the day (shift workers, retirees)
                    arrive = int(self.rng.integers(9 * 6 + 3, 12 * 6 + 4)) * 10  # 09:30-12:30
                    depart = arrive + int(self.rng.integers(20, 40)) * 10
                    energy = _round_to(float(self.rng.uniform(8, 20)), 0.5)
                    sessions.append(
                        FlowMap(
                            charger_id=cid,
                            arrival=_hhmm(arrive),
                            departure=_hhmm(depart),
                            energy_kwh=energy,
                        )
                    )
                if self.rng.random() < 0.8:  # home in the evening, off in the morning
                    arrive = int(self.rng.integers(17 * 6 + 3, 21 * 6 + 4)) * 10  # 17:30-21:30
                    depart = int(self.rng.integers(6 * 6 + 3, 8 * 6 + 4)) * 10  # 06:30-08:30
                    energy = _round_to(float(self.rng.uniform(8, 35)), 0.5)
                    sessions.append(
                        FlowMap(
                            charger_id=cid,
                            arrival=_hhmm(arrive),
                            departure=_hhmm(depart),
                            energy_kwh=energy,
                        )
                    )
            items.append(
                {
                    "enterprise_id": ent_id,
                    "name": f"{brand} Residential Community Charging",
                    "sector": "residential_charging",
                    "feeder_id": self.tight_feeder() if i % 2 == 0 else self.feeder_for(i),
                    "sites": [
                        {
                            "site_id": f"{ent_id}-garage",
                            "name": f"{brand} community car park",
                            "resources": [
                                {
                                    "resource_id": "chargers",
                                    "kind": "ev_charger_pool",
                                    "name": f"{count} AC chargers of 7 kW",
                                    "chargers": chargers,
                                    "sessions": sessions,
                                    "price_cny_per_kwh": self.uniform(0.3, 0.6, 0.05),
                                }
                            ],
                        }
                    ],
                }
            )
        return items

    def storage(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for i, (power, hours, soc) in enumerate(self.spec.storage):
            brand = self.brand()
            ent_id = f"{brand.lower()}-storage"
            items.append(
                {
                    "enterprise_id": ent_id,
                    "name": f"{brand} Energy Storage Operations Co.",
                    "sector": "storage_operator",
                    "feeder_id": self.feeder_for(i),
                    "sites": [
                        {
                            "site_id": f"{ent_id}-station",
                            "name": f"{brand} storage station",
                            "resources": [
                                self.battery(
                                    power,
                                    hours,
                                    soc,
                                    degradation=0.05,
                                    price=self.uniform(0.3, 0.6, 0.05),
                                )
                            ],
                        }
                    ],
                }
            )
        return items


# ---------------------------------------------------------------------------------------------
# Hand estimates (the rules of docs/demo-district.md) and feeder sizing
# ---------------------------------------------------------------------------------------------


def _window_hours(start_min: int, end_min: int) -> list[int]:
    return [h for h in range(HOURS) if h * 60 < end_min and (h + 1) * 60 > start_min]


def curtailable_estimate(load: Mapping[str, Any], window: tuple[int, int]) -> float:
    """Full step total when the load can hold it through the window, else 0 [kW]."""
    total = sum(step["power_kw"] for step in load["steps"])
    typical = _plain(load["typical_load_kw"])
    low = min(typical[h] for h in _window_hours(*window))
    covered = any(_covers(w, window) for w in load["availability"])
    ok = low >= total and covered and load["max_duration_min"] >= window[1] - window[0]
    return float(total) if ok else 0.0


def _covers(text: str, window: tuple[int, int]) -> bool:
    a, b = text.split("-")
    start = int(a[:2]) * 60 + int(a[3:])
    end = int(b[:2]) * 60 + int(b[3:])
    return start <= window[0] and end >= window[1]


def battery_estimate(bat: Mapping[str, Any], window: tuple[int, int]) -> float:
    hours = (window[1] - window[0]) / 60
    energy = (
        (bat["soc_initial"] - bat["soc_min"]) * bat["capacity_kwh"] * bat["discharge_efficiency"]
    )
    return float(min(bat["max_discharge_kw"], energy / hours))


def _session_minutes(session: Mapping[str, Any]) -> tuple[int, int]:
    a = int(session["arrival"][:2]) * 60 + int(session["arrival"][3:])
    d = int(session["departure"][:2]) * 60 + int(session["departure"][3:])
    return a, (d - a) % 1440 or 1440


def ev_session_profile(
    arrival: int, connected: int, energy: float, max_kw: float
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Per-minute uncontrolled power [kW] and connection (bool) over a day, recurring daily.

    Uncontrolled charging runs at ``max_kw`` from arrival until the energy is in or the car
    leaves.
    """
    minutes = (arrival + np.arange(connected)) % 1440
    plugged = np.zeros(1440, dtype=bool)
    plugged[minutes] = True
    energy_per_min = np.full(connected, max_kw / 60)
    cumulative = np.minimum(np.cumsum(energy_per_min), energy)
    delivered = np.diff(cumulative, prepend=0.0)
    power = np.zeros(1440)
    np.add.at(power, minutes, delivered * 60)
    return power, plugged


def ev_estimate(pool: Mapping[str, Any], window: tuple[int, int]) -> float:
    """Average reduction over the window [kW]: charging moved out while energy is kept."""
    max_kw = {c["charger_id"]: c["max_kw"] for c in _plain(pool["chargers"])}
    hours = (window[1] - window[0]) / 60
    inside = np.zeros(1440, dtype=bool)
    inside[window[0] : window[1]] = True
    movable = 0.0
    for session in pool["sessions"]:
        arrival, connected = _session_minutes(session)
        p = max_kw[session["charger_id"]]
        power, plugged = ev_session_profile(arrival, connected, session["energy_kwh"], p)
        delivered = power.sum() / 60
        in_window = power[inside].sum() / 60
        outside_capacity = p * np.count_nonzero(plugged & ~inside) / 60
        must_stay = max(0.0, delivered - outside_capacity)
        movable += max(0.0, in_window - must_stay)
    return movable / hours


def ev_uncontrolled_hourly(pool: Mapping[str, Any]) -> NDArray[np.float64]:
    max_kw = {c["charger_id"]: c["max_kw"] for c in _plain(pool["chargers"])}
    total = np.zeros(1440)
    for session in pool["sessions"]:
        arrival, connected = _session_minutes(session)
        power, _ = ev_session_profile(
            arrival, connected, session["energy_kwh"], max_kw[session["charger_id"]]
        )
        total += power
    return np.asarray(total.reshape(HOURS, 60).mean(axis=1), dtype=np.float64)


def hvac_baseline(hvac: Mapping[str, Any]) -> NDArray[np.float64]:
    outdoor = np.asarray(_plain(hvac["outdoor_temperature_c"]))
    need = (outdoor - hvac["setpoint_c"]) / (hvac["thermal_resistance_c_per_kw"] * hvac["cop"])
    return np.asarray(np.clip(need, 0.0, hvac["rated_power_kw"]), dtype=np.float64)


HVAC_SHARE = 0.3
"""Share of an HVAC baseline a 2-h event can shed (DOMAIN.md: setpoint offset, pre-cooling)."""


def hvac_estimate(hvac: Mapping[str, Any], window: tuple[int, int]) -> float:
    base = hvac_baseline(hvac)
    return float(HVAC_SHARE * np.mean([base[h] for h in _window_hours(*window)]))


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Shared) else value


def resources_of(
    enterprises: Sequence[Mapping[str, Any]],
) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    for ent in enterprises:
        for site in ent["sites"]:
            for res in site["resources"]:
                yield ent, res


def estimate(enterprises: Sequence[Mapping[str, Any]], window: tuple[int, int]) -> dict[str, float]:
    """Hand estimate of deliverable response by resource kind [kW]."""
    totals = {
        "curtailable_load": 0.0,
        "battery": 0.0,
        "ev_charger_pool": 0.0,
        "hvac_load": 0.0,
        "pv": 0.0,
    }
    for _, res in resources_of(enterprises):
        kind = res["kind"]
        if kind == "curtailable_load":
            totals[kind] += curtailable_estimate(res, window)
        elif kind == "battery":
            totals[kind] += battery_estimate(res, window)
        elif kind == "ev_charger_pool":
            totals[kind] += ev_estimate(res, window)
        elif kind == "hvac_load":
            totals[kind] += hvac_estimate(res, window)
    return totals


def customer_load_hourly(res: Mapping[str, Any]) -> NDArray[np.float64]:
    """A resource's uncontrolled hourly load [kW] (generation negative)."""
    kind = res["kind"]
    if kind == "curtailable_load":
        return np.asarray(_plain(res["typical_load_kw"]), dtype=float)
    if kind == "hvac_load":
        return hvac_baseline(res)
    if kind == "ev_charger_pool":
        return ev_uncontrolled_hourly(res)
    if kind == "pv":
        return -np.asarray(_plain(res["generation_kw"]), dtype=float)
    return np.zeros(HOURS)


def rebound_potential(res: Mapping[str, Any], window: tuple[int, int]) -> float:
    """Average rebound [kW] after shedding the full step total for the whole window."""
    if res["kind"] != "curtailable_load":
        return 0.0
    shed = curtailable_estimate(res, window)
    return float(
        shed * res["rebound_fraction"] * (window[1] - window[0]) / res["rebound_duration_min"]
    )


@dataclass
class FeederReport:
    feeder_id: str
    capacity_kw: float
    max_load_kw: float
    after_event_kw: float
    rebound_kw: float


def build(spec: DistrictSpec) -> tuple[dict[str, Any], dict[str, float], list[FeederReport]]:
    """The district as a YAML tree, its hand estimate by kind and its feeder report."""
    builder = Builder(spec)
    window = (11 * 60, 13 * 60)
    sections: list[tuple[str, list[dict[str, Any]]]] = [
        (
            "industrial: process loads with 1-3 curtailment steps (5-20 % of site max load)",
            builder.industrial(),
        ),
        ("commercial: chiller plants (first-order R-C model) and lighting", builder.commercial()),
        (
            "public charging: DC stations, taxis and ride-hailing through the day",
            builder.public_stations(),
        ),
        (
            "residential charging: 7 kW AC community chargers, mostly overnight",
            builder.residential(),
        ),
        ("storage operators: 2-h LFP systems charged in the night valley", builder.storage()),
    ]
    enterprises = [e for _, items in sections for e in items]
    totals = estimate(enterprises, window)

    # Feeders: customers' uncontrolled load plus a background that makes the district peak
    # (at 11:00-13:00) equal the stated peak.
    customer = {f.feeder_id: np.zeros(HOURS) for f in spec.feeders}
    rebound = {f.feeder_id: 0.0 for f in spec.feeders}
    for ent, res in resources_of(enterprises):
        customer[ent["feeder_id"]] += customer_load_hourly(res)
        rebound[ent["feeder_id"]] += rebound_potential(res, window)
    shapes = np.array(
        [np.asarray(BACKGROUND_SHAPES[f.background]) * f.weight for f in spec.feeders]
    )
    customers_total = sum(customer.values(), np.zeros(HOURS))
    peak_hours = _window_hours(*window)
    # Solve for the background scale that puts the district's peak-hour maximum on the stated peak.
    scale = max((spec.peak_load_kw - customers_total[h]) / shapes[:, h].sum() for h in peak_hours)
    for _ in range(50):
        total = customers_total + scale * shapes.sum(axis=0)
        scale *= spec.peak_load_kw / max(total[h] for h in peak_hours)
    total = customers_total + scale * shapes.sum(axis=0)
    if int(np.argmax(total)) not in peak_hours:
        raise SystemExit(
            f"{spec.file}: the district peak falls at {int(np.argmax(total))}:00, outside 11-13"
        )

    feeders: list[Comment | dict[str, Any]] = []
    reports: list[FeederReport] = []
    for f, shape in zip(spec.feeders, shapes, strict=True):
        background = [_round_to(v, 10) for v in scale * shape]
        load = customer[f.feeder_id] + np.asarray(background)
        after = float(max(load[h] for h in range(13, 16)))
        if f.headroom is None:
            # Tight: only ~40 % of the feeder's full rebound fits after the event.
            capacity = (
                math.ceil(max(load.max() * 1.005, after + 0.4 * rebound[f.feeder_id]) / 100) * 100
            )
        else:
            capacity = math.ceil(load.max() * (1 + f.headroom) / 500) * 500
        feeders.append(Comment(f.name))
        feeders.append(
            {
                "feeder_id": f.feeder_id,
                "capacity_kw": capacity,
                "background_load_kw": Flow(background),
            }
        )
        reports.append(
            FeederReport(f.feeder_id, capacity, float(load.max()), after, rebound[f.feeder_id])
        )

    industrial_ids = [e["enterprise_id"] for e in enterprises if e["sector"] == "industrial"]
    chosen = sorted(builder.rng.choice(len(industrial_ids), size=spec.rotation, replace=False))
    rotation = {industrial_ids[i]: int(builder.rng.integers(1, 4)) for i in chosen}

    tree: dict[str, Any] = {
        "district_id": spec.district_id,
        "name": spec.name,
        "timezone": "Asia/Shanghai",
        "peak_load_kw": spec.peak_load_kw,
        "peak_hours": "11:00-13:00",
        "response_target_pct": 5,
        "energy_price_cny_per_kwh": 0.68,
        "rebound_cap": "baseline_peak",
        **({} if spec.storage_reserve is None else {"storage_reserve": spec.storage_reserve}),
        "meter_history": FlowMap(
            source="synthetic", seed=spec.seed, days=spec.history_days, noise_pct=spec.noise_pct
        ),
        "rotation_counts": rotation,
        "feeders": feeders,
        "enterprises": [x for title, items in sections for x in [Comment(title), *items]],
    }
    return tree, totals, reports


def plain_tree(node: Any) -> Any:
    """The tree as plain data, as yaml.safe_load would read it back."""
    if isinstance(node, Shared):
        return plain_tree(node.value)
    if isinstance(node, Mapping):
        return {k: plain_tree(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain_tree(v) for v in node if not isinstance(v, Comment)]
    return node


def header(
    spec: DistrictSpec,
    tree: Mapping[str, Any],
    totals: Mapping[str, float],
    reports: Sequence[FeederReport],
) -> str:
    enterprises = [e for e in tree["enterprises"] if not isinstance(e, Comment)]
    target = spec.peak_load_kw * 0.05
    by_sector: dict[str, int] = {}
    for ent in enterprises:
        by_sector[ent["sector"]] = by_sector.get(ent["sector"], 0) + 1
    deliverable = sum(totals.values())
    socs = sorted({soc for _, _, soc in spec.storage})
    tight = next((f.feeder_id for f in spec.feeders if f.headroom is None), None)
    lines = [
        f"{spec.name}",
        "",
        f"GENERATED by scripts/generate_districts.py (seed {spec.seed}). Do not edit by",
        "hand: change the spec there and re-run it. All names are invented.",
        "",
        *_wrap(spec.summary),
        "",
        *_wrap(
            f"Peak {spec.peak_load_kw / 1000:g} MW at 11:00-13:00; the 5 % target is "
            f"{target / 1000:g} MW (Tianjin carbon-peak plan, 津政发〔2022〕18号: demand "
            "response of at least 5 % of peak load by 2025)."
        ),
        *_wrap(
            f"Enterprises: {len(enterprises)} ("
            + ", ".join(f"{k} {v}" for k, v in by_sector.items())
            + ")."
        ),
        f"Hand estimate of deliverable over 11:00-13:00: {deliverable / 1000:.2f} MW = "
        f"{deliverable / target:.0%} of target",
        "  (curtailment {:.2f}, batteries {:.2f}, EV {:.2f}, HVAC {:.2f} MW; PV 0).".format(
            totals["curtailable_load"] / 1000,
            totals["battery"] / 1000,
            totals["ev_charger_pool"] / 1000,
            totals["hvac_load"] / 1000,
        ),
        "",
        "Assumptions and sources of sizes (details in docs/demo-district.md):",
        *_bullet(
            "Peak: a park-scale slice of Tianjin's grid peak (15.4 GW in 2019); the VPP "
            "customers' load is part of it, the rest is the feeders' background load. Feeders "
            "are 35 kV lines (a 10 kV feeder carries only 5-10 MW)."
        ),
        *_bullet(
            "Industrial curtailment 5-20 % of site max load in 1-3 nested steps, asked prices "
            "0.8-3 CNY/kWh, notice 15 min to day-ahead (day-ahead = 960 min: by 19:00 the "
            "evening before), 1-4 h, rebound 20-60 % within 1-3 h (DOMAIN.md; Tianjin's "
            "orderly-power-use levels are 5 % of historical maximum load each)."
        ),
        *_bullet(
            "Commercial buildings: a chiller plant (first-order R-C model, R sized so the "
            "hottest hour needs ~85 % of rated power, time constant R*C 2-4 h, comfort band "
            "from 1 °C below to 2 °C above the setpoint) and one 5-9 % step of lighting, "
            "escalators and screens."
        ),
        *_bullet(
            "Batteries: LFP 2-h systems, SoC window 0.1-0.9, 95 % each way (~90 % round "
            "trip); storage operators charge in the night valley (initial SoC "
            + "/".join(f"{x:g}" for x in socs)
            + "), enterprises' batteries start at 0.6."
        ),
        *_bullet(
            "EV: DC public chargers 60-120 kW (taxis, ride-hailing, fleet vans over lunch), "
            "AC community chargers 7 kW (min 1.4 kW = 6 A); sessions recur daily, departure "
            "<= arrival means the next day."
        ),
        *_bullet(
            "Outdoor temperature: a clear mid-July Tianjin day, 27-36 °C"
            + (f" (+{spec.outdoor_offset_c:g} °C heatwave here)." if spec.outdoor_offset_c else ".")
        ),
        *_bullet(
            "PV: clear-sky summer output after a ~0.8 performance ratio (71 % of DC at 12:00)."
        ),
        "",
        "Feeders (capacity / max uncontrolled load / max 13:00-16:00 / full rebound):",
    ]
    for r in reports:
        lines.append(
            f"  {r.feeder_id}: {r.capacity_kw / 1000:.1f} / {r.max_load_kw / 1000:.1f} / "
            f"{r.after_event_kw / 1000:.1f} / {r.rebound_kw / 1000:.2f} MW"
        )
    if tight:
        lines += _wrap(
            f"{tight} is tight on purpose: after the peak hours only part of the rebound of its "
            "loads fits under its capacity."
        )
    lines.append("Anchors (&name / *name) share identical profiles and charger lists.")
    return "\n".join(lines)


def _bullet(text: str) -> list[str]:
    first, *rest = _wrap(text, 86)
    return [f"- {first}", *(f"  {line}" for line in rest)]


def _wrap(text: str, width: int = 88) -> list[str]:
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    if current:
        lines.append(current)
    return lines


def _with_comments(node: Any) -> Any:
    """Move each feeder's '_comment' into a Comment before it (written as '# ...')."""
    if isinstance(node, dict) and "feeders" in node:
        feeders: list[Any] = []
        for f in node["feeders"]:
            feeders.append(Comment(f["_comment"]))
            feeders.append({k: v for k, v in f.items() if k != "_comment"})
        return {**node, "feeders": feeders}
    return node


def render(spec: DistrictSpec) -> tuple[str, dict[str, float], list[FeederReport]]:
    """The YAML text of one district, its hand estimate and its feeder report."""
    tree, totals, reports = build(spec)
    validate(District, plain_tree(tree), spec.file)
    text = YamlWriter(tree).render(header(spec, tree, totals, reports))
    return text, totals, reports


SPECS = (DEMO, STRESSED)


def capability_summary(path: Path, day: str) -> str:
    """One line from the optimiser's ``vpp capability --json`` (run as a separate program)."""
    vpp = Path(sys.executable).with_name("vpp")
    command = [str(vpp), "capability", str(path), "--day", day, "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        return f"capability: no report (exit {done.returncode}): {done.stderr.strip()[-300:]}"
    kinds = ", ".join(f"{k} {v / 1000:.2f}" for k, v in report["by_kind_kw"].items())
    return (
        f"capability {report['deliverable_kw'] / 1000:.2f} MW = "
        f"{report['deliverable_kw'] / report['target_kw']:.0%} of target "
        f"({report['solver_status']}; alone: {kinds})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a file differs from the output"
    )
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument(
        "--capability",
        metavar="DAY",
        help="also run `vpp capability --day DAY` on each written file (e.g. 2026-07-15)",
    )
    args = parser.parse_args(argv)
    stale = 0
    for spec in SPECS:
        text, totals, reports = render(spec)
        target = spec.peak_load_kw * 0.05
        ratio = sum(totals.values()) / target
        print(
            f"{spec.file}: peak {spec.peak_load_kw / 1000:g} MW, target {target / 1000:g} MW, "
            f"hand estimate {sum(totals.values()) / 1000:.2f} MW ({ratio:.0%}): "
            + ", ".join(f"{k} {v / 1000:.2f}" for k, v in totals.items())
        )
        for r in reports:
            print(
                f"  {r.feeder_id}: capacity {r.capacity_kw:.0f}, max load {r.max_load_kw:.0f}, "
                f"13-16h {r.after_event_kw:.0f}, full rebound {r.rebound_kw:.0f} kW"
            )
        if not spec.aim[0] <= ratio <= spec.aim[1]:
            print(
                f"  WARNING: {ratio:.0%} is outside the aimed {spec.aim[0]:.0%}-{spec.aim[1]:.0%}"
            )
            stale = 1
        path = args.out_dir / spec.file
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                print(f"  {path} is stale: re-run scripts/generate_districts.py")
                stale = 1
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"  wrote {path}")
            if args.capability:
                print("  " + capability_summary(path, args.capability))
    return stale


if __name__ == "__main__":
    sys.exit(main())
