"""Batch and single-customer scoring: the champion bundle turned into PDs, grades, 5C levels, reasons and policy.

One module per responsibility:

=====================  =====================================================================
``scorer``             :class:`Scorer`, composing the parts below (batch, memo, API, pyfunc)
``columns``            the score table's contract: statuses, column names, their order
``statuses``           row statuses (scored, in_default, not_yet_onboarded, no_activity)
``encoding``           :class:`FeatureEncoder`: feature records <-> the float matrix
``calibration``        the model's calibration replayed on raw scores; the PD level (issue 9)
``five_c``             the 5C credit level and per-C levels with the baseline's formula
``explanations``       :class:`Explanation`, the reasons' reference customer, reason records
=====================  =====================================================================

Row statuses (column ``status``): ``scored``; ``in_default`` (the customer's
first default is on or before the date: grade D, PD 1, the default grade's
policy); ``not_yet_onboarded`` (opened after the date); ``no_activity``
(onboarded but nothing to judge: no invoice in the last 24 months, nothing
open, no financial statement and no visit in the last 24 months).

The champion is loaded by :func:`riskmodel.champion.load_champion_bundle`; the table
utilities (date span, as-of dates, customer subsets and chunks) are in
:mod:`riskmodel.data.partition`.
"""

from __future__ import annotations

from riskmodel.scoring.columns import (
    CREDIT_LEVEL,
    GRADE,
    IN_DEFAULT,
    LEVEL_PREFIX,
    MODEL_VERSION,
    NO_ACTIVITY,
    NOT_YET_ONBOARDED,
    PD,
    SCORED,
    STATUS,
    STATUSES,
    output_columns,
    reason_columns,
)
from riskmodel.scoring.encoding import FeatureEncoder
from riskmodel.scoring.explanations import Explanation, template_coverage
from riskmodel.scoring.scorer import Scorer

__all__ = [
    "CREDIT_LEVEL", "GRADE", "IN_DEFAULT", "LEVEL_PREFIX", "MODEL_VERSION", "NO_ACTIVITY",
    "NOT_YET_ONBOARDED", "PD", "SCORED", "STATUS", "STATUSES", "Explanation", "FeatureEncoder", "Scorer",
    "output_columns", "reason_columns", "template_coverage",
]
