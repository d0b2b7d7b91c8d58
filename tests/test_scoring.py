"""Scoring: the Scorer (fast TreeSHAP, PD, 5C, reasons), policy, batch scoring end to end, migration, drift."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from _scoring_helpers import save_bundle, scorecard_bundle, small_settings, world, write_tables
from riskmodel.data import schemas as S
from riskmodel.data.partition import check_as_of, default_as_of
from riskmodel.data.tables import Tables
from riskmodel.drift import DriftAccumulator, drift_report, psi_from_shares
from riskmodel.exceptions import NoDataError
from riskmodel.explain.policy import LIMIT_BASES, policy_for, policy_frame
from riskmodel.explain.treeshap import LightGBMTreeShap, can_explain
from riskmodel.features.build import build_features
from riskmodel.io import read_frame, write_frame
from riskmodel.migration import GONE, NEW, migration_matrix, migration_summary
from riskmodel.scoring import (
    NO_ACTIVITY,
    Scorer,
    output_columns,
)

AS_OF = "2024-12-31"


@pytest.fixture(scope="module")
def w():
    return world()


@pytest.fixture(scope="module")
def features(w) -> pd.DataFrame:
    return build_features(w.tables, [AS_OF], w.settings.features, population="all")


# ------------------------------------------------------------- fast TreeSHAP
@pytest.mark.parametrize("params", [
    {"max_depth": 4, "num_leaves": 15},
    {"max_depth": 6, "num_leaves": 30, "zero_as_missing": True},
])
def test_tabulated_treeshap_equals_lightgbm_pred_contrib(params: dict) -> None:
    rng = np.random.default_rng(1)
    n = 3000
    X = pd.DataFrame(rng.normal(size=(n, 5)), columns=list("abcde"))
    X.loc[rng.random(n) < 0.2, "a"] = np.nan
    X.loc[rng.random(n) < 0.3, "b"] = 0.0
    X["cat"] = pd.Categorical(rng.choice(["x", "y", "z", "w"], n))
    X.loc[rng.random(n) < 0.1, "cat"] = np.nan
    logit = np.nan_to_num(X["a"]) - X["b"] + (X["cat"].astype(object) == "x") * 1.0 + X["c"] * X["d"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    model = lgb.LGBMClassifier(n_estimators=30, min_child_samples=20, verbose=-1, n_jobs=1, **params).fit(X, y)
    explainer = LightGBMTreeShap(model.booster_)
    phi, bias = explainer.shap_values(X.iloc[:2500])  # above the parallel threshold
    ref = model.booster_.predict(X.iloc[:2500], pred_contrib=True)
    assert np.abs(phi - ref[:, :-1]).max() < 1e-10
    assert bias == pytest.approx(ref[0, -1], abs=1e-10)
    small, _ = explainer.shap_values(X.iloc[:7])  # serial kernel
    assert np.abs(small - ref[:7, :-1]).max() < 1e-10


def _brute_force_baseline_shapley(booster, x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Shapley values of v(S) = f(x_S, r_rest) by enumerating every subset (few features only)."""
    import itertools
    import math

    F = len(x)
    phi = np.zeros(F)
    for j in range(F):
        others = [k for k in range(F) if k != j]
        for size in range(F):
            for S_ in itertools.combinations(others, size):
                w_ = math.factorial(size) * math.factorial(F - size - 1) / math.factorial(F)
                z = r.copy()
                z[list(S_)] = x[list(S_)]
                without = booster.predict(z[None, :], raw_score=True)[0]
                z[j] = x[j]
                phi[j] += w_ * (booster.predict(z[None, :], raw_score=True)[0] - without)
    return phi


