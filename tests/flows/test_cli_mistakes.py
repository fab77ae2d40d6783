"""Mistakes a new user makes get a clear answer from `debtflow`, never silence or a traceback:
a landing zone without batches, a mistyped home, a warehouse another process holds, a date the
warehouse was not built for, an unknown batch, a malformed date."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from debtflow.flows import cli
from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import get_settings
from debtflow.flows.ingest import ingest

CORPUS = Path(__file__).parents[1] / "data" / "bad_inputs"
GOOD_BATCH = CORPUS / "negative_amount" / "2026-03-02T0600"


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def landing_with(tmp_path: Path, *names: str) -> Path:
    """A landing folder holding a copy of a good batch under each name."""
    import shutil

    landing = tmp_path / "landing"
    landing.mkdir()
    for name in names:
        shutil.copytree(GOOD_BATCH, landing / name)
    return landing


@pytest.fixture
def loaded(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home with a warehouse: one batch loaded."""
    monkeypatch.setenv("DEBTFLOW_LANDING_URL", str(landing_with(tmp_path, "2026-03-02T0600")))
    ingest.ingest(get_settings(), as_of=date(2026, 3, 2))
    return home


def test_a_landing_zone_without_batch_folders_fails_naming_them(
    home, tmp_path, monkeypatch, capsys
):
    landing = landing_with(tmp_path, "export_2026_12")
    (landing / "invoices.csv").write_text("invoice_id\n")
    monkeypatch.setenv("DEBTFLOW_LANDING_URL", str(landing))
    code, _, err = run(capsys, "ingest", "--as-of", "2026-12-06")
    assert code == 1
    assert "holds no batch: export_2026_12/, invoices.csv" in err
    assert "a batch is a folder named YYYY-MM-DDTHHMM" in err


def test_stray_folders_and_later_batches_are_named_beside_the_loaded_ones(
    home, tmp_path, monkeypatch, caplog
):
    landing = landing_with(tmp_path, "2026-03-02T0600", "2026-03-09T0600", "export_2026_12")
    (landing / ".upload-in-progress").mkdir()
    monkeypatch.setenv("DEBTFLOW_LANDING_URL", str(landing))
    results = ingest.ingest(get_settings(), as_of=date(2026, 3, 2))
    assert [r.batch_id for r in results] == ["2026-03-02T0600"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("skipped export_2026_12/: not a batch folder" in w for w in warnings)
    assert any(
        "1 batch(es) dated after 2026-03-02 wait for their date: 2026-03-09T0600" in w
        for w in warnings
    )
    assert not any("upload-in-progress" in w for w in warnings)


def test_an_empty_landing_zone_is_said(home, tmp_path, monkeypatch, caplog):
    (tmp_path / "landing").mkdir()
    monkeypatch.setenv("DEBTFLOW_LANDING_URL", str(tmp_path / "landing"))
    assert ingest.ingest(get_settings(), as_of=date(2026, 3, 2)) == []
    assert f"landing {tmp_path / 'landing'} is empty: nothing to load" in caplog.text


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["models", "list"], id="models-list"),
        pytest.param(["quarantine", "list"], id="quarantine-list"),
        pytest.param(["publish"], id="publish"),
        pytest.param(["transform", "--as-of", "2026-03-02"], id="transform"),
        pytest.param(["score", "--as-of", "2026-03-02"], id="score"),
    ],
)
def test_a_home_without_a_warehouse_is_refused_and_not_created(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEBTFLOW_HOME", "debtfolw")  # a typo, relative to where it runs
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert f"no warehouse at {tmp_path / 'debtfolw' / 'warehouse.duckdb'}" in err
    assert f"(DEBTFLOW_HOME=debtfolw, relative to {tmp_path})" in err
    assert not (tmp_path / "debtfolw").exists()


def test_doctor_warns_of_a_missing_home_without_creating_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEBTFLOW_HOME", str(tmp_path / "nowhere"))
    monkeypatch.setenv("DEBTFLOW_LANDING_URL", str(tmp_path))
    _, out, _ = run(capsys, "doctor")
    assert f"WARN home         {tmp_path / 'nowhere'} does not exist" in out
    assert not (tmp_path / "nowhere").exists()


def test_publish_never_replaces_published_marts_with_nothing(loaded, capsys):
    published = loaded / "published"
    published.mkdir()
    (published / "_manifest.json").write_text('{"marts": {"ar_aging": 7}}')
    code, _, err = run(capsys, "publish", "--as-of", "2026-03-02")
    assert code == 1 and "holds no marts: run `debtflow transform` first" in err
    assert json.loads((published / "_manifest.json").read_text()) == {"marts": {"ar_aging": 7}}


@pytest.mark.parametrize("command", ["publish", "advise-terms"])
def test_a_date_the_marts_were_not_built_for_is_refused(command, loaded, capsys):
    with duckdb.connect(str(loaded / "warehouse.duckdb")) as con:
        con.execute("create schema marts")
        con.execute("create table marts.debtor_features as select date '2026-03-02' as as_of")
    code, _, err = run(capsys, command, "--as-of", "2026-03-05")
    assert code == 1
    assert "the marts are built for 2026-03-02, not 2026-03-05" in err


def test_publish_defaults_to_the_built_date(loaded, capsys):
    with duckdb.connect(str(loaded / "warehouse.duckdb")) as con:
        con.execute("create schema marts")
        con.execute("create table marts.debtor_features as select date '2026-03-02' as as_of")
    code, out, err = run(capsys, "publish", "--json")
    assert code == 0 and json.loads(out)["as_of"] == "2026-03-02"
    assert "as of 2026-03-02: the date the warehouse was last built for" in err


def test_an_unknown_batch_is_named_not_answered_with_silence(loaded, capsys):
    code, _, err = run(capsys, "quarantine", "show", "--batch", "2026-03-20T0600")
    assert code == 1
    assert "batch 2026-03-20T0600 was never loaded; the latest loaded: 2026-03-02T0600" in err
    code, out, _ = run(capsys, "quarantine", "list", "--batch", "2026-03-02T0600")
    assert code == 0 and "amount" in out  # its negative amount


def test_a_malformed_date_says_the_expected_format(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["transform", "--as-of", "06-12-2026"])
    assert exit_.value.code == 2
    assert "expected YYYY-MM-DD, got '06-12-2026'" in capsys.readouterr().err


@pytest.fixture
def holder(loaded: Path):
    """Another process holding the warehouse open, as a running flow or a duckdb CLI does."""
    code = (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('held', flush=True); "
        "time.sleep(float(sys.argv[2]))"
    )

    def start(seconds: float) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(loaded / "warehouse.duckdb"), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "held"
        procs.append(proc)
        return proc

    procs: list[subprocess.Popen] = []
    yield start
    for p in procs:
        p.kill()
        p.wait()


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["quarantine", "list"], id="quarantine-list"),
        pytest.param(["transform", "--as-of", "2026-03-02"], id="transform-before-dbt"),
    ],
)
def test_a_held_warehouse_names_its_holder_and_gives_up_cleanly(argv, holder, monkeypatch, capsys):
    proc = holder(60)
    monkeypatch.setenv("DEBTFLOW_LOCK_WAIT_SECONDS", "1")
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert f"is in use by PID {proc.pid} (python" in err
    assert "gave up after waiting 1 s (DEBTFLOW_LOCK_WAIT_SECONDS)" in err
    assert "Traceback" not in err


