"""The API fuzzed from its own OpenAPI document (schemathesis): whatever a client sends,
no 5xx, and every response matches the documented status codes, media types and schemas."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import schemathesis
from api_helpers import acme, settings_for
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from vpp.api import Service, create_app
from vpp.store import Role

with warnings.catch_warnings():  # starlette prefers httpx2 for its TestClient
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

# starlette's TestClient warns about httpx and per-request cookies; neither matters here.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    """The app with its lifespan running, one registered enterprise and an admin token."""
    tmp_path: Path = tmp_path_factory.mktemp("fuzz")
    app = create_app(settings_for(tmp_path))
    with TestClient(app, raise_server_exceptions=False) as client:
        service: Service = app.state.service
        admin = client.portal.call(service.store.tokens.create, Role.ADMIN, datetime.now(UTC))[1]  # type: ignore[union-attr]
        headers = {"Authorization": f"Bearer {admin}"}
        assert client.put("/v1/enterprises/acme", json=acme(), headers=headers).status_code == 201
        yield client, admin


schema = schemathesis.openapi.from_dict(create_app().openapi())
# The coverage phase sends thousands of boundary cases (about 30 s); hypothesis' own
# generation with a few examples per operation keeps the suite fast.
schema.config.phases.coverage.enabled = False


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_answers_every_generated_request_as_documented(
    case: schemathesis.Case, running: tuple[TestClient, str]
) -> None:
    client, admin = running
    kwargs = case.as_transport_kwargs(
        base_url="http://testserver", headers={"Authorization": f"Bearer {admin}"}
    )
    response = client.request(**kwargs)
    case.validate_response(response, checks=CHECKS)
