"""The comparison report and its figures, from a real (small) training run."""

from __future__ import annotations

import dataclasses
import re
from html import escape as html_escape
from html import unescape
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from _tracking_helpers import project_settings, train_result
from riskmodel.evaluation import plots
from riskmodel.evaluation.report import (
    build_plots,
    format_p,
    lift_rows,
    render_report,
    shap_frame,
    verdict,
    verdict_is_strong,
)

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    settings = project_settings(tmp_path_factory.mktemp("report"))
    result = train_result(settings, learned_signal=True)
    return settings, result, build_plots(result, settings)


@pytest.fixture(scope="module")
def pyplot_state(run):  # noqa: ANN001, ANN201 - pyplot's state before and after building the figures
    import matplotlib.pyplot as plt

    settings, result, _ = run
    before = (matplotlib.get_backend(), plt.get_fignums())
    figures = build_plots(result, settings)
    return before, (matplotlib.get_backend(), plt.get_fignums()), figures


def _images(html: str) -> list[str]:
    return re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)


def test_report_has_tables_verdict_and_embedded_images(run, tmp_path: Path) -> None:
    settings, result, figures = run
    html = render_report(result, settings, plots_dir=tmp_path / "plots")
    assert result.champion == "lightgbm"  # premise of the synthetic data
    # the plain-language verdict with the DeLong p-value
    cmp = result.vs_baseline["lightgbm"]
    lo, hi = cmp["auc_diff_ci95"]
    assert "LightGBM beats the experts' 5C card: AUC " in unescape(html)
    assert f"lift {cmp['auc_diff']:+.3f} [{lo:+.3f}, {hi:+.3f}], p" in html
    p = cmp["p_value"]
    assert f"p {html_escape(format_p(p))}" in html or f"p = {format_p(p)}" in html
    assert 'class="verdict"' in html  # a material lead: the green box
    mean_pd = result.models["lightgbm"].pd_test.mean()
    assert f"Calibration: the champion predicts a mean PD of {mean_pd:.2%}" in html
    # side-by-side metrics: every model, the CI, the oracle row
    for label in ("5C expert scorecard", "5C card, refitted weights", "LightGBM", "Logistic scorecard",
                  "Oracle (true PD)"):
        assert label in html
    lo, hi = result.models["lightgbm"].metrics["auc_ci95"]
    assert f"{lo:.3f} – {hi:.3f}" in html
    for header in ("Gini", "KS", "Brier", "Log loss", "PSI train", "DeLong", "Jeffreys p", "cum. lift",
                   "over the refitted card", "oracle gap closed", "Rationale", "Refitted weight"):
        assert header in html
    # calibration by grade lists the master scale
    assert all(f"<td>{g.grade}</td>" in html for g in settings.master_scale.grades)
    # four figures, embedded, and written as files too
    assert len(_images(html)) == 4 and set(figures) == {"roc", "calibration", "grades", "shap"}
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["calibration.png", "grades.png", "roc.png",
                                                                      "shap.png"]
    # self-contained: nothing fetched from elsewhere
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_lift_table_and_the_card_with_its_rationales(run) -> None:
    settings, result, figures = run
    html = render_report(result, settings, figures=figures)
    rows = {r["key"]: r for r in lift_rows(result, 0.05, 0.02)}
    assert set(rows) == {"baseline_5c_refit", "lightgbm", "logistic_scorecard"}
    gbm = result.vs_refitted["lightgbm"]
    assert rows["lightgbm"]["refit"]["diff"] == f"{gbm['auc_diff']:+.3f}"
    assert rows["lightgbm"]["card"]["gap"] == f"{result.vs_baseline['lightgbm']['oracle_gap_closed']:.0%}"
    assert rows["baseline_5c_refit"]["refit"]["diff"] == ""  # the refitted card is not compared with itself
    # every indicator of the card with its C, weight and rationale, as params.yaml gives them
    card = result.models["baseline_5c"].estimator.indicators_
    assert len(card) == 3
    text = unescape(html)
    for ind in card:
        assert f"<td style=\"text-align:left; white-space:normal; max-width:420px\">{ind.rationale}</td>" in text
        assert f'title="{ind.description}">{ind.feature}</td>' in text
    assert "≤ 0: 10 | ≤ 5: 9" in text  # pay_max_dpd_12m's cut points with their points
    assert "The refitted 5C card (the experts' points" in text


