"""Central-tendency calibration, recalibrate and monitor (issue 9): the level never sees the future."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit
from typer.testing import CliRunner

from _tracking_helpers import write_params
from riskmodel.cli import app
from riskmodel.config import CalibrationSettings, load_settings
from riskmodel.data import schemas as S
from riskmodel.data.simulator import simulate
from riskmodel.data.tables import Tables
from riskmodel.models.central_tendency import fit_central_tendency, matured
from riskmodel.monitoring import matured_table

H = 12
AS_OF = pd.Timestamp("2023-06-30")
SNAPS = pd.date_range("2020-03-31", "2023-12-31", freq="QE")


def _rows(seed: int = 0, n_per: int = 600):
    rng = np.random.default_rng(seed)
    snap = np.repeat(SNAPS.to_numpy(), n_per)
    stress = np.repeat(rng.normal(0, 1, len(SNAPS)), n_per)  # the cycle, seen in the ledger
    score = rng.normal(0, 1, len(snap))
    y = (rng.random(len(snap)) < expit(-3.3 + 0.9 * score + 0.4 * stress)).astype(int)
    p_model = expit(-3.3 + 0.9 * score)  # the model knows the customer, not the cycle
    cov = pd.DataFrame({"ptf_ind_overdue_share": 0.15 + 0.03 * stress, "ptf_all_overdue_share_chg_6m": stress / 50})
    return p_model, y, snap, cov


@pytest.mark.parametrize("philosophy", ["point_in_time", "through_the_cycle", "hybrid"])
def test_outcomes_after_the_as_of_date_never_change_the_calibration(philosophy: str) -> None:
    p, y, snap, cov = _rows()
    cs = CalibrationSettings(philosophy=philosophy)
    ct = fit_central_tendency(p, y, snap, cov, cs, H, AS_OF)
    future = ~matured(snap, AS_OF, H)
    assert future.any() and (~future).any()
    y2 = y.copy()
    y2[future] = 1 - y2[future]  # every outcome that matures after the as-of date flipped
    cov2 = cov.copy()
    cov2.loc[future, :] = 99.0
    assert fit_central_tendency(p, y2, snap, cov2, cs, H, AS_OF).to_dict() == ct.to_dict()
    # negative control: the same flip of outcomes matured by the as-of date does change it
    y3 = y.copy()
    flip = ~future & (np.random.default_rng(9).random(len(y)) < 0.05)
    y3[flip] = 1 - y3[flip]
    assert fit_central_tendency(p, y3, snap, cov, cs, H, AS_OF).to_dict() != ct.to_dict()


def test_through_the_cycle_sets_the_long_run_average_and_keeps_the_ranking() -> None:
    p, y, snap, cov = _rows(1)
    ct = fit_central_tendency(p, y, snap, None, CalibrationSettings(philosophy="through_the_cycle"), H, AS_OF)
    use = matured(snap, AS_OF, H)
    rates = pd.Series(y[use]).groupby(snap[use]).mean()
    assert ct.long_run_default_rate == pytest.approx(rates.mean()) and len(ct.cohorts) == len(rates)
    new = ct.apply(p)
    assert new[use].mean() == pytest.approx(rates.mean(), rel=1e-6)
    assert stats.spearmanr(new, p).statistic == pytest.approx(1.0)
    margin = fit_central_tendency(p, y, snap, None, CalibrationSettings(philosophy="through_the_cycle",
                                                                         margin_of_conservatism=0.2), H, AS_OF)
    assert (margin.apply(p) > new).all()


def test_point_in_time_follows_the_ledger_stress() -> None:
    p, y, snap, cov = _rows(2)
    ct = fit_central_tendency(p, y, snap, cov, CalibrationSettings(), H, AS_OF)
    assert ct.slope > 0 and ct.coef[0] > 0
    calm, stressed = cov.iloc[[0]] * 0 + cov.mean(), cov.iloc[[0]] * 0 + cov.max()
    one = np.array([0.03])
    assert ct.apply(one, stressed)[0] > ct.apply(one, calm)[0]
    # within one cohort (same covariates) the ranking is the model's
    first = snap == snap[0]
    assert stats.spearmanr(ct.apply(p[first], cov[first]), p[first]).statistic == pytest.approx(1.0)


def _shift_defaults_after(t: Tables, date: pd.Timestamp, rng: np.random.Generator) -> Tables:
    d = t.defaults.copy()
    late = (d[S.DEFAULT_DATE] > date).to_numpy()
    d.loc[late, S.DEFAULT_DATE] = d.loc[late, S.DEFAULT_DATE] + pd.to_timedelta(rng.integers(1, 200, late.sum()), "D")
    d = d[~(late & (rng.random(len(d)) < 0.3))]
    return replace(t, defaults=d.reset_index(drop=True))  # keeps customer_terms


def test_matured_table_and_recalibration_ignore_every_default_after_the_as_of_date() -> None:
    settings = load_settings()
    tables = simulate(300, pd.Timestamp("2019-01-01").date(), 6, seed=3).tables
    as_of = pd.Timestamp("2023-03-31")

    def level(t: Tables):
        tab = matured_table(t, settings, as_of)
        p = expit(-3.5 + 0.02 * tab["pay_max_dpd_12m"].fillna(0).to_numpy())
        return tab, fit_central_tendency(p, tab[S.LABEL].to_numpy(), tab[S.SNAPSHOT_DATE].to_numpy(),
                                         tab, settings.calibration, H, as_of).to_dict()

    tab, ct = level(tables)
    assert pd.to_datetime(tab[S.SNAPSHOT_DATE]).max() <= as_of - pd.DateOffset(months=H)
    tab2, ct2 = level(_shift_defaults_after(tables, as_of, np.random.default_rng(0)))
    pd.testing.assert_frame_equal(tab, tab2)
    assert ct2 == ct
    # negative control: moving defaults before the as-of date changes the level
    _, ct3 = level(_shift_defaults_after(tables, pd.Timestamp("2021-06-30"), np.random.default_rng(0)))
    assert ct3 != ct


@pytest.mark.slow
def test_monitor_flags_the_2023_break_of_a_through_the_cycle_model(tmp_path: Path) -> None:
    params = write_params(tmp_path, {
        "simulation": {"n_customers": 1200},
        "models": {"enabled": ["logistic_scorecard"]},
        "evaluation": {"bootstrap_samples": 50},
        "calibration": {"philosophy": "through_the_cycle"},
    })
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        for args in (["simulate"], ["train"], ["monitor", "--as-of", "2024-12-31"]):
            res = runner.invoke(app, [*args, "--params", str(params)])
            assert res.exit_code == 0, res.output + repr(res.exception)
    doc = json.loads((tmp_path / "reports" / "monitor" / "monitor_2024-12-31.json").read_text())
    assert doc["model"]["rating_philosophy"] == "through_the_cycle"
    cohorts = {c["snapshot_date"]: c for c in doc["cohorts"]}
    assert max(cohorts) == "2023-12-31"  # every cohort matured by the as-of date, none later
    for s in ("2023-03-31", "2023-06-30", "2023-09-30"):
        c = cohorts[s]
        assert c["observed_rate"] > c["mean_pd"] * (1 + c["band"]["relative_tolerance"])
        assert c["central_tendency_alert"] != "green" and s in doc["flagged_cohorts"]
    assert doc["status"] != "green"
    # recalibrate reads the immature cohorts' recorded defaults too, and writes what it used into the manifest
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        res = runner.invoke(app, ["recalibrate", "--as-of", "2024-06-30", "--params", str(params)])
        assert res.exit_code == 0, res.output + repr(res.exception)
    out = [d for d in (tmp_path / "models").iterdir() if (d / "manifest.json").is_file()
           and json.loads((d / "manifest.json").read_text()).get("recalibration")]
    assert len(out) == 1
    ct = json.loads((out[0] / "manifest.json").read_text())["central_tendency"]
    assert ct["as_of"] == "2024-06-30" and ct["philosophy"] == "through_the_cycle"
    assert max(ct["cohorts"]) == "2023-06-30"  # matured by the as-of date
    assert ct["developed_cohorts"] == ["2023-09-30", "2023-12-31", "2024-03-31"]  # 9, 6 and 3 months observed
    assert ct["developed_months_observed"] == pytest.approx([9, 6, 3], abs=0.2)


# --- immature cohorts: defaults recorded before the as-of date, developed to the horizon -------------------------

def _with_dates(seed: int, stress_path: np.ndarray, n_per: int = 800):
    """Rows whose default rate follows ``stress_path`` (one value per snapshot), with default dates."""
    rng = np.random.default_rng(seed)
    snap = np.repeat(SNAPS.to_numpy(), n_per)
    stress = np.repeat(stress_path, n_per)
    score = rng.normal(0, 1, len(snap))
    y = (rng.random(len(snap)) < expit(-3.3 + 0.9 * score + 0.6 * stress)).astype(int)
    p_model = expit(-3.3 + 0.9 * score)
    cov = pd.DataFrame({"ptf_ind_overdue_share": 0.15 + 0.03 * stress, "ptf_all_overdue_share_chg_6m": stress / 50})
    days = rng.integers(1, 366, len(snap))
    first = np.where(y == 1, (pd.DatetimeIndex(snap) + pd.to_timedelta(days, "D")).to_numpy(), np.datetime64("NaT"))
    return p_model, y, snap, cov, first.astype("datetime64[ns]")


def test_censored_logit_is_the_logistic_regression_when_every_outcome_is_observed() -> None:
    from sklearn.linear_model import LogisticRegression

    from riskmodel.models.central_tendency import fit_censored_logit

    rng = np.random.default_rng(4)
    Z = rng.normal(0, 1, (5000, 3))
    d = (rng.random(5000) < expit(-2 + Z @ np.array([0.8, -0.3, 0.1]))).astype(int)
    b0, b = fit_censored_logit(Z, d, np.ones(5000), C=0.5)
    ref = LogisticRegression(C=0.5, max_iter=1000, tol=1e-10).fit(Z, d)
    assert b0 == pytest.approx(ref.intercept_[0], abs=1e-4)
    np.testing.assert_allclose(b, ref.coef_[0], atol=1e-4)
    # half observed: the same defaults on half the exposure mean twice the full-horizon rate
    b0_half, _ = fit_censored_logit(Z[:, :0], d, np.full(5000, 0.5), C=1.0)
    assert expit(b0_half) == pytest.approx(min(1.0, 2 * d.mean()), rel=0.02)


@pytest.mark.parametrize("philosophy", ["point_in_time", "through_the_cycle"])
def test_immature_cohorts_read_only_defaults_recorded_before_the_as_of_date(philosophy: str) -> None:
    from riskmodel.models.central_tendency import observed_by

    p, y, snap, cov, first = _with_dates(5, np.linspace(-1, 2, len(SNAPS)))
    cs = CalibrationSettings(philosophy=philosophy)
    ct = fit_central_tendency(p, y, snap, cov, cs, H, AS_OF, first_default=first)
    assert ct.developed_cohorts and ct.n_immature_rows > 0 and len(ct.development) == 13
    assert all(pd.Timestamp(c) < AS_OF for c in ct.developed_cohorts)
    frac, seen = observed_by(snap, first, AS_OF, H)
    assert not (pd.DatetimeIndex(first[seen]) >= AS_OF).any()
    # everything after the as-of date rewritten: labels of open rows, later default dates, later covariates
    open_ = ~matured(snap, AS_OF, H)
    y2, cov2, first2 = y.copy(), cov.copy(), first.copy()
    y2[open_] = 1 - y2[open_]
    later = pd.DatetimeIndex(first) >= AS_OF
    first2[later] = (pd.DatetimeIndex(first[later]) + pd.Timedelta(days=40)).to_numpy()
    first2[np.flatnonzero(later)[::3]] = np.datetime64("NaT")
    cov2.loc[(pd.DatetimeIndex(snap) >= AS_OF), :] = 5.0
    assert fit_central_tendency(p, y2, snap, cov2, cs, H, AS_OF, first_default=first2).to_dict() == ct.to_dict()
    # negative control: one default of an immature cohort recorded before the as-of date instead of after
    imm_later = np.flatnonzero(open_ & (frac >= 0.25) & later & (pd.DatetimeIndex(snap) < AS_OF))
    first3 = first.copy()
    first3[imm_later[:20]] = (pd.DatetimeIndex(snap[imm_later[:20]]) + pd.Timedelta(days=1)).to_numpy()
    assert fit_central_tendency(p, y, snap, cov, cs, H, AS_OF, first_default=first3).to_dict() != ct.to_dict()


def test_developed_cohorts_see_a_downturn_that_has_not_matured_yet() -> None:
    # calm for years, then the ledger's stress and the defaults rise in the last cohorts before the as-of date
    path = np.where(SNAPS <= AS_OF - pd.DateOffset(months=H), 0.0, 2.0)  # no matured cohort sees it
    p, y, snap, cov, first = _with_dates(6, path)
    cs = CalibrationSettings()
    now = snap == np.datetime64(AS_OF)
    truth = y[now].mean()
    blind = fit_central_tendency(p, y, snap, cov, cs, H, AS_OF).apply(p[now], cov[now]).mean()
    seeing = fit_central_tendency(p, y, snap, cov, cs, H, AS_OF, first_default=first).apply(p[now], cov[now]).mean()
    assert abs(seeing / truth - 1) < abs(blind / truth - 1)
    assert abs(seeing / truth - 1) < 0.25 < abs(blind / truth - 1)
    off = fit_central_tendency(p, y, snap, cov, CalibrationSettings(develop_immature=False), H, AS_OF,
                               first_default=first)
    assert not off.developed_cohorts and off.apply(p[now], cov[now]).mean() == pytest.approx(blind)


def test_calibration_table_removes_what_the_as_of_date_cannot_know() -> None:
    from riskmodel.models.central_tendency import matured as is_matured
    from riskmodel.monitoring import calibration_table

    settings = load_settings()
    tables = simulate(300, pd.Timestamp("2019-01-01").date(), 6, seed=3).tables
    as_of = pd.Timestamp("2023-03-31")
    tab, first = calibration_table(tables, settings, as_of)
    snaps = pd.to_datetime(tab[S.SNAPSHOT_DATE])
    assert snaps.max() == pd.Timestamp("2022-12-31")  # the last quarter end at least 3 months before 2023-03-31
    open_ = ~is_matured(tab[S.SNAPSHOT_DATE].to_numpy(), as_of, H)
    assert open_.any() and (tab.loc[open_, S.LABEL] == 0).all()
    assert not (pd.DatetimeIndex(first) >= as_of).any()
    tab2, first2 = calibration_table(_shift_defaults_after(tables, as_of, np.random.default_rng(1)), settings, as_of)
    pd.testing.assert_frame_equal(tab, tab2)
    np.testing.assert_array_equal(first, first2)


def test_score_says_when_the_pd_level_is_older_than_a_quarter(caplog: pytest.LogCaptureFixture) -> None:
    from riskmodel.pipeline import level_age

    settings = load_settings()
    manifest = {"central_tendency": {"as_of": "2023-03-31", "philosophy": "point_in_time"}}
    fresh = level_age(manifest, pd.Timestamp("2023-06-30"), settings)
    assert fresh == {"fitted_as_of": "2023-03-31", "age_months": 3, "stale": False, "philosophy": "point_in_time"}
    assert not caplog.records
    old = level_age(manifest, pd.Timestamp("2024-12-31"), settings)
    assert old["age_months"] == 21 and old["stale"] is True
    assert "recalibrate --as-of 2024-12-31" in caplog.text
    assert level_age({}, pd.Timestamp("2024-12-31"), settings)["stale"] is None  # no level step in the bundle
