"""Loading the six input tables and validating them against the data contract.

Everything here is driven by ``riskmodel.data.schemas.SPECS``: the column list,
types, bounds, enumerations, keys and cross-column checks.  Validation converts
each column to its contract type and *reports* every value that breaks a rule;
it never drops, fixes or guesses.  ``Tables`` is handed out only when no
error-level rule is broken.

Rule names used in reports (besides the names of the ``Check``s in the specs):

``missing_table``, ``missing_column``, ``extra_column`` (warning), ``type``,
``not_null``, ``unique_key``, ``foreign_key``, ``min``, ``max``,
``allowed_values``, ``date_range``, ``check_not_evaluated``, ``missing_optional_table``
(warning: an optional table such as ``customer_terms`` is absent; the message says what is lost),
``ledger_default_not_recorded`` (warning: the ledger shows a default the defaults table lacks);
and (issue 11, driven by params.yaml's ``safety`` section, per column type so every table gets them)
``magnitude`` (a number beyond ``safety.max_money``), ``future_date`` (a date more
than ``safety.future_tolerance_days`` after today) and ``empty_table``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskmodel.config import SafetySettings
from riskmodel.data import schemas as S
from riskmodel.data.default_definition import Materiality, material_performing_past_due
from riskmodel.data.partition import arrow_text
from riskmodel.data.tables import Tables
from riskmodel.exceptions import DataNotFoundError, SchemaError

log = logging.getLogger(__name__)

N_EXAMPLES = 5
FORMATS: tuple[str, ...] = ("parquet", "csv")
TRUE_WORDS: frozenset[str] = frozenset({"true", "1", "yes"})
FALSE_WORDS: frozenset[str] = frozenset({"false", "0", "no"})

Severity = Literal["error", "warning"]
DATE_PATTERN = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"

# rule names (kept here so tests and callers need no string literals)
MISSING_TABLE = "missing_table"
MISSING_COLUMN = "missing_column"
EXTRA_COLUMN = "extra_column"
TYPE = "type"
NOT_NULL = "not_null"
UNIQUE_KEY = "unique_key"
FOREIGN_KEY = "foreign_key"
MIN = "min"
MAX = "max"
ALLOWED_VALUES = "allowed_values"
DATE_RANGE = "date_range"
CHECK_NOT_EVALUATED = "check_not_evaluated"
LEDGER_DEFAULT = "ledger_default_not_recorded"  # material 90+ dpd in the ledger, no default recorded
MISSING_OPTIONAL_TABLE = "missing_optional_table"

# What is lost without an optional table (the warning's text).
OPTIONAL_TABLE_COST: dict[str, str] = {
    S.CUSTOMER_TERMS: (
        "no dated history of " + ", ".join(S.HISTORY_FACTS) + ": the customers table holds them only "
        "as of the extract (e.g. a limit already cut after the customer deteriorated), which would be "
        "look-ahead, so these facts and the features built on them (credit limit, payment terms, "
        "paid-in ratio, scope and address checks, utilisation of the limit, collateral to limit) are "
        "left out of training and scoring. Supply customer_terms.parquet/.csv to use them."
    ),
}
MAGNITUDE = "magnitude"
FUTURE_DATE = "future_date"
EMPTY_TABLE = "empty_table"
#: tables that must hold rows (an export with only a header is a failed export); others only warn
MUST_HAVE_ROWS: tuple[str, ...] = (S.CUSTOMERS, S.INVOICES)
#: due dates may lie ahead by the longest payment terms (365 days) on top of the tolerance
DUE_DATE_EXTRA_DAYS = 366


# ------------------------------------------------------------------- report
@dataclass(frozen=True)
class Violation:
    """One broken rule: where, which rule, how many rows, and the first offending keys."""

    table: str
    column: str
    rule: str
    severity: Severity
    count: int
    examples: list[str]
    message: str


@dataclass
class ValidationReport:
    """Every broken rule found in the six tables, plus notes on rules that were skipped.

    ``rows`` holds the row count of each table that was present.
    """

    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no error-level rule is broken (warnings allowed)."""
        return not self.errors

    @property
    def errors(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "error"]

    @property
    def warnings(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "warning"]

    def to_frame(self) -> pd.DataFrame:
        """One row per violation; ``examples`` joined with ``"; "``."""
        cols = ["table", "column", "rule", "severity", "count", "examples", "message"]
        rows = [{**asdict(v), "examples": "; ".join(v.examples)} for v in self.violations]
        return pd.DataFrame(rows, columns=cols)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: ``ok``, counts, violations, notes and row counts."""
        return {
            "ok": self.ok,
            "n_errors": len(self.errors),
            "n_warnings": len(self.warnings),
            "violations": [asdict(v) for v in self.violations],
            "notes": list(self.notes),
            "rows": dict(self.rows),
        }

    def to_text(self) -> str:
        """A readable, aligned report: one line per broken rule, then notes."""
        head = (f"data contract: {len(self.errors)} error(s), {len(self.warnings)} warning(s)"
                f" in {len(self.rows)} table(s) ({sum(self.rows.values())} rows)")
        if not self.violations and not self.notes:
            return head + ": every rule passes"
        lines = [head]
        if self.violations:
            header = ("severity", "table", "column", "rule", "count", "first keys", "details")
            body = [(v.severity.upper(), v.table, v.column, v.rule, str(v.count),
                     "; ".join(v.examples) or "-", v.message) for v in self.violations]
            widths = [max(len(r[i]) for r in [header, *body]) for i in range(5)]
            widths.append(min(max(len(r[5]) for r in [header, *body]), 80))

            def fmt(r: tuple[str, ...]) -> str:
                cells = [r[i].rjust(widths[i]) if i == 4 else r[i].ljust(widths[i]) for i in range(6)]
                return "  ".join(cells) + "  " + r[6]

            lines += ["  " + fmt(header)] + ["  " + fmt(r) for r in body]
        if self.notes:
            lines.append("notes:")
            lines += [f"  - {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


# ------------------------------------------------------------------ loading
def find_table_file(data_dir: Path, table: str) -> Path:
    """Return ``data_dir/<table>.parquet``, ``data_dir/<table>.csv`` or ``data_dir/<table>/`` (partitions).

    A folder ``<table>/`` holding ``*.parquet`` files is the partitioned layout
    (issue 14, :mod:`riskmodel.data.partition`): read whole it is the table.

    Raises
    ------
    DataNotFoundError
        If neither exists.
    SchemaError
        If both exist (which one is meant would be a guess).
    """
    found = [data_dir / f"{table}.{fmt}" for fmt in FORMATS if (data_dir / f"{table}.{fmt}").is_file()]
    if (data_dir / table).is_dir() and any((data_dir / table).glob("*.parquet")):
        found.append(data_dir / table)
    if not found:
        raise DataNotFoundError(
            f"table {table!r} not found in {data_dir}: expected {table}.parquet or {table}.csv")
    if len(found) > 1:
        raise SchemaError(
            f"table {table!r} is in {data_dir} twice ({', '.join(p.name for p in found)}): "
            "keep only one of them")
    return found[0]


def read_raw_table(path: Path, na_values: Sequence[str] = ()) -> pd.DataFrame:
    """Read one table file as it is: Parquet with its stored types, CSV with every column as text.

    CSV cells are read as strings so that typing is done by validation, never
    silently by the reader.  Only an empty cell is missing: ``NA``, ``null``,
    ``None`` or ``NaN`` are text (an id ``NA`` is an id, a note ``null`` a note)
    unless listed in ``na_values`` (params.yaml ``safety.na_values``).
    """
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=["", *na_values])
        if path.is_dir():  # customer partitions, in part order
            return pd.concat([pd.read_parquet(p) for p in sorted(path.glob("*.parquet"))], ignore_index=True)
        return pd.read_parquet(path)
    except (OSError, ValueError, UnicodeDecodeError) as err:  # pyarrow and parser errors are ValueErrors
        raise SchemaError(f"cannot read {path}: {err}") from err


def load_raw_tables(data_dir: Path, na_values: Sequence[str] = ()) -> dict[str, pd.DataFrame]:
    """Read the six tables (and the optional ones present) from ``data_dir`` without typing them.

    Parameters
    ----------
    data_dir : Path
        Folder holding ``<table>.parquet`` or ``<table>.csv`` for each table of
        ``schemas.TABLE_NAMES``.

    Returns
    -------
    dict[str, pandas.DataFrame]
        The raw frames by table name, in contract order.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataNotFoundError(f"data folder {data_dir} does not exist")
    paths = {t: find_table_file(data_dir, t) for t in S.TABLE_NAMES}
    for t in S.OPTIONAL_TABLE_NAMES:
        try:
            paths[t] = find_table_file(data_dir, t)
        except DataNotFoundError:
            log.debug("optional table %s not in %s", t, data_dir)
    raw = {}
    for table, path in paths.items():
        raw[table] = read_raw_table(path, na_values)
        log.debug("read %s: %d rows from %s", table, len(raw[table]), path)
    return raw


