"""The simulated base is plausible to a credit analyst: every evidence family carries signal.

Issue 2 asks that the best single feature of each family reaches an AUC above 0.6
against the 12-month label, and that the annual default rate lands in 2-8%.  Issue 8
adds the book's realism (DESIGN section 8): the ledger agrees with the default
definition, normal-year write-offs sit in the 1-2% band, and the visit ratings are
distinct observations with a visitor bias smaller than the signal.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from riskmodel.config import load_settings
from riskmodel.data import schemas as S
from riskmodel.data.default_definition import performing_past_due
from riskmodel.data.sim_checks import visitor_share_of_variance, write_off_rate
from riskmodel.data.sim_reports import CUSTOMER_HALO_SD, VISIT_LOADS, VISITOR_LENIENCY_SD
from riskmodel.data.simulator import simulate
from riskmodel.evaluation.power import feature_power
from riskmodel.features.build import build_modelling_table
from riskmodel.features.dictionary import FAMILIES, FEATURES


@pytest.fixture(scope="module")
def sim():
    return simulate(1500, dt.date(2019, 1, 1), 6, seed=11)


@pytest.fixture(scope="module")
def table(sim):
    settings = load_settings()
    return build_modelling_table(sim.tables, settings.snapshots, settings.features)


def test_every_evidence_family_carries_signal(table) -> None:
    power = feature_power(table, S.LABEL, list(FEATURES), FEATURES)
    best = power.groupby("family")["auc"].max()
    assert set(best.index) == set(FAMILIES)
    weak = best[best <= 0.6]
    assert weak.empty, f"families without a feature of AUC > 0.6: {weak.to_dict()}"
    # and the ledger, the most reliable evidence of willingness to pay, leads
    assert best["payments"] == best.max()


def test_default_rate_by_snapshot_year_is_in_band(table) -> None:
    rate = table.groupby(table[S.SNAPSHOT_DATE].dt.year)[S.LABEL].mean()
    assert rate.between(0.02, 0.08).all(), rate.to_dict()


def test_performing_customer_quarters_rarely_carry_material_90_dpd(sim) -> None:
    """On the snapshot grid, customer-quarters not in default with a material amount 90+ days past
    due (params default_definition) are under 0.3%."""
    settings = load_settings()
    t = sim.tables
    grid = pd.date_range(settings.snapshots.start, settings.snapshots.end, freq="QE")
    perf = performing_past_due(t.invoices, t.defaults, t.customers, grid,
                               settings.default_definition.materiality())
    assert len(perf) > 10_000
    assert perf["material"].mean() < 0.003, perf["material"].mean()


def test_normal_year_write_offs_in_the_design_band(sim) -> None:
    """Write-offs in the years before the downturn: 1-2% of the amount invoiced (Atradius 2018: 1.3%)."""
    rate = write_off_rate(sim.tables, (2019, 2020, 2021))
    assert 0.01 <= rate <= 0.02, rate


def test_visit_dimensions_are_not_collinear(sim) -> None:
    r = sim.tables.visits[list(S.VISIT_RATINGS)].astype(float)
    corr = r.corr().to_numpy()
    off = corr[~np.eye(len(corr), dtype=bool)]
    assert off.max() < 0.7 and off.mean() < 0.4, (off.max(), off.mean())


def test_visitor_share_of_variance_is_below_the_signal(sim) -> None:
    """The visitor explains less of each rating than the firm: below 10% of the variance on average, and
    by design the visitor's leniency and the halo are smaller than the loads on the firm's aspects.

    A 1,500-customer book has 12 visitors, so one book's share moves with the draw of their
    leniency: over 40 draws of the visit stream on one world the largest share over the eight
    ratings averaged 0.074 (90th percentile 0.101, 12% of draws above 0.1).  A single book is
    therefore held to 0.1 on the mean over the ratings and to 0.15 on each."""
    shares = {col: visitor_share_of_variance(sim.tables.visits, col) for col in S.VISIT_RATINGS}
    assert np.mean(list(shares.values())) < 0.1, shares
    for col in S.VISIT_RATINGS:
        assert shares[col] < 0.15, col
        loads = np.asarray(VISIT_LOADS[col][1])
        assert np.linalg.norm(loads) > VISITOR_LENIENCY_SD + CUSTOMER_HALO_SD, col
