"""The reason rule (issue 10): no shown reason contradicts the value it quotes, on any row.

Property-based (hypothesis): rows generated over and beyond every feature's training
range, with missing values and every category level, are scored by a real trained
LightGBM bundle; the rule must hold on every shown reason.  A negative control shows
the checker does find contradictions in the old ranking (the model's own path-dependent
contributions against the mean, every feature on its own).  Also: calendar-driven
features are never quoted outside their training range, the joint monotone check
catches an unconstrained algebraic twin, and the model card shows PSI and monotonicity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from _scoring_helpers import world
from riskmodel.explain.reasons import count_contradictions, rank_reasons
from riskmodel.features.dictionary import CALENDAR_DRIVEN, CONCEPTS
from riskmodel.models.gbm import LightGBMModel, MonotoneViolationError
from riskmodel.scoring import Scorer

N_ROWS = 40


@pytest.fixture(scope="module")
def w():
    return world()


@pytest.fixture(scope="module")
def scorer(w) -> Scorer:
    return Scorer(w.bundles["lightgbm"], w.settings.scoring)


def _rows(scorer: Scorer, u: np.ndarray, missing: np.ndarray) -> pd.DataFrame:
    """Feature rows from uniforms: numeric features spread over 1.5x their training range, levels, NaN."""
    rule = scorer.rule
    data = {}
    for j, f in enumerate(scorer.features):
        if f in scorer.levels:
            lv = scorer.levels[f]
            vals = np.array([lv[int(x * len(lv)) % len(lv)] for x in u[:, j]], dtype=object)
            vals[missing[:, j]] = None
            data[f] = vals
            continue
        lo, hi = rule.lower[j], rule.upper[j]
        if not np.isfinite(lo) or not np.isfinite(hi):
            lo, hi = 0.0, 1.0
        span = max(hi - lo, 1e-6)
        x = lo - 0.25 * span + u[:, j] * 1.5 * span
        if rule.kinds[j] in ("flag",):
            x = np.round(u[:, j])
        elif rule.kinds[j] in ("count", "days", "months"):
            x = np.round(x)
        x[missing[:, j]] = np.nan
        data[f] = x
    return pd.DataFrame(data)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_shown_reason_contradicts_the_value_it_quotes(scorer: Scorer, data: st.DataObject) -> None:
    F = len(scorer.features)
    u = data.draw(hnp.arrays(np.float64, (N_ROWS, F), elements=st.floats(0, 1, exclude_max=True)))
    p_missing = data.draw(st.sampled_from([0.0, 0.1, 0.5]))
    missing = np.random.default_rng(int(u.sum() * 1e6) % 2**32).random((N_ROWS, F)) < p_missing
    rows = _rows(scorer, u, missing)
    out = scorer.score_features(rows)
    assert out.attrs["reasons"]["contradictions"] == 0
    # and again from the output table itself: codes, values and the reference the sentence quotes
    M = scorer.encode(rows)
    contrib = scorer.contributions(rows)
    pos = {f: j for j, f in enumerate(scorer.features)}
    up = np.array([[pos.get(c, -1) for c in out[f"reason_up_{k}_code"].astype(object).fillna("")]
                   for k in range(1, 5)]).T
    down = np.array([[pos.get(c, -1) for c in out[f"reason_down_{k}_code"].astype(object).fillna("")]
                     for k in range(1, 3)]).T
    assert count_contradictions(scorer.rule, up, down, contrib, M) == 0
    for k in range(1, 5):  # the sentence names the reference it is measured against
        texts = out[f"reason_up_{k}"].dropna()
        assert texts.str.contains("typical customer in good standing: ", regex=False).all()


def test_the_checker_finds_contradictions_in_the_old_ranking(w, scorer: Scorer) -> None:
    """Negative control: ranking the model's own contributions (against the mean) contradicts itself."""
    feats = w.table.drop(columns=["label"], errors="ignore")
    M = scorer.encode(feats)
    old = w.bundles["lightgbm"].model.contributions(scorer.prepare(feats)).reindex(
        columns=scorer.features, fill_value=0.0).to_numpy()
    up, down = rank_reasons(old, 4, 2)
    assert count_contradictions(scorer.rule, up, down, old, M) > 0.02 * (up >= 0).sum()
    new = scorer.contributions(feats)
    up, down, counts = scorer.rule.select(new, M, 4, 2)
    assert count_contradictions(scorer.rule, up, down, new, M) == 0
    assert (up >= 0).sum() > 0.5 * len(M)


def test_calendar_features_are_never_quoted_outside_their_training_range(w, scorer: Scorer) -> None:
    feats = w.table.drop(columns=["label"], errors="ignore").head(400).copy()
    present = [f for f in sorted(CALENDAR_DRIVEN) if f in scorer.features]
    assert present
    for f in present:
        feats[f] = scorer.rule.upper[scorer.features.index(f)] * 3 + 10  # far beyond the training maximum
    out = scorer.score_features(feats)
    codes = out.filter(regex=r"_code$").astype(object).to_numpy().ravel()
    assert not set(present) & set(map(str, codes))
    # inside the range they may act as reasons: the rule does not simply ban them
    may_up, may_down = scorer.rule.sides(scorer.encode(w.table.head(400)))
    j = scorer.features.index(present[0])
    assert may_up[:, j].any() or may_down[:, j].any()