def load_and_validate(data_dir: Path, safety: SafetySettings | None = None,
                      materiality: Materiality | None = Materiality()) -> Tables:
    """Load the six tables from ``data_dir`` and return them typed, or raise.

    Raises
    ------
    DataNotFoundError
        A table file or the folder is missing.
    SchemaError
        Any error-level rule is broken; ``err.report`` holds the
        :class:`ValidationReport` and the message is its text.
    """
    safety = safety or SafetySettings()
    tables, report = validate_tables(load_raw_tables(data_dir, safety.na_values), safety, materiality)
    if tables is None:
        raise SchemaError(report.to_text(), report=report)
    if report.warnings:
        log.warning("%s", report.to_text())
    return tables


def load_and_validate_part(data_dir: Path, part: str, tables: Sequence[str], safety: SafetySettings | None = None,
                           materiality: Materiality | None = Materiality()) -> Tables:
    """Load and validate one customer partition ``<table>/<part>`` of a partitioned folder (issue 14).

    A partition holds all rows of its customers, so every rule is checked within
    it. A table whose partition file is absent is read as empty (its columns from
    another partition of it). The error names the partition.
    """
    safety = safety or SafetySettings()
    data_dir = Path(data_dir)
    raw = {}
    for t in tables:
        path = data_dir / t / part
        if path.is_file():
            raw[t] = read_raw_table(path, safety.na_values)
        elif (other := next(iter(sorted((data_dir / t).glob("*.parquet"))), None)) is not None:
            raw[t] = pd.read_parquet(other).iloc[:0]
    typed, report = validate_tables(raw, safety, materiality)
    if typed is None:
        raise SchemaError(f"{data_dir} partition {part}:\n{report.to_text()}", report=report)
    if report.warnings:
        log.warning("partition %s: %s", part, report.to_text())
    return typed


