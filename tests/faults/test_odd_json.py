"""Nested, huge and odd JSON in every body field of a live server, on SQLite and on
PostgreSQL: never a 5xx, and whatever was stored is served again, within the schema.

Bodies are written by hand (``json.dumps`` with NaN, Infinity and unpaired surrogates
allowed, and nesting deeper than any encoder writes), not by a client library that
would refuse them. After each accepted body, every read of what it touched must
answer 200 with a body the wire models parse, and the study must still answer asks.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tunehub.schema import StudyList, StudyOut, TrialBatch, TrialList, TrialOut, TrialSample

LONG = os.environ.get("TUNEHUB_FAULTS") == "long"
EXAMPLES = 400 if LONG else 40
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

ODD_SCALARS = [
    2**63,
    -(2**63) - 1,
    10**30,
    2**53 + 1,
    1e308,
    -1e308,
    5e-324,
    -0.0,
    float("nan"),
    float("inf"),
    float("-inf"),
    "",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\x1b]0;title\x07",
    "\u202etxt",
    '=HYPERLINK("http://x")',
    "..",
    "../../etc/passwd",
    "abc\n",
    "é" * 300,
    "x" * 100_000,
]
KEYS = st.one_of(st.text(max_size=8), st.sampled_from(["", "\x00", "\ud800", "a.b", "$ref", "x"]))


class Deep:
    """A value nested ``levels`` deep, written as raw text (no encoder goes that deep)."""

    def __init__(self, levels: int, kind: str) -> None:
        self.levels, self.kind = levels, kind
        self.token = f"__deep_{uuid.uuid4().hex}__"

    def text(self) -> str:
        if self.kind == "object":
            return '{"a":' * self.levels + "1" + "}" * self.levels
        return "[" * self.levels + "]" * self.levels


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(ODD_SCALARS),
)
odd_json = st.one_of(
    st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4)
        ),
        max_leaves=20,
    ),
    st.builds(Deep, st.integers(min_value=20, max_value=3000), st.sampled_from(["object", "list"])),
)


def _encode(body: Any) -> bytes:
    deep: list[Deep] = []

    def strip(value: Any) -> Any:
        if isinstance(value, Deep):
            deep.append(value)
            return value.token
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    text = json.dumps(strip(body), allow_nan=True)  # ASCII: surrogates as \\ud800 escapes
    for value in deep:
        text = text.replace(f'"{value.token}"', value.text())
    return text.encode()


def _replace(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy: Any = dict(body) if isinstance(body, dict) else list(body)
    if isinstance(copy, dict):
        copy[head] = _replace(copy.get(head, {}), rest, value)
    else:
        copy[head] = _replace(copy[head], rest, value)
    return copy


def _study_body(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "space": {
            "x": {"type": "float", "low": 0, "high": 1},
            "c": {"type": "categorical", "choices": ["a", "b"]},
        },
        "objectives": [{"name": "y"}],
        "seed": 0,
    }


CREATE_PATHS = [
    ("name",),
    ("space",),
    ("space", "x"),
    ("space", "x", "low"),
    ("space", "c", "choices"),
    ("space", "c", "choices", 0),
    ("space", "x", "condition"),
    ("objectives",),
    ("objectives", 0, "name"),
    ("policy",),
    ("policy", "options"),
    ("seed",),
    ("user_attrs",),
    ("user_attrs", "note"),
    ("fidelity",),
    ("cost",),
    ("instances",),
    ("constraints",),
    ("heartbeat_grace_seconds",),
    ("resources",),
    ("cutoff",),
    ("max_failed_trials",),
    ("max_retries",),
    ("unknown_field",),
]
TELL_PATHS = [
    ("values",),
    ("values", "y"),
    ("metrics",),
    ("metrics", "note"),
    ("cost",),
    ("error",),
    ("state",),
    ("retry",),
    ("timed_out",),
]
REPORT_PATHS = [("step",), ("values",), ("values", "y")]
ENQUEUE_PATHS = [("params",), ("params", "x"), ("params", "c"), ("request_id",), ("instance",)]
ASK_PATHS = [("count",), ("worker",), ("request_id",)]
PATCH_PATHS = [("fidelity",), ("fidelity", "max"), ("max_failed_trials",)]


class Server:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=f"{base}/api/v1", timeout=60)
        body = _study_body(f"odd-{uuid.uuid4().hex[:8]}")
        body["fidelity"] = {"name": "epochs", "min": 1, "max": 9}
        self.study = self._ok(self.http.post("/studies", json=body))["id"]

    def _ok(self, answer: httpx.Response) -> Any:
        assert answer.status_code < 300, (answer.request.url, answer.text[:500])
        return answer.json()

    def send(self, method: str, path: str, body: Any) -> httpx.Response:
        answer = self.http.request(
            method, path, content=_encode(body), headers={"Content-Type": "application/json"}
        )
        assert answer.status_code < 500, (path, answer.text[:500])
        return answer

    def running_trial(self) -> int:
        batch = TrialBatch.model_validate(
            self._ok(self.http.post(f"/studies/{self.study}/ask", json={}))
        )
        return batch.trials[0].id

    def reads_answer(self, study_id: int, trial_id: int | None = None) -> None:
        """Every read of the study (and the trial) is a 200 the wire models parse."""
        StudyOut.model_validate(self._ok(self.http.get(f"/studies/{study_id}")))
        StudyList.model_validate(self._ok(self.http.get("/studies")))
        TrialList.model_validate(self._ok(self.http.get(f"/studies/{study_id}/trials")))
        TrialSample.model_validate(self._ok(self.http.get(f"/studies/{study_id}/trials/sample")))
        TrialBatch.model_validate(self._ok(self.http.get(f"/studies/{study_id}/best")))
        self._ok(self.http.get(f"/studies/{study_id}/pareto"))
        self._ok(self.http.get(f"/studies/{study_id}/reports"))
        if trial_id is not None:
            TrialOut.model_validate(self._ok(self.http.get(f"/trials/{trial_id}")))
            self._ok(self.http.get(f"/trials/{trial_id}/reports"))
        asked = self.http.post(f"/studies/{study_id}/ask", json={})
        assert asked.status_code < 500, asked.text[:500]


@pytest.fixture(scope="module")
def server(shared_server_url: str) -> Server:
    return Server(shared_server_url)


def test_odd_json_in_a_new_study(server: Server) -> None:
    @given(path=st.sampled_from(CREATE_PATHS), value=odd_json)
    @example(path=("user_attrs", "note"), value="a\x00b")
    @example(path=("user_attrs", "note"), value={"\x00": 10**30})
    @example(path=("user_attrs",), value={"\ud800": 1})
    @example(path=("space", "c", "choices", 0), value="\x00")
    @example(path=("space", "c", "choices", 0), value=2**63)
    @example(path=("objectives", 0, "name"), value="\ud800")
    @example(path=("policy", "options"), value=Deep(900, "object"))
    @SETTINGS
    def check(path: tuple[Any, ...], value: Any) -> None:
        body = _replace(_study_body(f"odd-{uuid.uuid4().hex[:8]}"), path, value)
        answer = server.send("POST", "/studies", body)
        if answer.status_code < 300:
            server.reads_answer(answer.json()["id"])

    check()


def test_odd_json_told_reported_enqueued_and_asked(server: Server) -> None:
    operations = st.one_of(
        st.tuples(st.just("tell"), st.sampled_from(TELL_PATHS)),
        st.tuples(st.just("report"), st.sampled_from(REPORT_PATHS)),
        st.tuples(st.just("enqueue"), st.sampled_from(ENQUEUE_PATHS)),
        st.tuples(st.just("ask"), st.sampled_from(ASK_PATHS)),
        st.tuples(st.just("patch"), st.sampled_from(PATCH_PATHS)),
    )

    @given(operation=operations, value=odd_json)
    @example(operation=("tell", ("metrics", "note")), value="a\x00b")
    @example(operation=("tell", ("metrics",)), value={"\x00": [1e308, -0.0, 5e-324]})
    @example(operation=("tell", ("metrics",)), value={"k": 10**30})
    @example(operation=("tell", ("values", "y")), value=1e308)
    @example(operation=("tell", ("values", "y")), value=float("nan"))
    @example(operation=("tell", ("cost",)), value=5e-324)
    @example(operation=("tell", ("error",)), value="\x00\ud800")
    @example(operation=("report", ("values", "y")), value=-1e308)
    @example(operation=("enqueue", ("request_id",)), value="\x00")
    @example(operation=("ask", ("worker",)), value="\ud800")
    @SETTINGS
    def check(operation: tuple[str, tuple[Any, ...]], value: Any) -> None:
        kind, path = operation
        trial = server.running_trial()
        if kind == "tell":
            base: dict[str, Any] = {"values": {"y": 0.5}, "metrics": {"loss": 0.1}}
            target = f"/trials/{trial}/tell"
        elif kind == "report":
            base, target = {"step": 1, "values": {"y": 0.5}}, f"/trials/{trial}/reports"
        elif kind == "enqueue":
            base = {"params": {"x": 0.5, "c": "a"}, "request_id": uuid.uuid4().hex}
            target = f"/studies/{server.study}/enqueue"
        elif kind == "ask":
            base, target = {"count": 1}, f"/studies/{server.study}/ask"
        else:
            base, target = {"max_failed_trials": 1000}, f"/studies/{server.study}"
        method = "PATCH" if kind == "patch" else "POST"
        server.send(method, target, _replace(base, path, value))
        server.reads_answer(server.study, trial)
        server.send("POST", f"/trials/{trial}/tell", {"state": "stopped"})  # free the slot
        if kind == "patch":  # asks must go on: no limit on failures
            server.send("PATCH", f"/studies/{server.study}", {"max_failed_trials": 10**9})

    check()
