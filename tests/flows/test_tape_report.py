"""The sale tape's strats and report on a hand-made ten-row tape: exact figures per currency and
band, and a self-contained HTML and a paged PDF that carry no row of the tape."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from debtflow.flows.tape import dictionary, report

DEFAULTS = {
    "text": "x",
    "date": "2026-01-01",
    "integer": 0,
    "decimal": 0.0,
    "number": None,
    "boolean": False,
}

# pseudonyms with a '-': base64 never holds one, so finding it in the HTML means a leak
# id, legal_type, country, currency, total, months since default, dpd, grade, p, email, phone
ROWS = [
    ("cp-1", "consumer", "NL", "EUR", 50.00, 3, 200, 1, 0.10, True, True),
    ("cp-1", "consumer", "NL", "EUR", 100.00, 6, 250, 1, 0.10, True, True),
    ("cp-2", "business", "BE", "EUR", 99.99, 12, 400, None, None, True, False),
    ("cp-3", "consumer", "NL", "EUR", 1000.00, 40, 1300, 10, 0.50, False, True),
    ("cp-4", "consumer", "BE", "EUR", 6000.00, 24, 800, 5, 0.30, False, False),
    ("cp-5", "business", "NL", "EUR", 250.00, 18, 600, 5, 0.40, True, True),
    ("cp-6", "consumer", "NO", "NOK", 500.00, 0, 180, 3, 0.20, True, True),
    ("cp-6", "consumer", "NO", "NOK", 4999.99, 36, 1200, None, None, False, False),
    ("cp-7", "business", "NO", "NOK", 2500.00, 7, 400, 3, 0.60, False, True),
    ("cp-8", "consumer", "NO", "NOK", 10000.00, 20, 700, 8, 0.10, True, False),
]
# row index -> {month: amount repaid}
REPAID = {0: {1: 10.00, 36: 5.00}, 1: {1: 2.50}, 3: {12: 100.00}, 6: {1: 100.00}, 8: {36: 250.00}}
EUR_FACE, NOK_FACE = 7499.99, 17999.99


def make_tape(rows: list[dict]) -> pd.DataFrame:
    """A bidder tape: every column of the dictionary, in order, defaults by type, then `rows`."""
    base = {f.name: DEFAULTS[f.type] for f in dictionary.fields()}
    records = [{**base, "receivable_id": f"rc-{i}", **r} for i, r in enumerate(rows)]
    return pd.DataFrame(records, columns=list(base))


def sample_tape() -> pd.DataFrame:
    names = [
        "counterparty_id",
        "legal_type",
        "country",
        "currency",
        "total_balance",
        "months_since_default",
        "days_past_due",
        "grade",
        "p_collect_30d",
        "email_valid",
        "phone_valid",
    ]
    rows = []
    for i, values in enumerate(ROWS):
        row = dict(zip(names, values, strict=True))
        row["principal_balance"] = row["total_balance"]
        row["pool"] = "consumer-nl" if row["currency"] == "EUR" else "nordic"
        repaid = REPAID.get(i, {})
        row.update({f"repaid_m{m:02d}": amount for m, amount in repaid.items()})
        row["repaid_total_36m"] = sum(repaid.values())
        rows.append(row)
    return make_tape(rows)


MANIFEST = {
    "tape_id": "T-2026-11",
    "as_of": "2026-11-01",
    "kind": "bidder",
    "pools": ["consumer-nl", "nordic"],
    "receivables": 10,
    "debtors": 8,
    "totals_by_currency": {
        "EUR": {"receivables": 6, "principal_balance": "7499.99", "total_balance": "7499.99"},
        "NOK": {"receivables": 4, "principal_balance": "17999.99", "total_balance": "17999.99"},
    },
    "selection": {"months_in_collection": 12, "excluded": ["disputed", "deceased"]},
    "model_versions": [],
    "created_at": "2026-11-01T06:00:00+00:00",
}
RECONCILIATION = [
    {
        "currency": "EUR",
        "receivables": 6,
        "tape_total": "7499.99",
        "warehouse_total": Decimal("7499.99"),
        "difference": "0.00",
    },
    {
        "currency": "NOK",
        "receivables": 4,
        "tape_total": Decimal("17999.99"),
        "warehouse_total": "18010.00",
        "difference": Decimal("-10.01"),
    },
]


@pytest.fixture(scope="module")
def strats() -> dict[str, pd.DataFrame]:
    return report.stratify(sample_tape())


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("report")
    return report.write_report(sample_tape(), MANIFEST, RECONCILIATION, out)


def rows_of(table: pd.DataFrame, currency: str) -> dict[str, tuple]:
    """band -> (receivables, debtors, face_value) of one currency."""
    t = table[table["currency"] == currency]
    return {
        r.band: (r.receivables, r.debtors, round(r.face_value, 2))
        for r in t.itertuples(index=False)
    }


def test_every_dimension_has_a_table_with_the_same_columns(strats):
    assert list(strats) == [
        "balance_band",
        "age_since_default",
        "grade",
        "country",
        "legal_type",
        "contactability",
        "currency",
    ]
    for table in strats.values():
        assert list(table.columns) == list(report.COLUMNS)


def test_balance_bands_per_currency_in_their_natural_order(strats):
    table = strats["balance_band"]
    labels = ["0-100", "100-250", "250-500", "500-1000", "1000-2500", "2500-5000", "5000+"]
    assert list(table["band"]) == labels + labels  # EUR then NOK, every band listed
    assert rows_of(table, "EUR") == {
        "0-100": (2, 2, 149.99),
        "100-250": (1, 1, 100.00),  # 100.00 is the lower edge of 100-250
        "250-500": (1, 1, 250.00),
        "500-1000": (0, 0, 0.0),
        "1000-2500": (1, 1, 1000.00),
        "2500-5000": (0, 0, 0.0),
        "5000+": (1, 1, 6000.00),
    }
    assert rows_of(table, "NOK") == {
        "0-100": (0, 0, 0.0),
        "100-250": (0, 0, 0.0),
        "250-500": (0, 0, 0.0),
        "500-1000": (1, 1, 500.00),
        "1000-2500": (0, 0, 0.0),
        "2500-5000": (2, 2, 7499.99),
        "5000+": (1, 1, 10000.00),
    }


def test_shares_averages_and_repayments_of_a_band(strats):
    eur = strats["balance_band"].set_index(["currency", "band"])
    small = eur.loc[("EUR", "0-100")]
    assert small["share_of_face"] == pytest.approx(149.99 / EUR_FACE)
    assert small["avg_balance"] == pytest.approx(74.995)
    assert small["avg_days_past_due"] == pytest.approx(300.0)
    assert small["avg_p_collect"] == pytest.approx(0.10)  # the unscored row is left out
    assert small["repaid_36m"] == pytest.approx(15.00)
    assert eur.loc[("NOK", "2500-5000"), "share_of_face"] == pytest.approx(7499.99 / NOK_FACE)
    assert pd.isna(eur.loc[("EUR", "500-1000"), "avg_balance"])


def test_age_grade_and_contactability_bands(strats):
    assert rows_of(strats["age_since_default"], "EUR") == {
        "0-6": (1, 1, 50.00),
        "6-12": (1, 1, 100.00),
        "12-18": (1, 1, 99.99),
        "18-24": (1, 1, 250.00),
        "24-36": (1, 1, 6000.00),
        "36+": (1, 1, 1000.00),
    }
    nok_age = rows_of(strats["age_since_default"], "NOK")
    assert nok_age["0-6"] == (1, 1, 500.00) and nok_age["36+"] == (1, 1, 4999.99)
    assert nok_age["12-18"] == (0, 0, 0.0)
    grade = strats["grade"]
    assert list(grade[grade["currency"] == "EUR"]["band"]) == [*map(str, range(1, 11)), "unscored"]
    eur_grade = rows_of(grade, "EUR")
    assert eur_grade["1"] == (2, 1, 150.00)  # two receivables of one debtor
    assert eur_grade["5"] == (2, 2, 6250.00)
    assert eur_grade["10"] == (1, 1, 1000.00)
    assert eur_grade["unscored"] == (1, 1, 99.99)
    assert rows_of(grade, "NOK")["unscored"] == (1, 1, 4999.99)
    unscored = grade.set_index(["currency", "band"]).loc[("EUR", "unscored")]
    assert pd.isna(unscored["avg_p_collect"])
    assert rows_of(strats["contactability"], "EUR") == {
        "email and phone": (3, 2, 400.00),
        "email only": (1, 1, 99.99),
        "phone only": (1, 1, 1000.00),
        "none": (1, 1, 6000.00),
    }
    assert rows_of(strats["contactability"], "NOK") == {
        "email and phone": (1, 1, 500.00),
        "email only": (1, 1, 10000.00),
        "phone only": (1, 1, 2500.00),
        "none": (1, 1, 4999.99),
    }


def test_value_dimensions_list_the_values_present(strats):
    assert rows_of(strats["country"], "EUR") == {"BE": (2, 2, 6099.99), "NL": (4, 3, 1400.00)}
    assert rows_of(strats["country"], "NOK") == {"NO": (4, 3, 17999.99)}
    legal = strats["legal_type"]
    assert list(legal[legal["currency"] == "EUR"]["band"]) == ["consumer", "business"]
    assert rows_of(legal, "EUR") == {"consumer": (4, 3, 7150.00), "business": (2, 2, 349.99)}
    currency = strats["currency"].set_index("band")
    assert list(currency.index) == ["EUR", "NOK"]
    assert currency.loc["EUR", "face_value"] == EUR_FACE
    assert currency.loc["NOK", "receivables"] == 4
    assert currency.loc["NOK", "debtors"] == 3
    assert currency.loc["EUR", "repaid_36m"] == pytest.approx(117.50)
    assert currency.loc["EUR", "avg_p_collect"] == pytest.approx(0.28)


def test_no_table_sums_across_currencies(strats):
    for name, table in strats.items():
        assert set(table["currency"]) == {"EUR", "NOK"}, name
        face = table.groupby("currency")["face_value"].sum().round(2)
        assert face.to_dict() == {"EUR": EUR_FACE, "NOK": NOK_FACE}, name
        shares = table.groupby("currency")["share_of_face"].sum()
        assert shares.to_dict() == pytest.approx({"EUR": 1.0, "NOK": 1.0}), name
        assert table["face_value"].max() <= NOK_FACE  # no band holds both currencies


def test_decimal_and_text_amounts_give_the_same_figures(strats):
    tape = sample_tape()
    tape["total_balance"] = [Decimal(f"{v:.2f}") for v in tape["total_balance"]]
    tape["repaid_total_36m"] = tape["repaid_total_36m"].map(lambda v: f"{v:.2f}")
    again = report.stratify(tape)
    for name in strats:
        pd.testing.assert_frame_equal(again[name], strats[name])


def test_collections_curve_by_month_and_currency():
    curve = report.collections_curve(sample_tape()).set_index(["currency", "month"])
    assert list(curve.loc["EUR"].index) == list(range(-36, 0))
    assert curve.loc[("EUR", -1), "repaid"] == 12.50
    assert curve.loc[("EUR", -12), "repaid"] == 100.00
    assert curve.loc[("EUR", -36), "repaid"] == 5.00
    assert curve.loc[("EUR", -36), "cumulative_share"] == pytest.approx(5.00 / EUR_FACE)
    assert curve.loc[("EUR", -1), "cumulative_share"] == pytest.approx(117.50 / EUR_FACE)
    assert curve.loc[("NOK", -2), "cumulative_share"] == pytest.approx(250.00 / NOK_FACE)
    assert curve.loc[("NOK", -1), "cumulative_share"] == pytest.approx(350.00 / NOK_FACE)


def test_write_strats_in_long_form(strats, tmp_path):
    report.write_strats(strats, tmp_path)
    with (tmp_path / "strats.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["dimension", *report.COLUMNS]
    assert len(rows) == sum(len(t) for t in strats.values())
    first = rows[0]
    assert (first["dimension"], first["currency"], first["band"]) == (
        "balance_band",
        "EUR",
        "0-100",
    )
    assert (first["receivables"], first["debtors"], first["face_value"]) == ("2", "2", "149.99")
    assert first["share_of_face"] == f"{149.99 / EUR_FACE:.6f}"
    empty = next(r for r in rows if r["band"] == "500-1000" and r["currency"] == "EUR")
    assert (empty["face_value"], empty["avg_balance"]) == ("0.00", "")


def test_the_html_is_self_contained_and_holds_no_row(written):
    html_path, pdf_path = written
    assert (html_path.name, pdf_path.name) == ("report.html", "report.pdf")
    html = html_path.read_text(encoding="utf-8")
    for reference in ("http://", "https://", 'src="//', "<link", "<script", "@import", "url("):
        assert reference not in html
    assert html.count('src="data:image/png;base64,') == 8  # 7 dimensions and the curve
    for heading in (
        "Summary",
        "Pools",
        "Reconciliation",
        "Stratification",
        "Collections curve",
        "Data dictionary",
    ):
        assert re.search(f"<h2[^>]*>{heading}</h2>", html)
    assert "data_dictionary.csv" in html
    assert "T-2026-11" in html and "months_in_collection" in html and "disputed, deceased" in html
    assert "7,499.99" in html and "17,999.99" in html
    assert "cp-" not in html and "rc-" not in html  # not a pseudonym of any row


def test_the_reconciliation_verdict_per_currency(written):
    html = written[0].read_text(encoding="utf-8")
    section = html.split(">Reconciliation</h2>")[1].split("</table>")[0]
    eur, nok = section.split("<tr>")[2:4]
    assert "EUR" in eur and ">reconciles<" in eur
    assert "NOK" in nok and ">does NOT reconcile<" in nok and "-10.01" in nok
    assert "does NOT reconcile with the warehouse in NOK" in section


def test_a_mis_stated_difference_does_not_reconcile():
    line = {"tape_total": "10.00", "warehouse_total": "10.01", "difference": "0"}
    assert not report._reconciles({"currency": "EUR", **line})
    assert report._reconciles({"currency": "EUR", **line, "warehouse_total": "10.00"})


def test_a_currency_without_a_reconciliation_line_does_not_reconcile(tmp_path):
    tape = sample_tape()
    html_path, _ = report.write_report(tape, MANIFEST, RECONCILIATION[:1], tmp_path)
    html = html_path.read_text(encoding="utf-8")
    assert "The tape does NOT reconcile with the warehouse in NOK." in html
    nok = html.split(">Reconciliation</h2>")[1].split("</table>")[0].split("<tr>")[3]
    assert ">NOK<" in nok and ">17,999.99<" in nok and ">does NOT reconcile<" in nok


def test_the_pdf_has_a_page_per_part(written):
    data = written[1].read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type /Page\b(?!s)", data))
    assert pages == 7  # summary; a page per dimension but two shared; the curve
    assert b"/CreationDate (D:20261101000000Z" in data


def test_the_same_tape_gives_the_same_files(written, tmp_path):
    again = report.write_report(sample_tape(), MANIFEST, RECONCILIATION, tmp_path)
    assert again[0].read_bytes() == written[0].read_bytes()
    assert again[1].read_bytes() == written[1].read_bytes()
