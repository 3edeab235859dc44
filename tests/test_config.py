"""Tests for vpp.config.load_district: the tiny district loads; broken files give clear errors."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from vpp.config import load_district
from vpp.domain import ConfigError, CsvHistory, District, SyntheticHistory

TINY = Path(__file__).parent / "data" / "tiny_district.yaml"
BATTERY = "enterprises.0.sites.0.resources.1"

Mutation = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def tiny_data() -> dict[str, Any]:
    return yaml.safe_load(TINY.read_text(encoding="utf-8"))


def _resource(data: dict[str, Any], enterprise: int, index: int) -> dict[str, Any]:
    return data["enterprises"][enterprise]["sites"][0]["resources"][index]


def _write_variant(tmp_path: Path, data: dict[str, Any], mutate: Mutation) -> Path:
    variant = copy.deepcopy(data)
    mutate(variant)
    path = tmp_path / "district.yaml"
    path.write_text(yaml.safe_dump(variant, sort_keys=False), encoding="utf-8")
    return path


def _problems_for(tmp_path: Path, data: dict[str, Any], mutate: Mutation) -> list[tuple[str, str]]:
    path = _write_variant(tmp_path, data, mutate)
    with pytest.raises(ConfigError) as exc_info:
        load_district(path)
    assert exc_info.value.source == str(path)
    return exc_info.value.problems


def _set(*keys: str | int, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        node: Any = data
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return mutate


def _rename(owner: Callable[[dict[str, Any]], dict[str, Any]], old: str, new: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        node = owner(data)
        node[new] = node.pop(old)

    return mutate


def _battery(data: dict[str, Any]) -> dict[str, Any]:
    return _resource(data, 0, 1)


# --- the good file -------------------------------------------------------------------------


def test_load_district_tiny_file(monkeypatch):
    """The tiny district loads with every resource kind once and its stated numbers."""
    monkeypatch.chdir(TINY.parents[2])
    district = load_district(Path("tests/data/tiny_district.yaml"))
    assert isinstance(district, District)
    assert district.district_id == "tiny"
    assert district.target_kw == 500.0  # 5 % of 10 000 kW
    assert str(district.peak_hours) == "11:00-13:00"
    assert [ref.key for ref in district.resources()] == [
        "steel-main/rolling-mill",
        "steel-main/bess",
        "steel-main/roof-pv",
        "mall/dc-chargers",
        "mall/chiller",
    ]
    assert [ref.resource.kind for ref in district.resources()] == [
        "curtailable_load",
        "battery",
        "pv",
        "ev_charger_pool",
        "hvac_load",
    ]
    assert district.meter_history == SyntheticHistory(seed=7, days=30, noise_pct=2)


def test_load_district_resolves_csv_history_from_file_folder(tmp_path, tiny_data):
    """A relative meter-history CSV path is resolved against the district file's folder."""
    path = _write_variant(
        tmp_path, tiny_data, _set("meter_history", value={"source": "csv", "path": "m.csv"})
    )
    assert load_district(path).meter_history == CsvHistory(path=tmp_path / "m.csv")


# --- broken variants -----------------------------------------------------------------------