# ------------------------------------------------------------------- typing
@dataclass
class _Typed:
    """A column converted to its contract type and the rows whose value could not be."""

    values: pd.Series
    bad: pd.Series  # bool: non-missing in the input but not convertible
    expected: str
    unbounded: pd.Series | None = None  # dates only: parsed dates before clipping to the ns range


def _is_text(s: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(s.dtype) or pd.api.types.is_object_dtype(s.dtype)


def _missing(s: pd.Series) -> pd.Series:
    """Missing cells: NA, and blank text in text columns."""
    miss = s.isna()
    if _is_text(s) and len(s):
        miss = miss | s.astype("str").str.strip().eq("").fillna(False)
    return miss.astype(bool)


def _as_text(s: pd.Series) -> pd.Series:
    """Non-missing values as plain strings (any input dtype), missing stays missing."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    return s.astype("str").where(s.notna())


def _to_string(s: pd.Series) -> _Typed:
    if pd.api.types.is_integer_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return _Typed(s.astype("str").where(s.notna()), pd.Series(False, index=s.index), "text")
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if pd.api.types.is_string_dtype(s.dtype) and not pd.api.types.is_object_dtype(s.dtype):
        return _Typed(s.astype("str"), pd.Series(False, index=s.index), "text")
    if pd.api.types.is_object_dtype(s.dtype):
        ok = s.map(lambda v: isinstance(v, str) or (isinstance(v, (int, np.integer))
                                                    and not isinstance(v, (bool, np.bool_))))
        bad = s.notna() & ~ok.astype(bool)
        return _Typed(s.where(~bad).astype("str").where(s.notna() & ~bad), bad, "text")
    # floats, booleans, datetimes: not an identifier we can turn into text without guessing
    bad = s.notna()
    return _Typed(pd.Series(np.nan, index=s.index, dtype="str"), bad, f"text (got {s.dtype})")


def _to_date(s: pd.Series) -> _Typed:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        parsed = s
        if getattr(s.dtype, "tz", None) is not None:
            parsed = s.dt.tz_localize(None)
    elif _is_text(s) or isinstance(s.dtype, pd.CategoricalDtype):
        # a full YYYY-MM-DD is required ("2021-02" is not read as 1 February); a time of day
        # and a UTC offset may follow and are dropped: the date is the one written
        text = _as_text(s).str.strip()
        full = text.str.fullmatch(DATE_PATTERN).astype("boolean").fillna(False).astype(bool)
        parsed = pd.to_datetime(text.str.slice(0, 10).where(full), format="%Y-%m-%d", errors="coerce")
    else:  # numbers are not dates: we do not guess an epoch or unit
        parsed = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    parsed = parsed.dt.normalize()
    bad = s.notna() & parsed.isna()
    # keep the value range of datetime64[ns]; anything outside is reported by date_range
    lo, hi = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")
    in_ns = parsed.isna() | ((parsed >= lo) & (parsed <= hi))
    values = parsed.where(in_ns).astype("datetime64[ns]")
    return _Typed(values, bad, "date (YYYY-MM-DD)", unbounded=parsed)


def _to_number(s: pd.Series, integer: bool, nullable: bool) -> _Typed:
    expected = "integer" if integer else "number"
    if pd.api.types.is_bool_dtype(s.dtype):
        bad = s.notna()
        nums = pd.Series(np.nan, index=s.index, dtype="float64")
    elif pd.api.types.is_numeric_dtype(s.dtype):
        nums = s.astype("float64")
        bad = pd.Series(False, index=s.index)
    else:
        obj = s.astype(object) if isinstance(s.dtype, pd.CategoricalDtype) else s
        nums = pd.to_numeric(obj, errors="coerce").astype("float64")
        bad = s.notna() & nums.isna()
    finite = np.isfinite(nums.to_numpy(dtype="float64", na_value=np.nan))
    bad = bad | (nums.notna() & ~finite)
    if integer:
        frac = nums.notna() & finite & (nums != np.floor(nums))
        bad = bad | frac
    nums = nums.where(~bad)
    if integer:
        dtype = "Int64" if (nullable or nums.isna().any()) else "int64"
        return _Typed(nums.astype(dtype), bad.astype(bool), expected)
    return _Typed(nums, bad.astype(bool), expected)


def _to_bool(s: pd.Series, nullable: bool) -> _Typed:
    if pd.api.types.is_bool_dtype(s.dtype):
        vals = s.astype("boolean")
        bad = pd.Series(False, index=s.index)
    elif pd.api.types.is_numeric_dtype(s.dtype):
        vals = s.map({1: True, 0: False}).astype("boolean")
        bad = s.notna() & vals.isna()
    else:
        words = _as_text(s).str.strip().str.lower()
        mapping = {**{w: True for w in TRUE_WORDS}, **{w: False for w in FALSE_WORDS}}
        vals = words.map(mapping).astype("boolean")
        bad = s.notna() & vals.isna()
    dtype = "boolean" if (nullable or vals.isna().any()) else "bool"
    return _Typed(vals.astype(dtype), bad.astype(bool), "boolean (true/false, 1/0, yes/no)")


def _to_category(s: pd.Series, allowed: tuple[str, ...]) -> _Typed:
    text = _as_text(s)
    known = text.isin(list(allowed))
    vals = pd.Series(pd.Categorical(text.where(known), categories=list(allowed)), index=s.index)
    # values outside ``allowed`` are reported by the allowed_values rule, not as type errors
    return _Typed(vals, pd.Series(False, index=s.index), "one of the allowed values")


def _convert(s: pd.Series, col: S.Column) -> _Typed:
    if col.kind == "string":
        return _to_string(s)
    if col.kind == "date":
        return _to_date(s)
    if col.kind in ("float", "int"):
        return _to_number(s, integer=col.kind == "int", nullable=col.nullable)
    if col.kind == "bool":
        return _to_bool(s, nullable=col.nullable)
    if col.kind == "category":
        return _to_category(s, col.allowed or ())
    raise ValueError(f"column {col.name!r}: unknown kind {col.kind!r}")  # a bug in the specs


# ----------------------------------------------------------------- examples
def _fmt_value(v: Any) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return "<missing>"
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d") if v == v.normalize() else v.isoformat()
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v)) if abs(float(v)) < 1e15 else repr(float(v))
    return str(v)


class _Keys:
    """Formats 'key=value' labels for rows of one table, for examples in the report."""

    def __init__(self, spec: S.TableSpec, raw: pd.DataFrame, typed: dict[str, pd.Series]) -> None:
        self.cols = [k for k in spec.key if k in raw.columns]
        self.raw = raw
        self.typed = typed

    def labels(self, mask: pd.Series, n: int = N_EXAMPLES) -> list[str]:
        pos = np.flatnonzero(mask.to_numpy(dtype=bool, na_value=False))[:n]
        return [self.label(int(p)) for p in pos]

    def label(self, pos: int) -> str:
        if not self.cols:
            return f"row={pos}"
        parts = []
        for c in self.cols:
            t = self.typed.get(c)
            v = t.iloc[pos] if t is not None else None
            if v is None or pd.isna(v):
                v = self.raw[c].iloc[pos]
            parts.append(f"{c}={_fmt_value(v)}")
        return ", ".join(parts)


def _sample(values: pd.Series, n: int = N_EXAMPLES) -> str:
    uniq = pd.unique(values.astype(object))[:n]
    more = ", ..." if values.nunique(dropna=False) > n else ""
    return ", ".join(repr(_fmt_value(v)) if isinstance(v, str) else _fmt_value(v) for v in uniq) + more


# ------------------------------------------------- vectorised key checks (issue 14.3)
def _isin(values: pd.Series, known: pd.Series) -> pd.Series:
    """``values.isin(known)`` (missing is never in), by Arrow's hash ``is_in`` for text (5x pandas' isin)."""
    if _is_text(values) and _is_text(known):
        try:
            found = pc.is_in(arrow_text(values),
                             value_set=arrow_text(known.dropna()))
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # an object column holding non-text: pandas decides
            return values.isin(known) & values.notna()
        return pd.Series(found.fill_null(False).to_numpy(zero_copy_only=False), index=values.index, dtype=bool)
    return values.isin(known) & values.notna()


def _codes(values: pd.Series) -> np.ndarray:
    """Dense int64 codes, equal where the values are equal (text by Arrow's dictionary encoding)."""
    if _is_text(values):
        try:
            enc = arrow_text(values).dictionary_encode()
            return enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # an object column holding non-text
            pass
    return pd.factorize(values, use_na_sentinel=False)[0].astype(np.int64)


def _key_codes(frame: pd.DataFrame) -> np.ndarray:
    """One int64 per row, equal exactly where the rows' key columns are all equal."""
    codes = np.zeros(len(frame), dtype=np.int64)
    for col in frame.columns:
        c = _codes(frame[col])
        width = int(c.max()) + 1 if len(c) else 1
        if len(codes) and int(codes.max()) >= (2**62) // width:  # no room: re-number the combination first
            codes = pd.factorize(codes)[0].astype(np.int64)
        codes = codes * width + c
    return codes


# --------------------------------------------------------------- validation
class _TableValidator:
    """Validates one table; collects violations and notes into a shared report."""

    def __init__(self, spec: S.TableSpec, raw: pd.DataFrame, report: ValidationReport,
                 safety: SafetySettings | None = None) -> None:
        self.safety = safety or SafetySettings()
        self.spec = spec
        self.raw = raw
        self.report = report
        self.typed: dict[str, pd.Series] = {}
        self.lost: dict[str, pd.Series] = {}  # rows whose value is unusable (bad type, unknown value)
        self.keys = _Keys(spec, raw, self.typed)

    def add(self, column: str, rule: str, mask: pd.Series, message: str,
            severity: Severity = "error", count: int | None = None) -> None:
        n = int(mask.sum()) if count is None else count
        if n:
            self.report.violations.append(Violation(
                table=self.spec.name, column=column, rule=rule, severity=severity, count=n,
                examples=self.keys.labels(mask), message=message))

    def note(self, text: str) -> None:
        self.report.notes.append(f"{self.spec.name}: {text}")

    def run(self) -> pd.DataFrame:
        spec, raw = self.spec, self.raw
        names = spec.column_names
        hint = _delimiter_hint(raw)
        for c in names:
            if c not in raw.columns:
                self.report.violations.append(Violation(
                    spec.name, c, MISSING_COLUMN, "error", 1, [],
                    (f"required column {c!r} is missing (columns found: {_found(raw.columns)})"
                     if not spec.column(c).nullable else
                     f"column {c!r} is missing (it may hold empty cells, but the column must be there)") + hint))
        extra = [str(c) for c in raw.columns if c not in names]
        for c in extra:
            self.report.violations.append(Violation(
                spec.name, c, EXTRA_COLUMN, "warning", 1, [],
                f"column {c!r} is not in the data contract: it will be ignored"))
        dups = raw.columns[raw.columns.duplicated()]
        for c in dict.fromkeys(map(str, dups)):
            self.report.violations.append(Violation(
                spec.name, c, "duplicate_column", "error", 1, [], f"column {c!r} appears more than once"))
        if len(dups):
            return pd.DataFrame()
        for col in spec.columns:
            if col.name in raw.columns:
                self.check_column(col)
        self.check_key()
        return pd.DataFrame(self.typed, index=raw.index)

    # -- per column
    def check_column(self, col: S.Column) -> None:
        s = self.raw[col.name]
        missing = _missing(s)
        conv = _convert(s.where(~missing) if missing.any() and _is_text(s) else s, col)
        typed = conv.values
        self.typed[col.name] = typed
        lost = conv.bad.copy()
        if conv.bad.any():
            self.add(col.name, TYPE, conv.bad,
                     f"{int(conv.bad.sum())} value(s) not readable as {conv.expected}: "
                     f"{_sample(s[conv.bad])}")
        if not col.nullable:
            self.add(col.name, NOT_NULL, missing, "empty cells in a required column")
        if col.kind in ("float", "int"):
            limit = self.safety.max_money
            huge = (typed.abs() > limit).fillna(False).astype(bool)
            lost |= huge
            self.add(col.name, MAGNITUDE, huge, f"values beyond ±{limit:g} (safety.max_money), not a plausible "
                     f"amount: {_sample(typed[huge])}")
            if col.min is not None:
                low = (typed < col.min).fillna(False).astype(bool)
                self.add(col.name, MIN, low, f"values below the minimum {_fmt_value(col.min)}: "
                         f"{_sample(typed[low])}")
            if col.max is not None:
                high = (typed > col.max).fillna(False).astype(bool)
                self.add(col.name, MAX, high, f"values above the maximum {_fmt_value(col.max)}: "
                         f"{_sample(typed[high])}")
        if col.kind == "category":
            unknown = ~missing & typed.isna()
            lost |= unknown
            self.add(col.name, ALLOWED_VALUES, unknown,
                     f"values not allowed: {_sample(_as_text(s)[unknown])} "
                     f"(allowed: {', '.join(col.allowed or ())})")
        if col.kind == "date":
            parsed = conv.unbounded
            assert parsed is not None  # _Typed of a date column carries the unclipped dates
            out = (~missing & ~conv.bad & ((parsed < pd.Timestamp(S.MIN_DATE))
                                           | (parsed > pd.Timestamp(S.MAX_DATE)))).astype(bool)
            lost |= out
            self.add(col.name, DATE_RANGE, out,
                     f"dates outside {S.MIN_DATE}..{S.MAX_DATE}: {_sample(parsed[out])}")
            days = self.safety.future_tolerance_days + (DUE_DATE_EXTRA_DAYS if col.name.startswith("due") else 0)
            horizon = pd.Timestamp(dt.date.today()) + pd.Timedelta(days=days)
            future = (~missing & ~conv.bad & ~out & (parsed > horizon)).fillna(False).astype(bool)
            lost |= future
            self.add(col.name, FUTURE_DATE, future,
                     f"dates more than {days} days after today (safety.future_tolerance_days), a typo or a "
                     f"wrong export: {_sample(parsed[future])}")
        self.lost[col.name] = lost.astype(bool)

    # -- key
    def check_key(self) -> None:
        key = list(self.spec.key)
        label = ", ".join(key)
        absent = [k for k in key if k not in self.typed]
        if absent:
            self.note(f"{UNIQUE_KEY} on ({label}) not checked: column(s) {', '.join(absent)} missing")
            return
        usable = pd.Series(True, index=self.raw.index)
        for k in key:
            usable &= self.typed[k].notna()
        frame = pd.DataFrame({k: self.typed[k] for k in key})[usable]
        codes = pd.Series(_key_codes(frame), index=frame.index)  # integers: hashing them is cheap
        shared = codes.duplicated(keep=False)
        dup = shared.reindex(self.raw.index, fill_value=False).astype(bool)
        if dup.any():
            n_keys = int(codes[shared].nunique())
            first = (shared & ~codes.duplicated(keep="first"))
            first = first.reindex(self.raw.index, fill_value=False).astype(bool)
            self.add(label, UNIQUE_KEY, first,
                     f"{int(dup.sum())} rows share {n_keys} key value(s); the key must be unique",
                     count=int(dup.sum()))
        if (~usable).any():
            self.note(f"{UNIQUE_KEY} on ({label}) not checked on {int((~usable).sum())} row(s) "
                      "with an empty or unreadable key")

    # -- foreign key
    def check_foreign_key(self, known_ids: pd.Series | None) -> None:
        if S.CUSTOMER_ID not in self.typed:
            return
        if known_ids is None:
            self.note(f"{FOREIGN_KEY} on {S.CUSTOMER_ID} not checked: customers has no usable "
                      f"{S.CUSTOMER_ID} column")
            return
        ids = self.typed[S.CUSTOMER_ID]
        unknown = (ids.notna() & ~_isin(ids, known_ids)).astype(bool)
        self.add(S.CUSTOMER_ID, FOREIGN_KEY, unknown,
                 f"{S.CUSTOMER_ID} not found in {S.CUSTOMERS}: {_sample(ids[unknown])}")

    # -- cross-column checks
    def check_rules(self, typed: pd.DataFrame) -> None:
        for chk in self.spec.checks:
            absent = [c for c in chk.columns if c not in self.typed]
            if absent:
                self.note(f"check {chk.name} not evaluated: column(s) {', '.join(absent)} missing")
                continue
            skip = pd.Series(False, index=typed.index)
            for c in chk.columns:
                skip |= self.lost[c]
            try:
                failing = typed.eval(chk.rows_failing, engine="python")
                failing = pd.Series(failing, index=typed.index).astype("boolean").fillna(False).astype(bool)
            except Exception as err:  # noqa: BLE001 - a broken expression must not hide other rules
                self.report.violations.append(Violation(
                    self.spec.name, chk.columns[0], CHECK_NOT_EVALUATED, "error", 1, [],
                    f"check {chk.name} ({chk.rows_failing}) could not be evaluated: {err}"))
                continue
            if skip.any():
                bad_cols = [c for c in chk.columns if self.lost[c].any()]
                self.note(f"check {chk.name} not evaluated on {int(skip.sum())} row(s) whose "
                          f"{'/'.join(bad_cols)} could not be read (see the rules above)")
            failing &= ~skip
            self.add(chk.columns[0], chk.name, failing,
                     f"{chk.description} [{chk.rows_failing}]", severity=chk.severity)


    # -- checks against the customer's row in customers
    def check_customer_rules(self, typed: pd.DataFrame, cust: _TableValidator,
                             customers: pd.DataFrame) -> None:
        """Evaluate the spec's CustomerChecks: each row against its customer's row in customers."""
        spec = self.spec
        if not spec.customer_checks:
            return
        if S.CUSTOMER_ID not in typed.columns or S.CUSTOMER_ID not in cust.typed:
            self.note("checks against customers not evaluated: no usable customer_id")
            return
        cust_ids = cust.typed[S.CUSTOMER_ID]
        usable = cust_ids.notna() & ~cust_ids.duplicated(keep=False)
        right = customers[usable.to_numpy()].drop_duplicates(S.CUSTOMER_ID)
        right = right.rename(columns={c: S.CUSTOMERS_PREFIX + c for c in right.columns if c != S.CUSTOMER_ID})
        ids = self.typed[S.CUSTOMER_ID]
        joined = typed.merge(right, on=S.CUSTOMER_ID, how="left", validate="many_to_one")
        joined.index = typed.index
        known = ids.notna() & _isin(ids, right[S.CUSTOMER_ID])
        # each customer's latest row; rows sharing a key are left out (which is latest would be a guess)
        latest = pd.Series(False, index=typed.index)
        date_col = spec.date_column
        if date_col is not None and date_col in self.typed:
            d = self.typed[date_col]
            ok = known & d.notna()
            if ok.any():
                last = d[ok].groupby(ids[ok], sort=False).transform("max")
                latest.loc[last.index] = (d[ok] == last).to_numpy()
            shared = pd.DataFrame({"id": ids, "d": d}).duplicated(keep=False).to_numpy()
            latest &= ~shared
        for chk in spec.customer_checks:
            theirs = [c for c in cust.typed if f"{S.CUSTOMERS_PREFIX}{c}" in chk.rows_failing]
            absent = [c for c in chk.columns if c not in self.typed]
            absent += [f"{S.CUSTOMERS}.{c}" for c in S.CUSTOMERS_SPEC.column_names
                       if f"{S.CUSTOMERS_PREFIX}{c}" in chk.rows_failing and c not in cust.typed]
            if absent:
                self.note(f"check {chk.name} not evaluated: column(s) {', '.join(absent)} missing")
                continue
            skip = ~known
            for c in chk.columns:
                skip |= self.lost[c]
            for c in theirs:  # the customer's value could not be read: reported on customers already
                lost = pd.Series(cust.lost[c].to_numpy(), index=cust.typed[S.CUSTOMER_ID].to_numpy())
                lost = lost[~lost.index.duplicated(keep=False) & lost.index.notna()]
                skip |= ids.map(lost).fillna(False).astype(bool)
            try:
                failing = joined.eval(chk.rows_failing, engine="python")
                failing = pd.Series(failing, index=typed.index).astype("boolean").fillna(False).astype(bool)
            except Exception as err:  # noqa: BLE001 - a broken expression must not hide other rules
                self.report.violations.append(Violation(
                    spec.name, chk.columns[0], CHECK_NOT_EVALUATED, "error", 1, [],
                    f"check {chk.name} ({chk.rows_failing}) could not be evaluated: {err}"))
                continue
            failing &= ~skip
            if chk.latest_only:
                failing &= latest
            self.add(chk.columns[0], chk.name, failing,
                     f"{chk.description} [{chk.rows_failing}; customers_X is the customer's X in "
                     f"{S.CUSTOMERS}]", severity=chk.severity)


def _found(columns: Any) -> str:
    text = ", ".join(map(str, columns))
    return text if len(text) <= 300 else text[:300] + "…"


def _delimiter_hint(raw: pd.DataFrame) -> str:
    """A hint when a CSV was read as one column whose name holds another separator (';', tab, '|')."""
    if len(raw.columns) != 1:
        return ""
    name = str(raw.columns[0])
    for sep, label in ((";", "';'"), ("\t", "a tab"), ("|", "'|'")):
        if name.count(sep) >= 2:
            return (f"; the header is one column holding {label}: the file looks separated by {label}, "
                    "but CSV tables must be comma separated")
    return ""


def validate_tables(
    raw: dict[str, pd.DataFrame], safety: SafetySettings | None = None,
    materiality: Materiality | None = Materiality(),
) -> tuple[Tables | None, ValidationReport]:
    """Type the raw tables (six required, optional ones when given) and check every contract rule.

    Parameters
    ----------
    raw : dict[str, pandas.DataFrame]
        Frames by table name, as read (CSV as text, Parquet with stored types).
        They are not modified.
    materiality : Materiality or None
        The default definition's materiality, for the ledger/defaults
        agreement warning; None skips that check.

    Returns
    -------
    tables : Tables or None
        The typed tables (contract columns only, in contract order, fresh
        ``RangeIndex``), or None when an error-level rule is broken.
    report : ValidationReport
        Every broken rule, with counts and the first offending keys.
    """
    report = ValidationReport()
    validators: dict[str, _TableValidator] = {}
    typed: dict[str, pd.DataFrame] = {}
    for name in S.ALL_TABLE_NAMES:
        spec = S.SPECS[name]
        if name not in raw:
            if spec.optional:
                report.violations.append(Violation(
                    name, "-", MISSING_OPTIONAL_TABLE, "warning", 1, [],
                    f"optional table {name!r} was not supplied: {OPTIONAL_TABLE_COST.get(name, '')}"))
            else:
                report.violations.append(Violation(name, "-", MISSING_TABLE, "error", 1, [],
                                                   f"table {name!r} was not supplied"))
            continue
        frame = raw[name].reset_index(drop=True)  # a new frame: the caller's is never touched
        report.rows[name] = len(frame)
        if len(frame) == 0:
            must = name in MUST_HAVE_ROWS
            report.violations.append(Violation(
                name, "-", EMPTY_TABLE, "error" if must else "warning", 1, [],
                f"table {name!r} has no rows (only a header?)" + (": nothing to score or train on"
                                                                  if must else ": check the export")))
        v = _TableValidator(spec, frame, report, safety)
        typed[name] = v.run()
        validators[name] = v

    cust = validators.get(S.CUSTOMERS)
    known = None
    if cust is not None and S.CUSTOMER_ID in cust.typed:
        known = cust.typed[S.CUSTOMER_ID].dropna()
    for name, v in validators.items():
        if name != S.CUSTOMERS and S.CUSTOMER_ID in S.SPECS[name].column_names:
            v.check_foreign_key(known)
        if not typed[name].empty or len(v.raw) == 0:
            v.check_rules(typed[name])
            if cust is not None and S.CUSTOMERS in typed:
                v.check_customer_rules(typed[name], cust, typed[S.CUSTOMERS])

    order = {name: i for i, name in enumerate(S.ALL_TABLE_NAMES)}
    report.violations.sort(key=lambda v: order[v.table])  # stable: rule order kept within a table
    for name in report.rows:
        log.debug("validated %s: %d rows", name, report.rows[name])
    if not report.ok:
        return None, report
    frames = {n: typed[n][list(S.SPECS[n].column_names)].reset_index(drop=True)
              for n in S.ALL_TABLE_NAMES if n in typed}
    tables = Tables.from_dict(frames)
    if materiality is not None:
        check_ledger_defaults(tables, report, materiality)
    return tables, report


def check_ledger_defaults(tables: Tables, report: ValidationReport, materiality: Materiality) -> None:
    """Warn about customers whose ledger shows a default the defaults table does not record.

    At every month end of the ledger's span, a customer onboarded before it and
    not in default by then should not carry a material amount more than
    ``dpd_days`` past due (the EU definition of default, see
    :mod:`riskmodel.data.default_definition`).  The labels keep coming from the
    defaults table (the company's own record); this warning lists the customers
    for whom the two disagree, so that the data owner can add the missing defaults.
    """
    inv = tables.invoices
    if inv.empty:
        return
    ends = pd.date_range(inv[S.INVOICE_DATE].min(), inv[S.INVOICE_DATE].max(), freq="ME")
    if len(ends) == 0:
        return
    hit = material_performing_past_due(inv, tables.defaults, tables.customers, ends, materiality)
    if hit.empty:
        return
    first = hit.groupby(S.CUSTOMER_ID)["date"].min().sort_values()
    examples = [f"{cid} (first {d.date()})" for cid, d in first.head(N_EXAMPLES).items()]
    report.violations.append(Violation(
        S.INVOICES, S.DUE_DATE, LEDGER_DEFAULT, "warning", len(first), examples,
        f"{len(first)} customer(s) carry a material amount more than {materiality.dpd_days} days past due "
        f"(>= {materiality.absolute:g} and >= {materiality.relative:.0%} of their open invoices) at a month "
        "end without a default recorded on or before it: under the default definition these are defaults; "
        "add them to the defaults table (kind dpd90) or check the ledger, e.g. "
        + ", ".join(examples)))
