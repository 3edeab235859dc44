"""Tests for vpp.domain.district: references, uniqueness and derived values."""

from __future__ import annotations

import copy
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from vpp.domain import (
    Battery,
    District,
    Pv,
    ResourceRef,
    Sector,
    SyntheticHistory,
    rebound_cap_kw,
)

FLAT = [100.0] * 24


def _battery(resource_id: str) -> dict[str, Any]:
    return {
        "kind": "battery",
        "resource_id": resource_id,
        "capacity_kwh": 100,
        "max_charge_kw": 50,
        "max_discharge_kw": 50,
    }


def _pv(resource_id: str) -> dict[str, Any]:
    return {"kind": "pv", "resource_id": resource_id, "capacity_kw": 100, "generation_kw": FLAT}


BASE: dict[str, Any] = {
    "district_id": "d1",
    "name": "District one",
    "peak_load_kw": 20000,
    "peak_hours": "11:00-13:00",
    "feeders": [
        {"feeder_id": "f1", "capacity_kw": 10000, "background_load_kw": FLAT},
        {"feeder_id": "f2", "capacity_kw": 10000, "background_load_kw": FLAT},
    ],
    "enterprises": [
        {
            "enterprise_id": "steel",
            "name": "Steelworks",
            "sector": "industrial",
            "feeder_id": "f1",
            "sites": [
                {"site_id": "steel-main", "resources": [_battery("bess"), _pv("roof-pv")]},
                {"site_id": "steel-east", "resources": [_battery("bess")]},
            ],
        },
        {
            "enterprise_id": "mall",
            "name": "Mall",
            "sector": "commercial",
            "feeder_id": "f2",
            "sites": [{"site_id": "mall", "resources": [_pv("roof-pv")]}],
        },
    ],
}


def _data() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def _messages(exc: ValidationError) -> list[str]:
    return [e["msg"] for e in exc.errors(include_url=False)]


def test_district_valid_example():
    """The base district validates with its defaults."""
    district = District.model_validate(_data())
    assert district.timezone == "Asia/Shanghai"
    assert district.tz == ZoneInfo("Asia/Shanghai")
    assert district.response_target_pct == 5.0
    assert district.enterprises[0].sector is Sector.INDUSTRIAL
    assert district.rotation_counts == {}
    assert district.meter_history is None
    assert district.feeder("f2").feeder_id == "f2"


def test_district_feeder_unknown_id_raises_key_error():
    """Looking up a feeder that does not exist raises KeyError with the id."""
    district = District.model_validate(_data())
    with pytest.raises(KeyError, match="f9"):
        district.feeder("f9")


def test_district_rejects_duplicate_enterprise_ids():
    """Two enterprises with one id are rejected, naming the second."""
    data = _data()
    data["enterprises"][1]["enterprise_id"] = "steel"
    with pytest.raises(ValidationError) as exc_info:
        District.model_validate(data)
    assert _messages(exc_info.value) == [
        "Value error, enterprises.1.enterprise_id: duplicate 'steel'"
    ]


def test_district_rejects_duplicate_feeder_ids():
    """Two feeders with one id are rejected."""
    data = _data()
    data["feeders"][1]["feeder_id"] = "f1"
    data["enterprises"][1]["feeder_id"] = "f1"
    with pytest.raises(ValidationError) as exc_info:
        District.model_validate(data)
    assert _messages(exc_info.value) == ["Value error, feeders.1.feeder_id: duplicate 'f1'"]


def test_district_rejects_unknown_feeder_reference():
    """An enterprise on a feeder the district does not list is rejected."""
    data = _data()
    data["enterprises"][1]["feeder_id"] = "f9"
    with pytest.raises(ValidationError) as exc_info:
        District.model_validate(data)
    assert _messages(exc_info.value) == [
        "Value error, enterprises.1.feeder_id: unknown feeder 'f9'"
    ]


def test_district_rejects_duplicate_site_ids_across_enterprises():
    """Site ids name MQTT topics, so they are unique across the whole district."""
    data = _data()
    data["enterprises"][1]["sites"][0]["site_id"] = "steel-main"
    with pytest.raises(ValidationError) as exc_info:
        District.model_validate(data)
    assert _messages(exc_info.value) == [
        "Value error, enterprises.1.sites.0.site_id: duplicate 'steel-main'"
    ]


def test_enterprise_rejects_duplicate_site_ids():
    """Two sites of one enterprise with one id are rejected at the enterprise."""
    data = _data()
    data["enterprises"][0]["sites"][1]["site_id"] = "steel-main"
    with pytest.raises(ValidationError) as exc_info:
        District.model_validate(data)
    errors = exc_info.value.errors(include_url=False)
    assert [(e["loc"], e["msg"]) for e in errors] == [
        (("enterprises", 0), "Value error, sites.1.site_id: duplicate 'steel-main'")
    ]


