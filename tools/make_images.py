"""Regenerate the README images from the project's own outputs (run `make demo` first).

    python tools/make_images.py

Writes docs/images/roc.png (out-of-time ROC of every model, from the training report),
docs/images/memo.png and docs/images/report.png (screenshots of the committee memo and the
comparison report, rendered with headless Chromium: `apt-get install -y chromium`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from riskmodel.config import load_settings

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--hide-scrollbars"]


def screenshot(page: Path, target: Path, width: int, height: int) -> None:
    """Render an HTML file to a PNG of the given window size with headless Chromium."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("chromium not found: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={target}",
                        f"--window-size={width},{height}", page.resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)


def main() -> None:
    settings = load_settings()
    report_dir = settings.resolve(settings.paths.reports_dir)
    roc = report_dir / "train" / "plots" / "roc.png"
    memos = sorted((report_dir / "memos").glob("memo_*.html"), key=lambda p: p.stat().st_mtime)
    if not roc.is_file() or not memos:
        sys.exit(f"no demo outputs under {report_dir}: run `make demo` first")
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(roc, OUT / "roc.png")
    screenshot(memos[-1], OUT / "memo.png", 1100, 1250)
    screenshot(report_dir / "train" / "report.html", OUT / "report.png", 1100, 900)
    for p in sorted(OUT.glob("*.png")):
        print(f"{p.relative_to(ROOT)}  {p.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
