"""The dashboard in a real browser (Debian's chromium driven by Playwright) against
``vpp serve`` with simulated devices over a real Mosquitto, on a sped-up clock.

Every request that leaves 127.0.0.1 is aborted, so a page that needed the internet would
show it. Screenshots of each view go to ``out/screenshots/``; the push latency from a
telemetry sample to the chart drawn goes to ``out/screenshots/push_latency.json``.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from api_helpers import acme
from playwright.async_api import async_playwright
from serve_process import ServeProcess

from mosquitto_broker import MosquittoBroker
from vpp.store import Role, open_store

CHROMIUM = Path(os.environ.get("VPP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).parents[3] / "out" / "screenshots"
#: Simulated seconds per wall second: a 15-min interval lasts 7.5 s.
TIME_SCALE = "120"
#: Longest wait for something the service does on its own [ms, wall].
WAIT_MS = 60_000

pytestmark = [pytest.mark.slow, pytest.mark.broker]


async def _tokens(db_url: str) -> dict[str, str]:
    async with open_store(db_url) as store:
        now = datetime.now(UTC)
        return {
            "operator": (await store.tokens.create(Role.OPERATOR, now))[1],
            "acme": (await store.tokens.create(Role.ENTERPRISE, now, "acme"))[1],
            "other": (await store.tokens.create(Role.ENTERPRISE, now, "other"))[1],
            "engineer": (await store.tokens.create(Role.ENGINEER, now))[1],
        }


@pytest.fixture
async def served(tmp_path: Path, mosquitto: MosquittoBroker) -> AsyncIterator[dict[str, Any]]:
    db = f"sqlite+aiosqlite:///{tmp_path / 'vpp.db'}"
    tokens = await _tokens(db)
    broker = f"mqtt://127.0.0.1:{mosquitto.port}"
    args = ("--db", db, "--mqtt", broker, "--simulated-devices", "--time-scale", TIME_SCALE)
    server = ServeProcess(tmp_path, *args).start()
    try:
        for who in ("acme", "other"):
            reply = httpx.put(
                f"{server.url}/v1/enterprises/{who}",
                json=acme(who),
                headers={"Authorization": f"Bearer {tokens[who]}"},
                timeout=30,
            )
            assert reply.status_code == 201, reply.text
        yield {"url": server.url, "tokens": tokens, "broker_port": mosquitto.port}
    finally:
        server.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: `make install` installs Debian's chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


async def _offline_context(browser: Any) -> tuple[Any, list[str]]:
    """A browser context where every request off 127.0.0.1 is aborted; aborted requests and
    script errors are recorded."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    context.on("weberror", lambda error: problems.append(f"script error: {error.error}"))

    async def guard(route: Any) -> None:
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            problems.append(route.request.url)
            await route.abort()

    await context.route("**/*", guard)
    return context, problems


async def _login(page: Any, url: str, token: str, shot: str | None = None) -> None:
    await page.goto(f"{url}/ui/login")
    if shot is not None:
        await page.screenshot(path=_shot(shot))
    await page.fill("input[name=token]", token)
    await page.click("#login button[type=submit]")
    await page.wait_for_load_state()


def _shot(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / name)


async def _delivered_points(page: Any) -> int:
    count: int = await page.evaluate(
        "window.vppChart.data[4].filter((v) => v !== null && v !== undefined).length"
    )
    return count