def test_joint_check_catches_an_unconstrained_twin_and_training_fails() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    equity = rng.uniform(-0.2, 0.9, n)
    X = pd.DataFrame({"fin_equity_ratio": equity, "fin_leverage": 1.0 - equity, "noise": rng.normal(size=n)})
    logit = -2 + 12 * (equity - 0.35) ** 2  # risk at both ends: the twin carries the part the constraint forbids
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    params = {"n_estimators": 60, "num_leaves": 7, "max_depth": 3, "min_child_samples": 20}
    model = LightGBMModel(params=params, monotone={"fin_equity_ratio": -1}, calibration="none", n_jobs=1)
    model.fit(X, y)
    assert all(model.monotone_check_.values())  # one feature at a time it looks fine
    joint = model.joint_monotone_check_["leverage"]
    assert not joint["ok"] and joint["moved"] == {"fin_leverage": 1, "fin_equity_ratio": -1}
    with pytest.raises(MonotoneViolationError, match="jointly on concept 'leverage'"):
        LightGBMModel(params=params, monotone={"fin_equity_ratio": -1}, calibration="none", n_jobs=1,
                      on_violation="raise").fit(X, y)
    # without the twin, the same data trains and the joint check has nothing to move against the constraint
    ok = LightGBMModel(params=params, monotone={"fin_equity_ratio": -1}, calibration="none", n_jobs=1,
                       on_violation="raise").fit(X.drop(columns="fin_leverage"), y)
    assert "leverage" not in ok.joint_monotone_check_  # a one-feature concept: the per-feature check covers it


def test_model_card_lists_every_feature_psi_and_the_joint_monotone_check(w) -> None:
    bundle = w.bundles["lightgbm"]
    card = bundle.model_card
    assert "## Feature drift, training to test (PSI)" in card
    for f in bundle.features:
        assert f"| `{f}` |" in card
    joint = bundle.manifest["joint_monotone_check"]
    assert joint and all(r["ok"] for r in joint.values())
    assert "jointly, concept payment delays" in card and "holds" in card
    assert "fin_leverage" not in bundle.features  # the exact twin of fin_equity_ratio is excluded
    for concept, r in joint.items():
        assert set(r["moved"]) <= set(CONCEPTS[concept])
    rr = bundle.manifest["reason_reference"]
    assert set(rr["values"]) == set(bundle.features) and rr["n_rows"] > 0


def test_rule_on_a_hand_made_case() -> None:
    from riskmodel.explain.reasons import ReasonRule

    feats = ["pay_max_dpd_12m", "pay_mean_dpd_12m", "fin_equity_ratio", "reg_industry", "pay_tenure_months"]
    rule = ReasonRule(feats, np.array([5.0, 2.0, 0.4, 1.0, 20.0]), lower=np.array([0, 0, -1, np.nan, 0.0]),
                      upper=np.array([200, 100, 1, np.nan, 40.0]))
    M = np.array([
        [99.0, 1.0, 0.6, 2.0, 30.0],    # worst delay above the reference, average below; equity better
        [99.0, 1.0, 0.6, 1.0, 60.0],    # same; industry as the reference; tenure beyond training
        [3.0, np.nan, 0.1, 2.0, 10.0],  # delay better than the reference; average unknown; equity worse
    ])
    c = np.array([
        [0.5, 0.1, 0.3, 0.2, 0.1],      # equity "raises" although better: must not be quoted up
        [0.5, -0.2, -0.3, 0.2, 0.4],    # industry equal to the reference: no side; tenure out of range
        [0.4, 0.3, -0.1, -0.2, 0.0],    # delay 3 < 5 cannot raise; the unknown average may
    ])
    up, down, counts = rule.select(c, M, 4, 2)
    names = lambda idx: [feats[j] for j in idx if j >= 0]  # noqa: E731
    assert names(up[0]) == ["pay_max_dpd_12m", "reg_industry", "pay_tenure_months"]  # delays: 0.6 in one reason
    assert names(down[0]) == []
    assert names(up[1]) == ["pay_max_dpd_12m"]  # delays sum 0.3 > 0; industry as reference, tenure out of range
    assert names(down[1]) == ["fin_equity_ratio"]  # equity 0.6 above 0.4 lowers the risk: consistent
    assert names(up[2]) == ["pay_mean_dpd_12m"]  # concept sum 0.7, quoted by the member that may be quoted
    assert names(down[2]) == ["reg_industry"]  # equity 0.1 < 0.4 cannot lower the risk
    assert count_contradictions(rule, up, down, c, M) == 0
    assert counts["withheld"] == 4  # equity (row 1), tenure and industry (row 2), equity (row 3)
    # the checker flags the naive choice
    naive_up, naive_down = rank_reasons(c, 4, 2)
    assert count_contradictions(rule, naive_up, naive_down, c, M) > 0
