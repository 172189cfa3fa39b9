"""schemathesis against the generated OpenAPI document, in process (WSGI), with an admin, a clerk and a
consumer token: no answer is a server error, and every answer's status, content type and body are the ones
the document declares for that operation (the error envelope included)."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis import GenerationMode, checks

from tests.store.world import build

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
# bounded: about 50 operations × (positive + negative) examples stay within a minute or two per database
EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 3}
# the role each security scheme is exercised with; deactivations and the like run last (admin)
ORDER = ("consumerToken", "staffToken", None, "adminToken")


def _scheme(operation) -> str | None:
    names = [name for requirement in operation.definition.raw.get("security", []) for name in requirement]
    return names[0] if names else None


def _exercise(operation, headers: dict, mode: GenerationMode) -> list[str]:
    failures: list[str] = []

    @hypothesis.settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # every failure is collected, reported at the end
            failures.append(f"{operation.label} [{mode.value}]: {str(exc).strip()[:1500]}")

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # an operation with nothing to break has no negative case
    return failures


@pytest.mark.filterwarnings("ignore")
def test_every_operation_answers_as_documented(app, sessions):
    world = build(sessions)
    client = app.test_client()
    consumer = client.post("/api/v1/consumers").get_json()["consumer_token"]
    headers = {
        "consumerToken": {"X-Consumer-Token": consumer},
        "staffToken": world.auth("clerk0"),
        "adminToken": world.auth("admin"),
        None: {},
    }
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 50
    operations.sort(key=lambda op: ORDER.index(_scheme(op)))
    failures = [
        failure
        for operation in operations
        for mode in EXAMPLES
        for failure in _exercise(operation, headers[_scheme(operation)], mode)
    ]
    assert not failures, f"{len(failures)} failures:\n" + "\n\n".join(failures[:30])