def test_reference_treeshap_equals_brute_force_baseline_shapley_and_keeps_constraint_signs() -> None:
    rng = np.random.default_rng(2)
    n = 3000
    X = rng.normal(size=(n, 5))
    X[rng.random(n) < 0.15, 1] = np.nan
    X[:, 4] = rng.integers(0, 4, n)  # a categorical feature (codes)
    logit = X[:, 0] - np.nan_to_num(X[:, 1]) * X[:, 2] + (X[:, 4] == 2) - 0.5 * X[:, 3]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    model = lgb.LGBMClassifier(n_estimators=25, num_leaves=7, max_depth=3, verbose=-1, n_jobs=1,
                               monotone_constraints=[1, 0, 0, -1, 0]).fit(X, y, categorical_feature=[4])
    booster = model.booster_
    r = np.array([0.2, np.nan, -0.1, 0.4, 1.0])
    explainer = LightGBMTreeShap(booster, reference=r)
    assert explainer.expected_value == pytest.approx(booster.predict(r[None, :], raw_score=True)[0], abs=1e-12)
    phi, bias = explainer.shap_values(X[:2200])  # parallel kernel
    np.testing.assert_allclose(phi.sum(axis=1) + bias, booster.predict(X[:2200], raw_score=True), atol=1e-10)
    for i in range(4):
        np.testing.assert_allclose(phi[i], _brute_force_baseline_shapley(booster, X[i], r), atol=1e-10)
    # a constrained feature's contribution has the constraint's sign times the side of the reference
    assert (phi[:, 0] * np.sign(X[:2200, 0] - r[0]) >= -1e-12).all()
    assert (phi[:, 3] * np.sign(X[:2200, 3] - r[3]) <= 1e-12).all()
    same = X[:2200, 0] == r[0]
    assert (phi[same, 0] == 0).all()


def test_deep_trees_are_left_to_pred_contrib() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 12))
    y = (X[:, 0] + rng.normal(size=2000) > 0).astype(int)
    deep = lgb.LGBMClassifier(n_estimators=3, num_leaves=60, max_depth=-1, min_child_samples=2, verbose=-1).fit(X, y)
    assert not can_explain(deep.booster_, max_path_features=3)
    with pytest.raises(ValueError, match="features|deeper"):
        LightGBMTreeShap(deep.booster_, max_path_features=3)


# -------------------------------------------------------------------- Scorer
def test_fast_path_equals_the_models_own_probabilities_and_raw_score(w, features) -> None:
    bundle = w.bundles["lightgbm"]
    fast = Scorer(bundle, w.settings.scoring)
    assert fast._explainer is not None and fast._calibrate is not None
    X = fast.prepare(features)
    pd_model = bundle.model.predict_proba(X)[:, 1]
    M = fast.encode(features)
    phi, raw = fast._contrib_matrix(M)
    # contributions against the reference customer: they sum to score(row) - score(reference)
    np.testing.assert_allclose(raw, bundle.model.decision_function(X), atol=1e-9)
    ref_raw = bundle.model.decision_function(fast.to_frame(fast.reference_row[None, :]))[0]
    assert fast.expected_value == pytest.approx(ref_raw, abs=1e-9)
    np.testing.assert_allclose(phi.sum(axis=1), raw - ref_raw, atol=1e-9)
    assert np.abs(fast._calibrate(raw) - pd_model).max() < 1e-9
    # the model's own (path-dependent) contributions give the same PDs and, after the rule, no contradiction
    slow = Scorer(bundle, w.settings.scoring, fast_shap=False)
    a, b = fast.score_features(features), slow.score_features(features)
    assert np.nanmax(np.abs(a["pd"] - b["pd"])) < 1e-9
    keep = [c for c in a.columns if not c.startswith("reason_") and c != "pd"]
    pd.testing.assert_frame_equal(a[keep], b[keep])
    assert a.attrs["reasons"]["contradictions"] == 0 and b.attrs["reasons"]["contradictions"] == 0
    assert a.attrs["reasons"]["shown"] > 0


def test_five_c_levels_equal_the_baselines(w, features) -> None:
    scorer = Scorer(w.bundles["lightgbm"], w.settings.scoring)
    base = w.bundles["lightgbm"].baseline
    X = scorer.prepare(features)
    level, sub_levels = scorer._five_c(scorer.encode(features), None)
    sub = pd.DataFrame(sub_levels)
    np.testing.assert_allclose(level, base.credit_level(X), atol=1e-12)
    np.testing.assert_allclose(sub.to_numpy(), base.sub_scores(X).to_numpy(), atol=1e-12)


