"""Fuzz the HTTP API from its own OpenAPI schema against a real `tierd serve`: valid and
invalid requests for every operation; no answer may be a 5xx, none may hang, and every answer
must be one the document states — its status code, media type and (for errors) body schema —
so generated clients and fuzzers are not misled.

Generated model names almost never name a real model, so most generations are refused
cheaply; the daemon's context is small so the rare real one is short.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import start_daemon

TOKEN = "fuzz-token-0123456789"
EXAMPLES_PER_OPERATION = 50
RESPONSE_TIMEOUT = 60.0
"""Seconds any one answer may take before the fuzz run calls it a hang."""
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, packaged_models_dir):
    d = start_daemon(tmp_path_factory.mktemp("fuzz"), packaged_models_dir,
                     f'[server]\ntoken = "{TOKEN}"\nqueue_limit = 2\nqueue_timeout = 30\n'
                     '[[models]]\nname = "packaged:gemma3-270m"\ncontext_length = 256\n'
                     '[[models]]\nname = "packaged:all-minilm"\ncontext_length = 256\n')
    yield d
    d.stop()


def test_no_5xx_and_no_hang_for_any_generated_request(daemon):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    schema = schemathesis.openapi.from_url(f"{daemon.url}/openapi.json", headers=headers)
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 10, [op.label for op in operations]
    ran: dict[str, int] = {}
    failures: list[str] = []
    mismatches: list[str] = []

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @given(case=strategy)
            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            def probe(case) -> None:
                ran[operation.label] = ran.get(operation.label, 0) + 1
                # A hang surfaces as the transport's timeout error, failing the test.
                response = case.call(base_url=daemon.url, headers=headers,
                                     timeout=RESPONSE_TIMEOUT)
                if response.status_code >= 500:
                    failures.append(f"{operation.label} -> {response.status_code} "
                                    f"{response.text[:200]!r} ({case.as_curl_command()})")
                try:
                    case.validate_response(response, checks=CONFORMANCE)
                except (Exception, BaseExceptionGroup) as err:  # one per mismatch found
                    mismatches.append(f"{operation.label} -> {response.status_code}: "
                                      f"{str(err)[:300]} ({case.as_curl_command()})")

            try:
                probe()
            except Unsatisfiable:
                # No invalid request exists for an operation without parameters (GET /healthz).
                if mode is GenerationMode.POSITIVE:
                    raise

    total = sum(ran.values())
    print(f"\nfuzz: {total} cases over {len(ran)} operations: {ran}")
    assert not failures, "\n".join(failures[:10])
    assert not mismatches, f"{len(mismatches)} answers the schema does not state:\n" + \
        "\n".join(mismatches[:10])
    assert total >= len(operations) * 10
    assert daemon.process.poll() is None, "the daemon died under fuzzing"
