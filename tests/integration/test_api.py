"""The wire contract over a live server, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import live_server, upgrade
from tunehub.server import dashboard

SVM_SPACE = {
    "C": {"type": "float", "low": 0.001, "high": 1000, "log": True},
    "kernel": {"type": "categorical", "choices": ["rbf", "linear"]},
    "gamma": {
        "type": "float",
        "low": 1e-4,
        "high": 1,
        "log": True,
        "condition": {"kernel": ["rbf"]},
    },
    "layers": {"type": "int", "low": 1, "high": 8},
}
_names = itertools.count()


@pytest.fixture
def api(shared_server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{shared_server_url}/api/v1", timeout=30) as c:
        yield c


def new_study(api: httpx.Client, **spec: Any) -> dict[str, Any]:
    body = {
        "name": f"study-{next(_names)}-{time.monotonic_ns()}",
        "space": SVM_SPACE,
        "objectives": [{"name": "loss", "direction": "minimize"}],
        "policy": {"name": "random", "options": {}},
        "seed": 0,
        **spec,
    }
    response = api.post("/studies", json=body)
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


def ask(api: httpx.Client, study_id: int, **body: Any) -> list[dict[str, Any]]:
    response = api.post(f"/studies/{study_id}/ask", json=body)
    assert response.status_code == 200, response.text
    trials: list[dict[str, Any]] = response.json()["trials"]
    return trials


def test_create_is_idempotent_and_conflicts_on_another_spec(api: httpx.Client) -> None:
    study = new_study(api)
    assert study["seed"] == 0 and study["policy"]["name"] == "random"
    assert study["policy"]["options"]["stopping"]["rule"] == "none"  # defaults are recorded
    body = {
        "name": study["name"],
        "space": SVM_SPACE,
        "objectives": [{"name": "loss"}],
        "seed": 0,
    }
    again = api.post("/studies", json=body)
    assert again.status_code == 200 and again.json()["id"] == study["id"]
    other = api.post("/studies", json={**body, "objectives": [{"name": "acc"}]})
    assert other.status_code == 409
    assert other.headers["content-type"].startswith("application/problem+json")
    assert "objectives" in other.json()["detail"]


def test_unseeded_study_gets_a_stored_seed_and_stays_idempotent(api: httpx.Client) -> None:
    body = {
        "name": f"noseed-{time.monotonic_ns()}",
        "space": SVM_SPACE,
        "objectives": [{"name": "l"}],
    }
    first = api.post("/studies", json=body)
    assert first.status_code == 201 and isinstance(first.json()["seed"], int)
    second = api.post("/studies", json=body)
    assert second.status_code == 200 and second.json()["seed"] == first.json()["seed"]


def test_ten_threads_creating_one_study_get_one(api: httpx.Client, shared_server_url: str) -> None:
    body = {
        "name": f"race-{time.monotonic_ns()}",
        "space": SVM_SPACE,
        "objectives": [{"name": "l"}],
    }
    answers: list[httpx.Response] = []
    barrier = threading.Barrier(10)

    def create() -> None:
        with httpx.Client(base_url=f"{shared_server_url}/api/v1", timeout=30) as c:
            barrier.wait()
            answers.append(c.post("/studies", json=body))

    threads = [threading.Thread(target=create) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in answers) == [200] * 9 + [201]
    assert len({r.json()["id"] for r in answers}) == 1
    assert api.get("/studies", params={"name": body["name"]}).json()["count"] == 1


def test_get_list_delete(api: httpx.Client) -> None:
    study = new_study(api)
    sid = study["id"]
    assert api.get(f"/studies/{sid}").json()["name"] == study["name"]
    found = api.get("/studies", params={"name": study["name"]}).json()
    assert found["count"] == 1 and found["studies"][0]["id"] == sid
    assert api.get("/studies", params={"search": study["name"][:9]}).json()["count"] >= 1
    (trial,) = ask(api, sid)
    assert api.delete(f"/studies/{sid}").status_code == 204
    assert api.get(f"/studies/{sid}").status_code == 404
    assert api.get(f"/trials/{trial['id']}").status_code == 404
    assert api.delete(f"/studies/{sid}").status_code == 404


def test_ask_numbers_and_repeated_request_id(api: httpx.Client) -> None:
    sid = new_study(api)["id"]
    first = ask(api, sid, count=3, worker="w1", request_id="req-1")
    assert [t["number"] for t in first] == [0, 1, 2]
    assert all(t["state"] == "running" and t["worker"] == "w1" for t in first)
    assert ask(api, sid, count=3, worker="w1", request_id="req-1") == first
    nxt = ask(api, sid, count=1)
    assert nxt[0]["number"] == 3
    for t in first + nxt:
        params = t["params"]
        assert ("gamma" in params) == (params["kernel"] == "rbf")
        assert 1 <= params["layers"] <= 8 and isinstance(params["layers"], int)


def test_same_seed_same_suggestions(api: httpx.Client) -> None:
    a = ask(api, new_study(api, seed=42)["id"], count=4)
    b = ask(api, new_study(api, seed=42)["id"], count=4)
    assert [t["params"] for t in a] == [t["params"] for t in b]


def test_enqueued_params_come_first(api: httpx.Client) -> None:
    sid = new_study(api, policy={"name": "sobol"})["id"]
    params = {"C": 1.0, "kernel": "linear", "layers": 3}
    queued = api.post(f"/studies/{sid}/enqueue", json={"params": params, "request_id": "e1"})
    assert queued.status_code == 201 and queued.json()["state"] == "pending"
    repeat = api.post(f"/studies/{sid}/enqueue", json={"params": params, "request_id": "e1"})
    assert repeat.status_code == 200 and repeat.json()["id"] == queued.json()["id"]
    trials = ask(api, sid, count=2)
    assert trials[0]["id"] == queued.json()["id"] and trials[0]["params"] == params
    assert trials[1]["params"] != params
    bad = api.post(f"/studies/{sid}/enqueue", json={"params": {**params, "layers": 99}})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "params.layers"


def test_report_tell_and_idempotency(api: httpx.Client) -> None:
    sid = new_study(api)["id"]
    (trial,) = ask(api, sid)
    tid = trial["id"]
    report = {"step": 1, "values": {"loss": 0.5}}
    assert api.post(f"/trials/{tid}/reports", json=report).json() == {"decision": "continue"}
    assert api.post(f"/trials/{tid}/reports", json=report).status_code == 200
    changed = api.post(f"/trials/{tid}/reports", json={"step": 1, "values": {"loss": 0.4}})
    assert changed.status_code == 409
    assert api.get(f"/trials/{tid}/reports").json()[0]["values"] == {"loss": 0.5}
    tell = {"values": {"loss": 0.31}, "metrics": {"acc": 0.9, "notes": ["ok"]}, "cost": 12.5}
    told = api.post(f"/trials/{tid}/tell", json=tell)
    assert told.status_code == 200
    body = told.json()
    assert body["state"] == "completed" and body["values"] == {"loss": 0.31}
    assert body["metrics"] == {"acc": 0.9, "notes": ["ok"]} and body["cost"] == 12.5
    again = api.post(f"/trials/{tid}/tell", json=tell)
    assert again.status_code == 200 and again.json()["finished_at"] == body["finished_at"]
    conflict = api.post(f"/trials/{tid}/tell", json={"values": {"loss": 0.1}})
    assert conflict.status_code == 409 and "already completed" in conflict.json()["detail"]
    late = api.post(f"/trials/{tid}/reports", json={"step": 2, "values": {"loss": 0.2}})
    assert late.status_code == 409
    assert api.post(f"/trials/{tid}/heartbeat").status_code == 409


def test_failed_and_non_finite_tells(api: httpx.Client) -> None:
    sid = new_study(api)["id"]
    a, b = ask(api, sid, count=2)
    failed = api.post(
        f"/trials/{a['id']}/tell", json={"state": "failed", "error": "Traceback: boom"}
    ).json()
    assert failed["state"] == "failed" and failed["error"] == "Traceback: boom"
    nan = api.post(
        f"/trials/{b['id']}/tell",
        content=b'{"values": {"loss": NaN}}',
        headers={"content-type": "application/json"},
    )
    assert nan.status_code == 200
    assert nan.json()["state"] == "failed" and nan.json()["values"] is None
    assert "not a finite number" in nan.json()["error"]
    assert api.get(f"/studies/{sid}/best").json() == {"trials": []}


def test_bad_tells_name_the_field(api: httpx.Client) -> None:
    sid = new_study(api)["id"]
    (trial,) = ask(api, sid)
    tid = trial["id"]
    cases = [
        ({"values": {"acc": 1.0}}, "values.acc"),
        ({"values": {}}, "values.loss"),
        ({}, "body"),
        ({"values": {"loss": "x"}}, "values.loss"),
        ({"state": "running"}, "body"),
        ({"values": {"loss": 1.0}, "cost": -1}, "body"),
        ({"values": {"loss": 1.0}, "bogus": 1}, "bogus"),
    ]
    for body, field in cases:
        response = api.post(f"/trials/{tid}/tell", json=body)
        assert response.status_code == 422, (body, response.text)
        problem = response.json()
        assert problem["status"] == 422
        assert any(e["field"] == field for e in problem["errors"]), (body, problem)
    assert api.get(f"/trials/{tid}").json()["state"] == "running"
    assert api.post("/trials/999999999/tell", json={"values": {"loss": 1}}).status_code == 404


def test_pending_trial_cannot_be_told(api: httpx.Client) -> None:
    sid = new_study(api)["id"]
    queued = api.post(
        f"/studies/{sid}/enqueue", json={"params": {"C": 1.0, "kernel": "linear", "layers": 1}}
    ).json()
    response = api.post(f"/trials/{queued['id']}/tell", json={"values": {"loss": 1}})
    assert response.status_code == 409 and "pending" in response.json()["detail"]


def test_list_trials_filters_and_pages(api: httpx.Client) -> None:
    sid = new_study(api)["id"]
    trials = ask(api, sid, count=7)
    for t in trials[:5]:
        api.post(f"/trials/{t['id']}/tell", json={"values": {"loss": float(t["number"])}})
    done = api.get(f"/studies/{sid}/trials", params={"state": "completed", "limit": 2, "offset": 2})
    body = done.json()
    assert body["count"] == 5 and [t["number"] for t in body["trials"]] == [2, 3]
    both = api.get(f"/studies/{sid}/trials", params=[("state", "completed"), ("state", "running")])
    assert both.json()["count"] == 7
    counts = api.get(f"/studies/{sid}").json()["trial_counts"]
    assert counts == {"completed": 5, "running": 2}
    bad = api.get(f"/studies/{sid}/trials", params={"state": "done", "limit": 0})
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"state.0", "limit"} <= fields


def test_trials_sort_on_the_server_with_empty_values_last(api: httpx.Client) -> None:
    sid = new_study(api)["id"]
    trials = ask(api, sid, count=6)
    losses = [0.5, -2.0, 3.0, 1.0]
    for t, loss in zip(trials, losses):
        api.post(f"/trials/{t['id']}/tell", json={"values": {"loss": loss}, "cost": 10 - loss})
    api.post(f"/trials/{trials[4]['id']}/tell", json={"state": "failed", "error": "boom"})

    def order(sort: str, **params: Any) -> list[int]:
        answer = api.get(f"/studies/{sid}/trials", params={"sort": sort, **params})
        assert answer.status_code == 200, answer.text
        return [t["number"] for t in answer.json()["trials"]]

    ranked = [t["number"] for _, t in sorted(zip(losses, trials))]
    assert order("value") == [*ranked, 4, 5]  # no value: last, by number
    assert order("-value") == [*reversed(ranked), 4, 5]
    assert order("-cost") == [*ranked, 4, 5]  # cost = 10 - loss
    assert order("-number", limit=2, offset=1) == [4, 3]
    assert order("state")[:4] == sorted(ranked)  # "completed" first, ties by number
    bad = api.get(f"/studies/{sid}/trials", params={"sort": "params"})
    assert bad.status_code == 422
    error = bad.json()["errors"][0]
    assert error["field"] == "sort" and "value" in str(bad.json())


def test_learning_curves_page_and_thin_the_reports(api: httpx.Client) -> None:
    sid = new_study(api)["id"]
    trials = ask(api, sid, count=4)
    for t in trials[:3]:
        for step in range(t["number"] * 10, 0, -1):  # out of order: curves come back by step
            body = {"step": step, "values": {"loss": 1 / step}}
            assert api.post(f"/trials/{t['id']}/reports", json=body).status_code == 200
    answer = api.get(f"/studies/{sid}/reports")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["count"] == 2  # trial 0 reported nothing, trial 3 neither
    first, second = body["curves"]
    assert (first["number"], second["number"]) == (1, 2)
    assert first["steps"] == list(range(1, 11)) and first["state"] == "running"
    assert first["values"]["loss"] == [1 / s for s in range(1, 11)]
    thin = api.get(f"/studies/{sid}/reports", params={"max_points": 5, "offset": 1}).json()
    assert thin["count"] == 2 and len(thin["curves"]) == 1
    steps = thin["curves"][0]["steps"]
    assert len(steps) == 5 and steps[0] == 1 and steps[-1] == 20 and steps == sorted(steps)
    missing = api.get("/studies/999999/reports")
    assert missing.status_code == 404


def test_plot_sample_keeps_every_new_best_and_pages_nothing_away(api: httpx.Client) -> None:
    sid = new_study(api)["id"]
    trials = ask(api, sid, count=60)
    losses = [((7 * t["number"]) % 23) - 0.01 * t["number"] for t in trials]
    for t, loss in zip(trials, losses):
        if t["number"] % 10 == 9:
            api.post(f"/trials/{t['id']}/tell", json={"state": "failed", "error": "boom"})
        else:
            api.post(f"/trials/{t['id']}/tell", json={"values": {"loss": loss}})
    whole = api.get(f"/studies/{sid}/trials/sample").json()
    assert whole["count"] == 60 and [t["number"] for t in whole["trials"]] == list(range(60))
    answer = api.get(f"/studies/{sid}/trials/sample", params={"limit": 20})
    assert answer.status_code == 200, answer.text
    sample = answer.json()
    numbers = [t["number"] for t in sample["trials"]]
    assert sample["count"] == 60 and len(numbers) == 20 and numbers == sorted(numbers)
    best, improvements = float("inf"), []
    for t, loss in zip(trials, losses):
        if t["number"] % 10 != 9 and loss < best:
            best = loss
            improvements.append(t["number"])
    assert set(improvements) <= set(numbers)
    assert 58 in numbers  # the last result: the best-so-far line runs to it
    assert all(t["params"] and "state" in t for t in sample["trials"])
    bad = api.get(f"/studies/{sid}/trials/sample", params={"limit": 3})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "limit"
    assert api.get("/studies/999999/trials/sample").status_code == 404


def test_rungs_count_a_schedulers_trials_per_bracket_and_rung(api: httpx.Client) -> None:
    sid = new_study(
        api,
        policy={"name": "hyperband", "options": {}},
        fidelity={"name": "epochs", "min": 1, "max": 9, "eta": 3},
    )["id"]
    for _ in range(4):
        for t in ask(api, sid, count=5):
            api.post(f"/trials/{t['id']}/tell", json={"values": {"loss": t["number"] % 7}})
    every = api.get(f"/studies/{sid}/trials", params={"limit": 1000}).json()["trials"]
    expected: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for t in every:
        meta = t["policy_meta"]
        expected.setdefault((meta.get("bracket", 0), meta["rung"]), []).append(t)
    rungs = api.get(f"/studies/{sid}/rungs").json()["rungs"]
    assert [(r["bracket"], r["rung"]) for r in rungs] == sorted(expected)
    for r in rungs:
        members = expected[r["bracket"], r["rung"]]
        assert r["trials"] == len(members)
        assert r["completed"] == sum(t["state"] == "completed" for t in members)
        assert r["budget"] == members[0]["budget"]
        assert r["best"] == min(t["values"]["loss"] for t in members if t["values"])
    plain = new_study(api)["id"]
    assert api.get(f"/studies/{plain}/rungs").json() == {"rungs": []}


def test_scaling_fits_the_cost_front_and_recommends_settings(api: httpx.Client) -> None:
    space = {
        "width": {"type": "int", "low": 1, "high": 100_000, "log": True},
        "lr": {"type": "float", "low": 1e-5, "high": 1.0, "log": True},
    }
    sid = new_study(api, space=space)["id"]
    before = api.get(f"/studies/{sid}/scaling").json()
    assert (
        before["front"] == [] and before["objective_law"] is None and "tell costs" in before["note"]
    )
    for cost in [10, 20, 40, 80, 160, 320]:
        # On the front: width = 3 * cost^0.5, lr = 0.2 * cost^-0.25, loss = 1 + 4 * cost^-0.3.
        params = {"width": round(3 * cost**0.5), "lr": 0.2 * cost**-0.25}
        assert api.post(f"/studies/{sid}/enqueue", json={"params": params}).status_code == 201
        [t] = ask(api, sid)
        assert t["params"] == params
        body: dict[str, Any] = {"values": {"loss": 1 + 4 * cost**-0.3}, "cost": cost}
        api.post(f"/trials/{t['id']}/tell", json=body)
    # Cheaper than all and bad, with outlying settings: the front's cheapest member.
    junk = {"width": 90_000, "lr": 0.9}
    assert api.post(f"/studies/{sid}/enqueue", json={"params": junk}).status_code == 201
    [t] = ask(api, sid)
    api.post(f"/trials/{t['id']}/tell", json={"values": {"loss": 9.0}, "cost": 5})
    for t, cost in zip(ask(api, sid, count=6), [10, 20, 40, 80, 160, 320]):
        body = {"values": {"loss": 1.5 + 4 * cost**-0.3}, "cost": cost}  # dominated
        assert api.post(f"/trials/{t['id']}/tell", json=body).status_code == 200
    answer = api.get(f"/studies/{sid}/scaling", params={"cost": 1280})
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert [t["cost"] for t in out["front"]] == [5, 10, 20, 40, 80, 160, 320]
    assert out["parameters"]["lr"]["exponent"] == pytest.approx(-0.25, abs=0.02)
    assert out["parameters"]["width"]["exponent"] == pytest.approx(0.5, abs=0.05)
    assert out["recommended"]["width"] == pytest.approx(3 * 1280**0.5, rel=0.1)
    assert isinstance(out["recommended"]["width"], int)
    assert out["predicted"] < 1 + 4 * 320**-0.3
    bad = api.get(f"/studies/{sid}/scaling", params={"cost": -1})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cost"
    wrong = api.get(f"/studies/{sid}/scaling", params={"objective": "acc"})
    assert wrong.status_code == 422 and "loss" in wrong.text


def test_a_carbs_study_searches_around_its_cost_front(api: httpx.Client) -> None:
    space = {
        "width": {"type": "int", "low": 4, "high": 256, "log": True},
        "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
    }
    policy = {"name": "carbs", "options": {"initial_trials": 3, "candidates": 64}}
    sid = new_study(api, space=space, policy=policy, cost={"max": 50})["id"]
    for _ in range(6):
        [t] = ask(api, sid)
        p = t["params"]
        loss = 1 + 5 / p["width"] ** 0.5 + (math.log10(p["lr"]) + 2) ** 2
        api.post(f"/trials/{t['id']}/tell", json={"values": {"loss": loss}, "cost": p["width"] / 4})
    trials = api.get(f"/studies/{sid}/trials").json()["trials"]
    kinds = [t["policy_meta"]["carbs"] for t in trials]
    assert kinds[:3] == ["initial"] * 3 and kinds[3:] == ["search"] * 3
    assert all(t["policy_meta"]["predicted_cost"] <= 50 for t in trials[3:])
    two = {"name": f"carbs-two-{time.monotonic_ns()}", "space": space, "policy": policy}
    two["objectives"] = [{"name": "a"}, {"name": "b"}]
    refused = api.post("/studies", json=two)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "objectives"


def test_dashboard_is_served_with_its_assets_and_no_way_out(shared_server_url: str) -> None:
    page = httpx.get(f"{shared_server_url}/")
    assert page.status_code == 200 and "/dashboard/app.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    plotly = httpx.get(f"{shared_server_url}/dashboard/plotly-basic.min.js")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
    assert f"v{dashboard.PLOTLY_VERSION}" in plotly.text[:200] and dashboard.plotly_is_intact()
    assert "max-age" in plotly.headers["cache-control"]
    app = httpx.get(f"{shared_server_url}/dashboard/app.js")
    assert app.status_code == 200 and app.headers["content-type"].startswith("text/javascript")
    for name in ("..%2F..%2Fpyproject.toml", "index.html", "%2e%2e%2f__init__.py", "x.js"):
        assert httpx.get(f"{shared_server_url}/dashboard/{name}").status_code == 404


def test_best_single_objective_both_directions(api: httpx.Client) -> None:
    for direction, expected in (("minimize", 1.0), ("maximize", 5.0)):
        sid = new_study(api, objectives=[{"name": "acc", "direction": direction}])["id"]
        for t, value in zip(ask(api, sid, count=3), (3.0, 1.0, 5.0)):
            api.post(f"/trials/{t['id']}/tell", json={"values": {"acc": value}})
        (best,) = api.get(f"/studies/{sid}/best").json()["trials"]
        assert best["values"]["acc"] == expected


def test_best_is_the_pareto_set_for_several_objectives(api: httpx.Client) -> None:
    objectives = [
        {"name": "err", "direction": "minimize"},
        {"name": "speed", "direction": "maximize"},
    ]
    sid = new_study(api, objectives=objectives)["id"]
    points = [(0.1, 1.0), (0.2, 5.0), (0.3, 4.0), (0.05, 0.5), (0.2, 5.0)]
    trials = ask(api, sid, count=len(points))
    for t, (err, speed) in zip(trials, points):
        api.post(f"/trials/{t['id']}/tell", json={"values": {"err": err, "speed": speed}})
    front = api.get(f"/studies/{sid}/best").json()["trials"]
    assert sorted(t["number"] for t in front) == [0, 1, 3, 4]


def test_heartbeat_expiry_fails_and_reasks(api: httpx.Client) -> None:
    sid = new_study(api, heartbeat_grace_seconds=1.0, max_retries=1)["id"]
    alive, dead = ask(api, sid, count=2, worker="w")
    deadline = time.monotonic() + 1.6
    while time.monotonic() < deadline:
        assert api.post(f"/trials/{alive['id']}/heartbeat").json() == {
            "state": "running",
            "decision": "continue",
        }
        time.sleep(0.3)
    (retry,) = ask(api, sid, count=1, worker="w2")
    expired = api.get(f"/trials/{dead['id']}").json()
    assert expired["state"] == "failed" and "heartbeat" in expired["error"]
    assert api.get(f"/trials/{alive['id']}").json()["state"] == "running"
    assert retry["parent_id"] == dead["id"] and retry["params"] == dead["params"]
    assert retry["retries"] == 1 and retry["policy_meta"]["retry_of"] == dead["number"]
    # The dead trial's worker was alive after all: its late result is refused (a retry
    # took its place) only when it differs... here a retry exists, so it is a conflict.
    late = api.post(f"/trials/{dead['id']}/tell", json={"values": {"loss": 1.0}})
    assert late.status_code == 409


def test_expired_trial_without_retry_is_revived_by_its_worker(api: httpx.Client) -> None:
    sid = new_study(api, heartbeat_grace_seconds=0.5)["id"]
    (slow,) = ask(api, sid)
    time.sleep(0.8)
    ask(api, sid)  # reaps
    assert api.get(f"/trials/{slow['id']}").json()["state"] == "failed"
    report = api.post(f"/trials/{slow['id']}/reports", json={"step": 0, "values": {"loss": 2.0}})
    assert report.json() == {"decision": "continue"}
    assert api.get(f"/trials/{slow['id']}").json()["state"] == "running"
    told = api.post(f"/trials/{slow['id']}/tell", json={"values": {"loss": 1.0}})
    assert told.json()["state"] == "completed"


def test_openapi_and_docs_are_served(api: httpx.Client, shared_server_url: str) -> None:
    spec = httpx.get(f"{shared_server_url}/openapi.json").json()
    for path in (
        "/api/v1/studies",
        "/api/v1/studies/{study_id}/ask",
        "/api/v1/trials/{trial_id}/reports",
        "/api/v1/trials/{trial_id}/tell",
        "/api/v1/trials/{trial_id}/heartbeat",
        "/api/v1/studies/{study_id}/enqueue",
        "/api/v1/studies/{study_id}/best",
        "/api/v1/studies/{study_id}/reports",
    ):
        assert path in spec["paths"]
    assert httpx.get(f"{shared_server_url}/docs").status_code == 200


def test_silent_trials_expire_without_any_ask(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("postgresql"):
        upgrade(database_url)
    env = {"TUNEHUB_SWEEP_SECONDS": "0.2"}
    with live_server(database_url, log=tmp_path / "s.log", env=env) as url:
        api = httpx.Client(base_url=f"{url}/api/v1", timeout=30)
        sid = new_study(api, heartbeat_grace_seconds=0.5)["id"]
        (trial,) = ask(api, sid)
        deadline = time.monotonic() + 10
        while api.get(f"/trials/{trial['id']}").json()["state"] == "running":
            assert time.monotonic() < deadline, "the sweeper never expired the trial"
            time.sleep(0.2)
        assert "heartbeat" in api.get(f"/trials/{trial['id']}").json()["error"]


def test_a_stop_answered_to_a_report_reaches_the_heartbeat(api: httpx.Client) -> None:
    stopping = {"stopping": {"rule": "median", "min_trials": 1}}
    sid = new_study(api, policy={"name": "random", "options": stopping})["id"]
    good, bad = ask(api, sid, count=2)
    assert api.post(f"/trials/{good['id']}/reports", json={"step": 0, "values": {"loss": 0.1}})
    api.post(f"/trials/{good['id']}/tell", json={"values": {"loss": 0.1}}).raise_for_status()
    beat = api.post(f"/trials/{bad['id']}/heartbeat").json()
    assert beat == {"state": "running", "decision": "continue"}
    answer = api.post(f"/trials/{bad['id']}/reports", json={"step": 0, "values": {"loss": 5.0}})
    assert answer.json() == {"decision": "stop"}
    assert api.post(f"/trials/{bad['id']}/heartbeat").json()["decision"] == "stop"
    # Later reports keep answering stop, whatever their value.
    answer = api.post(f"/trials/{bad['id']}/reports", json={"step": 1, "values": {"loss": 0.0}})
    assert answer.json() == {"decision": "stop"}


def test_a_failure_told_with_retry_is_queued_again_up_to_max_retries(api: httpx.Client) -> None:
    sid = new_study(api, max_retries=1)["id"]
    (first,) = ask(api, sid, worker="w")
    lost = {"state": "failed", "error": "node died", "retry": True}
    for _ in range(2):  # a repeated tell queues nothing more
        response = api.post(f"/trials/{first['id']}/tell", json=lost)
        assert response.status_code == 200 and response.json()["state"] == "failed"
    (retry,) = ask(api, sid, worker="w")
    assert retry["parent_id"] == first["id"] and retry["retries"] == 1
    assert retry["params"] == first["params"] and retry["number"] == 1
    api.post(f"/trials/{retry['id']}/tell", json=lost).raise_for_status()  # retries used up
    (fresh,) = ask(api, sid)
    assert fresh["parent_id"] is None and fresh["number"] == 2  # no number was lost
    bad = api.post(f"/trials/{fresh['id']}/tell", json={"values": {"loss": 1.0}, "retry": True})
    assert bad.status_code == 422 and "retry" in bad.text


def test_instances_cutoffs_and_timeouts_scored_as_par10(api: httpx.Client) -> None:
    instances = {"train": ["p-16", {"id": "p-32", "features": {"n": 32}}], "test": ["p-64"]}
    runtime = [{"name": "runtime", "direction": "minimize"}]
    sid = new_study(api, objectives=runtime, instances=instances, cutoff=2.0)["id"]
    stored = api.get(f"/studies/{sid}").json()
    assert stored["cutoff"] == 2.0 and stored["instances"]["par"] == 10.0
    assert stored["instances"]["train"][0] == {"id": "p-16", "features": {}}
    params = {"C": 1.0, "kernel": "linear", "layers": 2}
    for instance in ("p-16", "p-64"):
        queued = api.post(f"/studies/{sid}/enqueue", json={"params": params, "instance": instance})
        assert queued.status_code == 201, queued.text
    finished, cut_off = ask(api, sid, count=2)
    assert (finished["instance"], cut_off["instance"]) == ("p-16", "p-64")
    done = api.post(f"/trials/{finished['id']}/tell", json={"values": {"runtime": 0.5}})
    assert done.json()["values"] == {"runtime": 0.5} and done.json()["timed_out"] is False
    told = {"timed_out": True, "cost": 2.0}
    timeout = api.post(f"/trials/{cut_off['id']}/tell", json=told)
    assert timeout.status_code == 200, timeout.text
    body = timeout.json()
    assert body["state"] == "completed" and body["timed_out"] is True
    assert body["values"] == {"runtime": 20.0}  # PAR10: ten times the cutoff
    # Telling the same timeout again is a no-op; a result instead is a conflict.
    assert api.post(f"/trials/{cut_off['id']}/tell", json=told).status_code == 200
    again = api.post(f"/trials/{cut_off['id']}/tell", json={"values": {"runtime": 1.0}})
    assert again.status_code == 409
    # An unknown instance, or one on a study without instances, names the field.
    for study, name in ((sid, "p-128"), (new_study(api)["id"], "p-16")):
        refused = api.post(f"/studies/{study}/enqueue", json={"params": params, "instance": name})
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "instance"
    # A quality objective keeps what the timeout told; with nothing told it is a failure.
    accuracy = [{"name": "acc", "direction": "maximize"}]
    quality = new_study(api, objectives=accuracy, instances=instances, cutoff=2.0)["id"]
    kept, lost = ask(api, quality, count=2)
    reached = {"timed_out": True, "values": {"acc": 0.7}}
    assert api.post(f"/trials/{kept['id']}/tell", json=reached).json()["values"] == {"acc": 0.7}
    failed = api.post(f"/trials/{lost['id']}/tell", json={"timed_out": True}).json()
    assert failed["state"] == "failed" and "cutoff" in failed["error"]
    duplicate = {"train": ["a", "b"], "test": ["a"]}
    refused = api.post(
        "/studies", json={**body_of(duplicate), "name": f"dup-{time.monotonic_ns()}"}
    )
    assert refused.status_code == 422 and "test[0]" in refused.text and "train[0]" in refused.text


def body_of(instances: dict[str, Any]) -> dict[str, Any]:
    return {"space": SVM_SPACE, "objectives": [{"name": "runtime"}], "instances": instances}


def test_an_ac_race_study_reports_its_incumbent_and_tests_it(api: httpx.Client) -> None:
    space = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
    instances = {"train": ["a", "b", "c"], "test": ["t1", "t2"]}
    sid = new_study(
        api,
        space=space,
        objectives=[{"name": "runtime"}],
        instances=instances,
        cutoff=10.0,
        policy={"name": "ac-race", "options": {"challengers_per_instance": 1}},
    )["id"]
    assert api.get(f"/studies/{sid}/incumbent").status_code == 404  # nothing run yet
    scale = {"a": 1.0, "b": 2.0, "c": 3.0, "t1": 1.5, "t2": 2.5}
    for _ in range(30):
        [t] = ask(api, sid)
        seconds = scale[t["instance"]] * (0.2 + abs(t["params"]["x"] - 0.3))
        limit = t["cutoff"] or 10.0
        told = {"timed_out": True} if seconds > limit else {"values": {"runtime": seconds}}
        assert api.post(f"/trials/{t['id']}/tell", json=told).status_code == 200
    best = api.get(f"/studies/{sid}/incumbent").json()
    assert sorted(r["instance"] for r in best["train"]["runs"]) == ["a", "b", "c"]
    assert best["train"]["missing"] == [] and best["test"]["missing"] == ["t1", "t2"]
    runs = [r["value"] for r in best["train"]["runs"]]
    assert best["train"]["mean"] == pytest.approx(sum(runs) / 3)
    # The incumbent is better on every instance than any other configuration that ran all.
    trials = api.get(f"/studies/{sid}/trials", params={"limit": 100}).json()["trials"]
    x = best["params"]["x"]
    assert all(abs(x - 0.3) <= abs(t["params"]["x"] - 0.3) + 1e-12 for t in trials)
    queued = api.post(f"/studies/{sid}/incumbent/test").json()
    assert sorted(r["instance"] for r in queued["test"]["runs"]) == ["t1", "t2"]
    again = api.post(f"/studies/{sid}/incumbent/test").json()
    assert [r["trial_id"] for r in again["test"]["runs"]] == [
        r["trial_id"] for r in queued["test"]["runs"]
    ]
    for t in ask(api, sid, count=2):
        assert t["params"] == best["params"] and t["instance"] in ("t1", "t2")
        seconds = scale[t["instance"]] * (0.2 + abs(x - 0.3))
        api.post(f"/trials/{t['id']}/tell", json={"values": {"runtime": seconds}})
    tested = api.get(f"/studies/{sid}/incumbent").json()["test"]
    assert tested["missing"] == [] and tested["mean"] == pytest.approx(2.0 * (0.2 + abs(x - 0.3)))
    plain = new_study(api)["id"]
    refused = api.get(f"/studies/{plain}/incumbent")
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "instances"
