"""Typed settings: params.yaml parsed once into one pydantic object; each stage gets its section.

Every section forbids unknown keys, so a typo in params.yaml is refused with a
message that names the key.  Relative paths are resolved against the folder of
the params file, so commands behave the same from any working directory.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from riskmodel.exceptions import ConfigError

# The default params: the project's params.yaml in a source checkout; else (installed from a
# wheel) the copy shipped inside the package (src/riskmodel/params.yaml links to the project's
# file, and the wheel carries its content), whose relative paths resolve against the working folder.
PACKAGED_PARAMS = Path(__file__).resolve().parent / "params.yaml"
_CHECKOUT_PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"
DEFAULT_PARAMS = _CHECKOUT_PARAMS if _CHECKOUT_PARAMS.is_file() else PACKAGED_PARAMS
PARAMS_ENV = "RISKMODEL_PARAMS"

C_NAMES: tuple[str, ...] = ("character", "capacity", "capital", "collateral", "conditions")
CName = Literal["character", "capacity", "capital", "collateral", "conditions"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PathsSettings(_Section):
    """Where things live. Relative paths are resolved against the params file's folder."""

    raw_dir: Path = Path("data/raw")
    generated_dir: Path = Path("data/generated")
    models_dir: Path = Path("models")
    reports_dir: Path = Path("reports")


class SimulationSettings(_Section):
    """The built-in simulated customer base."""

    n_customers: int = Field(5000, ge=10)
    start_date: dt.date = dt.date(2019, 1, 1)
    years: int = Field(6, ge=2, le=30)
    seed: int = 42
    format: Literal["parquet", "csv"] = "parquet"


class SnapshotSettings(_Section):
    """The point-in-time grid: one row per customer and snapshot date."""

    start: dt.date = dt.date(2020, 3, 31)
    end: dt.date = dt.date(2023, 12, 31)
    frequency: Literal["quarter", "month", "year"] = "quarter"
    horizon_months: int = Field(12, ge=1, le=60)

    @model_validator(mode="after")
    def _ordered(self) -> "SnapshotSettings":
        if self.end < self.start:
            raise ValueError(f"snapshots.end ({self.end}) is before snapshots.start ({self.start})")
        return self


class FeatureSettings(_Section):
    """Feature windows and the statement publication lag."""

    windows_months: tuple[int, ...] = (3, 6, 12, 24)
    publication_lag_months: int = Field(3, ge=0, le=24)
    late_thresholds_days: tuple[int, ...] = (30, 60, 90)


@dataclass(frozen=True)
class Materiality:
    """Days past due and the two materiality thresholds (params.yaml ``default_definition``)."""

    dpd_days: int = 90
    absolute: float = 500.0
    relative: float = 0.01

    def is_material(self, past_due: np.ndarray, exposure: np.ndarray) -> np.ndarray:
        """Both thresholds hold: ``past_due >= absolute`` and ``past_due >= relative * exposure``."""
        past_due = np.asarray(past_due, dtype=float)
        return (past_due > 0) & (past_due >= self.absolute) & (past_due >= self.relative * np.asarray(exposure))


class DefaultDefinitionSettings(_Section):
    """When the ledger itself shows a default: a material amount more than ``dpd_days`` past due.

    EU definition of default for non-retail exposures (EBA/GL/2016/07; Commission
    Delegated Regulation (EU) 2018/171): past due amount above BOTH
    ``materiality_absolute`` (EUR 500) AND ``materiality_relative`` (1%) of the exposure.
    """

    dpd_days: int = Field(90, ge=1, le=365)
    materiality_absolute: float = Field(500.0, ge=0)
    materiality_relative: float = Field(0.01, ge=0, le=1)

    def materiality(self) -> Materiality:
        """The thresholds as the :class:`Materiality` the data layer applies."""
        return Materiality(self.dpd_days, self.materiality_absolute, self.materiality_relative)


