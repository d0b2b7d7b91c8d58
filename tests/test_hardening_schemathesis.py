"""Issue 11.7: property-based API testing with schemathesis against the OpenAPI schema over real HTTP.

A bounded number of generated cases per operation (hypothesis ``max_examples``); every answer must be a
non-5xx response that matches the schema the service publishes.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from _scoring_helpers import LiveServer, save_bundle, small_settings, world
from riskmodel.service.app import create_app

pytestmark = pytest.mark.slow  # a real server and generated requests for every operation

MAX_EXAMPLES = 25  # per operation: bounded so the suite stays fast


def test_api_never_fails_with_a_server_error(tmp_path) -> None:
    from hypothesis import given

    cfg = small_settings(tmp_path, service={"max_batch": 5})
    save_bundle(world().bundles["lightgbm"], tmp_path)
    with LiveServer(create_app(cfg)) as server:
        assert httpx.get(f"{server.url}/health").json()["model_loaded"]
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 4
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case) -> None:  # noqa: ANN001 - a schemathesis Case
                case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

            run()
