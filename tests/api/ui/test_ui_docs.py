"""/docs and /redoc load every asset from vpp itself: no CDN, no web fonts."""

from __future__ import annotations

import re

import pytest
from api_helpers import Api

ASSET = re.compile(r"""(?:src|href)=["']?([^"' >]+)""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_page_references_only_assets_served_by_vpp(api: Api, page: str):
    reply = await api.client.get(page)
    assert reply.status_code == 200
    html = reply.text
    assert "http://" not in html, "an external URL in the page"
    assert "https://" not in html, "an external URL in the page"
    assets = [a for a in ASSET.findall(html) if a.startswith("/static/")]
    assert assets, "the page loads no vendored asset"
    for asset in assets:
        fetched = await api.client.get(asset)
        assert fetched.status_code == 200, asset
        assert fetched.content, asset


async def test_swagger_ui_has_no_online_validator(api: Api):
    assert '"validatorUrl": null' in (await api.client.get("/docs")).text


async def test_vendored_licences_are_served_with_the_assets(api: Api):
    for name in ("swagger-ui", "redoc", "uplot"):
        reply = await api.client.get(f"/static/vendor/{name}/LICENSE")
        assert reply.status_code == 200
        assert "Permission" in reply.text or "Apache" in reply.text