class SplitSettings(_Section):
    """Out-of-time split of the modelling table by snapshot date (inclusive bounds)."""

    train_start: dt.date = dt.date(2020, 3, 31)
    train_end: dt.date = dt.date(2022, 3, 31)
    test_start: dt.date = dt.date(2023, 3, 31)
    test_end: dt.date = dt.date(2023, 12, 31)
    # flat-table path: share of the latest time that is the test set, and CV folds otherwise
    flat_test_share: float = Field(0.25, gt=0, lt=1)
    cv_folds: int = Field(5, ge=2, le=20)

    @model_validator(mode="after")
    def _out_of_time(self) -> "SplitSettings":
        if not (self.train_start <= self.train_end < self.test_start <= self.test_end):
            raise ValueError(
                "split dates must satisfy train_start <= train_end < test_start <= test_end, got "
                f"{self.train_start}, {self.train_end}, {self.test_start}, {self.test_end}"
            )
        return self


class Indicator(_Section):
    """One indicator of the 5C expert scorecard: a feature mapped to points 1..10.

    Numeric features use ``cuts`` (ascending; bin i is (cuts[i-1], cuts[i]]) with
    either explicit ``points`` (one per bin) or a ``direction`` that spreads
    points linearly from 1 to 10.  Categorical features use ``categories``.
    ``rationale`` says in one line, from credit practice and the source
    articles, why the indicator is on the card and why its points run the way
    they do; a card (:class:`BaselineSettings`) refuses an indicator without one.
    """

    feature: str
    c: CName
    weight: float = Field(gt=0)
    description: str = ""
    rationale: str = ""
    cuts: tuple[float, ...] | None = None
    points: tuple[float, ...] | None = None
    direction: Literal["higher_is_better", "lower_is_better"] | None = None
    categories: dict[str, float] | None = None
    missing_points: float = Field(5.0, ge=1, le=10)

    @model_validator(mode="after")
    def _one_mapping(self) -> "Indicator":
        name = f"baseline indicator '{self.feature}'"
        if (self.cuts is None) == (self.categories is None):
            raise ValueError(f"{name}: give exactly one of 'cuts' or 'categories'")
        if self.cuts is not None:
            if list(self.cuts) != sorted(self.cuts) or len(set(self.cuts)) != len(self.cuts):
                raise ValueError(f"{name}: cuts must be strictly ascending, got {list(self.cuts)}")
            if self.points is None and self.direction is None:
                raise ValueError(f"{name}: numeric indicators need 'points' or 'direction'")
            if self.points is not None and len(self.points) != len(self.cuts) + 1:
                raise ValueError(
                    f"{name}: expected {len(self.cuts) + 1} points for {len(self.cuts)} cuts, "
                    f"got {len(self.points)}"
                )
        pts = list(self.points or ()) + list((self.categories or {}).values())
        bad = [p for p in pts if not 1 <= p <= 10]
        if bad:
            raise ValueError(f"{name}: points must lie in 1..10, got {bad}")
        return self


class RefitSettings(_Section):
    """The second baseline: the experts' points with weights refitted by logistic regression.

    ``C`` is the inverse L2 strength of scikit-learn's LogisticRegression on the
    points (1..10 per indicator, training rows only).
    """

    enabled: bool = True
    C: float = Field(1.0, gt=0)


class BaselineSettings(_Section):
    """The weighted 5C expert scorecard (characteristic analysis), and its refitted twin.

    Every indicator needs a ``rationale``: the card is the experts' argument, so
    an indicator nobody can justify from credit practice does not belong on it.
    """

    indicators: tuple[Indicator, ...]
    refit: RefitSettings = RefitSettings()

    @model_validator(mode="after")
    def _unique(self) -> "BaselineSettings":
        names = [i.feature for i in self.indicators]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"baseline indicators repeat features: {dupes}")
        unexplained = [i.feature for i in self.indicators if not i.rationale.strip()]
        if unexplained:
            raise ValueError(
                f"baseline indicators without a rationale: {unexplained}; give each a one-line 'rationale' "
                "from credit practice (why it is on the card and why its points run that way)"
            )
        return self


class LightGBMSettings(_Section):
    """LightGBM hyperparameters and monotone constraints (+1 increasing PD, -1 decreasing)."""

    params: dict[str, Any] = Field(default_factory=dict)
    monotone: dict[str, Literal[-1, 1]] = Field(default_factory=dict)


