"""Shared pydantic base and field types for the domain model."""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, model_validator
from pydantic_core import core_schema

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Slug = Annotated[str, Field(pattern=SLUG_PATTERN)]
"""Identifier used in MQTT topics: lower-case letters, digits, '-' and '_'."""

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
PositiveFloat = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class FrozenModel(BaseModel):
    """Immutable model that refuses unknown fields, so a typo in a config is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _profile_length_ok(values: tuple[float, ...]) -> tuple[float, ...]:
    if len(values) not in (24, 48, 96):
        raise ValueError(f"a daily profile needs 24, 48 or 96 values, got {len(values)}")
    return values


class _DailyProfileMarker:
    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_profile_length_ok, handler(source))


DailyProfile = Annotated[tuple[FiniteFloat, ...], _DailyProfileMarker]
"""A typical day as 24 hourly, 48 half-hourly or 96 quarter-hourly values (local time)."""

_WINDOW_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class DailyWindow(FrozenModel):
    """A window of local time of day, such as peak hours '11:00-13:00'; end 24:00 is midnight."""

    start_min: int = Field(ge=0, lt=1440, description="minutes after local midnight [min]")
    end_min: int = Field(gt=0, le=1440, description="minutes after local midnight [min]")

    @model_validator(mode="before")
    @classmethod
    def _parse_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _WINDOW_RE.match(value)
            if not match:
                raise ValueError(f"expected 'HH:MM-HH:MM', got {value!r}")
            h0, m0, h1, m1 = (int(g) for g in match.groups())
            if m0 >= 60 or m1 >= 60 or h0 > 23 or h1 > 24 or (h1 == 24 and m1):
                raise ValueError(f"not a time of day in {value!r}")
            return {"start_min": h0 * 60 + m0, "end_min": h1 * 60 + m1}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> DailyWindow:
        if self.end_min <= self.start_min:
            raise ValueError("end must be after start (windows do not cross midnight)")
        return self

    @property
    def start(self) -> time:
        return time(self.start_min // 60, self.start_min % 60)

    def __str__(self) -> str:
        return f"{_hhmm(self.start_min)}-{_hhmm(self.end_min)}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


ALL_DAY = DailyWindow(start_min=0, end_min=1440)
