"""Contract tests: schemathesis generates requests from GET /openapi.json's description and sends them
to a live gateway (uvicorn on a real socket, simulator upstream); every default check must pass, and
no generated input may produce a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import API_KEY, make_settings
from tests.servers import LiveServer
from worker.app import create_app
from worker.models import builtin_table
from worker.openapi import openapi_document

# Schemathesis authenticates through the document's `bearer` scheme itself, so that it can also
# generate requests without it (and expect them to be refused).
CONFIG = schemathesis.Config.from_dict({"auth": {"openapi": {"bearer": {"bearer": API_KEY}}}})
schema = schemathesis.openapi.from_dict(openapi_document(builtin_table(make_settings())), config=CONFIG)


@pytest.fixture(scope="module")
def contract_gateway() -> Iterator[LiveServer]:
    server = LiveServer(create_app(make_settings()))
    server.start()
    yield server
    server.stop()


@schema.parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_route_keeps_its_contract(case: schemathesis.Case[Any], contract_gateway: LiveServer) -> None:
    response = case.call_and_validate(base_url=contract_gateway.url)
    assert response.status_code < 500


def test_the_served_document_is_the_one_tested(contract_gateway: LiveServer) -> None:
    import httpx

    served = httpx.get(f"{contract_gateway.url}/openapi.json").json()
    assert served == openapi_document(builtin_table(make_settings()))