BROKEN: list[tuple[str, Mutation, list[tuple[str, str]]]] = [
    (
        "negative-peak",
        _set("peak_load_kw", value=-10000),
        [("peak_load_kw", "Input should be greater than 0")],
    ),
    (
        # The path stops at the resource: pydantic reports a bad tag on the union itself.
        "unknown-kind",
        lambda d: _resource(d, 0, 0).__setitem__("kind", "flywheel"),
        [
            (
                "enterprises.0.sites.0.resources.0",
                "Input tag 'flywheel' found using 'kind' does not match any of the expected "
                "tags: 'curtailable_load', 'battery', 'ev_charger_pool', 'hvac_load', 'pv'",
            )
        ],
    ),
    (
        "misspelt-optional-field",
        lambda d: _battery(d).__setitem__("soc_intial", 0.5),
        [(f"{BATTERY}.soc_intial", "Extra inputs are not permitted")],
    ),
    (
        "misspelt-required-field",
        _rename(_battery, "capacity_kwh", "capacity_kwhh"),
        [
            (f"{BATTERY}.capacity_kwh", "Field required"),
            (f"{BATTERY}.capacity_kwhh", "Extra inputs are not permitted"),
        ],
    ),
    (
        "reversed-peak-hours",
        _set("peak_hours", value="13:00-11:00"),
        [("peak_hours", "end must be after start (windows do not cross midnight)")],
    ),
    (
        "unparsable-availability",
        lambda d: _battery(d).__setitem__("availability", ["08:00-22:00", "noon"]),
        [(f"{BATTERY}.availability.1", "expected 'HH:MM-HH:MM', got 'noon'")],
    ),
    (
        "unknown-feeder",
        _set("enterprises", 1, "feeder_id", value="f9"),
        [("enterprises.1.feeder_id", "unknown feeder 'f9'")],
    ),
    (
        "soc-initial-above-max",
        lambda d: _battery(d).__setitem__("soc_initial", 0.95),
        [(f"{BATTERY}.soc_initial", "0.95 must lie within soc_min..soc_max (0.1..0.9)")],
    ),
    (
        "soc-initial-negative",
        lambda d: _battery(d).__setitem__("soc_initial", -0.1),
        [(f"{BATTERY}.soc_initial", "Input should be greater than or equal to 0")],
    ),
    (
        "soc-min-above-max",
        lambda d: _battery(d).__setitem__("soc_min", 0.95),
        [(f"{BATTERY}.soc_min", "0.95 must be below soc_max (0.9)")],
    ),
    (
        "steps-above-load",
        lambda d: _resource(d, 0, 0)["steps"].append({"power_kw": 600, "price_cny_per_kwh": 3}),
        [
            (
                "enterprises.0.sites.0.resources.0.steps",
                "shed 1100 kW in total, more than the largest typical load 1000 kW",
            )
        ],
    ),
    (
        "session-on-unknown-charger",
        lambda d: _resource(d, 1, 0)["sessions"][1].__setitem__("charger_id", "c9"),
        [("enterprises.1.sites.0.resources.0.sessions.1.charger_id", "unknown charger 'c9'")],
    ),
    (
        "short-profile",
        lambda d: _resource(d, 0, 2).__setitem__("generation_kw", [0] * 23),
        [
            (
                "enterprises.0.sites.0.resources.2.generation_kw",
                "a daily profile needs 24, 48 or 96 values, got 23",
            )
        ],
    ),
    (
        "unknown-time-zone",
        _set("timezone", value="Mars/Olympus"),
        [("timezone", "unknown time zone 'Mars/Olympus'")],
    ),
    (
        "unknown-rotation-enterprise",
        _set("rotation_counts", value={"bakery": 1}),
        [("rotation_counts.bakery", "unknown enterprise")],
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [(m, e) for _, m, e in BROKEN], ids=[name for name, _, _ in BROKEN]
)
def test_load_district_reports_field_path_and_reason(tmp_path, tiny_data, mutate, expected):
    """Each broken variant gives a ConfigError naming the file, the field path and the reason."""
    assert _problems_for(tmp_path, tiny_data, mutate) == expected


def test_load_district_single_bad_field_gives_single_problem(tmp_path, tiny_data):
    """A bad battery field alone in its site yields one problem, no 'too short' cascade."""

    def only_bad_battery(data: dict[str, Any]) -> None:
        battery = _battery(data)
        battery["soc_initial"] = 1.5
        data["enterprises"][0]["sites"][0]["resources"] = [battery]

    assert _problems_for(tmp_path, tiny_data, only_bad_battery) == [
        ("enterprises.0.sites.0.resources.0.soc_initial", "Input should be less than or equal to 1")
    ]


def test_load_district_reports_every_independent_problem(tmp_path, tiny_data):
    """Problems in unrelated places are all reported, in file order."""

    def two_bad_fields(data: dict[str, Any]) -> None:
        data["peak_load_kw"] = 0
        _resource(data, 1, 1)["cop"] = -3

    assert _problems_for(tmp_path, tiny_data, two_bad_fields) == [
        ("peak_load_kw", "Input should be greater than 0"),
        ("enterprises.1.sites.0.resources.1.cop", "Input should be greater than 0"),
    ]


def test_load_district_duplicate_site_across_enterprises_names_real_path(tmp_path, tiny_data):
    """A site id reused by another enterprise is reported at its place in the file."""
    problems = _problems_for(
        tmp_path, tiny_data, _set("enterprises", 1, "sites", 0, "site_id", value="steel-main")
    )
    assert problems == [("enterprises.1.sites.0.site_id", "duplicate 'steel-main'")]


# --- file-level problems -------------------------------------------------------------------


def test_load_district_yaml_syntax_error_names_line(tmp_path):
    """A YAML syntax error is one problem located by line and column."""
    text = TINY.read_text(encoding="utf-8").replace(
        "timezone: Asia/Shanghai\n", "timezone: Asia/Shanghai\n  bad: indent\n", 1
    )
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc_info:
        load_district(path)
    assert exc_info.value.source == str(path)
    ((where, reason),) = exc_info.value.problems
    assert where == "line 5, column 6"
    assert reason.startswith(
        "mapping values are not allowed"
    )  # libyaml and PyYAML word the end differently


def test_load_district_missing_file(tmp_path):
    """A missing file is one problem on '(file)' with the OS reason."""
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError) as exc_info:
        load_district(path)
    assert exc_info.value.source == str(path)
    assert exc_info.value.problems == [("(file)", "No such file or directory")]


@pytest.mark.parametrize("text", ["", "- 1\n- 2\n"], ids=["empty", "list"])
def test_load_district_non_mapping_top_level(tmp_path, text):
    """An empty file or a list is reported at the top level."""
    path = tmp_path / "district.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc_info:
        load_district(path)
    assert exc_info.value.problems == [
        ("(top level)", "Input should be a valid dictionary or instance of District")
    ]


def test_config_error_str_starts_with_file_path(tmp_path, tiny_data):
    """str(ConfigError) is the path, a count, then one indented line per problem."""
    path = _write_variant(tmp_path, tiny_data, _set("peak_load_kw", value=-1))
    with pytest.raises(ConfigError) as exc_info:
        load_district(path)
    message = str(exc_info.value)
    assert message.startswith(str(path))
    assert message == f"{path}: 1 problem(s)\n  peak_load_kw: Input should be greater than 0"


def test_load_district_reads_json_as_the_same_district(tmp_path, tiny_data):
    """A ``.json`` district (JSON is YAML; a city's is read ~50x faster) is the same
    district as its YAML file; a syntax error names its line."""
    as_yaml = tmp_path / "district.yaml"
    as_yaml.write_text(yaml.safe_dump(tiny_data))
    as_json = tmp_path / "district.json"
    as_json.write_text(json.dumps(tiny_data, indent=1))
    assert load_district(as_json) == load_district(as_yaml)
    as_json.write_text('{\n "district_id": "x",\n oops\n}')
    with pytest.raises(ConfigError) as info:
        load_district(as_json)
    assert "line 3" in str(info.value)