class ScorecardSettings(_Section):
    """Logistic scorecard: binning, regularisation and points scaling (PDO)."""

    max_n_bins: int = Field(6, ge=2, le=20)
    min_bin_size: float = Field(0.05, gt=0, lt=0.5)
    C: float = Field(1.0, gt=0)
    pdo: float = Field(20.0, gt=0)
    base_score: float = 600.0
    base_odds: float = Field(50.0, gt=0)
    max_features: int | None = Field(None, ge=1)


class ModelSettings(_Section):
    """Which learned models to train and how their probabilities are calibrated."""

    enabled: tuple[Literal["lightgbm", "logistic_scorecard"], ...] = ("lightgbm", "logistic_scorecard")
    calibration: Literal["isotonic", "sigmoid", "none"] = "sigmoid"
    calibration_folds: int = Field(3, ge=2, le=10)
    exclude_features: tuple[str, ...] = ()
    lightgbm: LightGBMSettings = LightGBMSettings()
    logistic_scorecard: ScorecardSettings = ScorecardSettings()
    seed: int = 0
    n_jobs: int = 2


class EvaluationSettings(_Section):
    """Out-of-time evaluation: bootstrap, calibration bins, the champion gate."""

    bootstrap_samples: int = Field(1000, ge=50)
    ci_level: float = Field(0.95, gt=0.5, lt=1)
    calibration_bins: int = Field(10, ge=2)
    psi_bins: int = Field(10, ge=2)
    champion_alpha: float = Field(0.05, gt=0, lt=1)
    # an AUC lift below this is called small in the verdict, significant or not
    material_auc_lift: float = Field(0.02, ge=0, lt=1)
    seed: int = 0


class Grade(_Section):
    """One grade of the master scale with its credit policy."""

    grade: str
    max_pd: float = Field(gt=0, le=1)
    description: str = ""
    limit_pct_equity: float = Field(ge=0, le=5)
    limit_pct_revenue: float = Field(ge=0, le=5)
    terms_days: int = Field(ge=0, le=365)
    prepayment_share: float = Field(ge=0, le=1)
    review_months: int = Field(ge=1, le=36)


class MasterScaleSettings(_Section):
    """PD bands, best grade first; the last band must reach PD 1. Defaulted customers get ``default_grade``."""

    grades: tuple[Grade, ...]
    default_grade: str = "D"

    @field_validator("grades")
    @classmethod
    def _bands(cls, grades: tuple[Grade, ...]) -> tuple[Grade, ...]:
        if len(grades) < 7:
            raise ValueError(f"master scale needs at least 7 non-default grades, got {len(grades)}")
        pds = [g.max_pd for g in grades]
        if pds != sorted(pds) or len(set(pds)) != len(pds):
            raise ValueError(f"master scale max_pd must be strictly increasing, got {pds}")
        if pds[-1] != 1.0:
            raise ValueError(f"the worst grade's max_pd must be 1.0, got {pds[-1]}")
        names = [g.grade for g in grades]
        if len(set(names)) != len(names):
            raise ValueError(f"grade names must be unique, got {names}")
        return grades


class TrackingSettings(_Section):
    """MLflow: embedded SQLite store by default; MLFLOW_TRACKING_URI overrides ``uri``."""

    uri: str = "sqlite:///mlruns.db"
    experiment: str = "riskmodel"
    registered_model: str = "riskmodel-pd"
    artifact_dir: Path = Path("mlartifacts")


class ScoringSettings(_Section):
    """Batch scoring, reasons and drift."""

    chunk_size: int = Field(50_000, ge=100)
    n_reasons_up: int = Field(4, ge=0, le=10)
    n_reasons_down: int = Field(2, ge=0, le=10)
    psi_warning: float = 0.10
    psi_alert: float = 0.25


