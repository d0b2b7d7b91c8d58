"""The second baseline: the experts' 5C card with its weights refitted by logistic regression.

Same indicators, same cut points, same points 1..10 as the experts' card
(:class:`~riskmodel.models.baseline.FiveCScorecard`); only the weights are
learned, by scikit-learn's ``LogisticRegression`` on the points of the training
rows.  Comparing the two cards, and this one with the learned models, separates
what a learned model gains from *information* (evidence the experts' weights
under-use) from what it gains from *method* (bins, interactions and
non-linearity a card cannot express).

Weights stay non-negative, as on any card: points run from 1 (worst) to 10
(best) in the direction the experts set, so a weight below zero would reward a
customer for being worse.  scikit-learn's logistic regression has no sign
constraint, so the fit is backward elimination: when a coefficient comes out
with the wrong sign (more points, more risk, given the other indicators), the
indicator with the most wrong-signed coefficient gets weight 0 and the rest are
refitted, until every remaining weight is positive.  The dropped indicators are
listed in ``dropped_`` (the report shows them): usually an indicator whose
evidence the others already carry.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from riskmodel.config import Indicator
>>> ind = (Indicator(feature="dpd", c="character", weight=1, cuts=(0, 30), points=(10, 5, 1)),
...        Indicator(feature="noise", c="capital", weight=1, cuts=(0.5,), direction="higher_is_better"))
>>> rng = np.random.default_rng(0)
>>> dpd = rng.choice([0.0, 10.0, 60.0], size=400)
>>> y = (rng.random(400) < np.where(dpd > 30, 0.6, np.where(dpd > 0, 0.2, 0.05))).astype(int)
>>> X = pd.DataFrame({"dpd": dpd, "noise": rng.random(400)})
>>> card = RefittedFiveCScorecard(ind).fit(X, y)
>>> bool(card.weights_[0] > card.weights_[1]), float(card.weights_.sum())
(True, 2.0)
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.linear_model import LogisticRegression

from riskmodel.config import Indicator
from riskmodel.models.baseline import FiveCScorecard

log = logging.getLogger(__name__)


class RefittedFiveCScorecard(FiveCScorecard):
    """The experts' points with non-negative weights refitted by logistic regression on the training rows.

    Parameters
    ----------
    indicators : tuple of Indicator, optional
        The experts' card (their ``weight`` is only used to scale the refitted
        weights to the same total, so the two cards can be read side by side).
    C : float
        Inverse L2 strength of the logistic regression on the points.

    Attributes
    ----------
    coef_ : ndarray
        Log-odds of default per point of each indicator (0 for dropped ones;
        negative: more points, less risk).
    weights_ : ndarray
        ``-coef_`` rescaled to the experts' total weight; the credit level is
        ``sum(w * s) / sum(w * 10)`` as on the experts' card.
    dropped_ : list of str
        Indicators whose coefficient came out with the wrong sign, in the order
        they were dropped (weight 0).
    fallback_ : bool
        True when no indicator kept a positive weight; the card then keeps the
        experts' weights (and says so in the log) rather than rank by nothing.
    Other attributes as in :class:`~riskmodel.models.baseline.FiveCScorecard`.
    """

    link = "logistic"  # the credit level is linear in the regression's log-odds: a logistic link restores it

    def __init__(self, indicators: tuple[Indicator, ...] | None = None, C: float = 1.0) -> None:
        self.indicators = indicators
        self.C = C

    def __sklearn_tags__(self):  # noqa: ANN204 - sklearn's Tags type
        tags = super().__sklearn_tags__()
        # learned weights, but on the experts' fixed cut points (standard-normal quantiles for a bare array):
        # it need not reach the accuracy the checks demand of a free learner on synthetic blobs
        tags.classifier_tags.poor_score = True
        return tags

    def _fit_weights(self, pts: np.ndarray, y01: np.ndarray) -> np.ndarray:
        """Non-negative weights by backward elimination of wrong-signed logistic coefficients."""
        if not float(self.C) > 0:
            raise ValueError(f"RefittedFiveCScorecard: C must be > 0, got {self.C!r}")
        k = pts.shape[1]
        names = [i.feature for i in self.indicators_]
        active = list(range(k))
        coef = np.zeros(k)
        self.dropped_: list[str] = []
        # centred points: the same coefficients (the intercept is not penalised), fewer solver iterations
        centred = pts - pts.mean(axis=0)
        while active:
            lr = LogisticRegression(C=float(self.C), max_iter=2000).fit(centred[:, active], y01)
            c = lr.coef_[0]
            worst = int(np.argmax(c))
            if c[worst] < 0:  # every remaining indicator: more points, less risk
                coef[active] = c
                break
            self.dropped_.append(names[active.pop(worst)])
        self.coef_ = coef
        expert = np.array([i.weight for i in self.indicators_], dtype=float)
        self.fallback_ = not active
        if self.fallback_:
            log.warning("refitted 5C card: no indicator ranks customers in the experts' direction once the others "
                        "are known; it keeps the experts' weights")
            return expert
        raw = np.where(coef < 0, -coef, 0.0)  # dropped indicators: exactly 0
        if self.dropped_:
            log.info("refitted 5C card: weight 0 for %s (coefficient of the wrong sign given the others)",
                     self.dropped_)
        return raw * (expert.sum() / raw.sum())
