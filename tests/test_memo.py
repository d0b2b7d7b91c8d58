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
    assert doc["customer_id"] == cid and doc["as_of"] == "2024-06-30"
    assert 0 <= doc["pd"] <= 1 and doc["grade"] and doc["policy"]["calculation"]["grade"] == doc["grade"]
    assert len(doc["payments"]["months"]) == 24 and doc["freshness"]
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
    assert doc["profile"]["current_limit"] == float(before.loc[cid, S.CREDIT_LIMIT])
    assert doc["profile"]["current_limit"] != float(cust.loc[cid, S.CREDIT_LIMIT])
    assert doc["profile"]["current_terms_days"] == int(before.loc[cid, S.PAYMENT_TERMS_DAYS])


# ------------------------------------------------------------ the structured memo (issue 10.4)
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
AS_OF = "2024-12-31"


def _walk(value, path=""):
    """Every (path, leaf) of a JSON document."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, value


@pytest.fixture(scope="module")
def cases(project, tmp_path_factory):
    """The project's tables edited into the kinds of customer a committee meets, written to their own folder.

    ``gap``: a rated customer whose middle statement is removed (a missing fiscal year) and whose current
    limit is cut to 1,000 (so the grade's rule asks for far more than a doubling); ``recent``: onboarded three
    months before the date with nothing on file yet (no activity); ``default``: a customer in default.
    """
    from riskmodel.data.tables import Tables
    from riskmodel.explain.history import published_statements
    from riskmodel.features.build import build_features

    w, root, settings = project
    t = w.tables
    f = build_features(t, [AS_OF], w.settings.features, population="all")
    counts = published_statements(t.financials, pd.Timestamp(AS_OF), 3).groupby(S.CUSTOMER_ID).size()
    eligible = f[(f["population_status"] == "eligible") & (f["fin_equity_ratio"] > 0.2)
                 & f[S.CUSTOMER_ID].isin(counts[counts >= 4].index)]
    gap = str(eligible[S.CUSTOMER_ID].iloc[0])
    default = str(f.loc[f["population_status"] == "in_default", S.CUSTOMER_ID].iloc[0])
    recent = str(f.loc[f["population_status"] == "eligible", S.CUSTOMER_ID].iloc[-1])
    customers = t.customers.copy()
    is_recent = customers[S.CUSTOMER_ID] == recent
    customers.loc[is_recent, S.ONBOARDED_DATE] = pd.Timestamp("2024-09-30")
    customers.loc[is_recent, S.FOUNDED_DATE] = pd.Timestamp("2015-01-01")
    customers.loc[customers[S.CUSTOMER_ID] == gap, S.CREDIT_LIMIT] = 1000.0
    terms = t.customer_terms.copy()  # the memo's current limit is the history's latest row before as-of
    terms.loc[terms[S.CUSTOMER_ID] == gap, S.CREDIT_LIMIT] = 1000.0
    fin = t.financials
    mine = fin[(fin[S.CUSTOMER_ID] == gap)
               & (fin[S.PERIOD_END] + pd.DateOffset(months=3) < pd.Timestamp(AS_OF))].sort_values(S.PERIOD_END)
    dropped = mine.index[-2]  # the one before the latest: a hole in the middle of the series
    missing_end = fin.loc[dropped, S.PERIOD_END]

    def without_recent(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame[S.CUSTOMER_ID] != recent]

    edited = Tables(customers=customers, invoices=without_recent(t.invoices),
                    financials=without_recent(fin.drop(index=dropped)), visits=without_recent(t.visits),
                    events=without_recent(t.events), defaults=without_recent(t.defaults),
                    customer_terms=without_recent(terms))
    data = tmp_path_factory.mktemp("cases")
    write_tables(edited, data)
    return {"gap": gap, "recent": recent, "default": default, "missing_end": missing_end, "data": data}


def _memo(project, cases, kind: str, fmt: str = "json"):
    from riskmodel.pipeline import run_explain

    _, root, settings = project
    path = run_explain(settings, cases[kind], as_of=AS_OF, fmt=fmt, data_dir=cases["data"],
                       out_file=root / "cases" / f"{kind}.{fmt}")
    return json.loads(path.read_text()) if fmt == "json" else path.read_text()


def test_json_memo_holds_numbers_iso_dates_and_units(project, cases) -> None:
    import re

    doc = _memo(project, cases, "gap")
    assert doc["schema"] == "riskmodel.memo/2" and doc["currency"] == "EUR" and doc["units"]["amounts"] == "EUR"
    assert re.match(ISO_DATE, doc["as_of"]) and re.match(ISO_DATE, doc["profile"]["onboarded"])
    assert isinstance(doc["profile"]["current_limit"], float) and doc["profile"]["current_limit"] == 1000.0
    assert all(re.match(ISO_DATE, m["month_end"]) and isinstance(m["open"], float) for m in doc["payments"]["months"])
    assert all(re.match(ISO_DATE, r["period_end"]) for r in doc["statements"]["rows"])
    for r in doc["reasons_up"] + doc["reasons_down"]:  # each reason carries its number beside its words
        assert r["value"] is None or isinstance(r["value"], (float, str)) and isinstance(r["contribution"], float)
    # no display string anywhere outside the sentences (a reason's text, shown_value and comparison are its words)
    for path, leaf in _walk(doc):
        if isinstance(leaf, str) and not re.search(r"(text|label|notes|description|shown_value|comparison)$", path):
            assert not re.search(r"^-?[\d.]+\s*(k|m|bn|%)$", leaf), (path, leaf)
            assert not re.search(r"\d{1,2} [A-Z][a-z]{2} \d{4}", leaf), (path, leaf)


def test_waterfall_ends_at_the_headline_pd_through_the_calibration_step(project, cases) -> None:
    doc = _memo(project, cases, "gap")
    wf = doc["waterfall"]
    total = wf["base_value"] + sum(s["contribution"] for s in wf["steps"]) + wf["others"]["contribution"]
    assert wf["raw_score"] == pytest.approx(total, abs=1e-9)
    assert wf["raw_score"] + wf["calibration"] == pytest.approx(wf["calibrated_score"], abs=1e-12)
    assert 1 / (1 + np.exp(-wf["calibrated_score"])) == pytest.approx(doc["pd"], abs=1e-9)
    assert wf["pd"] == doc["pd"] and wf["raw_pd"] == pytest.approx(1 / (1 + np.exp(-wf["raw_score"])))
    html = _memo(project, cases, "gap", "html")
    assert "then the calibration to the 12-month PD" in html


def test_recommended_limit_is_capped_and_flagged(project, cases) -> None:
    doc = _memo(project, cases, "gap")
    p = doc["policy"]
    assert p["current_limit"] == 1000.0 and p["max_increase_share"] == 1.0 and p["cap"] == 2000.0
    assert p["rule_limit"] > 2000.0 and p["limit"] == 2000.0 and p["capped"] and "capped" in p["flags"]
    assert p["change_share"] == pytest.approx(1.0)
    assert ("raise_with_material_delay" in p["flags"]) == (p["worst_delay_days"] >= p["material_delay_days"])
    assert ("raise_with_loss" in p["flags"]) == bool(p["latest_statement_loss"])
    html = _memo(project, cases, "gap", "html")
    assert "so the recommendation is capped at EUR\u00a02k" in html and "EUR\u00a01k" in html


def test_limit_review_rule() -> None:
    from riskmodel.explain.policy import review_limit

    # the case measured on main: a loss-making customer with a 91-day delay, 136k against a current 12k
    r = review_limit(136_000.0, 12_000.0, 1.0, 91.0, 60, True)
    assert r.limit == 24_000.0 and r.capped and r.change_share == pytest.approx(1.0)
    assert r.flags == ("capped", "raise_with_material_delay", "raise_with_loss")
    calm = review_limit(15_000.0, 12_000.0, 1.0, 10.0, 60, False)
    assert calm.limit == 15_000.0 and not calm.capped and calm.flags == ()
    cut = review_limit(5_000.0, 12_000.0, 1.0, 120.0, 60, True)  # a cut is never flagged as against the risk
    assert cut.limit == 5_000.0 and cut.flags == ()
    assert review_limit(40_000.0, 12_000.0, 0.5, 0.0, 60, False).limit == 18_000.0
    first = review_limit(8_000.0, 0.0, 1.0, None, 60, None)
    assert first.limit == 8_000.0 and first.cap is None and first.flags == ("new_limit",)


def test_limit_review_and_currency_come_from_params(project) -> None:
    from riskmodel.config import load_settings

    s = load_settings(overrides={"reporting": {"currency": "CHF"}, "limit_review": {"max_increase_share": 0.5}})
    assert s.reporting.currency == "CHF" and s.limit_review.max_increase_share == 0.5
    with pytest.raises(Exception, match="currency"):
        load_settings(overrides={"reporting": {"currency": "euro"}})


def test_every_amount_carries_the_currency_and_no_minus_zero(project, cases) -> None:
    import re

    from riskmodel.explain.memo import fmt_money, fmt_pct

    assert fmt_pct(-0.001) == "0%" and fmt_pct(-0.004, 0, True) == "0%" and fmt_money(-0.0, "EUR") == "EUR\u00a00"
    for kind in ("gap", "default", "recent"):
        html = _memo(project, cases, kind, "html")
        assert "-0%" not in html and "−0%" not in html, kind
        text = re.sub(r"<[^>]+>", " ", html.split("</style>", 1)[1])
        text = re.sub(r'data:image/png;base64,[^"]+', "", text)
        bare = [m.group(0) for m in re.finditer(r"(?<![\w.])-?\d+(\.\d+)?(k|m|bn)\b", text)
                if not text[max(0, m.start() - 4):m.start()].endswith("EUR\u00a0")]
        assert not bare, (kind, bare[:5])


def test_missing_fiscal_year_is_flagged(project, cases) -> None:
    doc = _memo(project, cases, "gap")
    assert cases["missing_end"].date().isoformat() in doc["statements"]["missing_periods"]
    html = _memo(project, cases, "gap", "html")
    assert "No statement for the fiscal period" in html and cases["missing_end"].strftime("%d %b %Y") in html


def test_default_and_no_activity_memos_tell_why_there_is_no_5c(project, cases) -> None:
    doc = _memo(project, cases, "default")
    assert doc["status"] == "in_default" and doc["grade"] == "D" and doc["five_c_in_bundle"] is True
    html = _memo(project, cases, "default", "html")
    assert "No 5C scorecard in this model bundle" not in html and "Not scored: the customer is in default" in html
    recent = _memo(project, cases, "recent")
    assert recent["status"] == "no_activity" and recent["activity_window_months"] == pytest.approx(3.0, abs=0.1)
    assert recent["payments"]["n_months"] == 3
    html = _memo(project, cases, "recent", "html")
    assert "No 5C scorecard in this model bundle" not in html and "Not scored: with no invoice" in html
    assert "since the customer was onboarded on 30 Sep 2024" in html and "in the last 24 months" not in html


def test_html_renders_from_the_json_memo_alone(project, cases) -> None:
    from riskmodel.explain.memo import Memo

    doc = _memo(project, cases, "gap")
    again = Memo.from_dict(json.loads(json.dumps(doc))).html()
    assert "Customer " + cases["gap"] in again and again.count("data:image/png;base64,") == 4
    assert Memo.from_dict(doc).html() == again  # rendering is a pure function of the JSON memo
    with pytest.raises(ValueError, match="memo"):
        Memo.from_dict({"customer_id": "x"})


def test_pdf_rendering_prints_no_library_log(project, cases, capfd, caplog) -> None:
    import logging

    from riskmodel.explain.memo import Memo

    doc = _memo(project, cases, "gap")
    capfd.readouterr()
    with caplog.at_level(logging.DEBUG):
        pdf = Memo.from_dict(doc).pdf()
    assert pdf.startswith(b"%PDF")
    noisy = [r for r in caplog.records if r.name.split(".")[0] in ("weasyprint", "fontTools")]
    assert not noisy, [r.getMessage() for r in noisy[:3]]
    out, err = capfd.readouterr()
    assert "fontTools" not in out + err and "weasyprint" not in (out + err).lower()


def test_batch_policy_frame_applies_the_same_cap(project) -> None:
    from riskmodel.explain.policy import policy_frame, review_limit

    w, _, _ = project
    ms = w.settings.master_scale
    grades = np.array(["B2", "B2", "B2", None], dtype=object)
    equity = np.array([3e6, 3e6, 3e6, 1e6])
    revenue = np.array([4e6, 4e6, 4e6, 1e6])
    current = np.array([14_000.0, 200_000.0, 0.0, 5_000.0])
    plain = policy_frame(grades, equity, revenue, np.full(4, np.nan), ms)
    capped = policy_frame(grades, equity, revenue, np.full(4, np.nan), ms, current_limit=current,
                          max_increase_share=1.0)
    assert plain["limit"].iloc[0] == pytest.approx(240_000.0)  # min(10% of 3m, 6% of 4m)
    expected = [review_limit(plain["limit"].iloc[i], current[i], 1.0, None, 60, None).limit for i in range(3)]
    assert capped["limit"].iloc[:3].tolist() == pytest.approx(expected)
    assert capped["limit"].iloc[0] == 28_000.0 and capped["limit"].iloc[2] == pytest.approx(240_000.0)
    assert np.isnan(capped["limit"].iloc[3])


def test_reason_amounts_get_the_currency_in_the_memo() -> None:
    from riskmodel.explain.memo import amounts_with_currency as cur

    nb = "\u00a0"
    assert cur("47.5k overdue on our ledger (portfolio median: 0).", "pay_overdue_amount", 47_512.0,
               "portfolio median: 0", "EUR") == f"EUR{nb}47.5k overdue on our ledger (portfolio median: EUR{nb}0)."
    assert cur("total assets of 6.2m", "fin_log_total_assets", np.log1p(6.2e6), None, "CHF") == f"total assets of CHF{nb}6.2m"
    assert cur("uses 9.6% of its credit limit", "pay_utilisation", 0.096, None, "EUR") == "uses 9.6% of its credit limit"
    assert cur("45k open, 5k more", "pay_open_amount", 5_000.0, None, "EUR") == f"45k open, EUR{nb}5k more"
