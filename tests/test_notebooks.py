"""The analyst notebooks run end to end on a small simulated base and are stored without outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

from _tracking_helpers import FAST
from riskmodel.config import DEFAULT_PARAMS, deep_merge

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
pytestmark = pytest.mark.notebooks  # executing them is slow (marked below); the checks of the files are not

#: what each notebook must print: its key results, each from a different step (see tools/make_notebooks.py)
EXPECTED = {
    "01-explore-customer-base.ipynb": ["snapshots,", "features, default rate"],
    "02-train-and-compare.ipynb": ["champion:", "MLflow run:", "5C baseline AUC"],
    "03-explain-a-customer.ipynb": ["scored as of", "notches)", ".html"],
    "04-real-data.ipynb": ["German credit: LightGBM", "Taiwan: LightGBM", "the 5C scorecard (AUC"],
}


def _text(output: dict) -> str:
    if output.get("output_type") == "stream":
        return str(output.get("text", ""))
    return str(output.get("data", {}).get("text/plain", ""))


def test_notebooks_exist() -> None:
    names = [p.name for p in NOTEBOOKS]
    assert names == [
        "01-explore-customer-base.ipynb",
        "02-train-and-compare.ipynb",
        "03-explain-a-customer.ipynb",
        "04-real-data.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A params file whose every path points into a temporary folder (a small simulated base)."""
    root = tmp_path_factory.mktemp("nbproject")
    # the tests' small models (FAST: 40 trees, 2 calibration folds, 100 bootstrap samples, the small model
    # search, one LightGBM thread): the test checks that every cell runs and shows its key results, not the
    # figures, and the kernel shares the 2 cores with the other xdist worker
    params = deep_merge(yaml.safe_load(DEFAULT_PARAMS.read_text()), FAST)
    params["simulation"]["n_customers"] = 1500
    params["tracking"]["uri"] = "sqlite:///mlruns.db"
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root / "params.yaml"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path: Path, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKMODEL_PARAMS", str(project))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    nb = nbformat.read(path, as_version=4)
    # 10 minutes a cell: the longest (training, Taiwan credit) take about a minute next to the other xdist worker
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(project.parent)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), f"{path.name}: cells that did not run"
    shown = "\n".join(_text(o) for c in code for o in c.get("outputs", []))
    missing = [m for m in EXPECTED[path.name] if m not in shown]
    assert not missing, f"{path.name} did not show {missing}"


def test_notebooks_match_their_generator() -> None:
    """tools/make_notebooks.py is the reviewed source; the stored notebooks must equal its output."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "tools" / "make_notebooks.py"
    spec = importlib.util.spec_from_file_location("make_notebooks", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    assert module.main(check=True) == 0, "notebooks differ from tools/make_notebooks.py; run it"