class ServiceSettings(_Section):
    """REST service."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_batch: int = Field(1000, ge=1)
    api_key_env: str = "RISKMODEL_API_KEY"
    # worker processes of `riskmodel serve`; each loads and verifies the champion. One worker spends
    # about 3 ms of CPU per one-customer request and holds 200 requests/s at p99 16 ms on 2 cores
    # (benchmarks/service.py, 2026-11-30); two workers' LightGBM threads contend on 2 cores (issue 11.6)
    workers: int = Field(1, ge=1, le=64)
    # --- micro-batching of POST /v1/score (issue 11.6, riskmodel.service.batching): concurrent requests are
    # scored as one batch on one scoring thread; one record alone costs ~5x the CPU of a record in a batch of 32
    batch_window_ms: float = Field(2.0, ge=0, le=100)  # after the first waiting request, wait this long for more
    batch_max_records: int = Field(64, ge=1, le=10_000)  # records in one batch at most (a bigger request: alone)
    queue_limit: int = Field(256, ge=1)  # requests waiting at most; more get 503 with Retry-After, not latency


# --- committee memo: currency and limit review (issue 10.4) ---
class ReportingSettings(_Section):
    """How amounts are reported: every amount in the memo carries this ISO 4217 currency code."""

    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")


class LimitReviewSettings(_Section):
    """Policy on changing a customer's limit at one review without committee approval.

    The recommended limit is at most ``current x (1 + max_increase_share)`` (1.0: at most a
    doubling).  A raise is flagged as moving against the risk when the customer's worst
    delay in the last 24 months reaches ``material_delay_days`` or its latest statement
    shows a loss.
    """

    max_increase_share: float = Field(1.0, ge=0.0)
    material_delay_days: int = Field(60, ge=1)


class SafetySettings(_Section):
    """Defences against bad input and tampering (issue 11).

    ``champion_source``: where scoring, memos and the service take the champion
    from.  ``bundle`` (default) uses only the verified bundle in
    ``models_dir/champion`` and refuses to start without it; ``bundle_or_registry``
    falls back to the MLflow registry alias when there is *no* bundle (never when
    a bundle fails verification), with a warning naming the model used;
    ``registry`` always uses the alias.
    ``na_values``: cell texts read as missing in CSV inputs besides the empty cell
    (none by default: ``NA`` can be a real id and ``null`` a real note).
    ``future_tolerance_days``: a record dated more than this after today is reported.
    ``max_money``: bound on the magnitude of every money column (a finite 1e308 is
    not an amount).
    """

    champion_source: Literal["bundle", "bundle_or_registry", "registry"] = "bundle"
    na_values: list[str] = Field(default_factory=list)
    future_tolerance_days: int = Field(31, ge=0)
    max_money: float = Field(1e13, gt=0)


# --------------------------------------------------------------- calibration (issue 9)
class CalibrationSettings(_Section):
    """Rating philosophy, central-tendency calibration and the correlation-adjusted backtest.

    ``philosophy``: ``point_in_time`` (the PD follows the cycle: the level is set from the
    score plus the portfolio/segment stress indicators known at the snapshot),
    ``through_the_cycle`` (the level is the long-run average default rate of the matured
    training cohorts, the worst cohort included) or ``hybrid`` (a log-odds blend of the two,
    weight ``hybrid_weight`` on point in time).  ``margin_of_conservatism`` is added to every
    PD's log-odds after calibration (0 = none).  ``asset_correlation`` is the one-factor
    (Vasicek) asset correlation of the default-correlation-adjusted backtest (Tasche 2008).
    ``develop_immature``: cohorts observed for at least ``min_months_observed`` months but not
    matured also inform the level, with the defaults recorded by the as-of date developed to the
    horizon (``models.central_tendency``).  ``max_level_age_months``: ``score`` warns when the
    level was fitted longer ago than this (the operating cycle recalibrates every quarter).
    """

    philosophy: Literal["point_in_time", "through_the_cycle", "hybrid"] = "point_in_time"
    hybrid_weight: float = Field(0.5, ge=0, le=1)
    margin_of_conservatism: float = Field(0.0, ge=0, le=2)
    asset_correlation: float = Field(0.05, gt=0, lt=1)
    covariates: tuple[str, ...] = ("ptf_ind_overdue_share", "ptf_all_overdue_share_chg_6m")
    regularisation_C: float = Field(1.0, gt=0)
    enabled: bool = True
    portfolio_in_model: bool = False
    central_tendency_band: float = Field(0.2, gt=0, lt=1)
    develop_immature: bool = True
    min_months_observed: int = Field(3, ge=1)
    max_level_age_months: int = Field(3, ge=0)


# --- scale: customer partitions and a memory ceiling (issue 14) ---
class ScaleSettings(_Section):
    """Customer partitions and the memory ceiling of features, score and train.

    ``partition_customers``: customers per partition that ``simulate --partitioned``
    writes (``<table>/part-00000.parquet`` ..., a customer's rows all in one part);
    ``score`` and ``features`` then work one partition at a time, as written.
    ``memory_ceiling_gb``: training on a partitioned folder samples customers to fit
    under it (and says so); ``score`` and ``features`` log a warning with the figure
    when their peak memory passed it. Partitions are not re-cut to fit the ceiling.
    """

    memory_ceiling_gb: float = Field(8.0, gt=0)
    partition_customers: int = Field(50_000, ge=10)
    #: partitions ``simulate --partitioned`` works on at once, and partitions validated at once when ``features``,
    #: ``train`` or ``score`` open a partitioned folder (0: as many as the CPUs and memory_ceiling_gb allow)
    workers: int = Field(0, ge=0)


# --- spark: the features and score stages on Apache Spark (issue 14.2; riskmodel.spark_engine) ---
class SparkSettings(_Section):
    """Where and how ``--engine spark`` runs ``features`` and ``score``.

    ``master``: the Spark master URL (``local[2]`` runs in this process's machine; ``yarn``,
    ``k8s://...`` or ``spark://...`` a cluster; under ``spark-submit`` or Databricks the session
    already running is used). ``customer_partitions``: the number of customer groups
    (``hash(customer_id) mod N``; a customer's rows are never split): each group is one pandas
    task running the single-machine code, so choose it so that a group fits an executor's memory
    (about 40 KB a customer) and there are a few groups per core. ``local_dir``: Spark's scratch
    and temp files (relative to the params file). ``java_options``: JVM flags for driver and
    executors (Arrow on Java 17 needs the netty reflection flag). ``conf``: any other Spark
    setting, passed through as is (executor memory, cores, ...); it wins over the settings above.
    """

    master: str = "local[2]"
    app_name: str = "riskmodel"
    shuffle_partitions: int = Field(8, ge=1)
    customer_partitions: int = Field(8, ge=1)
    local_dir: Path = Path("tmp/spark")
    log_level: Literal["ERROR", "WARN", "INFO", "DEBUG"] = "WARN"
    java_options: str = "-Dio.netty.tryReflectionSetAccessible=true"
    conf: dict[str, str] = Field(default_factory=dict)


# ------------------------------------------------- model selection and learning curve (issue 13)
class ModelSelectionSettings(_Section):
    """A budgeted search over LightGBM's shape with early stopping (riskmodel.models.selection).

    Six-table path: the validation rows are the last ``validation_snapshots`` training
    snapshots; the search fits on the training snapshots whose label window ends by the first
    of them (never the test period).  Flat path: ``inner_folds`` (stratified, grouped by
    ``--group``) folds of the training rows; cross-validated runs select inside every outer
    fold (nested), so the reported figures are honest.  The default shape stays unless a
    candidate beats its validation AUC by more than ``min_gain_se`` standard errors.
    Explanation cost is part of the choice: candidates costing more than ``max_cost_ratio`` x
    the default shape's TreeSHAP cost are refused, and among those that clear the bar the
    cheapest within ``auc_tolerance`` of the best validation AUC wins.  ``budget_seconds`` bounds the whole run's search (split evenly over
    the searches of a cross-validated run); at most ``n_trials`` sampled candidates besides
    the default shape.
    """

    enabled: bool = False
    budget_seconds: float = Field(60.0, gt=0)
    n_trials: int = Field(12, ge=0, le=500)
    max_trees: int = Field(1000, ge=10)
    early_stopping_rounds: int = Field(50, ge=5)
    validation_snapshots: int = Field(2, ge=1)
    inner_folds: int = Field(3, ge=2, le=10)
    auc_tolerance: float = Field(0.002, ge=0, lt=0.1)
    min_gain_se: float = Field(0.5, ge=0)
    max_cost_ratio: float = Field(3.0, gt=0)
    num_leaves: tuple[int, ...] = (7, 15, 31, 63)
    max_depth: tuple[int, ...] = (3, 4, 5, 6)
    min_child_samples: tuple[int, ...] = (10, 20, 50, 100, 200)
    reg_lambda: tuple[float, float] = (0.1, 50.0)      # log-uniform range
    learning_rate: tuple[float, ...] = (0.02, 0.05, 0.1)


class LearningCurveSettings(_Section):
    """Test AUC of the learned models refitted on a share of the training customers (issue 13.4).

    The customers are drawn once (seed ``models.seed``), nested (the 25% are inside the 50%);
    all snapshots of a drawn customer are kept.  The full share is the trained model itself.
    """

    enabled: bool = False
    shares: tuple[float, ...] = (0.25, 0.5)


class Settings(_Section):
    """Everything tunable in riskmodel, as read from params.yaml."""

    paths: PathsSettings = PathsSettings()
    simulation: SimulationSettings = SimulationSettings()
    snapshots: SnapshotSettings = SnapshotSettings()
    features: FeatureSettings = FeatureSettings()
    split: SplitSettings = SplitSettings()
    default_definition: DefaultDefinitionSettings = DefaultDefinitionSettings()
    baseline: BaselineSettings
    models: ModelSettings = ModelSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    master_scale: MasterScaleSettings
    tracking: TrackingSettings = TrackingSettings()
    scoring: ScoringSettings = ScoringSettings()
    service: ServiceSettings = ServiceSettings()
    reporting: ReportingSettings = ReportingSettings()
    limit_review: LimitReviewSettings = LimitReviewSettings()
    safety: SafetySettings = SafetySettings()
    calibration: CalibrationSettings = CalibrationSettings()
    scale: ScaleSettings = ScaleSettings()
    model_selection: ModelSelectionSettings = ModelSelectionSettings()  # issue 13
    learning_curve: LearningCurveSettings = LearningCurveSettings()  # issue 13
    spark: SparkSettings = SparkSettings()  # issue 14.2: --engine spark
    # folder of the params file; relative paths resolve against it (set by load_settings)
    root: Path = Path(".")

    @model_validator(mode="after")
    def _labels_do_not_overlap_test(self) -> "Settings":
        """Out of time means the training labels end before the test period starts."""
        import pandas as pd

        h = self.snapshots.horizon_months
        label_end = (pd.Timestamp(self.split.train_end) + pd.DateOffset(months=h)).date()
        if label_end > self.split.test_start:
            raise ValueError(
                f"split.train_end {self.split.train_end} + snapshots.horizon_months {h} = {label_end} runs past "
                f"split.test_start {self.split.test_start}: training labels would see defaults of the test "
                f"period. Set train_end <= {(pd.Timestamp(self.split.test_start) - pd.DateOffset(months=h)).date()}"
            )
        return self

    def resolve(self, path: Path | str) -> Path:
        """Resolve a path from params.yaml against the params file's folder."""
        p = Path(path)
        return p if p.is_absolute() else (self.root / p).resolve()


def _format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"invalid parameters in {source}:"]
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"  - {loc}: unknown key (not a setting riskmodel knows)")
        else:
            got = e.get("input")
            got_s = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"  - {loc or '<root>'}: {e['msg']}{got_s}")
    return "\n".join(lines)


