"""dbt models of plain SQL as views over hand-made marts, for the flows' tests."""

from __future__ import annotations

from pathlib import Path


def create_model_view(con, model: str) -> None:
    """A dbt model of plain SQL (refs only) as a view over hand-made marts: the flows' tests on
    hand-made tables read the project's own definition, not a copy of it."""
    import jinja2

    root = Path(__file__).parents[1] / "dbt_project" / "models"
    path = next(root.rglob(f"{model}.sql"))
    sql = jinja2.Template(path.read_text()).render(ref=lambda name: f"marts.{name}")
    con.execute(f"create or replace view marts.{model} as {sql}")
