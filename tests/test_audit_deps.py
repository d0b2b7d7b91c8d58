"""tools/audit_deps.py: a vulnerability fails CI, a service that cannot answer is reported plainly and does not."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("audit_deps", ROOT / "tools" / "audit_deps.py")
audit_deps = importlib.util.module_from_spec(_spec)
sys.modules["audit_deps"] = audit_deps
_spec.loader.exec_module(audit_deps)

# pip-audit --format json, as pip-audit 2.x writes it
CLEAN = {"dependencies": [{"name": "numpy", "version": "2.3.0", "vulns": []},
                          {"name": "pandas", "version": "3.0.0", "vulns": []},
                          {"name": "riskmodel", "skip_reason": "Dependency not found on PyPI and could not be "
                                                              "audited: riskmodel (0.1.0)"}], "fixes": []}
VULNERABLE = {"dependencies": [{"name": "numpy", "version": "2.3.0", "vulns": []},
                               {"name": "jinja2", "version": "3.1.2", "vulns": [
                                   {"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"],
                                    "aliases": ["CVE-2024-22195"], "description": "xmlattr filter"}]}],
              "fixes": []}
# what a package-index mirror without PyPI's JSON API gives: every package skipped, exit 0
ALL_SKIPPED = {"dependencies": [{"name": n, "skip_reason": f"Dependency not found on PyPI and could not be audited: "
                                                           f"{n} (1.0)"} for n in ("numpy", "pandas", "jinja2")],
               "fixes": []}


def test_a_known_vulnerability_fails_and_names_the_package() -> None:
    audit = audit_deps.parse_report("pypi", json.dumps(VULNERABLE))
    code, lines = audit_deps.verdict([audit])
    assert code == 1
    assert any("jinja2 3.1.2" in ln and "GHSA-h5c8-rqwp-cp95" in ln for ln in lines)


def test_a_clean_report_passes_and_lists_what_was_not_audited() -> None:
    code, lines = audit_deps.verdict([audit_deps.parse_report("pypi", json.dumps(CLEAN))])
    assert code == 0
    assert "no known vulnerabilities in 2 audited" in lines[0]
    assert "riskmodel" in lines[1]


def test_every_package_skipped_is_not_a_clean_result() -> None:
    """pip-audit itself says 'No known vulnerabilities found' here; the wrapper says it could not check."""
    pypi = audit_deps.parse_report("pypi", json.dumps(ALL_SKIPPED))
    osv = audit_deps.Audit("osv", failure="ConnectionError: Failed to resolve 'api.osv.dev'")
    assert not pypi.checked
    code, lines = audit_deps.verdict([pypi, osv])
    assert code == 0  # the network must not make CI flaky
    assert len(lines) == 1 and "could not check" in lines[0] and "NOT a clean result" in lines[0]
    assert "every one of 3 packages skipped" in lines[0] and "api.osv.dev" in lines[0]


def test_a_finding_from_the_second_service_still_fails() -> None:
    pypi = audit_deps.parse_report("pypi", json.dumps(ALL_SKIPPED))
    osv = audit_deps.parse_report("osv", json.dumps(VULNERABLE))
    assert audit_deps.verdict([pypi, osv])[0] == 1


def test_no_json_is_a_failure_to_check_not_a_pass() -> None:
    audit = audit_deps.parse_report("pypi", "Traceback (most recent call last): ...")
    assert audit.failure and not audit.checked
    code, lines = audit_deps.verdict([audit])
    assert code == 0 and "could not check" in lines[0]
