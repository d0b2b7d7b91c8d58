"""Request and response models of the REST service (pydantic v2)."""

from __future__ import annotations

import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from riskmodel.features import names as N

FeatureValue = float | int | bool | str | None
MAX_FEATURES = 500  # per record; a flood of unknown names is refused by the parser, not listed


class CustomerFeatures(BaseModel):
    """One customer as a feature record: the model's features by name (missing ones are treated as NaN)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "customer_id": "C000123",
        "features": {N.PAY_MAX_DPD_12M: 45, N.PAY_SHARE_LATE_12M: 0.4, N.FIN_EQUITY_RATIO: 0.18,
                     N.FIN_CURRENT_RATIO: 1.1, N.REG_INDUSTRY: "construction", N.evt_lawsuits(24): 1},
    }]})

    customer_id: str | None = Field(None, max_length=100, description="Passed through to the answer.")
    features: dict[str, FeatureValue] = Field(
        default_factory=dict, max_length=MAX_FEATURES,
        description="Feature name -> value; see GET /v1/model for the names and levels.")

    @field_validator("customer_id")
    @classmethod
    def _printable_id(cls, v: str | None) -> str | None:
        """Ids are echoed back: no control characters, bidi overrides or lone surrogates."""
        if v is not None and any(unicodedata.category(ch)[0] == "C" for ch in v):
            raise ValueError("customer_id has control, format or surrogate characters")
        return v


class ScoreRequest(BaseModel):
    """One or many customers to score."""

    model_config = ConfigDict(extra="forbid")

    customers: list[CustomerFeatures] = Field(min_length=1, description="At most service.max_batch customers.")


class ReasonOut(BaseModel):
    feature: str
    c: str = Field(description="The C of the 5 Cs: character, capacity, capital, collateral, conditions.")
    contribution: float = Field(description="Contribution to the score; positive raises the PD.")
    value: float | str | None = Field(description="The customer's value of the feature.")
    text: str = Field(description="The reason as a sentence with the customer's value and a comparison.")


class PolicyOut(BaseModel):
    grade: str
    description: str
    limit: float | None = Field(description="Recommended credit limit (None: the committee sets it).")
    limit_basis: str
    calculation: str = Field(description="How the limit was computed, in words.")
    terms_days: int
    prepayment_share: float
    review_months: int
    terms: str


class ScoreOut(BaseModel):
    customer_id: str | None
    status: str = Field(description="scored, or no_activity when nothing can be judged.")
    pd: float | None = Field(description="Calibrated probability of default within the served model's horizon "
                                         "(horizon_months of /v1/model).")
    grade: str | None
    credit_level: float | None = Field(description="5C expert scorecard credit level, 0.1 to 1 (higher is better).")
    sub_scores: dict[str, float] = Field(description="5C level per C.")
    reasons_up: list[ReasonOut]
    reasons_down: list[ReasonOut]
    policy: PolicyOut | None
    missing_features: list[str] = Field(default_factory=list,
                                        description="Model features not given (or null): scored as missing.")


class ScoreResponse(BaseModel):
    model_name: str
    model_version: str
    results: list[ScoreOut]


class FeatureOut(BaseModel):
    name: str
    c: str | None
    description: str | None
    unit: str | None
    levels: list[str] | None = Field(None, description="Allowed values of a categorical feature.")


class ModelInfo(BaseModel):
    model_name: str
    version: str
    created_at: str | None
    features: list[FeatureOut]
    metrics: dict[str, Any]
    master_scale: dict[str, Any]
    horizon_months: int = Field(description="Months ahead the PD looks: its label is a default in (snapshot, "
                                            "snapshot + horizon_months] (snapshots.horizon_months at training).")


class Health(BaseModel):
    status: str
    model_loaded: bool
    model_version: str | None


class BatchReason(BaseModel):
    code: str
    text: str


class CustomerScore(BaseModel):
    """A customer's row of the latest batch score file."""

    customer_id: str
    as_of: str | None
    status: str
    pd: float | None
    grade: str | None
    credit_level: float | None
    sub_scores: dict[str, float]
    reasons_up: list[BatchReason]
    reasons_down: list[BatchReason]
    limit: float | None
    limit_basis: str | None
    terms_days: int | None
    prepayment_share: float | None
    review_months: int | None
    model_version: str | None
    source: str = Field(description="The score file the answer comes from.")


class ErrorOut(BaseModel):
    detail: str