@pytest.mark.parametrize("kind", ["lightgbm", "logistic_scorecard", "baseline_5c"])
def test_one_ranking_rule_for_every_model_kind(w, features, kind: str) -> None:
    bundle = scorecard_bundle() if kind == "logistic_scorecard" else w.bundles[kind]
    scorer = Scorer(bundle, w.settings.scoring)
    eligible = features[features["population_status"] == "eligible"].head(60)
    out = scorer.score_features(eligible)
    contrib = scorer.contributions(eligible)
    M = scorer.encode(eligible)
    rule = scorer.rule
    G = rule.concept_sums(contrib)
    may_up, _ = rule.sides(M)
    quotable = (may_up & (contrib > 0)).astype(float) @ rule.membership > 0  # concept has a member to quote
    assert out.attrs["reasons"]["contradictions"] == 0
    for i in range(len(eligible)):
        if out["status"].iloc[i] != "scored":
            continue
        got = [out[f"reason_up_{k}_code"].iloc[i] for k in range(1, 5)]
        got = [g for g in got if isinstance(g, str)]
        concepts = [int(rule.concept_id[scorer.features.index(g)]) for g in got]
        assert len(set(concepts)) == len(concepts), (kind, i)  # one reason per concept
        sums = [G[i, k] for k in concepts]
        assert all(v > 0 for v in sums) and sums == sorted(sums, reverse=True), (kind, i)
        # every concept ranked above the last shown one (or any, when fewer than 4) was shown or has no quotable member
        floor = sums[-1] if len(got) == 4 else 0.0
        for k in np.flatnonzero((G[i] > floor) & quotable[i]):
            assert k in concepts, (kind, i, rule.concept_names[k])
        # each shown feature is its concept's largest positive quotable member
        for g, k in zip(got, concepts):
            members = np.flatnonzero((rule.concept_id == k) & may_up[i] & (contrib[i] > 0))
            assert scorer.features.index(g) == members[np.argmax(contrib[i, members])], (kind, i)
        assert all(isinstance(out[f"reason_up_{k}"].iloc[i], str) for k in range(1, len(got) + 1))


def test_every_row_once_with_statuses_and_reasons(w, features) -> None:
    scorer = Scorer(w.bundles["lightgbm"], w.settings.scoring)
    out = scorer.score_features(features)
    assert list(out.columns) == output_columns(4, 2)
    assert out[S.CUSTOMER_ID].tolist() == features[S.CUSTOMER_ID].astype(str).tolist()
    scored = out["status"] == "scored"
    defaulted = out["status"] == "in_default"
    assert scored.any() and defaulted.any()
    assert out.loc[scored, "pd"].between(0, 1).all() and out.loc[scored, "grade"].notna().all()
    assert (out.loc[defaulted, "grade"] == "D").all() and (out.loc[defaulted, "pd"] == 1.0).all()
    assert (out.loc[defaulted, "limit"] == 0).all() and out.loc[defaulted, "reason_up_1"].isna().all()
    first = out.loc[scored, "reason_up_1"].dropna()
    assert len(first) > 0.5 * scored.sum()  # a customer better than the reference on every count may have none
    assert first.str.match(r"^(Character|Capacity|Capital|Collateral|Conditions): ").all()
    assert out.loc[scored, "credit_level"].between(0.1, 1).all()
    assert set(out["limit_basis"].dropna()) <= set(LIMIT_BASES)


def test_no_activity_status_when_nothing_is_known(w) -> None:
    scorer = Scorer(w.bundles["lightgbm"], w.settings.scoring)
    idle = {f: 0.0 for f in ("pay_n_invoices_24m", "pay_open_amount", "fin_has_statement", "vis_n_visits_24m")}
    busy = {**idle, "pay_n_invoices_24m": 3.0}
    frame = pd.DataFrame([idle, busy])
    assert scorer.score_features(frame)["status"].tolist() == [NO_ACTIVITY, "scored"]
    # records that do not give the activity features are scored
    explained = scorer.explain_records([{"pay_max_dpd_12m": 10.0}, idle], ["a", "b"])
    assert [e.status for e in explained] == ["scored", NO_ACTIVITY]
    assert explained[0].reasons_up and explained[0].policy is not None


