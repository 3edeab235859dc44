"""Invariants of the dashboard's session helpers: CSRF tokens and the figures it shows."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpp.api.ui.fmt import cny, kw, local_time
from vpp.api.ui.session import Session, UiError, check_csrf, csrf_token
from vpp.store import Role, TokenInfo

tokens = st.text(min_size=1, max_size=80)


def _session(bearer: str) -> Session:
    info = TokenInfo("t1", Role.OPERATOR, None, None, datetime.now(UTC), None)
    return Session(bearer, info)


@given(tokens, tokens)
def test_csrf_token_differs_between_sessions(a: str, b: str):
    assert (csrf_token(a) == csrf_token(b)) == (a == b)


@given(tokens, st.text(max_size=80))
def test_only_the_sessions_own_csrf_token_passes(bearer: str, guess: str):
    session = _session(bearer)
    check_csrf(session, {"csrf": session.csrf})
    if guess != session.csrf:
        with pytest.raises(UiError):
            check_csrf(session, {"csrf": guess})


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
def test_kw_has_no_decimals_and_cny_two(value: float):
    assert "." not in kw(value)
    assert len(cny(value).split(".")[1]) == 2


def test_times_are_shown_in_the_district_zone():
    shanghai = ZoneInfo("Asia/Shanghai")
    assert local_time(datetime(2026, 7, 15, 3, 0, tzinfo=UTC), shanghai) == "2026-07-15 11:00"