def test_site_rejects_duplicate_resource_ids():
    """Two resources of one site with one id are rejected at the site."""
    data = _data()
    data["enterprises"][0]["sites"][0]["resources"][1]["resource_id"] = "bess"
    with pytest.raises(ValidationError) as exc_info:
        District.model_validate(data)
    errors = exc_info.value.errors(include_url=False)
    assert [(e["loc"], e["msg"]) for e in errors] == [
        (("enterprises", 0, "sites", 0), "Value error, resources.1.resource_id: duplicate 'bess'")
    ]


def test_site_allows_same_resource_id_on_other_sites():
    """Resource ids only need to be unique within a site ('bess' on two sites is fine)."""
    district = District.model_validate(_data())
    assert [ref.key for ref in district.resources()].count("steel-east/bess") == 1


@pytest.mark.parametrize(
    "name", ["Mars/Olympus", "Asia/Shang_hai", "", "localtime", "posix/Asia/Shanghai", "+08:00"]
)
def test_district_rejects_unknown_time_zone(name):
    """An unknown IANA zone is rejected on 'timezone', naming the zone; so is the host's
    ``localtime``, which would make the same district plan differently on each machine."""
    data = _data()
    data["timezone"] = name
    with pytest.raises(ValidationError) as exc_info:
        District.model_validate(data)
    errors = exc_info.value.errors(include_url=False)
    assert [(e["loc"], e["msg"]) for e in errors] == [
        (("timezone",), f"Value error, unknown time zone {name!r}")
    ]


def test_district_rejects_time_zone_that_is_a_folder():
    """A zone name that is a tz database folder ('America') is a validation error."""
    data = _data()
    data["timezone"] = "America"
    with pytest.raises(ValidationError, match="unknown time zone 'America'"):
        District.model_validate(data)


def test_district_rejects_rotation_count_for_unknown_enterprise():
    """rotation_counts may only name enterprises of the district."""
    data = _data()
    data["rotation_counts"] = {"steel": 2, "bakery": 1}
    with pytest.raises(ValidationError) as exc_info:
        District.model_validate(data)
    assert _messages(exc_info.value) == ["Value error, rotation_counts.bakery: unknown enterprise"]


def test_district_accepts_rotation_counts_for_known_enterprises():
    """Counts for known enterprises are kept as given."""
    data = _data()
    data["rotation_counts"] = {"steel": 2, "mall": 0}
    assert District.model_validate(data).rotation_counts == {"steel": 2, "mall": 0}


def test_district_resources_yields_refs_with_site_keys():
    """resources() walks enterprises, sites and resources in order, keyed 'site/resource'."""
    district = District.model_validate(_data())
    refs = list(district.resources())
    assert all(isinstance(ref, ResourceRef) for ref in refs)
    assert [ref.key for ref in refs] == [
        "steel-main/bess",
        "steel-main/roof-pv",
        "steel-east/bess",
        "mall/roof-pv",
    ]
    assert [ref.enterprise.enterprise_id for ref in refs] == ["steel", "steel", "steel", "mall"]
    assert isinstance(refs[0].resource, Battery)
    assert isinstance(refs[3].resource, Pv)
    assert refs[3].site.site_id == "mall"


@pytest.mark.parametrize(
    ("peak", "pct", "target"), [(20000, None, 1000.0), (20000, 10, 2000.0), (12345, 2.5, 308.625)]
)
def test_district_target_kw_is_peak_times_pct(peak, pct, target):
    """target_kw = peak_load_kw * response_target_pct / 100 (default 5 %)."""
    data = _data()
    data["peak_load_kw"] = peak
    if pct is not None:
        data["response_target_pct"] = pct
    assert District.model_validate(data).target_kw == pytest.approx(target)


def test_district_meter_history_selects_source():
    """meter_history picks the model by 'source'."""
    data = _data()
    data["meter_history"] = {"source": "synthetic", "seed": 7, "days": 30}
    history = District.model_validate(data).meter_history
    assert history == SyntheticHistory(seed=7, days=30)


def test_district_rebound_cap_defaults_to_the_baseline_peak():
    assert District.model_validate(_data()).rebound_cap == "baseline_peak"


@pytest.mark.parametrize("cap", ["baseline_peak", "none", 5000.0], ids=["peak", "none", "kw"])
def test_district_rebound_cap_accepts_the_documented_values(cap):
    assert District.model_validate({**_data(), "rebound_cap": cap}).rebound_cap == cap


@pytest.mark.parametrize("cap", ["peak", -1.0, 0.0, float("inf")], ids=["word", "neg", "0", "inf"])
def test_district_rebound_cap_rejects_anything_else_naming_the_field(cap):
    with pytest.raises(ValidationError, match="rebound_cap"):
        District.model_validate({**_data(), "rebound_cap": cap})


def test_rebound_cap_kw_is_the_baseline_peak_a_figure_or_none():
    baseline = [900.0, 1200.0, 1000.0]
    assert rebound_cap_kw("baseline_peak", baseline) == 1200.0
    assert rebound_cap_kw(1500.0, baseline) == 1500.0
    assert rebound_cap_kw("none", baseline) is None
