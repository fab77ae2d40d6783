"""The image and the compose stack are well-formed (no Docker engine runs in CI)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

INFRA = Path(__file__).resolve().parents[2] / "infra"
ROOT = INFRA.parent


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [x.strip() for x in text.splitlines() if x.strip() and not x.lstrip().startswith("#")]
    return [(x.split(None, 1)[0].upper(), x.split(None, 1)[1]) for x in lines]


def compose() -> dict:
    return yaml.safe_load((INFRA / "docker-compose.yml").read_text())


def test_dockerfile_installs_the_lock_before_the_source_and_runs_as_non_root() -> None:
    steps = instructions(INFRA / "Dockerfile")
    assert steps[0] == ("FROM", "python:3.11-slim")
    keys = [f"{op} {arg}" for op, arg in steps]
    copy_lock = keys.index("COPY requirements.lock ./")
    install_lock = next(i for i, k in enumerate(keys) if k.startswith("RUN uv pip sync"))
    first_source = next(i for i, k in enumerate(keys) if k.startswith("COPY flows"))
    assert copy_lock < install_lock < first_source
    assert "--require-hashes requirements.lock" in keys[install_lock]
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    last_user = max(i for i, (op, _) in enumerate(steps) if op == "USER")
    assert all(op != "RUN" for op, _ in steps[last_user:]), "RUN after USER would need root"


def test_build_context_carries_what_the_dockerfile_copies() -> None:
    ignore = (INFRA / "Dockerfile.dockerignore").read_text().splitlines()
    for op, arg in instructions(INFRA / "Dockerfile"):
        if op == "COPY":
            src = arg.split()[0]
            assert (ROOT / src).exists(), src
            assert f"!{src.rstrip('/')}/" in ignore or f"!{src}" in ignore, src


def test_compose_runs_server_on_postgres_minio_and_a_worker_on_the_deployed_pool() -> None:
    services = compose()["services"]
    assert {"postgres", "prefect-server", "minio", "worker", "deploy"} <= set(services)
    db_url = services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert db_url.startswith("postgresql+asyncpg://") and "@postgres:5432/" in db_url
    assert "asyncpg==" in (ROOT / "requirements.lock").read_text()
    pool = yaml.safe_load((INFRA / "prefect.yaml").read_text())["definitions"]["work_pools"]
    worker = services["worker"]
    assert worker["command"][:5] == [
        "prefect",
        "worker",
        "start",
        "--pool",
        pool["process"]["name"],
    ]
    assert worker["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert worker["environment"]["DEBTFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert worker["build"] == {"context": "..", "dockerfile": "infra/Dockerfile"}
    assert "infra/prefect.yaml" in " ".join(services["deploy"]["command"])


def test_every_variable_compose_needs_is_in_env_example() -> None:
    text = (INFRA / "docker-compose.yml").read_text()
    needed = set(re.findall(r"(?<!\$)\$\{(\w+)", text))
    example = {
        line.split("=", 1)[0]
        for line in (INFRA / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert needed <= example, needed - example
    assert ".env" in (ROOT / ".gitignore").read_text().split()
