"""The committee memo: required sections, formats, point-in-time history, unknown customers and dates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from _scoring_helpers import save_bundle, small_settings, world, write_tables
from riskmodel.data import schemas as S
from riskmodel.exceptions import NoDataError, UnknownCustomerError
from riskmodel.explain.history import financial_trend, freshness, month_ends, payment_history

SECTIONS = ("Probability of default", "Rating grade", "Recommended limit", "Payment terms", "Why this rating",
            "5C credit level", "How the model got there", "Payment history", "Financial statements",
            "Visits and contact reports", "Data freshness")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    w = world()
    root = tmp_path_factory.mktemp("memo")
    save_bundle(w.bundles["lightgbm"], root)
    write_tables(w.tables, root / "data" / "raw")
    return w, root, small_settings(root)


def _scored_customer(w, as_of: str = "2024-12-31") -> str:
    from riskmodel.features.build import build_features

    f = build_features(w.tables, [as_of], w.settings.features, population="all")
    eligible = f[(f["population_status"] == "eligible") & (f["fin_has_statement"] == 1) & (f["vis_n_visits_24m"] > 0)]
    return str(eligible[S.CUSTOMER_ID].iloc[0])


def test_memo_html_has_every_section(project) -> None:
    from riskmodel.pipeline import run_explain

    w, root, settings = project
    cid = _scored_customer(w)
    path = run_explain(settings, cid)
    assert path == root / "reports" / "memos" / f"memo_{cid}_2024-12-31.html"
    html = path.read_text()
    for section in SECTIONS:
        assert section in html, section
    assert html.count("data:image/png;base64,") == 4  # 5C, waterfall, payments, ratios
    assert w.bundles["lightgbm"].version in html
    assert "typical customer in good standing" in html and "Grade " in html  # reasons, limit calculation


def test_memo_json_and_pdf(project) -> None:
    from riskmodel.pipeline import run_explain

    w, root, settings = project
    cid = _scored_customer(w)
    doc = json.loads(run_explain(settings, cid, as_of="2024-06-30", fmt="json").read_text())
    assert doc["customer_id"] == cid and doc["as_of_iso"] == "2024-06-30"
    assert 0 <= doc["pd"] <= 1 and doc["grade"] and doc["policy"]["calculation"].startswith("Grade ")
    assert len(doc["payments"]["table"]) == 24 and doc["freshness"]
    assert doc["model"]["version"] == w.bundles["lightgbm"].version
    pdf = run_explain(settings, cid, fmt="pdf", out_file=root / "memo.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000


def test_unknown_customer_and_dates_without_data(project) -> None:
    from riskmodel.pipeline import run_explain

    w, root, settings = project
    with pytest.raises(UnknownCustomerError, match="NOPE"):
        run_explain(settings, "NOPE")
    with pytest.raises(NoDataError, match="no data before"):
        run_explain(settings, _scored_customer(w), as_of="2000-01-01")
    late = w.tables.customers.sort_values(S.ONBOARDED_DATE).iloc[-1]
    before = (late[S.ONBOARDED_DATE] - pd.Timedelta(days=1)).date().isoformat()
    with pytest.raises(NoDataError, match="onboarded"):
        run_explain(settings, str(late[S.CUSTOMER_ID]), as_of=before)


def test_cli_explain_gives_a_clear_message_and_exit_code(project, tmp_path: Path) -> None:
    import yaml

    from riskmodel.cli import app
    from riskmodel.config import DEFAULT_PARAMS, deep_merge

    w, root, settings = project
    from _scoring_helpers import OVERRIDES

    params = deep_merge(yaml.safe_load(DEFAULT_PARAMS.read_text()), OVERRIDES)
    params["paths"] = {k: str(root / v) for k, v in params["paths"].items()}
    pfile = tmp_path / "params.yaml"
    pfile.write_text(yaml.safe_dump(params))
    runner = CliRunner()
    bad = runner.invoke(app, ["explain", "NOPE", "--params", str(pfile)])
    assert bad.exit_code == 1 and "customer 'NOPE' is not in" in bad.output
    ok = runner.invoke(app, ["explain", _scored_customer(w), "--format", "json", "--params", str(pfile),
                             "--out", str(tmp_path / "m.json")])
    assert ok.exit_code == 0, ok.output
    assert json.loads((tmp_path / "m.json").read_text())["grade"]


# ------------------------------------------------------------ point in time
def _invoices(rows: list[tuple[str, str, float, str | None]]) -> pd.DataFrame:
    return pd.DataFrame({
        S.INVOICE_ID: [f"I{i}" for i in range(len(rows))],
        S.CUSTOMER_ID: "C1",
        S.INVOICE_DATE: pd.to_datetime([r[0] for r in rows]),
        S.DUE_DATE: pd.to_datetime([r[1] for r in rows]),
        S.AMOUNT: [r[2] for r in rows],
        S.PAID_DATE: pd.to_datetime([r[3] for r in rows]),
        S.PAID_AMOUNT: [r[2] if r[3] else np.nan for r in rows],
    })


def test_payment_history_is_point_in_time() -> None:
    inv = _invoices([
        ("2024-01-10", "2024-02-09", 100.0, "2024-02-05"),  # on time
        ("2024-02-01", "2024-03-02", 200.0, "2024-05-20"),  # 79 days late
        ("2024-05-15", "2024-06-14", 50.0, "2024-08-10"),  # paid after the as-of date: open at every month end
        ("2024-07-20", "2024-08-19", 70.0, None),  # issued after the as-of date: unseen
    ])
    as_of = pd.Timestamp("2024-06-30")
    h = payment_history(inv, as_of, months=6).set_index("month_end")
    assert list(h.index) == list(month_ends(as_of, 6)) and h.index[-1] == as_of
    assert h.loc["2024-01-31", "open_amount"] == 100 and h.loc["2024-01-31", "overdue_amount"] == 0
    assert h.loc["2024-03-31", "overdue_amount"] == 200 and h.loc["2024-03-31", "max_dpd_open"] == 29
    assert h.loc["2024-05-31", "n_settled"] == 1 and h.loc["2024-05-31", "mean_dpd_settled"] == 79
    assert h.loc["2024-06-30", "open_amount"] == 50 and h.loc["2024-06-30", "overdue_amount"] == 50
    assert h.loc["2024-02-29", "mean_dpd_settled"] == 0
    # moving the later records does not change the history as of June
    moved = inv.copy()
    moved.loc[2, S.PAID_DATE] = pd.Timestamp("2024-12-01")
    moved.loc[3, S.INVOICE_DATE] = pd.Timestamp("2024-09-01")
    pd.testing.assert_frame_equal(payment_history(moved, as_of, months=6).set_index("month_end"), h)


def test_statements_count_once_published() -> None:
    fin = pd.DataFrame({
        S.CUSTOMER_ID: "C1", S.PERIOD_END: pd.to_datetime(["2022-12-31", "2023-12-31"]),
        S.REVENUE: [1000.0, 1200.0], S.EBIT: [100.0, 90.0], S.NET_INCOME: [60.0, 50.0],
        S.INTEREST_EXPENSE: [10.0, 30.0], S.OPERATING_CASH_FLOW: [80.0, 70.0], S.TOTAL_ASSETS: [800.0, 900.0],
        S.CURRENT_ASSETS: [400.0, 420.0], S.CASH: [50.0, 40.0], S.INVENTORY: [100.0, 120.0],
        S.RECEIVABLES: [200.0, 210.0], S.TOTAL_LIABILITIES: [500.0, 600.0], S.CURRENT_LIABILITIES: [300.0, 350.0],
        S.EQUITY: [300.0, 300.0], S.RETAINED_EARNINGS: [100.0, 120.0], S.AUDITED: [True, False],
    })
    early = financial_trend(fin, pd.Timestamp("2024-03-31"), 3)  # 2023 statement published 2024-03-31: not before
    assert list(early[S.PERIOD_END].dt.year) == [2022]
    assert early["fin_interest_cover"].iloc[0] == pytest.approx(10.0)
    late = financial_trend(fin, pd.Timestamp("2024-04-01"), 3)
    assert list(late[S.PERIOD_END].dt.year) == [2022, 2023]
    empty = pd.DataFrame(columns=[S.CUSTOMER_ID, S.VISIT_DATE])
    fresh = freshness(_invoices([("2024-01-10", "2024-02-09", 1.0, None)]), fin, empty,
                      pd.DataFrame(columns=[S.CUSTOMER_ID, S.EVENT_DATE]), pd.Timestamp("2024-03-31"), 3)
    assert fresh["statement_period_end"] == pd.Timestamp("2022-12-31")
    assert fresh["visit_date"] is None and fresh["invoice_age_months"] == pytest.approx(81 / (365.25 / 12))


def test_memo_current_limit_and_terms_are_the_history_before_as_of(project) -> None:
    """The memo's current limit is the latest customer_terms row before as-of, not the extract's value."""
    from riskmodel.explain.templates import format_money
    from riskmodel.pipeline import run_explain

    w, root, settings = project
    as_of = pd.Timestamp("2024-06-30")
    th = w.tables.customer_terms
    cust = w.tables.customers.set_index(S.CUSTOMER_ID)
    before = th[th[S.VALID_FROM] < as_of].sort_values(S.VALID_FROM).drop_duplicates(S.CUSTOMER_ID, keep="last")
    before = before.set_index(S.CUSTOMER_ID)
    onboarded = cust[S.ONBOARDED_DATE] < as_of
    defaulted = set(w.tables.defaults.loc[w.tables.defaults[S.DEFAULT_DATE] <= as_of, S.CUSTOMER_ID])
    differs = [c for c in before.index if onboarded[c] and c not in defaulted
               and before.loc[c, S.CREDIT_LIMIT] != cust.loc[c, S.CREDIT_LIMIT] and before.loc[c, S.CREDIT_LIMIT] > 0]
    assert differs, "the base should hold a customer whose limit changed after 2024-06-30"
    cid = differs[0]
    doc = json.loads(run_explain(settings, cid, as_of=str(as_of.date()), fmt="json",
                                 out_file=root / "current.json").read_text())
    assert doc["profile"]["current_limit"] == format_money(float(before.loc[cid, S.CREDIT_LIMIT]))
    assert doc["profile"]["current_limit"] != format_money(float(cust.loc[cid, S.CREDIT_LIMIT]))
    assert doc["profile"]["current_terms"] == f"{int(before.loc[cid, S.PAYMENT_TERMS_DAYS])} days"
