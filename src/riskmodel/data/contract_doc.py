"""The README's data-contract section, rendered from ``riskmodel.data.schemas.SPECS``.

The README keeps the rendered text between two marker comments; a test compares
it with :func:`contract_markdown` so the documentation cannot drift from the
code.  To refresh the README after changing the schemas::

    python -c "from pathlib import Path; from riskmodel.data.contract_doc import replace_section; \
p = Path('README.md'); p.write_text(replace_section(p.read_text()))"
"""

from __future__ import annotations

from riskmodel.data import schemas as S

START = "<!-- contract:start -->"
END = "<!-- contract:end -->"

_KIND_TEXT = {
    "string": "text",
    "date": "date",
    "float": "number",
    "int": "integer",
    "bool": "boolean",
    "category": "category",
}


def _cell(text: str) -> str:
    """Make text safe inside a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _column_rules(spec: S.TableSpec, col: S.Column) -> list[str]:
    rules: list[str] = []
    if spec.key == (col.name,):
        rules.append("unique")
    elif col.name in spec.key:
        rules.append(f"unique together with {', '.join(f'`{k}`' for k in spec.key if k != col.name)}")
    if col.name == S.CUSTOMER_ID and spec.name != S.CUSTOMERS:
        rules.append(f"must exist in `{S.CUSTOMERS}`")
    if col.min is not None and col.max is not None:
        rules.append(f"{_num(col.min)} to {_num(col.max)}")
    elif col.min is not None:
        rules.append(f"≥ {_num(col.min)}")
    elif col.max is not None:
        rules.append(f"≤ {_num(col.max)}")
    if col.allowed:
        rules.append("one of " + ", ".join(f"`{a}`" for a in col.allowed))
    if col.kind == "date":
        rules.append(f"{S.MIN_DATE} to {S.MAX_DATE}")
    if col.name == spec.date_column:
        rules.append("dates the record in time")
    return rules


def table_markdown(spec: S.TableSpec) -> str:
    """One table of the contract: its columns and its cross-column checks, as markdown."""
    key = ", ".join(f"`{k}`" for k in spec.key)
    lines = [
        f"### `{spec.name}`",
        "",
        f"{spec.description} Key: {key}.",
        "",
        "| column | type | required | meaning | rules |",
        "| --- | --- | --- | --- | --- |",
    ]
    for col in spec.columns:
        lines.append(
            f"| `{col.name}` | {_KIND_TEXT[col.kind]} | {'optional' if col.nullable else 'required'} "
            f"| {_cell(col.description)} | {_cell('; '.join(_column_rules(spec, col)) or '-')} |")
    if spec.checks:
        lines += [
            "",
            "| check | severity | meaning | rows failing when |",
            "| --- | --- | --- | --- |",
        ]
        for chk in spec.checks:
            lines.append(f"| `{chk.name}` | {chk.severity} | {_cell(chk.description)} "
                         f"| `{_cell(chk.rows_failing)}` |")
    if spec.customer_checks:
        lines += [
            "",
            f"Checks against the customer's row in `{S.CUSTOMERS}` (`{S.CUSTOMERS_PREFIX}X` is its column X):",
            "",
            "| check | severity | meaning | rows failing when |",
            "| --- | --- | --- | --- |",
        ]
        for cc in spec.customer_checks:
            when = f"`{_cell(cc.rows_failing)}`" + (" (each customer's latest row)" if cc.latest_only else "")
            lines.append(f"| `{cc.name}` | {cc.severity} | {_cell(cc.description)} | {when} |")
    return "\n".join(lines)


def contract_markdown() -> str:
    """The whole data contract as markdown: general rules, then one section per table."""
    names = ", ".join(f"`{n}`" for n in S.TABLE_NAMES)
    optional = ", ".join(f"`{n}`" for n in S.OPTIONAL_TABLE_NAMES)
    intro = f"""\
Six tables ({names}), and the optional {optional}
(the dated history of the customer facts that change: without it a folder still
validates, with a warning, and those facts are left out of training and scoring),
in one folder, `data/raw/` by default (`riskmodel validate --data DIR` for
another). Each table is one file,
`<table>.parquet` or `<table>.csv` (not both). `riskmodel validate` checks every
rule below and exits 1 with a report naming, for each broken rule, the table,
the column, the rule, the number of offending rows and their first keys.
Nothing is fixed or dropped silently.

- **CSV**: a header row with the column names below, comma separated, UTF-8.
  An empty cell is a missing value. Every cell is read as text and converted
  by the validator, so a typo is reported, never guessed.
- **Types**: *date* is `YYYY-MM-DD` (ISO 8601; a time of day is dropped) between
  {S.MIN_DATE} and {S.MAX_DATE}; *number* is a decimal with a dot, finite;
  *integer* is a whole number; *boolean* is `true`/`false`, `1`/`0` or `yes`/`no`
  in any case; *category* is one of the listed values, spelt exactly.
- **Required** columns may not have empty cells; *optional* ones may. Every
  column must be present, optional ones included.
- Every `customer_id` outside `customers` must exist in `customers`; keys are unique.
- Columns not listed here are ignored, with a warning.
- Checks of severity *error* make the data invalid; *warning*s are reported
  and the data is still used.
- **Overpayment is not allowed**: `paid_amount` may not exceed `amount`
  (check `paid_amount_not_above_amount`).
"""
    return intro + "\n" + "\n\n".join(table_markdown(S.SPECS[n]) for n in S.ALL_TABLE_NAMES) + "\n"


def extract_section(readme: str) -> str | None:
    """The text between the contract markers of a README, or None if they are absent."""
    if START not in readme or END not in readme:
        return None
    return readme.split(START, 1)[1].split(END, 1)[0]


def replace_section(readme: str) -> str:
    """Return ``readme`` with the text between the markers replaced by :func:`contract_markdown`."""
    if START not in readme or END not in readme:
        raise ValueError(f"README has no {START} ... {END} markers")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{contract_markdown()}{END}{tail}"
