"""The README's data-contract section is generated from the schemas and cannot drift from them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from riskmodel.data import schemas as S
from riskmodel.data.contract_doc import (
    END,
    START,
    contract_markdown,
    extract_section,
    replace_section,
    table_markdown,
)

README = Path(__file__).resolve().parents[1] / "README.md"
REFRESH = ("python -c \"from pathlib import Path; from riskmodel.data.contract_doc import replace_section; "
           "p = Path('README.md'); p.write_text(replace_section(p.read_text()))\"")


def test_readme_section_matches_the_schemas() -> None:
    text = README.read_text(encoding="utf-8")
    assert "## Data contract" in text
    section = extract_section(text)
    assert section is not None, f"README.md lacks the {START} / {END} markers"
    assert section.strip() == contract_markdown().strip(), (
        f"README.md's data contract is out of date; refresh it with: {REFRESH}")


def test_every_column_check_and_value_is_documented() -> None:
    md = contract_markdown()
    for spec in S.SPECS.values():
        block = table_markdown(spec)
        assert block in md
        rows = [ln for ln in block.splitlines() if ln.startswith("| `")]
        assert len(rows) == len(spec.columns) + len(spec.checks) + len(spec.customer_checks)
        for col in spec.columns:
            row = next(r for r in rows if r.startswith(f"| `{col.name}` |"))
            assert ("optional" if col.nullable else "required") in row
            for value in col.allowed or ():
                assert f"`{value}`" in row
        for chk in (*spec.checks, *spec.customer_checks):
            assert f"| `{chk.name}` | {chk.severity} |" in block


def test_bounds_and_foreign_keys_are_in_the_rules_column() -> None:
    md = contract_markdown()
    assert re.search(r"\| `payment_terms_days` \|.*\| 0 to 365 \|", md)
    assert re.search(r"\| `amount` \|.*\| ≥ 0 \|", md)
    assert re.search(r"\| `invoices` \|", md) is None  # tables are headings, not rows
    assert re.search(r"\| `customer_id` \| text \| required \| Customer invoiced.*must exist in `customers`", md)
    assert "1 to 5" in md


def test_overpayment_and_event_values_are_documented() -> None:
    md = contract_markdown()
    assert "Overpayment is not allowed" in md
    named = re.search(r"check `(\w+)`", md.split("Overpayment is not allowed", 1)[1]).group(1)
    assert named in {c.name for c in S.INVOICES_SPEC.checks}
    value_row = next(ln for ln in md.splitlines() if ln.startswith(f"| `{S.VALUE}` |"))
    for event_type in S.EVENT_TYPES:
        assert event_type in value_row


def test_replace_section_refreshes_only_between_the_markers() -> None:
    stale = f"# title\n\nintro\n\n{START}\nold text\n{END}\n\n## after\n"
    fresh = replace_section(stale)
    assert fresh.startswith("# title\n\nintro\n\n") and fresh.endswith(f"{END}\n\n## after\n")
    assert extract_section(fresh).strip() == contract_markdown().strip()
    assert extract_section(stale).strip() != contract_markdown().strip()  # drift is detected
    with pytest.raises(ValueError, match="markers"):
        replace_section("# no markers here\n")


def test_history_table_is_documented_as_optional_with_its_rules() -> None:
    md = contract_markdown()
    assert f"### `{S.CUSTOMER_TERMS}`" in md and "optional" in md.split("### `customers`")[0]
    block = table_markdown(S.CUSTOMER_TERMS_SPEC)
    assert "unique together with `valid_from`" in block  # no two rows with the same customer and date
    assert "valid_from_not_before_founded" in block and "each customer's latest row" in block
