"""An A/B test's report (experiment_report.report) as a self-contained HTML page: tables of the
arms and of each variant against the control, the pay rates per arm with their intervals, and
the differences with theirs. Counts and amounts only, no personal data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from matplotlib.figure import Figure

from debtflow.flows.core.charts import png
from debtflow.flows.dunning.experiment_report import ALPHA, POWER, WINDOWS
from debtflow.flows.dunning.experiments import CONTROL
from debtflow.flows.ops.report_render import Chart, Report, Section, Table, Tile, render_html


def write(result: dict, path: Path) -> Path:
    """The page for `result` written to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(page(result, path)), encoding="utf-8")
    return path


def page(result: dict, path: Path) -> Report:
    sections = [
        Section(
            f"Arms in {currency}",
            lines=[f"`{CONTROL}` is the hold-out: it gets the base policy."],
            tables=[_arms_table([a for a in result["arms"] if a["currency"] == currency])],
            charts=[_rates_chart(currency, result["arms"])],
        )
        for currency in sorted({a["currency"] for a in result["arms"]})
    ]
    for currency in sorted({c["currency"] for c in result["comparisons"]}):
        rows = [c for c in result["comparisons"] if c["currency"] == currency]
        sections.append(
            Section(
                f"Each variant against the control, {currency}",
                lines=notes(rows),
                tables=[_diff_table(rows)],
                charts=[_diff_chart(currency, rows)],
            )
        )
    debtors = sum(a["debtors"] for a in result["arms"])
    return Report(
        as_of=result["as_of"] or "-",
        status="completed",
        verdict=f"Experiment {result['experiment']}: {debtors:,} debtor positions in "
        f"{len({a['variant'] for a in result['arms']})} arms, as of {result['as_of']}",
        tiles=[
            Tile(a["variant"], f"{a['debtors']:,}", f"debtors, {a['currency']}")
            for a in result["arms"]
        ],
        sections=sections,
        path=path,
        generated_at=datetime.now(UTC).isoformat(timespec="minutes"),
        kind=f"experiment report: {result['experiment']}",
    )


def notes(rows: list[dict]) -> list[str]:
    """A sentence per variant and measure: the debtors per arm needed to detect the observed
    difference in the longest pay-rate window observed, and in net per debtor."""
    out = []
    for c in rows:
        who = f"{c['variant']} ({c['currency']})"
        observed = [days for days, d in c["pay_rate"].items() if d["diff"] is not None]
        window = observed[-1] if observed else "30d"
        rate, net = c["pay_rate"][window], c["net_30d_per_debtor"]
        for what, d, diff in (
            (f"pay rate within {window[:-1]} days", rate, pp(rate["diff"])),
            ("net per debtor over 30 days", net, f"{signed(net['diff'])} {c['currency']}"),
        ):
            if d["diff"] is None:
                out.append(f"{who}: too few debtors observed long enough to compare the {what}.")
            elif d["n_needed_per_arm"] is None:
                out.append(
                    f"{who}: no difference in the {what} observed, none to size a sample for."
                )
            else:
                out.append(
                    f"{who}: detecting a difference of {diff} in the {what} at {POWER:.0%} power "
                    f"and {ALPHA:.0%} significance needs {d['n_needed_per_arm']:,} debtors per "
                    f"arm (the variant has {d['n'][0]:,}, the control {d['n'][1]:,})."
                )
    return out


def _arms_table(arms: list[dict]) -> Table:
    head = ("ARM", "DEBTORS", "ACTIONS", *(f"PAID {d}D" for d in WINDOWS), "COLLECTED 30D",
            "COST 30D", "NET / DEBTOR")  # fmt: skip
    rows = [
        (
            a["variant"],
            f"{a['debtors']:,}",
            f"{a['actions']:,}",
            *(_rate(a, d) for d in WINDOWS),
            a["collected_30d"],
            a["channel_cost_30d"],
            a["net_30d_per_debtor"] or "-",
        )
        for a in arms
    ]
    return Table(head, rows, (False, *([True] * (len(head) - 1))))


