"""Issue 11.2: the champion bundle is verified (SHA-256 of every file, model kind) before anything is unpickled;
no silent fallback to another model; a model that cannot score never reports itself loaded."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from _scoring_helpers import project_on_disk, small_settings, world
from riskmodel.bundle import BASELINE_FILE, MANIFEST, MODEL_FILE, Bundle, BundleIntegrityError, sha256_file
from riskmodel.exceptions import ModelNotFoundError


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    return world().bundles["lightgbm"].save(tmp_path_factory.mktemp("bundle") / "champion")


@pytest.fixture
def copy(saved: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "champion"))


def test_manifest_has_a_checksum_of_every_file_and_loads(saved: Path) -> None:
    man = json.loads((saved / MANIFEST).read_text())
    for name in (MODEL_FILE, BASELINE_FILE, "reference.parquet", "model_card.md"):
        assert man["files"][name] == sha256_file(saved / name)
    assert man["model_class"].endswith("LightGBMModel")
    assert Bundle.load(saved).model_name == "lightgbm"


def test_swapped_model_file_is_refused(copy: Path) -> None:
    shutil.copy(copy / BASELINE_FILE, copy / MODEL_FILE)  # the 5C baseline's file in place of the champion's
    with pytest.raises(BundleIntegrityError, match="model.joblib does not match its SHA-256"):
        Bundle.load(copy)


@pytest.mark.parametrize("damage", ["missing", "zero_bytes", "truncated"])
def test_missing_or_corrupt_files_are_refused(copy: Path, damage: str) -> None:
    target = copy / MODEL_FILE
    if damage == "missing":
        target.unlink()
        match = "model.joblib is missing"
    elif damage == "zero_bytes":
        target.write_bytes(b"")
        match = "does not match its SHA-256"
    else:
        target.write_bytes(target.read_bytes()[:1000])
        match = "does not match its SHA-256"
    with pytest.raises(BundleIntegrityError, match=match):
        Bundle.load(copy)


class _Payload:
    """A pickle that would create a file when unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path.touch, (self.marker,))


def test_a_pickle_payload_is_never_unpickled(copy: Path, tmp_path: Path) -> None:
    marker = tmp_path / "payload_ran"
    (copy / MODEL_FILE).write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(BundleIntegrityError):
        Bundle.load(copy)
    assert not marker.exists()


def test_a_manifest_without_checksums_is_refused(copy: Path) -> None:
    man = json.loads((copy / MANIFEST).read_text())
    del man["files"]
    (copy / MANIFEST).write_text(json.dumps(man))
    with pytest.raises(BundleIntegrityError, match="no SHA-256 checksums"):
        Bundle.load(copy)


def test_a_model_of_the_wrong_kind_is_refused_even_with_matching_checksums(copy: Path) -> None:
    shutil.copy(copy / BASELINE_FILE, copy / MODEL_FILE)
    man = json.loads((copy / MANIFEST).read_text())
    man["files"][MODEL_FILE] = sha256_file(copy / MODEL_FILE)  # checksums rewritten, class left as lightgbm
    (copy / MANIFEST).write_text(json.dumps(man))
    with pytest.raises(BundleIntegrityError, match="holds a .*FiveCScorecard"):
        Bundle.load(copy)
    man["model_class"] = "riskmodel.models.baseline.FiveCScorecard"
    (copy / MANIFEST).write_text(json.dumps(man))
    with pytest.raises(BundleIntegrityError, match="expected .*LightGBMModel"):
        Bundle.load(copy)


def test_no_silent_fallback_to_the_registry(tmp_path: Path) -> None:
    from riskmodel.champion import load_champion_bundle

    settings = small_settings(tmp_path)
    with pytest.raises(ModelNotFoundError, match="safety.champion_source: bundle_or_registry"):
        load_champion_bundle(settings)


def test_a_tampered_bundle_is_one_line_on_the_command_line(world_project) -> None:
    from riskmodel.cli import app

    root, pfile = world_project
    (root / "models" / "champion" / MODEL_FILE).write_bytes(b"")
    cid = str(world().tables.customers["customer_id"].iloc[0])
    for command in (["score", "--as-of", "2024-12-31"], ["explain", cid], ["serve"]):
        result = CliRunner().invoke(app, [*command, "--params", str(pfile)])
        assert result.exit_code == 1, result.output
        errors = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and "Traceback" not in result.output, result.output
        assert "model.joblib does not match its SHA-256" in errors[0], errors


@pytest.fixture
def world_project(tmp_path: Path):
    return project_on_disk(tmp_path)


def test_health_never_reports_a_model_that_cannot_score(tmp_path: Path) -> None:
    from riskmodel.service.app import create_app

    good = world().bundles["lightgbm"]
    broken = Bundle(model=good.model, baseline=good.baseline, reference=good.reference,
                    manifest={**good.manifest, "features": [f + "_renamed" for f in good.features]})
    app = create_app(small_settings(tmp_path), broken)
    with pytest.raises(ModelNotFoundError, match="loads but cannot score"):
        with TestClient(app):
            pass
    with TestClient(create_app(small_settings(tmp_path), good)) as client:
        assert client.get("/health").json()["model_loaded"] is True