def test_verdict_says_plainly_when_a_lead_is_small(run) -> None:
    """A significant lead below evaluation.material_auc_lift is called small, and the box is not green."""
    settings, result, figures = run
    auc_card = result.models["baseline_5c"].metrics["auc"]
    small = {**result.vs_baseline["lightgbm"], "auc_diff": 0.008, "auc_diff_ci95": [0.002, 0.014], "p_value": 0.01}
    models = dict(result.models)
    models["lightgbm"] = dataclasses.replace(models["lightgbm"],
                                             metrics={**models["lightgbm"].metrics, "auc": auc_card + 0.008})
    weak = dataclasses.replace(result, models=models, vs_baseline={**result.vs_baseline, "lightgbm": small})
    lines = verdict(weak, 0.05, material=0.02)
    assert lines[0].endswith("Its lead is small (+0.008 AUC, below the 0.02 this report calls material): the gain "
                             "over the card in use is real but modest.")
    assert any(line.startswith("LightGBM ranks customers better than the experts' 5C card, but the lead is small: ")
               and "lift +0.008 [+0.002, +0.014], p = 0.01; below the 0.02 AUC this report calls material."
               in line for line in lines)
    assert not verdict_is_strong(weak, 0.05, 0.02) and verdict_is_strong(result, 0.05, 0.02)
    html = render_report(weak, settings, figures=figures)
    assert 'class="verdict neutral"' in html and "better, small lead" in html
    # the same lead with a lower materiality bar reads as a plain win
    assert not any("small" in line for line in verdict(weak, 0.05, material=0.005)[:2])


def test_figures_are_png_and_leave_pyplot_alone(pyplot_state) -> None:
    before, after, figures = pyplot_state
    assert after == before  # same backend, no figure left open in pyplot
    assert all(png.startswith(PNG) and len(png) > 5_000 for png in figures.values())


def test_verdict_when_the_baseline_stays_champion(run) -> None:
    settings, result, figures = run
    kept = dataclasses.replace(result, champion="baseline_5c")
    lines = verdict(kept, settings.evaluation.champion_alpha)
    assert "No learned model beats the 5C scorecard at p < 0.05: the 5C scorecard stays the champion." in lines
    html = render_report(kept, settings, figures=figures)
    assert "stays the champion" in html and 'class="verdict neutral"' in html


def test_report_without_baseline_or_oracle_has_no_such_rows(run) -> None:
    settings, result, figures = run
    learned = {k: v for k, v in result.models.items() if k not in ("baseline_5c", "baseline_5c_refit")}
    bare = dataclasses.replace(result, models=learned, vs_baseline={}, vs_refitted={}, oracle=None,
                               champion="lightgbm", data={**result.data, "source": "table"})
    html = render_report(bare, settings, figures={k: v for k, v in figures.items() if k != "shap"})
    assert "No 5C baseline was given" in html
    assert "5C expert scorecard" not in html and "Oracle (true PD)" not in html
    assert "paired DeLong test" not in html and "The experts' 5C card" not in unescape(html)
    assert "What drives the LightGBM model" not in html  # no SHAP figure, no section
    assert len(_images(html)) == 3


def test_shap_summary_uses_lightgbm_contributions(run) -> None:
    settings, result, _ = run
    contrib, X = shap_frame(result, max_rows=300)
    assert contrib.shape == (300, len(result.features)) and list(contrib.columns) == list(X.columns)
    gbm = result.models["lightgbm"].estimator  # log-odds contributions add up to the raw score
    raw = gbm.expected_value_ + contrib.sum(axis=1).to_numpy()
    np.testing.assert_allclose(raw, gbm.decision_function(X), rtol=1e-6, atol=1e-6)
    no_gbm = dataclasses.replace(result, models={k: v for k, v in result.models.items() if k != "lightgbm"})
    assert shap_frame(no_gbm) is None


@pytest.mark.parametrize("p, text", [(0.0004, "< 0.001"), (0.0042, "0.004"), (0.0312, "0.03"), (0.41, "0.41"),
                                     (float("nan"), "n/a")])
def test_format_p(p: float, text: str) -> None:
    assert format_p(p) == text


def test_model_labels() -> None:
    assert plots.model_label("lightgbm") == "LightGBM"
    assert plots.model_label("my_new_model") == "My new model"
