"""Schemathesis against a live server's OpenAPI: every operation, then stateful runs
that chain them. No answer may be a 5xx, and every answer must match the schema:
its status documented, its content type, its body and its headers.

Not checked: that every schema-valid request is accepted. The server's rules
across fields (``low < high``, a condition naming a parameter that exists, ...)
are stricter than JSON Schema can say, and answer 422 naming the field.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import positive_data_acceptance

from tests.support.server import live_server

# `make faults` runs the long form; `make test` a shortened one.
LONG = os.environ.get("TUNEHUB_FAULTS") == "long"
EXAMPLES = 200 if LONG else 25
STATEFUL_RUNS = 100 if LONG else 15
EXCLUDED = [positive_data_acceptance]
FAST = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    with live_server(f"sqlite:///{path}") as url:
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")


def test_every_operation_answers_within_its_schema_and_never_5xx(schema: Any) -> None:
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @FAST
        def check(case: Any) -> None:
            case.call_and_validate(excluded_checks=EXCLUDED)

        try:
            check()
        except BaseException as error:  # a FailureGroup: collect them all, then fail
            failures[operation.label] = str(error)[:2000]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())


def test_chains_of_calls_answer_within_the_schema_and_never_5xx(schema: Any) -> None:
    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, excluded_checks=EXCLUDED)

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=STATEFUL_RUNS,
            stateful_step_count=10,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