def _rate(arm: dict, days: int) -> str:
    rate = arm[f"pay_rate_{days}d"]
    n = arm[f"debtors_{days}d"]
    return "-" if rate is None else f"{rate:.1%} of {n:,}"


def _diff_table(rows: list[dict]) -> Table:
    head = ("VARIANT", *(f"PAID {d}D VS CONTROL (95%)" for d in WINDOWS), "NET / DEBTOR (95%)")
    body = [
        (
            c["variant"],
            *(interval(c["pay_rate"][f"{d}d"], pp) for d in WINDOWS),
            interval(c["net_30d_per_debtor"], signed),
        )
        for c in rows
    ]
    return Table(head, body, (False, True, True, True, True))


def interval(d: dict, fmt) -> str:
    if d["diff"] is None:
        return "-"
    if d["ci_low"] is None:
        return fmt(d["diff"])
    return f"{fmt(d['diff'])} [{fmt(d['ci_low'])}, {fmt(d['ci_high'])}]"


def pp(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.1f} pp"


def signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+,.2f}"


def _rates_chart(currency: str, arms: list[dict]) -> Chart:
    """Pay rate per window and arm, with the Wilson 95% interval."""
    arms = [a for a in arms if a["currency"] == currency]
    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    width = 0.8 / max(len(arms), 1)
    for i, arm in enumerate(arms):
        xs = [w + (i - (len(arms) - 1) / 2) * width for w in range(len(WINDOWS))]
        rates = [arm[f"pay_rate_{d}d"] or 0 for d in WINDOWS]
        low = [r - (arm[f"pay_rate_{d}d_ci_low"] or r) for r, d in zip(rates, WINDOWS, strict=True)]
        high = [
            (arm[f"pay_rate_{d}d_ci_high"] or r) - r for r, d in zip(rates, WINDOWS, strict=True)
        ]
        ax.bar(xs, rates, width, yerr=[low, high], capsize=3, label=arm["variant"])
    ax.set_xticks(range(len(WINDOWS)), [f"paid within {d} days" for d in WINDOWS])
    ax.set_ylabel("share of debtors")
    ax.set_title(f"Pay rate per arm, {currency} (95% intervals)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return Chart(png(fig), f"Pay rate per arm within 7, 14 and 30 days, {currency}")


def _diff_chart(currency: str, rows: list[dict]) -> Chart:
    """Each variant's difference from the control with its 95% interval: pay rates in
    percentage points, net per debtor in the currency."""
    fig = Figure(figsize=(7, 0.6 + 0.5 * len(rows) * (len(WINDOWS) + 1)))
    rate_ax, net_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    labels, y = [], 0
    for c in rows:
        for d in WINDOWS:
            _point(rate_ax, y, c["pay_rate"][f"{d}d"], 100)
            labels.append(f"{c['variant']} {d}d")
            y += 1
    rate_ax.set_yticks(range(len(labels)), labels, fontsize=8)
    rate_ax.set_xlabel("pay rate vs control (pp)")
    for i, c in enumerate(rows):
        _point(net_ax, i, c["net_30d_per_debtor"], 1)
    net_ax.set_yticks(range(len(rows)), [c["variant"] for c in rows], fontsize=8)
    net_ax.set_xlabel(f"net per debtor vs control ({currency})")
    for ax in (rate_ax, net_ax):
        ax.axvline(0, color="#555", linewidth=0.8)
        ax.invert_yaxis()
    fig.suptitle(f"Difference from the control, {currency} (95% intervals)", fontsize=10)
    fig.tight_layout()
    return Chart(png(fig), f"Differences from the control with 95% intervals, {currency}")


def _point(ax, y: int, d: dict, scale: float) -> None:
    if d["diff"] is None:
        return
    ax.plot([d["diff"] * scale], [y], "o", color="#1a4f8b")
    if d["ci_low"] is not None:
        ax.plot([d["ci_low"] * scale, d["ci_high"] * scale], [y, y], color="#1a4f8b")
