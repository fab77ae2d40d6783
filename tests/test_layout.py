"""The house rules of the layout: each stage's room says what it owns, a deployable flow has one
name everywhere, models/ is pure ML, and no module imports itself in a circle."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"flows": "debtflow.flows", "models": "debtflow.models"}
# what models/ may use of the flows: configuration, errors and the warehouse connection
MODELS_MAY_IMPORT = {
    "debtflow.flows.core.settings",
    "debtflow.flows.core.errors",
    "debtflow.flows.core.warehouse",
}


def modules() -> dict[str, Path]:
    found = {}
    for folder, dotted in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join((dotted, *parts)).removesuffix(".__init__")
            found[name] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """Every debtflow module a file imports, at the top or inside a function."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif (
            isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("debtflow")
        ):
            for a in node.names:
                full = f"{node.module}.{a.name}"
                out.add(full if full in known else node.module)
    return out & known


def test_every_stage_package_says_what_it_owns():
    packages = [p for p in (ROOT / "flows").iterdir() if (p / "__init__.py").exists()]
    assert {p.name for p in packages} >= {"core", "ingest", "build", "dunning", "tape", "ops"}
    for p in packages:
        assert (importlib.import_module(f"debtflow.flows.{p.name}").__doc__ or "").strip(), p


def test_models_import_only_settings_errors_and_the_warehouse_of_the_flows():
    known = set(modules())
    for name, path in modules().items():
        if name.startswith("debtflow.models"):
            flows = {m for m in imports(path, known) if m.startswith("debtflow.flows")}
            assert flows <= MODELS_MAY_IMPORT, (name, flows - MODELS_MAY_IMPORT)


def test_no_import_cycle():
    known = set(modules())
    graph = {name: imports(path, known) - {name} for name, path in modules().items()}
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                pytest.fail("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def deployments() -> list[dict]:
    return yaml.safe_load((ROOT / "infra" / "prefect.yaml").read_text())["deployments"]


@pytest.mark.parametrize("deployment", deployments(), ids=lambda d: d["name"])
def test_a_deployable_flow_has_one_name(deployment):
    """Deployment `sale-tape` runs flows/sale_tape.py:sale_tape, the flow named sale-tape."""
    path, function = deployment["entrypoint"].split(":")
    name = deployment["name"]
    assert path == f"flows/{name.replace('-', '_')}.py" and function == name.replace("-", "_")
    module = importlib.import_module(f"debtflow.flows.{function}")
    assert getattr(module, function).name == name


def test_the_distribution_ships_every_package_and_data_file():
    """pyproject.toml lists the packages and their data files by hand: a new package or a YAML
    beside the code must be listed, or an installed (non-editable) debtflow lacks it."""
    import fnmatch
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setup["packages"])
    data = setup["package-data"]
    for folder, dotted in PACKAGES.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            package = ".".join((dotted, *parts))
            assert package in listed, f"{package} is not in [tool.setuptools] packages"
            for path in init.parent.rglob("*"):
                inner = path.relative_to(init.parent)
                if path.is_dir() or path.suffix in (".py", ".pyc") or "__pycache__" in inner.parts:
                    continue
                if any(
                    (p / "__init__.py").exists()
                    for p in path.parents
                    if p != init.parent and init.parent in p.parents
                ):
                    continue  # a file of a sub-package, checked there
                patterns = data.get(package, [])
                assert any(fnmatch.fnmatch(str(inner), pat) for pat in patterns), (
                    f"{folder}/{'/'.join(parts)}/{inner} is not in package-data of {package}"
                )
