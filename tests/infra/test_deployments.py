"""Deploy everything in infra/prefect.yaml to a real Prefect server and run the daily deployment.

The server (SQLite in tmp, scheduler off so no scheduled run fires mid-test) and a process
worker run as subprocesses; the flow run executes in the worker's child process on a small
simulated world, exactly as in production.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from prefect_server import BIN, prefect_env, prefect_server, start_worker, stop

ROOT = Path(__file__).resolve().parents[2]
PREFECT_YAML = ROOT / "infra" / "prefect.yaml"
POOL = "debtflow-process"
AS_OF = date(2026, 11, 20)
EXPECTED = {  # deployment -> (flow, cron)
    "daily": ("daily", "0 6 * * *"),
    "dunning-send": ("dunning-send", "0 9 * * 1-5"),
    "train": ("train", "0 8 * * 0"),
    "sale-tape": ("sale-tape", "0 8 1 * *"),
    "forward-flow": ("forward-flow", "30 8 1 * *"),
}
# sells receivables: its schedule is off until an agreement with a buyer is configured
INACTIVE = {"forward-flow"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prefect(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(BIN / "prefect"), *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


def test_prefect_yaml_deploys_every_flow_entrypoint() -> None:
    from prefect.flows import load_flow_from_entrypoint

    spec = yaml.safe_load(PREFECT_YAML.read_text())
    names = {d["name"]: d for d in spec["deployments"]}
    assert set(names) == set(EXPECTED)
    for name, (flow_name, _) in EXPECTED.items():
        entry = names[name]["entrypoint"]
        path, _, func = entry.partition(":")
        flow = load_flow_from_entrypoint(str(ROOT / path) + ":" + func)
        assert flow.name == flow_name
        assert names[name]["parameters"] == {"as_of": None}
        assert names[name]["work_pool"]["name"] == POOL
    assert names["daily"]["concurrency_limit"]["limit"] == 1


SETUP = """
import sys
from datetime import date
from debtflow.flows.ingest import ingest
from debtflow.flows.build import transform
from debtflow.flows.core.settings import get_settings
from debtflow.flows.simulation.simulation import simulate
from debtflow.models import train

settings, end, before = get_settings(), date.fromisoformat(sys.argv[1]), date.fromisoformat(sys.argv[2])
simulate(400, 12, 3, settings.root, end, 2)
ingest.ingest(settings, before)
transform.build(settings, before)
train.train(settings, before)
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small world loaded up to the day before AS_OF with a champion model.

    Built in a child process: dbt-duckdb keeps the warehouse file locked in the process that ran
    it, and the worker's flow run must be able to open it.
    """
    home = tmp_path_factory.mktemp("deploy") / "home"
    env = {**os.environ, "DEBTFLOW_HOME": str(home)}
    env.pop("DEBTFLOW_LANDING_URL", None)
    before = AS_OF - timedelta(days=1)
    done = subprocess.run(
        [sys.executable, "-c", SETUP, AS_OF.isoformat(), before.isoformat()],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    return home


@pytest.mark.slow
def test_deploy_all_then_a_worker_completes_the_daily_run_and_the_sends_and_tape(
    world: Path, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with prefect_server(tmp_path, free_port()) as api_url:
        env = prefect_env(tmp_path, api_url)
        prefect(["work-pool", "create", POOL, "--type", "process"], env)
        prefect(["work-pool", "set-concurrency-limit", POOL, "1"], env)
        prefect(["--no-prompt", "deploy", "--all", "--prefect-file", str(PREFECT_YAML)], env)

        with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
            deployments = {d.name: d for d in client.read_deployments()}
            assert set(deployments) == set(EXPECTED)
            for name, (flow_name, cron) in EXPECTED.items():
                d = deployments[name]
                assert client.read_flow(d.flow_id).name == flow_name
                assert d.work_pool_name == POOL
                assert [(s.schedule.cron, s.schedule.timezone) for s in d.schedules] == [
                    (cron, "Europe/Amsterdam")
                ]
                assert all(s.active == (name not in INACTIVE) for s in d.schedules)
                assert d.parameters == {"as_of": None}
            assert deployments["daily"].global_concurrency_limit.limit == 1

            # a bidder tape needs a strong pseudonymisation key (made up for this test)
            worker_env = {
                **env,
                "DEBTFLOW_HOME": str(world),
                "DEBTFLOW_PSEUDONYM_KEY": "deploy-test-" + "Vq3nB8xK1mZ6rT4wP9sL2dH7",
            }
            worker_env.pop("DEBTFLOW_LANDING_URL", None)
            worker = start_worker(POOL, worker_env, tmp_path / "worker.log")
            states = {}
            try:
                for name in ("daily", "dunning-send", "sale-tape"):  # in order, one at a time
                    run = client.create_flow_run_from_deployment(
                        deployments[name].id, parameters={"as_of": AS_OF.isoformat()}
                    )
                    states[name] = wait_final(client, run.id, timeout=360)
                    if not states[name].is_completed():
                        break
            finally:
                stop(worker, signals=2)
            log = (tmp_path / "worker.log").read_text()
            for name, state in states.items():
                assert state.is_completed(), f"{name} {state.type}: {state.message}\n{log[-4000:]}"
            assert len(states) == 3

    import duckdb

    with duckdb.connect(str(world / "warehouse.duckdb"), read_only=True) as con:
        scored = con.execute(
            "select count(*) from ml.debtor_scores where as_of = ?", [AS_OF]
        ).fetchone()[0]
    assert scored > 0


def wait_final(client, flow_run_id, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        state = client.read_flow_run(flow_run_id).state
        if state is not None and state.is_final():
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"flow run {flow_run_id} still {state and state.type} after {timeout}s"
            )
        time.sleep(2)
