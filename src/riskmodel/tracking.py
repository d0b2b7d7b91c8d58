"""MLflow tracking and model registry: log a training run, register its models, move the champion alias.

With :mod:`riskmodel.pyfunc` (the pyfunc model itself), the only module that imports
mlflow.  It talks to the store through an explicit
``MlflowClient`` (no global tracking URI is set, so nothing leaks into the
caller's process) and:

- logs one run per training: params.yaml flattened into params, every model's
  metrics (``lightgbm.auc``, ``lightgbm.auc_ci95_lo``, ``lightgbm.vs_baseline_p_value``,
  ``lightgbm.vs_refitted_auc_diff``, ...),
  the report folder (metrics.json, report.html, plots, data dictionary), params.yaml
  and the champion bundle;
- saves every model as an MLflow **pyfunc** model (:class:`riskmodel.pyfunc.RiskModelPyfunc`, which
  wraps a :class:`~riskmodel.bundle.Bundle` and returns pd, grade, credit level and
  reasons) under the run's ``models/<name>`` artifacts;
- registers them in **one** registered model (``settings.tracking.registered_model``,
  ``riskmodel-pd`` by default): every run adds one version per model, tagged
  ``model_name``, and the alias ``champion`` goes to the version of the run's
  champion.  So ``models:/riskmodel-pd@champion`` is always the current champion,
  whichever kind of model it is, and the alias moves back to the 5C baseline when
  the learned models stop beating it.

The store is the embedded SQLite file of params.yaml (resolved against the params
folder) unless ``MLFLOW_TRACKING_URI`` says otherwise.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities import Metric, Param, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from riskmodel.bundle import Bundle
from riskmodel.config import Settings
from riskmodel.exceptions import ModelNotFoundError
from riskmodel.export import build_bundle
from riskmodel.pyfunc import save_pyfunc
from riskmodel.safety import redact_text
from riskmodel.scoring import Scorer
from riskmodel.training import TrainResult

log = logging.getLogger(__name__)

ENV_URI = "MLFLOW_TRACKING_URI"
_PROGRESS_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
CHAMPION_ALIAS = "champion"
MODEL_TAG = "model_name"
MODELS_ARTIFACT_DIR = "models"
BUNDLE_ARTIFACT_DIR = "bundle"
REPORT_ARTIFACT_DIR = "report"
_LOCAL_SCHEMES = ("sqlite", "file", "")
_REQUIREMENTS = ("mlflow", "numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "lightgbm", "shap",
                 "numba", "joblib", "pydantic", "pyyaml", "jinja2", "matplotlib")


# ------------------------------------------------------------------ store
def _scheme(uri: str) -> str:
    return uri.split(":", 1)[0].lower() if ":" in uri and not uri[1:3] == ":\\" else ""


def resolve_tracking_uri(settings: Settings) -> str:
    """The tracking URI: ``MLFLOW_TRACKING_URI`` if set, else ``settings.tracking.uri``.

    A relative SQLite path or plain folder in params.yaml is resolved against the
    params file's folder, so every working directory reaches the same store:
    ``sqlite:///mlruns.db`` in ``/proj/params.yaml`` is ``sqlite:////proj/mlruns.db``.
    """
    env = os.environ.get(ENV_URI, "").strip()
    if env:
        return env
    uri = settings.tracking.uri
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):]
        if path and not Path(path).is_absolute():
            return f"sqlite:///{settings.resolve(path)}"
        return uri
    if _scheme(uri) == "":
        return settings.resolve(uri).as_uri()
    return uri


def resolve_artifact_location(settings: Settings, tracking_uri: str) -> str | None:
    """Where a new experiment keeps its artifacts; None lets a tracking server decide.

    For a local store, ``settings.tracking.artifact_dir`` resolved against the params
    folder; when the store itself came from ``MLFLOW_TRACKING_URI`` and is a SQLite
    file, a relative artifact_dir is resolved against that file's folder instead, so
    a store and its artifacts stay together.
    """
    if _scheme(tracking_uri) not in _LOCAL_SCHEMES:
        return None
    art = settings.tracking.artifact_dir
    if not art.is_absolute() and os.environ.get(ENV_URI, "").strip() and tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri[len("sqlite:///"):])
        if db.is_absolute():
            return (db.parent / art).resolve().as_uri()
    return settings.resolve(art).as_uri()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence MLflow's and alembic's info chatter and deprecation noise, then restore the levels."""
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    progress = os.environ.get(_PROGRESS_ENV)
    os.environ[_PROGRESS_ENV] = "false"
    try:
        for lg in loggers:
            lg.setLevel(max(logging.WARNING, lg.level))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow.*")
            warnings.filterwarnings("ignore", message=r".*[Ss]ignature.*")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
        if progress is None:
            os.environ.pop(_PROGRESS_ENV, None)
        else:
            os.environ[_PROGRESS_ENV] = progress


