"""Scoring speed at a million debtors (a benchmark, not a test; run it by hand or from bench).

Copies a trained home's champion, blows its current feature marts up to N rows by resampling
the overdue debtors (new ids), and times `predict.score` end to end: read, predict, reason codes
for the rows the day's run acts on, drift, write.

    DEBTFLOW_HOME=<trained home> python tests/models/bench_scoring.py [N]
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from debtflow.flows.core.settings import get_settings
from debtflow.flows.core.warehouse import connect
from debtflow.flows.score import score
from debtflow.models import features


def main(n: int = 1_000_000) -> dict:
    source = get_settings()
    home = Path(os.environ.get("BENCH_SCORING_HOME", "/tmp/debtflow-bench-scoring"))
    shutil.rmtree(home, ignore_errors=True)
    (home / "registry").mkdir(parents=True)
    shutil.copytree(source.registry_dir / "collectability", home / "registry" / "collectability")
    with connect(source) as con:
        as_of = con.execute(f"select max(as_of) from {features.CURRENT}").fetchone()[0]
    os.environ["DEBTFLOW_HOME"] = str(home)
    settings = get_settings()
    with connect(settings) as con:
        con.execute(f"attach '{source.warehouse_path}' as src (read_only)")
        con.execute("create schema marts")
        for table in (features.CURRENT, features.HISTORY):
            name = table.split(".")[1]
            con.execute(
                f"create table {table} as select * replace "
                "(debtor_id || '-' || cast(k as varchar) as debtor_id) "
                f"from (select * from src.{table} where as_of = ?::date "
                + ("and overdue_balance > 0" if table == features.CURRENT else "")
                + f") as t, range(1 + {n} // (select count(*) from src.{features.CURRENT} "
                "where as_of = ?::date and overdue_balance > 0)) as r(k)",
                [as_of, as_of],
            )
            del name
        con.execute(f"delete from {features.CURRENT} where rowid >= {n}")
        con.execute("detach src")
    started = time.perf_counter()
    result = score.score(settings, as_of, reasons="acted_on")
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    result.pop("drift")
    return result


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