def settings_from_dict(data: dict[str, Any], root: Path | str = ".", source: str = "<dict>") -> Settings:
    """Build Settings from a mapping; raise ConfigError naming each wrong key or value."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return Settings.model_validate({**data, "root": Path(root).resolve()})
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, source)) from None


def load_settings(path: Path | str | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Read params.yaml into Settings.

    Without ``path``, the file named by the ``RISKMODEL_PARAMS`` environment
    variable is used, else the project's params.yaml (``DEFAULT_PARAMS``). The copy shipped
    inside an installed package resolves its relative paths against the working folder.

    ``overrides`` is a nested mapping merged over the file's content, used by
    tests and notebooks to change one value without writing a file.
    """
    if path is None:
        path = os.environ.get(PARAMS_ENV) or DEFAULT_PARAMS
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"params file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)  # where the parser stopped, 1-based for people
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(err, "problem", None) or " ".join(str(err).split())
        raise ConfigError(f"{p}: not valid YAML{where}: {what}") from None
    if overrides:
        data = deep_merge(data, overrides)
    shipped = p.resolve() == PACKAGED_PARAMS.resolve() and not _CHECKOUT_PARAMS.is_file()
    root = Path.cwd() if shipped else p.parent
    return settings_from_dict(data, root=root, source=str(p))


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``over`` merged in recursively (neither is modified)."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out
