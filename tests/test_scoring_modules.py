"""The scoring package's boundaries (issue 12, item 2): layers, no estimator internals, one 5C formula.

* ``riskmodel.scoring`` sits below tracking: importing it loads neither ``riskmodel.tracking``
  nor mlflow; the pyfunc lives in ``riskmodel.pyfunc`` and the champion loader in
  ``riskmodel.champion`` (the only scoring code that needs the registry).
* Scoring reads no estimator internals (``predictor_``, ``lgbm_``, ``calibrated_classifiers_``,
  ``weights_``): the models expose ``pd_from_raw``, ``level_from_points`` and
  ``sub_levels_from_points`` instead.
* The 5C levels scoring computes on its matrix are the baseline's own, and
  ``pd_from_raw`` reproduces ``predict_proba``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import riskmodel
from _scoring_helpers import world
from riskmodel.scoring import Scorer

SRC = Path(riskmodel.__file__).parent
INTERNALS = ("predictor_", "lgbm_", "calibrated_classifiers_", "weights_")


def test_importing_scoring_loads_neither_tracking_nor_mlflow() -> None:
    code = ("import sys, riskmodel.scoring; "
            "print(sorted(m for m in ('mlflow', 'riskmodel.tracking', 'riskmodel.pyfunc', 'riskmodel.champion') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_scoring_reads_no_estimator_internals() -> None:
    files = sorted((SRC / "scoring").glob("*.py")) + [SRC / "pyfunc.py", SRC / "champion.py"]
    assert len(files) >= 8
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            name = node.attr if isinstance(node, ast.Attribute) else (
                node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None)
            if name in INTERNALS:
                found.append(f"{path.name}:{node.lineno} {name}")
    assert found == []


def test_the_pyfunc_and_champion_loader_left_tracking_and_scoring() -> None:
    tracking = ast.parse((SRC / "tracking.py").read_text())
    classes = {n.name for n in ast.walk(tracking) if isinstance(n, ast.ClassDef)}
    assert "RiskModelPyfunc" not in classes
    import riskmodel.scoring as scoring

    assert not hasattr(scoring, "load_champion_bundle")
    from riskmodel.champion import load_champion_bundle  # noqa: F401
    from riskmodel.pyfunc import RiskModelPyfunc  # noqa: F401


@pytest.fixture(scope="module")
def w():
    return world()


def test_matrix_5c_levels_and_fast_pd_are_the_models_own(w) -> None:
    bundle = w.bundles["lightgbm"]
    scorer = Scorer(bundle, w.settings.scoring)
    rows = w.table.head(400)
    M = scorer.encode(rows)
    X = scorer.to_frame(M)
    level, sub_levels = scorer._five_c(M, None)
    sub = pd.DataFrame(sub_levels)
    base = bundle.baseline
    np.testing.assert_allclose(level, base.credit_level(X), rtol=0, atol=1e-12)
    expected_sub = base.sub_scores(X).reset_index(drop=True)
    assert list(sub.columns) == list(expected_sub.columns) and len(sub.columns) >= 4
    np.testing.assert_allclose(sub.to_numpy(), expected_sub.to_numpy(), rtol=0, atol=1e-12)
    model = bundle.model
    np.testing.assert_allclose(model.pd_from_raw(model.decision_function(X)), model.predict_proba(X)[:, 1],
                               rtol=0, atol=1e-12)
    assert scorer._calibrate is not None  # the fast path is on: PDs from the TreeSHAP raw score
    assert scorer.central_tendency is None  # this bundle has no PD-level step: scoring's PD is the model's
    out = scorer.score_features(rows)
    ok = (out["status"] == "scored").to_numpy()
    assert ok.sum() > 300
    np.testing.assert_allclose(out["pd"].to_numpy()[ok], model.predict_proba(X)[ok, 1], rtol=0, atol=1e-9)