# --------------------------------------------------------------------- policy
def test_policy_calculation_is_shown(w) -> None:
    scale = w.settings.master_scale
    p = policy_for("B2", equity=1_000_000.0, revenue=5_000_000.0, master_scale=scale)
    assert p.limit == pytest.approx(min(0.10 * 1_000_000, 0.06 * 5_000_000))
    assert p.calculation == ("Grade B2: min(10% of equity 1,000,000 = 100,000; 6% of revenue 5,000,000 = "
                             "300,000) = 100,000")
    assert (p.terms_days, p.prepayment_share, p.review_months, p.limit_basis) == (30, 0.0, 6, "equity_and_revenue")
    assert p.terms_text == "30 days net, review every 6 months"
    neg = policy_for("A1", equity=-5.0, revenue=100.0, master_scale=scale)
    assert neg.limit == 0 and neg.limit_basis == "negative_equity"
    none = policy_for("B1", None, None, scale, invoiced_12m=None)
    assert np.isnan(none.limit) and "committee" in none.calculation
    d = policy_for("D", 1e6, 1e6, scale)
    assert d.limit == 0 and d.prepayment_share == 1.0 and d.terms_text.startswith("cash in advance")


def test_vectorised_policy_equals_the_one_customer_rule(w) -> None:
    scale = w.settings.master_scale
    rng = np.random.default_rng(5)
    grades = np.array([g.grade for g in scale.grades] + ["D", None], dtype=object)
    n = 400
    g = grades[rng.integers(0, len(grades), n)]
    eq = np.where(rng.random(n) < 0.2, np.nan, rng.normal(5e5, 4e5, n))
    rev = np.where(rng.random(n) < 0.2, np.nan, rng.gamma(2, 1e6, n))
    inv = np.where(rng.random(n) < 0.3, np.nan, rng.gamma(2, 1e5, n))
    frame = policy_frame(g, eq, rev, inv, scale)
    for i in range(n):
        if g[i] is None:
            assert np.isnan(frame["limit"].iloc[i]) and pd.isna(frame["limit_basis"].iloc[i])
            continue
        p = policy_for(g[i], eq[i], rev[i], scale, inv[i])
        assert (np.isnan(p.limit) and np.isnan(frame["limit"].iloc[i])) or \
            frame["limit"].iloc[i] == pytest.approx(p.limit), i
        assert frame["limit_basis"].iloc[i] == p.limit_basis
        assert frame["terms_days"].iloc[i] == p.terms_days and frame["review_months"].iloc[i] == p.review_months


# ------------------------------------------------------------- batch scoring
def _tables_with_edge_customers(tables: Tables) -> Tables:
    """Add a customer onboarded after the as-of date and one with no record at all."""
    template = tables.customers.iloc[[0]]
    late = template.assign(**{S.CUSTOMER_ID: "Z_LATE", S.ONBOARDED_DATE: pd.Timestamp("2025-03-01")})
    idle = template.assign(**{S.CUSTOMER_ID: "Z_IDLE"})
    customers = pd.concat([tables.customers, late, idle], ignore_index=True)
    return dataclasses.replace(tables, customers=customers)


@pytest.fixture(scope="module")
def scored_run(w, tmp_path_factory):
    from riskmodel.pipeline import run_score

    root = tmp_path_factory.mktemp("score")
    settings = small_settings(root, scoring={"chunk_size": 100})
    save_bundle(w.bundles["lightgbm"], root)
    tables = _tables_with_edge_customers(w.tables)
    write_tables(tables, root / "data" / "raw")
    first = run_score(settings, "2024-09-30")
    second = run_score(settings, AS_OF, previous=first, fmt="csv")
    return settings, tables, first, second


def test_batch_scoring_lists_every_customer_exactly_once(scored_run) -> None:
    settings, tables, first, second = scored_run
    assert first == settings.resolve("data/generated") / "scores_2024-09-30.parquet"
    out = read_frame(first)
    ids = tables.customers[S.CUSTOMER_ID].astype(str)
    assert len(out) == len(ids) and set(out[S.CUSTOMER_ID]) == set(ids)
    assert not out[S.CUSTOMER_ID].duplicated().any()
    status = out.set_index(S.CUSTOMER_ID)["status"]
    assert status["Z_LATE"] == "not_yet_onboarded" and status["Z_IDLE"] == NO_ACTIVITY
    assert {"scored", "in_default"} <= set(status)
    assert out.loc[out["status"] != "scored", "reason_up_1"].isna().all()
    csv = read_frame(second)
    assert len(csv) == len(ids) and csv["snapshot_date"].astype(str).str.startswith(AS_OF).all()


