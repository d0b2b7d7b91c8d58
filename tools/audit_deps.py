"""Audit the installed environment for known vulnerabilities with pip-audit (run by `make audit` in CI).

    python tools/audit_deps.py                 # the PyPI vulnerability service, then OSV if PyPI could not answer
    python tools/audit_deps.py --timeout 300   # wall-clock limit of each pip-audit run, in seconds

Why a wrapper and not a bare ``pip-audit`` call: pip-audit needs a vulnerability
service on the internet (PyPI's JSON API or api.osv.dev).  Where only a package
index mirror is reachable, PyPI's JSON API answers 404 for every package and
pip-audit then skips them all ("Dependency not found on PyPI") and still prints
"No known vulnerabilities found" with exit code 0: a green check that checked
nothing.  This wrapper reads pip-audit's JSON report and decides:

- a known vulnerability in any installed package: list them, exit 1 (CI fails);
- no service could be reached, or it could audit no package: say so in one
  clear ``could not check`` line (what was not checked and why), exit 0, so CI is
  not made flaky by the network;
- some packages audited, none vulnerable: say how many were audited and list the
  ones that could not be (e.g. the project itself, installed editable), exit 0.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, field

SERVICES = ("pypi", "osv")


@dataclass
class Audit:
    """What one pip-audit run found: vulnerable packages, audited and skipped package names, or why it failed."""

    service: str
    vulnerable: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (name, version, ids)
    audited: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failure: str | None = None

    @property
    def checked(self) -> bool:
        """Did the service answer for at least one package?"""
        return self.failure is None and bool(self.audited)


def parse_report(service: str, text: str) -> Audit:
    """An Audit from pip-audit's ``--format json`` output (``{"dependencies": [...], "fixes": [...]}``)."""
    audit = Audit(service)
    try:
        report = json.loads(text)
        deps = report["dependencies"]
    except (json.JSONDecodeError, KeyError, TypeError):
        audit.failure = "pip-audit wrote no JSON report"
        return audit
    for dep in deps:
        name = str(dep.get("name"))
        if dep.get("skip_reason"):
            audit.skipped.append(name)
            continue
        audit.audited.append(name)
        vulns = dep.get("vulns") or []
        if vulns:
            audit.vulnerable.append((name, str(dep.get("version")), [str(v.get("id")) for v in vulns]))
    return audit


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no message"


def run_pip_audit(service: str, timeout: float) -> Audit:
    """Run pip-audit on this interpreter's environment with one vulnerability service."""
    cmd = [sys.executable, "-m", "pip_audit", "--vulnerability-service", service, "--format", "json",
           "--progress-spinner", "off", "--skip-editable", "--timeout", "20"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Audit(service, failure=f"no answer within {timeout:.0f} s")
    except OSError as err:
        return Audit(service, failure=f"pip-audit could not start ({err})")
    if "No module named pip_audit" in done.stderr:
        return Audit(service, failure="pip-audit is not installed (pip install -e '.[dev]')")
    audit = parse_report(service, done.stdout)
    if audit.failure is not None and done.returncode != 0:
        audit.failure = _last_line(done.stderr)  # e.g. a ConnectionError: the service is unreachable
    return audit


def verdict(audits: list[Audit]) -> tuple[int, list[str]]:
    """Exit code and message lines for the runs made (a finding fails; not being able to check does not)."""
    for audit in audits:
        if audit.vulnerable:
            lines = [f"pip-audit ({audit.service}): {len(audit.vulnerable)} installed package(s) have known "
                     "vulnerabilities; upgrade them (or document why not) in pyproject.toml:"]
            lines += [f"  {name} {version}: {', '.join(ids)}" for name, version, ids in audit.vulnerable]
            return 1, lines
    for audit in audits:
        if audit.checked:
            lines = [f"pip-audit ({audit.service}): no known vulnerabilities in {len(audit.audited)} audited "
                     "package(s)"]
            if audit.skipped:
                lines.append(f"  not audited ({len(audit.skipped)}, not on the index): "
                             + ", ".join(sorted(audit.skipped)[:20]) + (" ..." if len(audit.skipped) > 20 else ""))
            return 0, lines
    why = "; ".join(f"{a.service}: {a.failure or f'every one of {len(a.skipped)} packages skipped as not found'}"
                    for a in audits)
    return 0, [f"pip-audit could not check the installed packages for known vulnerabilities ({why}); "
               "no vulnerability service is reachable from here, so this is NOT a clean result "
               "(not failing CI for it: run `python tools/audit_deps.py` where PyPI's JSON API or api.osv.dev "
               "is reachable)"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timeout", type=float, default=300.0, help="wall-clock limit of each pip-audit run (s)")
    args = ap.parse_args()
    audits: list[Audit] = []
    for service in SERVICES:
        audits.append(run_pip_audit(service, args.timeout))
        if audits[-1].checked or audits[-1].vulnerable:
            break
    code, lines = verdict(audits)
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
