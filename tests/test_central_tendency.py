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