def _client(settings: Settings) -> tuple[MlflowClient, str]:
    uri = resolve_tracking_uri(settings)
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri, registry_uri=uri), uri


def _experiment_id(client: MlflowClient, settings: Settings, uri: str) -> str:
    name = settings.tracking.experiment
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    try:
        return client.create_experiment(name, artifact_location=resolve_artifact_location(settings, uri))
    except MlflowException:  # created meanwhile by a concurrent run
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


# ------------------------------------------------------------------ pyfunc
def _pip_requirements() -> list[str]:
    reqs = []
    for dist in _REQUIREMENTS:
        try:
            reqs.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return reqs



# ------------------------------------------------------------------ params and metrics
def flatten_params(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested params (dicts, lists) as flat ``a.b.0.c`` keys with string values (MLflow params).

    >>> flatten_params({"models": {"enabled": ["lightgbm"], "seed": 0}})
    {'models.enabled': "['lightgbm']", 'models.seed': '0'}
    """
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(flatten_params(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(value, (list, tuple)) and any(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            out.update(flatten_params(v, f"{prefix}.{i}"))
    else:
        out[prefix] = str(list(value) if isinstance(value, tuple) else value)[:6000]
    return out


def metrics_for_mlflow(result: TrainResult) -> dict[str, float]:
    """Every number of metrics.json as a flat MLflow metric (``lightgbm.auc``, ``oracle.brier``, ...)."""
    out: dict[str, float] = {}
    doc = result.metrics_json()
    for key in ("n_train", "n_test", "test_positive_rate"):
        if isinstance(doc["data"].get(key), (int, float)):
            out[f"data.{key}"] = float(doc["data"][key])
    for name, m in doc["models"].items():
        for k, v in m.items():
            if isinstance(v, (list, tuple)) and len(v) == 2:
                out[f"{name}.{k}_lo"], out[f"{name}.{k}_hi"] = float(v[0]), float(v[1])
            elif isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
                out[f"{name}.{k}"] = float(v)
    for block in ("vs_baseline", "vs_refitted"):  # lifts over the experts' card and over the refitted card
        for name, cmp in doc.get(block, {}).items():
            for k, v in cmp.items():
                if isinstance(v, (list, tuple)) and len(v) == 2:
                    out[f"{name}.{block}_{k}_lo"], out[f"{name}.{block}_{k}_hi"] = float(v[0]), float(v[1])
                else:
                    out[f"{name}.{block}_{k}"] = float(v)
    for k, v in (doc.get("oracle") or {}).items():
        if isinstance(v, (int, float, np.number)):
            out[f"oracle.{k}"] = float(v)
    bt = doc.get("backtest")  # issue 9: the champion's PD level on the test rows
    if bt:
        for k in ("mean_pd", "observed_rate", "correlated_p", "jeffreys_p"):
            out[f"backtest.{k}"] = float(bt["overall"][k])
        for light in ("yellow", "red"):
            out[f"backtest.grades_{light}"] = float(sum(r["light"] == light for r in bt["by_grade"]))
    return {k: v for k, v in out.items() if np.isfinite(v)}


def _log_batches(client: MlflowClient, run_id: str, params: dict[str, str], metrics: dict[str, float]) -> None:
    ts = int(time.time() * 1000)
    items = list(params.items())
    for i in range(0, len(items), 100):
        client.log_batch(run_id, params=[Param(k, v) for k, v in items[i:i + 100]])
    mitems = list(metrics.items())
    for i in range(0, len(mitems), 1000):
        client.log_batch(run_id, metrics=[Metric(k, v, ts, 0) for k, v in mitems[i:i + 1000]])


# ------------------------------------------------------------------ runs
@contextlib.contextmanager
def training_run(settings: Settings, run_name: str | None = None, tags: dict[str, str] | None = None) -> Iterator[str]:
    """Open an MLflow run for one training and yield its id; it ends FINISHED, or FAILED on error."""
    with _quiet():
        client, uri = _client(settings)
        exp_id = _experiment_id(client, settings, uri)
        run = client.create_run(exp_id, run_name=run_name, tags=tags or {})
    run_id = run.info.run_id
    try:
        yield run_id
    except BaseException:
        with _quiet():
            client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
        raise
    with _quiet():
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))


def log_training_run(
    result: TrainResult,
    settings: Settings,
    params_file: Path | None,
    out_dir: Path,
    bundle_dir: Path | None,
    run_id: str | None = None,
) -> str:
    """Log a training run to MLflow, register its models and give the champion the alias.

    Parameters
    ----------
    result : the training run.
    settings : the effective parameters (logged flattened) and the tracking section.
    params_file : params.yaml to log as an artifact (skipped when None).
    out_dir : folder with metrics.json, report.html and plots (logged under ``report/``).
    bundle_dir : the exported champion bundle (logged under ``bundle/``).
    run_id : an open run from :func:`training_run`; a new run is created when None.

    Returns
    -------
    str : the run id.
    """
    if run_id is None:
        with training_run(settings, run_name=f"train-{result.data.get('source', 'data')}") as new_id:
            return log_training_run(result, settings, params_file, out_dir, bundle_dir, run_id=new_id)

    with _quiet():
        client, _ = _client(settings)
        params = flatten_params(settings.model_dump(mode="json", exclude={"root"}))
        _log_batches(client, run_id, params, metrics_for_mlflow(result))
        client.set_tag(run_id, "champion", result.champion)
        client.set_tag(run_id, "data.source", str(result.data.get("source")))
        client.set_tag(run_id, "data.split", str(result.data.get("split")))
        if params_file is not None and Path(params_file).is_file():
            client.log_artifact(run_id, str(params_file))
        if Path(out_dir).is_dir():
            client.log_artifacts(run_id, str(out_dir), REPORT_ARTIFACT_DIR)
        if bundle_dir is not None and Path(bundle_dir).is_dir():
            client.log_artifacts(run_id, str(bundle_dir), BUNDLE_ARTIFACT_DIR)

        registered = settings.tracking.registered_model
        try:
            client.create_registered_model(
                registered, description=f"riskmodel {settings.snapshots.horizon_months}-month PD models; alias "
                "'champion' is the model in use"
            )
        except MlflowException as err:
            if "RESOURCE_ALREADY_EXISTS" not in str(err.error_code):
                raise
        versions: dict[str, str] = {}
        exported = Bundle.load(bundle_dir) if bundle_dir is not None and Path(bundle_dir).is_dir() else None
        created = dt.datetime.fromisoformat(exported.manifest["created_at"]) if exported is not None else None
        with tempfile.TemporaryDirectory(prefix="riskmodel-pyfunc-") as tmp:
            for name in result.models:
                work = Path(tmp) / name
                work.mkdir(parents=True)
                if exported is not None and bundle_dir is not None and exported.model_name == name:  # models/'s bundle
                    bdir, bundle = Path(bundle_dir), exported
                else:
                    bdir = work / "bundle"
                    bundle = build_bundle(result, settings, run_id, model_name=name, created_at=created)
                    bundle.save(bdir)
                mdir = work / "model"
                save_pyfunc(bdir, bundle, result.X_test if len(result.X_test) else result.X_train, mdir,
                            _pip_requirements())
                artifact_path = f"{MODELS_ARTIFACT_DIR}/{name}"
                client.log_artifacts(run_id, str(mdir), artifact_path)
                mv = client.create_model_version(
                    registered, source=f"runs:/{run_id}/{artifact_path}", run_id=run_id,
                    tags={MODEL_TAG: name, "champion_of_run": str(name == result.champion).lower(),
                          "auc": f"{result.models[name].metrics.get('auc', float('nan')):.4f}"},
                    description=f"{name} from run {run_id}",
                )
                versions[name] = mv.version
        client.set_registered_model_alias(registered, CHAMPION_ALIAS, versions[result.champion])
        client.set_tag(run_id, "champion_version", str(versions[result.champion]))
    log.info("MLflow run %s: registered %s versions %s; '%s' -> version %s (%s)", run_id, registered,
             versions, CHAMPION_ALIAS, versions[result.champion], result.champion)
    return run_id


# ------------------------------------------------------------------ loading
def champion_uri(settings: Settings) -> str:
    """``models:/<registered model>@champion``."""
    return f"models:/{settings.tracking.registered_model}@{CHAMPION_ALIAS}"


def load_champion(settings: Settings) -> Bundle:
    """The champion bundle from the registry alias (raises ModelNotFoundError when there is none)."""
    client, uri = _client(settings)
    name = settings.tracking.registered_model
    with _quiet():
        try:
            mv = client.get_model_version_by_alias(name, CHAMPION_ALIAS)
        except MlflowException as err:
            if getattr(err, "error_code", "") not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
                raise ModelNotFoundError(f"the MLflow registry at {redact_text(uri)} cannot be read "
                                         f"({redact_text(str(err))[:200]}); check MLFLOW_TRACKING_URI") from None
            raise ModelNotFoundError(
                f"no '{CHAMPION_ALIAS}' alias on registered model {name!r} in {redact_text(uri)}; "
                "run `riskmodel train` first"
            ) from None
        with tempfile.TemporaryDirectory(prefix="riskmodel-champion-") as dest:
            if not mv.run_id or not mv.source:
                raise ModelNotFoundError(f"registered model {name!r} version {mv.version} has no run or source in "
                                         f"{redact_text(uri)}; re-register it with `riskmodel train`")
            local = client.download_artifacts(mv.run_id, _artifact_path_of(mv.source, mv.run_id), dest)
            model = mlflow.pyfunc.load_model(local)
    return model.unwrap_python_model().bundle


def _artifact_path_of(source: str, run_id: str) -> str:
    prefix = f"runs:/{run_id}/"
    if source.startswith(prefix):
        return source[len(prefix):]
    marker = "/artifacts/"
    return source.split(marker, 1)[1] if marker in source else source


# ------------------------------------------------ recalibration (issue 9)
def log_recalibration(settings: Settings, run_id: str, bundle_dir: Path, bundle: Bundle, X_example: pd.DataFrame,
                      gate_passed: bool, ct: dict[str, Any], backtest: dict[str, Any]) -> str:
    """Log a recalibrated bundle to an open run, register it as a new version; alias only when the gate passed."""
    with _quiet():
        client, _ = _client(settings)
        params = {f"central_tendency.{k}": str(v)[:500] for k, v in ct.items()}
        overall = backtest["overall"]
        metrics = {"recalibration.mean_pd": float(overall["mean_pd"]),
                   "recalibration.observed_rate": float(overall["observed_rate"]),
                   "recalibration.correlated_p": float(overall["correlated_p"])}
        _log_batches(client, run_id, params, metrics)
        client.set_tag(run_id, "recalibration.gate_passed", str(gate_passed).lower())
        client.log_artifacts(run_id, str(bundle_dir), BUNDLE_ARTIFACT_DIR)
        registered = settings.tracking.registered_model
        try:
            client.create_registered_model(registered)
        except MlflowException as err:
            if "RESOURCE_ALREADY_EXISTS" not in str(err.error_code):
                raise
        with tempfile.TemporaryDirectory(prefix="riskmodel-pyfunc-") as tmp:
            mdir = Path(tmp) / "model"
            example = Scorer(bundle, settings.scoring).prepare(X_example.head(20))
            save_pyfunc(Path(bundle_dir), bundle, example, mdir, _pip_requirements())
            artifact_path = f"{MODELS_ARTIFACT_DIR}/{bundle.model_name}"
            client.log_artifacts(run_id, str(mdir), artifact_path)
            mv = client.create_model_version(
                registered, source=f"runs:/{run_id}/{artifact_path}", run_id=run_id,
                tags={MODEL_TAG: bundle.model_name, "recalibrated_as_of": str(ct.get("as_of")),
                      "champion_of_run": str(gate_passed).lower()},
                description=f"{bundle.model_name} recalibrated as of {ct.get('as_of')} (run {run_id})",
            )
        if gate_passed:
            client.set_registered_model_alias(registered, CHAMPION_ALIAS, mv.version)
        client.set_tag(run_id, "registered_version", str(mv.version))
    return str(mv.version)
