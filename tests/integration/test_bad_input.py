"""Bad input never gets a 5xx: every endpoint fuzzed with arbitrary JSON and junk bytes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SPACE = {
    "x": {"type": "float", "low": 0, "high": 1},
    "k": {"type": "categorical", "choices": ["a"]},
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
# Bodies that look like the real ones, with fields swapped for junk, find deeper paths.
field_names = st.sampled_from(
    [
        "name",
        "space",
        "objectives",
        "policy",
        "seed",
        "count",
        "worker",
        "request_id",
        "step",
        "values",
        "state",
        "metrics",
        "cost",
        "error",
        "params",
        "heartbeat_grace_seconds",
        "max_retries",
        "user_attrs",
        "loss",
        "x",
        "type",
        "low",
        "high",
        "choices",
        "condition",
    ]
)
shaped = st.dictionaries(field_names, json_values, max_size=6)
bodies = json_values | shaped


@pytest.fixture(scope="module")
def target(shared_server_url: str) -> Iterator[tuple[httpx.Client, int, int]]:
    api = httpx.Client(base_url=f"{shared_server_url}/api/v1", timeout=30)
    study = api.post(
        "/studies",
        json={
            "name": f"fuzz-{time.monotonic_ns()}",
            "space": SPACE,
            "objectives": [{"name": "loss"}],
        },
    ).json()
    trial = api.post(f"/studies/{study['id']}/ask", json={}).json()["trials"][0]
    yield api, study["id"], trial["id"]
    api.close()


def paths(study_id: int, trial_id: int) -> list[str]:
    return [
        "/studies",
        f"/studies/{study_id}/ask",
        f"/studies/{study_id}/enqueue",
        f"/trials/{trial_id}/reports",
        f"/trials/{trial_id}/tell",
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies, which=st.integers(min_value=0, max_value=4))
def test_arbitrary_json_never_5xx(
    target: tuple[httpx.Client, int, int], body: Any, which: int
) -> None:
    api, study_id, trial_id = target
    # json.dumps writes NaN and Infinity as JavaScript clients do; the server must cope.
    response = api.post(
        paths(study_id, trial_id)[which],
        content=json.dumps(body),
        headers={"content-type": "application/json"},
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["detail"]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"null",
        b"[1,2]",
        b'"text"',
        b"\xff\xfe",
        b'{"values": {"loss": Infinity}}',
        b'{"count": 1e400}',
        json.dumps({"a": "b" * 10_000}).encode(),
    ],
)
def test_junk_bytes_never_5xx(target: tuple[httpx.Client, int, int], raw: bytes) -> None:
    api, study_id, trial_id = target
    for path in paths(study_id, trial_id):
        response = api.post(path, content=raw, headers={"content-type": "application/json"})
        assert response.status_code < 500, (path, raw, response.text)


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "/studies/0", "study_id"),
        ("GET", "/studies/99999999999999999999", "study_id"),
        ("GET", "/studies/abc", "study_id"),
        ("GET", "/trials/-4", "trial_id"),
        ("POST", "/trials/3000000000/heartbeat", "trial_id"),
        ("GET", "/studies?limit=100000", "limit"),
        ("GET", "/studies?offset=-1", "offset"),
    ],
)
def test_bad_ids_and_pages_name_the_field(
    target: tuple[httpx.Client, int, int], method: str, path: str, field: str
) -> None:
    api, _, _ = target
    response = api.request(method, path)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_study_errors_name_the_field(target: tuple[httpx.Client, int, int]) -> None:
    api, _, _ = target
    base = {"name": f"bad-{time.monotonic_ns()}", "space": SPACE, "objectives": [{"name": "l"}]}
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"policy": {"name": "tpe-magic"}}, "policy.name", "random"),
        (
            {"policy": {"name": "sobol", "options": {"scrambled": True}}},
            "policy.options.scrambled",
            "scramble",
        ),
        ({"space": {"x": {"type": "float", "low": 1, "high": 0}}}, "space.x", "swap"),
        (
            {"space": {"x": {"type": "float", "low": -1, "high": 1, "log": True}}},
            "space.x",
            "low > 0",
        ),
        ({"space": {"x": {"type": "categorical", "choices": ["a", "a"]}}}, "space.x", "twice"),
        ({"objectives": [{"name": "l", "direction": "up"}]}, "objectives.0.direction", "minimize"),
        ({"name": ""}, "name", "not allowed"),
        ({"seed": -1}, "seed", "greater"),
        ({"user_attrs": {"a": float("inf")}}, "user_attrs.a", "infinity"),
        ({"heartbeat_grace_seconds": 0}, "heartbeat_grace_seconds", "greater"),
        ({"space": {"n": {"type": "int", "low": 0, "high": 10**400}}}, "space.n", "finite"),
        ({"space": {"x": {"type": "float", "low": -1e308, "high": 1e308}}}, "space.x", "overflows"),
    ]
    for change, field, words in cases:
        response = api.post(
            "/studies",
            content=json.dumps({**base, **change}),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422, (change, response.text)
        problem = response.json()
        assert problem["errors"][0]["field"] == field, (change, problem)
        assert words in problem["detail"], (change, problem)


def test_nul_characters_never_5xx(target: tuple[httpx.Client, int, int]) -> None:
    api, study_id, _ = target
    (trial,) = api.post(f"/studies/{study_id}/ask", json={"worker": "w"}).json()["trials"]
    answers = [
        api.post(f"/studies/{study_id}/ask", json={"worker": "a\x00b"}),
        api.post(f"/studies/{study_id}/ask", json={"request_id": "r\x00"}),
        api.post(
            f"/trials/{trial['id']}/tell", json={"values": {"loss": 1}, "metrics": {"m": "x\x00"}}
        ),
        api.post(f"/trials/{trial['id']}/tell", json={"state": "failed", "error": "tb\x00"}),
    ]
    for response in answers:
        assert response.status_code < 500, response.text


def test_huge_numbers_in_enqueue_are_422(target: tuple[httpx.Client, int, int]) -> None:
    api, study_id, _ = target
    raw = b'{"params": {"x": 1' + b"0" * 400 + b', "k": "a"}}'
    response = api.post(
        f"/studies/{study_id}/enqueue", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "params.x"