def test_a_command_waits_for_the_warehouse_to_be_released(holder, monkeypatch, capsys, caplog):
    proc = holder(2)
    monkeypatch.setenv("DEBTFLOW_LOCK_WAIT_SECONDS", "60")
    code, out, _ = run(capsys, "quarantine", "list")
    assert code == 0 and "amount" in out
    assert f"in use by PID {proc.pid}" in caplog.text and "waiting up to 60 s" in caplog.text


def test_connect_raises_a_debtflow_error_for_a_held_warehouse(holder, monkeypatch):
    from debtflow.flows.core.warehouse import connect

    holder(60)
    with pytest.raises(DebtflowError, match="is in use by PID"):
        connect(get_settings(), wait_seconds=0)


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([*name.split(), "--help"])
    assert exit_.value.code == 0
    assert cli.COMMANDS[name].help.split(";")[0][:40] in " ".join(capsys.readouterr().out.split())


def test_validate_runs_the_days_raw_suites_and_fails_on_marts_not_built(loaded, capsys):
    code, out, err = run(capsys, "validate", "--as-of", "2026-03-02")
    assert code == 1
    # the day's batch: one invoice loaded (one quarantined); the marts' suites fail
    assert any(line.split()[:2] == ["raw_invoices", "1"] for line in out.splitlines())
    assert "marts.debtor_features is missing" in err


def test_ingest_reads_the_landing_folder_it_is_given(home, tmp_path, capsys):
    landing = landing_with(tmp_path, "2026-03-02T0600")
    code, out, _ = run(capsys, "ingest", "--landing", str(landing), "--as-of", "2026-03-02")
    assert code == 0 and "2026-03-02T0600: loaded (3 rows loaded, 1 quarantined)" in out


def test_a_bad_setting_names_the_variable_and_value_not_a_traceback(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("DEBTFLOW_SMTP_PORT", "twenty-five")
    code, _, err = run(capsys, "status")
    assert code == 1
    assert "DEBTFLOW_SMTP_PORT='twenty-five': Input should be a valid integer" in err
    assert "Traceback" not in err
