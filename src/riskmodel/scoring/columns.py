"""The batch score table's contract: row statuses and column names, in order."""

from __future__ import annotations

from riskmodel.config import C_NAMES
from riskmodel.data import schemas as S

STATUS = "status"
SCORED = "scored"
IN_DEFAULT = "in_default"
NOT_YET_ONBOARDED = "not_yet_onboarded"
NO_ACTIVITY = "no_activity"
STATUSES: tuple[str, ...] = (SCORED, IN_DEFAULT, NOT_YET_ONBOARDED, NO_ACTIVITY)

PD = "pd"
GRADE = "grade"
CREDIT_LEVEL = "credit_level"
MODEL_VERSION = "model_version"
LEVEL_PREFIX = "level_"


def reason_columns(n_up: int, n_down: int) -> tuple[list[str], list[str]]:
    """Names of the reason text columns and of their feature-code columns."""
    text = [f"reason_up_{i + 1}" for i in range(n_up)] + [f"reason_down_{i + 1}" for i in range(n_down)]
    return text, [f"{c}_code" for c in text]


def output_columns(n_up: int, n_down: int) -> list[str]:
    """The columns of a batch score table, in order."""
    text, codes = reason_columns(n_up, n_down)
    return [S.CUSTOMER_ID, S.SNAPSHOT_DATE, STATUS, PD, GRADE, CREDIT_LEVEL,
            *[LEVEL_PREFIX + c for c in C_NAMES], *text, *codes,
            "limit", "limit_basis", "terms_days", "prepayment_share", "review_months", MODEL_VERSION]