def test_batch_limit_is_capped_by_the_limit_review_like_the_memo(scored_run) -> None:
    """Batch scoring recommends at most current x (1 + max_increase_share), the current limit being the
    customer_terms row valid before the as-of date (the memo's rule, issue 10.4)."""
    from riskmodel.features.build import facts_as_of

    settings, tables, first, _ = scored_run
    out = read_frame(first)
    out = out[out["status"] == "scored"].set_index(S.CUSTOMER_ID)
    current = facts_as_of(tables, list(out.index), pd.Timestamp("2024-09-30"))[S.CREDIT_LIMIT]
    current = current.reindex(out.index).to_numpy()
    share = settings.limit_review.max_increase_share
    limit = out["limit"].to_numpy()
    has = (current > 0) & ~np.isnan(limit)
    assert has.sum() > 20
    assert (limit[has] <= current[has] * (1 + share) + 1e-6).all()
    assert np.isclose(limit[has], current[has] * (1 + share)).any()  # the cap binds somewhere


def test_chunked_scoring_equals_one_pass(scored_run, w) -> None:
    settings, tables, first, _ = scored_run
    scorer = Scorer(w.bundles["lightgbm"], settings.scoring)
    whole = scorer.score_features(build_features(tables, ["2024-09-30"], settings.features, population="all"))
    chunked = read_frame(first)
    whole = whole.sort_values(S.CUSTOMER_ID, ignore_index=True)
    chunked = chunked.sort_values(S.CUSTOMER_ID, ignore_index=True)
    np.testing.assert_allclose(chunked["pd"], whole["pd"], atol=1e-12)
    assert chunked["grade"].astype(str).tolist() == whole["grade"].astype(str).tolist()
    assert chunked["reason_up_1"].fillna("").tolist() == whole["reason_up_1"].fillna("").tolist()


def test_drift_report_and_migration_are_written_beside_the_scores(scored_run) -> None:
    settings, tables, first, second = scored_run
    drift = json.loads(Path(f"{second}.drift.json").read_text())
    assert drift["thresholds"] == {"warning": 0.1, "alert": 0.25}
    variables = {v["variable"]: v for v in drift["variables"]}
    assert "score" in variables and "pay_max_dpd_12m" in variables
    from riskmodel.features.dictionary import CALENDAR_DRIVEN

    for name, v in variables.items():
        expected = "alert" if v["psi"] >= 0.25 else "warning" if v["psi"] >= 0.1 else "ok"
        if expected != "ok" and name in CALENDAR_DRIVEN:
            expected = "expected"
        assert v["status"] == expected
    assert set(drift["expected"]) <= CALENDAR_DRIVEN
    assert set(drift["alerts"]) == {k for k, v in variables.items() if v["status"] == "alert"}
    scores = read_frame(second)
    shown = int(scores.filter(regex=r"^reason_(up|down)_\d$").notna().to_numpy().sum())
    assert drift["reasons"]["shown"] == shown > 0
    assert drift["reasons"]["contradictions"] == 0
    assert drift["reasons"]["reference"] == "typical customer in good standing"
    matrix = pd.read_csv(f"{second}.migration.csv", index_col=0)
    assert int(matrix.to_numpy().sum()) == len(tables.customers)
    assert matrix.loc["not_yet_onboarded", "not_yet_onboarded"] == 1
    assert matrix.loc["D", "D"] >= 1


def test_a_refused_date_is_checked_before_anything_is_written(scored_run) -> None:
    from riskmodel.pipeline import run_score

    settings, _, first, _ = scored_run
    before = first.read_bytes()
    with pytest.raises(NoDataError, match="after the last record"):
        run_score(settings, "2031-01-01", out_file=first)
    assert first.read_bytes() == before


def test_atomic_write_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "scores.parquet"
    bad = pd.DataFrame({"x": [1, "text", 2.5]})  # mixed objects: pyarrow refuses mid-write
    with pytest.raises(pa.ArrowInvalid, match="Conversion failed for column x"):
        write_frame(bad, target)
    assert list(tmp_path.iterdir()) == []


