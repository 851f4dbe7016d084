"""schemathesis against the API's own OpenAPI document: every operation, generated valid and invalid input
(NUL characters, huge numbers, wrong types, unreadable and bad multipart bodies) with a valid broker key.

Never a 5xx (`not_a_server_error`), and every other schemathesis check too (documented status codes, response
bodies and headers matching the schema, invalid data rejected, `Allow` on 405) except `positive_data_acceptance`:
the intake rules (postal code, plate, VIN check digit, e-mail or phone, no future date) live in core, as for the
form, so a schema-valid body may still be refused with 422 and its German field messages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.api.conftest import ApiWorld, build_world

MAX_EXAMPLES = 50


@pytest.fixture(scope="module")
def fuzz_world(module_database_url, tmp_path_factory) -> Iterator[ApiWorld]:
    """Its own app with a limit far above what the run sends (the limit itself is tested elsewhere)."""
    yield from build_world(module_database_url, tmp_path_factory.mktemp("fuzz"), API_RATE_LIMIT_PER_MINUTE="1000000")


@pytest.fixture
def api_schema(fuzz_world):
    schema = schemathesis.openapi.from_url(f"{fuzz_world.url}/openapi.json")
    schema.config.generation.update(max_examples=MAX_EXAMPLES, with_security_parameters=False)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error_or_breaks_the_schema(case, fuzz_world):
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_world.keys['broker_a']}"},
                           additional_checks=[not_a_server_error], excluded_checks=[positive_data_acceptance])
