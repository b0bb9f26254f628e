"""`tunehub worker` on a real local Ray against a live server.

Ray gets logical GPUs (``--num-gpus 2``): Ray assigns and isolates them exactly
as it does real ones, so GPU placement is tested on machines without a GPU.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import tunehub
from tests.support.postgres import free_port
from tests.support.server import live_server, tunehub_cmd

pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[2]
WORKER_TIMEOUT = 240


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("workers-server")
    with live_server(f"sqlite:///{folder / 'tunehub.db'}") as server_url:
        yield server_url


@pytest.fixture
def client(url: str) -> Iterator[tunehub.Client]:
    with tunehub.Client(url) as c:
        yield c


def worker_cmd(url: str, study: str, *args: str, cpus: int = 2, gpus: int = 0) -> list[str]:
    return tunehub_cmd(
        "worker",
        "--study",
        study,
        "--url",
        url,
        "--num-cpus",
        str(cpus),
        "--num-gpus",
        str(gpus),
        "--no-progress",
        *args,
    )


def worker_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "TUNEHUB_TEST_DIR": str(tmp_path / "evidence"), "PYTHONPATH": str(ROOT)}


def run_worker(cmd: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        cmd,
        cwd=tmp_path,
        env=worker_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def start_worker(cmd: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cmd,
        cwd=tmp_path,
        env=worker_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(condition: object, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def x_space() -> dict[str, tunehub.Float]:
    return {"x": tunehub.Float(0.0, 1.0)}


def test_results_failures_cost_and_checkpoint_folders(
    client: tunehub.Client, url: str, tmp_path: Path
) -> None:
    study = client.create_study(name="basics", space=x_space(), seed=3)
    for x in (0.1, 0.3, 0.9):  # 0.9 raises in the trial function
        study.enqueue({"x": x})
    out = run_worker(
        worker_cmd(
            url,
            "basics",
            "--entrypoint",
            "tests.support.trial_functions:quadratic",
            "--max-trials",
            "8",
            "--storage",
            str(tmp_path / "ckpt"),
        ),
        tmp_path,
    )
    trials = study.trials()
    assert len(trials) == 8 and not [t for t in trials if not t.state.finished]
    by_x = {t.params["x"]: t for t in trials}
    assert by_x[0.3].values == {"loss": 0.0}
    failed = by_x[0.9]
    assert failed.state == tunehub.TrialState.FAILED and failed.error is not None
    assert "ValueError: x=0.9 is too large" in failed.error and "Traceback" in failed.error
    done = [t for t in trials if t.state == tunehub.TrialState.COMPLETED]
    assert done and all(t.cost is not None and t.cost > 0 for t in done)
    assert all(t.metrics and t.metrics["wall_seconds"] > 0 for t in done)
    assert len(study.client.request("GET", f"/trials/{by_x[0.1].id}/reports")) == 3
    assert {p.name for p in (tmp_path / "ckpt" / f"basics-{study.id}").iterdir()} == {
        f"trial-{t.id}" for t in trials
    }
    assert "completed" in out.stdout


def test_gpu_trials_get_their_own_device_and_a_third_waits(
    client: tunehub.Client, url: str, tmp_path: Path
) -> None:
    study = client.create_study(
        name="gpus", space=x_space(), seed=1, resources={"num_cpus": 0.5, "num_gpus": 1}
    )
    run_worker(
        worker_cmd(
            url,
            "gpus",
            "--entrypoint",
            "tests.support.trial_functions:gpu_sleeper",
            "--max-trials",
            "3",
            gpus=2,
        ),
        tmp_path,
    )
    trials = study.trials()
    assert [t.state for t in trials] == [tunehub.TrialState.COMPLETED] * 3
    spans = sorted(
        ((t.metrics["started"], t.metrics["ended"], t) for t in trials if t.metrics),
        key=lambda span: span[0],
    )
    devices = [t.metrics["cuda_visible_devices"] for *_, t in spans if t.metrics]
    assert all(d in ("0", "1") for d in devices), devices
    (_, e0, _), (s1, e1, _), (s2, _, _) = spans
    assert s1 < e0, "two one-GPU trials should run at once on two GPUs"
    assert devices[0] != devices[1], "trials running together must see different GPUs"
    assert s2 >= min(e0, e1) - 0.05, "the third trial must wait for a free GPU"
    assert all(t.metrics and t.metrics["gpu_seconds"] >= 2.0 for t in trials)


def test_a_killed_trial_process_is_failed_and_retried_from_its_checkpoint(
    client: tunehub.Client, url: str, tmp_path: Path
) -> None:
    study = client.create_study(name="killed", space=x_space(), seed=2, max_retries=1)
    worker = start_worker(
        worker_cmd(
            url,
            "killed",
            "--entrypoint",
            "tests.support.trial_functions:resumable",
            "--max-trials",
            "1",
            "--storage",
            str(tmp_path / "ckpt"),
        ),
        tmp_path,
    )
    try:
        evidence = tmp_path / "evidence"
        wait_for(lambda: evidence.is_dir() and any(evidence.glob("pid-*")))
        (pid_file,) = evidence.glob("pid-*")
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        output, _ = worker.communicate(timeout=WORKER_TIMEOUT)
    finally:
        worker.kill()
    assert worker.returncode == 0, output
    first, retry = study.trials()
    assert first.state == tunehub.TrialState.FAILED
    assert first.error is not None and "Ray worker was lost" in first.error
    assert retry.parent_id == first.id and retry.retries == 1
    assert retry.state == tunehub.TrialState.COMPLETED
    assert retry.metrics and retry.metrics["resumed_from"] == f"trial {first.id} step 5"


def test_sigterm_stops_asking_and_leaves_no_trial_running(
    client: tunehub.Client, url: str, tmp_path: Path
) -> None:
    study = client.create_study(name="sigterm", space=x_space(), seed=4)
    worker = start_worker(
        worker_cmd(
            url,
            "sigterm",
            "--entrypoint",
            "tests.support.trial_functions:sleeper",
            "--grace-seconds",
            "1",
        ),
        tmp_path,
    )
    try:
        evidence = tmp_path / "evidence"
        wait_for(lambda: evidence.is_dir() and len(list(evidence.glob("started-*"))) == 2)
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert worker.returncode == 0, output
    assert "SIGTERM" in output
    trials = study.trials()
    assert len(trials) == 2
    assert all(t.state == tunehub.TrialState.STOPPED for t in trials), trials


def test_a_policy_stop_cancels_a_trial_that_ignores_it(
    client: tunehub.Client, url: str, tmp_path: Path
) -> None:
    study = client.create_study(
        name="stopped",
        space=x_space(),
        seed=5,
        policy_options={"stopping": {"rule": "median", "min_trials": 2}},
    )
    for x in (0.1, 0.2, 0.9):  # two short good curves, then a long bad one
        study.enqueue({"x": x})
    run_worker(
        worker_cmd(
            url,
            "stopped",
            "--entrypoint",
            "tests.support.trial_functions:stubborn_curve",
            "--max-trials",
            "3",
            "--heartbeat-seconds",
            "0.5",
            cpus=1,
        ),
        tmp_path,
    )
    good1, good2, bad = study.trials()
    assert good1.state == good2.state == tunehub.TrialState.COMPLETED
    assert bad.state == tunehub.TrialState.PRUNED, bad
    assert bad.started_at and bad.finished_at
    # It would report for 30 s; the stop came after its first report.
    assert (bad.finished_at - bad.started_at).total_seconds() < 15


def test_a_run_past_its_cutoff_is_stopped_and_told_as_a_timeout(
    client: tunehub.Client, url: str, tmp_path: Path
) -> None:
    study = client.create_study(
        name="cutoff",
        space=x_space(),
        objectives="runtime",
        instances={"train": [{"id": "small", "features": {"scale": 0.5}}, "big"]},
        cutoff=1.5,
        seed=8,
    )
    study.enqueue({"x": 0.2}, instance="small")  # 1 s: within the cutoff
    study.enqueue({"x": 0.9}, instance="big")  # 9 s: cut off at 1.5 s
    run_worker(
        worker_cmd(
            url,
            "cutoff",
            "--entrypoint",
            "tests.support.trial_functions:solver_run",
            "--max-trials",
            "2",
        ),
        tmp_path,
    )
    done, cut = study.trials()
    assert done.state == cut.state == tunehub.TrialState.COMPLETED
    assert not done.timed_out and done.values and 0.9 < done.values["runtime"] < 1.5
    assert cut.timed_out and cut.values == {"runtime": 15.0}  # PAR10 of the 1.5 s cutoff
    assert cut.cost is not None and 1.4 < cut.cost < 8
    assert cut.started_at and cut.finished_at
    assert (cut.finished_at - cut.started_at).total_seconds() < 8


def test_command_trials_tell_themselves_or_print_their_value(
    client: tunehub.Client, url: str, tmp_path: Path
) -> None:
    study = client.create_study(name="command", space=x_space(), seed=6)
    for x in (0.2, 0.8):
        study.enqueue({"x": x})
    script = ROOT / "tests" / "support" / "command_trial.py"
    run_worker(
        worker_cmd(url, "command", "--command", f"{sys.executable} {script}", "--max-trials", "2"),
        tmp_path,
    )
    told, printed = study.trials()
    assert told.values == {"loss": 0.2} and told.metrics == {"told_by": "script"}
    assert printed.values == {"loss": 8.0}
    assert printed.metrics and printed.metrics["wall_seconds"] > 0


def test_the_mlp_example_trains_twenty_trials_end_to_end(
    client: tunehub.Client, url: str, tmp_path: Path
) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from examples.mlp_digits import STUDY, create_study
    finally:
        sys.path.remove(str(ROOT))
    study = create_study(client)
    run_worker(
        worker_cmd(
            url,
            STUDY,
            "--entrypoint",
            "examples.mlp_digits:train",
            "--max-trials",
            "20",
            "--storage",
            str(tmp_path / "ckpt"),
        ),
        tmp_path,
    )
    trials = study.trials()
    assert len(trials) == 20
    states = {t.state for t in trials}
    assert states <= {tunehub.TrialState.COMPLETED, tunehub.TrialState.PRUNED}, trials
    done = [t for t in trials if t.state == tunehub.TrialState.COMPLETED]
    assert len(done) >= 5
    assert all(t.metrics and t.metrics["device"] == "cpu" for t in done)
    best = study.best_trial
    assert best is not None and best.metrics and best.metrics["val_accuracy"] > 0.9


def test_one_worker_serves_two_studies_with_their_own_resources(
    client: tunehub.Client, url: str, tmp_path: Path
) -> None:
    small = client.create_study(name="two-a", space=x_space(), seed=7)
    gpu = client.create_study(
        name="two-b", space=x_space(), seed=8, resources={"num_cpus": 0.5, "num_gpus": 1}
    )
    run_worker(
        tunehub_cmd(
            "worker",
            "--study",
            "two-a",
            "--study",
            str(gpu.id),  # by id works too
            "--url",
            url,
            "--num-cpus",
            "2",
            "--num-gpus",
            "1",
            "--no-progress",
            "--entrypoint",
            "tests.support.trial_functions:gpu_sleeper",
            "--max-trials",
            "4",
        ),
        tmp_path,
    )
    a, b = small.trials(), gpu.trials()
    assert a and b and len(a) + len(b) == 4
    assert all(t.state == tunehub.TrialState.COMPLETED for t in a + b)
    assert all(t.metrics and t.metrics["gpus"] == [] for t in a)
    assert all(t.metrics and len(t.metrics["gpus"]) == 1 for t in b)


def test_a_result_waits_for_a_server_that_went_away(tmp_path: Path) -> None:
    database, port = f"sqlite:///{tmp_path / 'outage.db'}", free_port()
    evidence = tmp_path / "evidence"
    with live_server(database, port=port) as url:
        with tunehub.Client(url) as c:
            c.create_study(name="outage", space=x_space(), seed=9)
        worker = start_worker(
            worker_cmd(
                url,
                "outage",
                "--entrypoint",
                "tests.support.trial_functions:slow_value",
                "--max-trials",
                "1",
            ),
            tmp_path,
        )
        wait_for(lambda: evidence.is_dir() and any(evidence.glob("started-*")))
    try:
        time.sleep(6)  # the trial ends while nothing listens on the port
        with live_server(database, port=port) as url, tunehub.Client(url) as c:
            output, _ = worker.communicate(timeout=120)
            assert worker.returncode == 0, output
            (trial,) = c.get_study("outage").trials()
            assert trial.state == tunehub.TrialState.COMPLETED and trial.values == {"loss": 0.5}
    finally:
        worker.kill()


def test_four_racing_workers_record_every_lost_race_as_stopped(
    client: tunehub.Client, url: str, tmp_path: Path
) -> None:
    from examples import sparse_solver

    study = client.create_study(
        name="ac-band",
        space=sparse_solver.SPACE,
        objectives="runtime",
        policy="ac-band",
        policy_options={"group_size": 4, "pool_size": 8},
        instances={"train": sparse_solver.instances(6, seed=3, sizes=(60, 90))},
        cutoff=20.0,
        resources={"num_cpus": 0.5},  # four runs at once on the worker's two CPUs
        seed=11,
    )
    out = run_worker(
        worker_cmd(
            url,
            "ac-band",
            "--entrypoint",
            "examples.sparse_solver:train",
            "--max-trials",
            "16",
            "--heartbeat-seconds",
            "0.3",
        ),
        tmp_path,
    )
    trials = study.trials()
    assert len(trials) == 16 and all(t.state.finished for t in trials), out.stdout
    races: dict[tuple[int, int, int], list[tunehub.schema.TrialOut]] = {}
    for trial in trials:
        meta = trial.policy_meta or {}
        races.setdefault((meta["iteration"], meta["stage"], meta["group"]), []).append(trial)
    # Two races of four, their winners' race of two, then the next pool's first races
    # (the last one cut short by --max-trials).
    assert len(races) >= 3 and sum(len(members) == 4 for members in races.values()) >= 3
    for members in races.values():
        assert len({t.instance for t in members}) == 1
        winners = [t for t in members if t.state == tunehub.TrialState.COMPLETED]
        assert winners or len(members) < 4, members  # a full race always has a finisher
        for loser in members:
            if loser.state == tunehub.TrialState.STOPPED:
                assert loser.error and "finished first" in loser.error
            else:  # finished, or failed to converge: never lost or left running
                assert loser.state in (tunehub.TrialState.COMPLETED, tunehub.TrialState.FAILED)
    stopped = [t for t in trials if t.state == tunehub.TrialState.STOPPED]
    assert len(stopped) >= len(races)  # most races were decided while others still ran


def test_a_worker_with_a_write_key_runs_trials_on_a_keyed_server(tmp_path: Path) -> None:
    from tunehub.schema import KeyCreate, Scope
    from tunehub.server.flows.keys import create_key
    from tunehub.server.store.engine import make_engine
    from tunehub.server.store.migrate import ensure_current

    database = f"sqlite:///{tmp_path / 'keyed.db'}"
    engine = make_engine(database)
    ensure_current(engine, auto_upgrade=True)
    _, key = create_key(engine, KeyCreate(name="worker", scope=Scope.WRITE))
    engine.dispose()
    with live_server(database) as keyed, tunehub.Client(keyed, token=key) as client:
        study = client.create_study(name="keyed", space=x_space(), seed=6)
        for x in (0.2, 0.8):
            study.enqueue({"x": x})
        script = ROOT / "tests" / "support" / "command_trial.py"
        cmd = worker_cmd(
            keyed, "keyed", "--command", f"{sys.executable} {script}", "--max-trials", "2"
        )
        done = subprocess.run(
            cmd,
            cwd=tmp_path,
            env={**worker_env(tmp_path), "TUNEHUB_API_KEY": key},
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        # The worker asked with the key, and so did the trial process that told itself.
        assert sorted(t.values["loss"] for t in study.trials() if t.values) == [0.2, 8.0]