def test_dates_with_no_data_are_refused() -> None:
    first, last = pd.Timestamp("2019-01-02"), pd.Timestamp("2024-12-30")
    assert default_as_of(last) == pd.Timestamp("2024-09-30")
    assert default_as_of(pd.Timestamp("2024-12-31")) == pd.Timestamp("2024-12-31")
    check_as_of(pd.Timestamp("2024-12-31"), first, last)
    with pytest.raises(NoDataError, match="no data before"):
        check_as_of(pd.Timestamp("2018-12-31"), first, last)
    with pytest.raises(NoDataError, match="after the last record"):
        check_as_of(pd.Timestamp("2027-01-01"), first, last)


# ------------------------------------------------------------------ migration
def test_migration_matrix_on_hand_made_runs() -> None:
    grades = ["A1", "A2", "B1", "C1", "D"]
    prev = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e"],
                         "grade": ["A1", "A2", "B1", None, "C1"],
                         "status": ["scored", "scored", "scored", "not_yet_onboarded", "scored"]})
    cur = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "f"],
                        "grade": ["A1", "B1", "A2", "A2", "D"],
                        "status": ["scored", "scored", "scored", "scored", "in_default"]})
    m = migration_matrix(prev, cur, grades)
    assert list(m.index) == ["A1", "A2", "B1", "C1", "not_yet_onboarded", NEW]
    assert list(m.columns) == ["A1", "A2", "B1", "D", GONE]
    assert m.loc["A2", "B1"] == 1 and m.loc["B1", "A2"] == 1 and m.loc["A1", "A1"] == 1
    assert m.loc["not_yet_onboarded", "A2"] == 1 and m.loc[NEW, "D"] == 1 and m.loc["C1", GONE] == 1
    assert int(m.to_numpy().sum()) == 6
    assert migration_summary(m, grades) == {"upgrades": 1, "downgrades": 1, "unchanged": 1}
    with pytest.raises(ValueError, match="twice"):
        migration_matrix(pd.concat([prev, prev]), cur, grades)


# ---------------------------------------------------------------------- drift
def test_psi_flags_at_the_thresholds() -> None:
    from riskmodel.evaluation.metrics import psi
    from riskmodel.export import reference_distributions

    rng = np.random.default_rng(2)
    train = pd.DataFrame({"x": rng.normal(size=20_000), "c": pd.Categorical(rng.choice(["a", "b"], 20_000))})
    ref = reference_distributions(train, rng.random(20_000), {"c": ["a", "b"]}, n_bins=10)
    same = pd.DataFrame({"x": rng.normal(size=5000), "c": pd.Categorical(rng.choice(["a", "b"], 5000))})
    shifted = pd.DataFrame({"x": rng.normal(0.45, 1, 5000), "c": pd.Categorical(["a"] * 4500 + ["b"] * 500)})
    far = pd.DataFrame({"x": rng.normal(1.5, 1, 5000), "c": pd.Categorical(["a"] * 5000)})
    status = {name: drift_report(ref, df, None).set_index("variable")["status"]
              for name, df in (("same", same), ("shifted", shifted), ("far", far))}
    assert status["same"]["x"] == "ok" and status["same"]["c"] == "ok"
    assert status["shifted"]["x"] == "warning" and status["far"]["x"] == "alert"
    assert status["shifted"]["c"] == "alert" and status["far"]["c"] == "alert"
    # same bins and formula as the evaluation module's PSI
    acc = DriftAccumulator(ref)
    acc.update(shifted.iloc[:2000], None)
    acc.update(shifted.iloc[2000:], None)  # chunked = one pass
    ours = acc.report().set_index("variable").loc["x", "psi"]
    assert ours == pytest.approx(psi(train["x"].to_numpy(), shifted["x"].to_numpy()), rel=1e-6)
    assert psi_from_shares(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    # a variable that drifts by construction (e.g. statement age) is reported as expected, not alerted
    calendar = DriftAccumulator(ref, expected_drift={"x"})
    calendar.update(far, None)
    flags = calendar.report().set_index("variable")["status"]
    assert flags["x"] == "expected" and flags["c"] == "alert"