def _take_offline(url: str, token: str, site_id: str) -> None:
    """The site's simulated gateway vanishes for an hour: the broker publishes its will and
    its telemetry stops, as when a real gateway loses power."""
    reply = httpx.post(
        f"{url}/v1/simulated-devices/{site_id}/faults",
        json={"kind": "offline", "duration_min": 60},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert reply.status_code == 201, reply.text


async def _enterprise_sees_its_live_delivery(browser: Any, url: str, token: str) -> None:
    context, problems = await _offline_context(browser)
    page = await context.new_page()
    await _login(page, url, token)
    await page.wait_for_function(
        "[...document.querySelectorAll('#live tbody tr td:last-child')]"
        ".some((td) => td.textContent !== '–')",
        timeout=WAIT_MS,
    )
    await page.screenshot(path=_shot("enterprise-live.png"), full_page=True)
    assert problems == []
    await context.close()


async def _enterprise_sees_its_settlement(
    browser: Any, url: str, token: str, event_id: str
) -> None:
    context, problems = await _offline_context(browser)
    page = await context.new_page()
    await _login(page, url, token)
    settlements = await page.inner_text("#settlements")
    assert event_id in settlements
    assert "other" not in settlements
    await page.wait_for_selector("#live tbody tr", timeout=WAIT_MS)
    await page.screenshot(path=_shot("enterprise-settled.png"), full_page=True)
    assert problems == []
    await context.close()


async def test_operator_issues_watches_live_sees_a_drop_and_cancels(served, browser):
    url, tokens = served["url"], served["tokens"]
    context, problems = await _offline_context(browser)
    page = await context.new_page()
    await _login(page, url, tokens["operator"], shot="login.png")
    assert page.url.endswith("/ui/operator")
    await page.wait_for_selector("#capability dl:not([hidden])", timeout=WAIT_MS)
    await page.screenshot(path=_shot("operator.png"), full_page=True)

    await page.fill("#issue input[name=event_id]", "ev-live")
    await page.fill("#issue input[name=lead_min]", "0")
    await page.fill("#issue input[name=duration_min]", "120")
    await page.fill("#issue input[name=target_kw]", "200")
    await page.click("#issue button[type=submit]")
    await page.wait_for_url("**/ui/operator/events/ev-live")
    await page.evaluate("window.__sameDocument = true")

    await page.wait_for_function(
        "document.getElementById('state').dataset.state === 'active'", timeout=WAIT_MS
    )
    await page.wait_for_function("window.vppChart.data[4].some((v) => v !== null)", timeout=WAIT_MS)
    first = await _delivered_points(page)
    canvas = await page.query_selector("#chart canvas")
    assert canvas is not None, "the chart was not drawn"
    box = await canvas.bounding_box()
    assert box is not None
    assert box["height"] > 100
    await page.wait_for_function(
        f"window.vppChart.data[4].filter((v) => v !== null).length > {first}", timeout=WAIT_MS
    )
    assert await page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    assert await page.evaluate("window.vppPush.count") > 0

    enterprise_id = await page.inner_text("#participants tbody tr td:nth-child(2)")
    await _enterprise_sees_its_live_delivery(browser, url, tokens[enterprise_id])

    site_id = (await page.inner_text("#participants tbody tr td")).split("/")[0]
    _take_offline(url, tokens["engineer"], site_id)
    await page.wait_for_selector("#participants tr[data-state=dropped]", timeout=WAIT_MS)
    await page.wait_for_selector("#faults tbody tr", timeout=WAIT_MS)
    assert site_id in await page.inner_text("#faults tbody")
    await page.wait_for_selector("#redispatches tbody tr", timeout=WAIT_MS)
    assert await page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    await page.screenshot(path=_shot("event.png"), full_page=True)

    latencies: list[float] = await page.evaluate("window.vppPush.latencies_ms")
    assert latencies
    (SCREENSHOTS / "push_latency.json").write_text(
        json.dumps(
            {
                "samples": len(latencies),
                "median_ms": statistics.median(latencies),
                "p95_ms": sorted(latencies)[int(0.95 * (len(latencies) - 1))],
                "max_ms": max(latencies),
                "time_scale": float(TIME_SCALE),
            },
            indent=1,
        )
    )

    await page.fill("#cancel input[name=reason]", "browser test")
    await page.click("#cancel button[type=submit]")
    await page.wait_for_function(
        "document.getElementById('state').dataset.state === 'cancelled'", timeout=WAIT_MS
    )
    await page.wait_for_selector("#settlement:not([hidden]) tbody tr", timeout=WAIT_MS)
    assert await page.query_selector("#participants tr[data-state=dropped]") is not None
    await page.screenshot(path=_shot("event-settled.png"), full_page=True)
    await _enterprise_sees_its_settlement(browser, url, tokens["acme"], "ev-live")
    assert problems == []
    await context.close()


async def test_enterprise_sees_only_its_own_data(served, browser):
    url, tokens = served["url"], served["tokens"]
    operator = {"Authorization": f"Bearer {tokens['operator']}"}
    created = httpx.post(
        f"{url}/v1/events",
        json={
            "event_id": "ev-commit",
            "lead_min": 60,
            "duration_min": 30,
            "target_kw": 700,  # more than one enterprise can give: both take part
            "notice": "intraday",
        },
        headers=operator,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    context, problems = await _offline_context(browser)
    page = await context.new_page()
    await _login(page, url, tokens["acme"])
    assert page.url.endswith("/ui/enterprises/acme")
    text = await page.inner_text("main")
    assert "acme-site" in text
    assert "other-site" not in text
    await page.wait_for_selector("#commitments tbody tr", timeout=WAIT_MS)
    assert "ev-commit" in await page.inner_text("#commitments tbody")
    await page.screenshot(path=_shot("enterprise.png"), full_page=True)
    refused = await page.goto(f"{url}/ui/enterprises/other")
    assert refused is not None
    assert refused.status == 403
    refused = await page.goto(f"{url}/ui/operator")
    assert refused is not None
    assert refused.status == 403
    assert problems == []
    await context.close()


@pytest.mark.parametrize(
    ("path", "ready"), [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")]
)
async def test_api_docs_render_with_the_network_blocked(served, browser, path, ready):
    context, problems = await _offline_context(browser)
    page = await context.new_page()
    await page.goto(f"{served['url']}{path}")
    title = await page.wait_for_selector(ready, timeout=WAIT_MS)
    assert title is not None
    assert "vpp" in await title.inner_text()
    await page.screenshot(path=_shot(f"docs{path.replace('/', '-')}.png"))
    assert problems == []
    await context.close()
