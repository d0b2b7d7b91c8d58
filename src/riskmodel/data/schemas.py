"""The data contract: column names, types and rules of the six input tables.

Column names are constants here and nowhere else; every other module imports
them.  The table specs below are the single source of truth that validation,
the simulator and the README's data-contract section are built from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

# --------------------------------------------------------------------- names
CUSTOMERS = "customers"
INVOICES = "invoices"
FINANCIALS = "financials"
VISITS = "visits"
EVENTS = "events"
DEFAULTS = "defaults"
CUSTOMER_TERMS = "customer_terms"
TABLE_NAMES: tuple[str, ...] = (CUSTOMERS, INVOICES, FINANCIALS, VISITS, EVENTS, DEFAULTS)
# Optional tables: a folder without them validates (with a warning saying what is lost).
OPTIONAL_TABLE_NAMES: tuple[str, ...] = (CUSTOMER_TERMS,)
ALL_TABLE_NAMES: tuple[str, ...] = (*TABLE_NAMES, *OPTIONAL_TABLE_NAMES)

# shared
CUSTOMER_ID = "customer_id"

# customers
INDUSTRY = "industry"
REGION = "region"
LEGAL_FORM = "legal_form"
FOUNDED_DATE = "founded_date"
REGISTERED_CAPITAL = "registered_capital"
PAID_IN_CAPITAL = "paid_in_capital"
ONBOARDED_DATE = "onboarded_date"
BUSINESS_SCOPE_OK = "business_scope_ok"
ADDRESS_VERIFIED = "address_verified"
PAYMENT_TERMS_DAYS = "payment_terms_days"
CREDIT_LIMIT = "credit_limit"

# invoices
INVOICE_ID = "invoice_id"
INVOICE_DATE = "invoice_date"
DUE_DATE = "due_date"
AMOUNT = "amount"
PAID_DATE = "paid_date"
PAID_AMOUNT = "paid_amount"

# financials
PERIOD_END = "period_end"
REVENUE = "revenue"
EBIT = "ebit"
NET_INCOME = "net_income"
INTEREST_EXPENSE = "interest_expense"
OPERATING_CASH_FLOW = "operating_cash_flow"
TOTAL_ASSETS = "total_assets"
CURRENT_ASSETS = "current_assets"
CASH = "cash"
INVENTORY = "inventory"
RECEIVABLES = "receivables"
TOTAL_LIABILITIES = "total_liabilities"
CURRENT_LIABILITIES = "current_liabilities"
EQUITY = "equity"
RETAINED_EARNINGS = "retained_earnings"
AUDITED = "audited"

# visits
VISIT_ID = "visit_id"
VISIT_DATE = "visit_date"
VISITOR_ID = "visitor_id"
CORRESPONDENCE = "correspondence"
RESPONSIVENESS = "responsiveness"
EXPERTISE = "expertise"
PREMISES = "premises"
INVENTORY_RATING = "inventory_rating"
MANAGEMENT = "management"
STAFF_MORALE = "staff_morale"
DISCLOSURE = "disclosure"
VISIT_RATINGS: tuple[str, ...] = (
    CORRESPONDENCE,
    RESPONSIVENESS,
    EXPERTISE,
    PREMISES,
    INVENTORY_RATING,
    MANAGEMENT,
    STAFF_MORALE,
    DISCLOSURE,
)
LICENCE_CHECKED = "licence_checked"
LAVISH_OFFICE = "lavish_office"
NOTES = "notes"

# events
EVENT_ID = "event_id"
EVENT_DATE = "event_date"
EVENT_TYPE = "event_type"
VALUE = "value"

# defaults
DEFAULT_DATE = "default_date"
KIND = "kind"

# customer_terms (dated history of the customer facts that change over time)
VALID_FROM = "valid_from"
# The customer facts that have a dated history in customer_terms.  In customers they hold the
# value as of the extract; features read them only from the history (valid before the snapshot).
HISTORY_FACTS: tuple[str, ...] = (
    CREDIT_LIMIT,
    PAYMENT_TERMS_DAYS,
    PAID_IN_CAPITAL,
    BUSINESS_SCOPE_OK,
    ADDRESS_VERIFIED,
)
# In a CustomerCheck expression, a customers column is named with this prefix.
CUSTOMERS_PREFIX = "customers_"

# modelling table (output of the feature builder)
SNAPSHOT_DATE = "snapshot_date"


def label_name(horizon_months: int) -> str:
    """The label column for a horizon (``snapshots.horizon_months``): ``default_{h}m``, 1 when the customer's
    first default falls in (snapshot, snapshot + h months]."""
    return f"default_{horizon_months}m"


def is_label(column: str) -> bool:
    """Whether a column is a label (of any horizon): never a model input."""
    return re.fullmatch(r"default_\d+m", column) is not None


LABEL = label_name(12)  # the label at the default horizon (tests, notebooks, benchmarks); code uses label_name
MODEL_KEYS: tuple[str, ...] = (CUSTOMER_ID, SNAPSHOT_DATE)

# oracle (simulator only; never read as input)
TRUE_PD = "true_pd_12m"

# ------------------------------------------------------------- enumerations
INDUSTRIES: tuple[str, ...] = (
    "construction",
    "manufacturing",
    "wholesale",
    "retail",
    "transport",
    "hospitality",
    "services",
    "agriculture",
)
REGIONS: tuple[str, ...] = ("north", "south", "east", "west", "central")
LEGAL_FORMS: tuple[str, ...] = ("sole_trader", "partnership", "ltd", "plc", "cooperative")
EVENT_TYPES: tuple[str, ...] = (
    "lawsuit",  # value: amount claimed against the customer
    "tax_arrears",  # value: amount in arrears
    "bank_reference",  # value: rating 1 (poor) .. 5 (excellent)
    "trade_reference",  # value: rating 1 (poor) .. 5 (excellent)
    "agency_rating",  # value: credit agency score 1 (worst) .. 10 (best)
    "collateral_pledged",  # value: value of the guarantee or pledged asset
    "collateral_released",  # value: value released
)
DEFAULT_KINDS: tuple[str, ...] = ("dpd90", "write_off", "insolvency", "legal_collection")

# ------------------------------------------------------------------- specs
Kind = Literal["string", "date", "float", "int", "bool", "category"]
Severity = Literal["error", "warning"]

# Dates outside this range are refused as typos (e.g. 2202 for 2022).
MIN_DATE = "1900-01-01"
MAX_DATE = "2100-12-31"


@dataclass(frozen=True)
class Column:
    """One column of the contract: its type, whether it may be empty, and its rules.

    ``min``/``max`` bound numeric values; ``allowed`` lists a category's values.
    ``description`` is what the README prints for analysts.
    """

    name: str
    kind: Kind
    description: str
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Check:
    """A rule over several columns of one table, expressed as a pandas query.

    ``rows_failing`` is a ``DataFrame.eval`` expression that is True on the
    offending rows; ``columns`` names the columns it is about (the first is
    reported as the column).
    """

    name: str
    columns: tuple[str, ...]
    rows_failing: str
    description: str
    severity: Severity = "error"


@dataclass(frozen=True)
class CustomerCheck:
    """A rule comparing a table's rows with their customer's row in ``customers``.

    ``rows_failing`` is a ``DataFrame.eval`` expression over the table's
    columns and the customer's columns, the latter prefixed with
    ``customers_`` (e.g. ``customers_founded_date``).  With ``latest_only``
    only each customer's latest row (by the table's date column) is checked.
    """

    name: str
    columns: tuple[str, ...]
    rows_failing: str
    description: str
    severity: Severity = "error"
    latest_only: bool = False


@dataclass(frozen=True)
class TableSpec:
    """A table of the contract: columns, primary key, cross-column checks."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    checks: tuple[Check, ...] = field(default_factory=tuple)
    date_column: str | None = None  # the column that dates a record in time
    customer_checks: tuple[CustomerCheck, ...] = field(default_factory=tuple)
    optional: bool = False  # the table may be absent from the folder (a warning says what is lost)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _money(name: str, description: str, nullable: bool = False, signed: bool = False) -> Column:
    return Column(name, "float", description, nullable=nullable, min=None if signed else 0.0)


def _rating(name: str, description: str) -> Column:
    return Column(name, "int", description + " (1 = poor .. 5 = excellent; empty if not observed)",
                  nullable=True, min=1, max=5)


CUSTOMERS_SPEC = TableSpec(
    name=CUSTOMERS,
    description="One row per business customer: registration facts and the current credit terms "
    "(values as of the extract). The five facts with a dated history (credit_limit, "
    "payment_terms_days, paid_in_capital, business_scope_ok, address_verified) are read for "
    "features only from `customer_terms`; here they are the current values, kept for backward "
    "compatibility and checked against the latest history row.",
    key=(CUSTOMER_ID,),
    columns=(
        Column(CUSTOMER_ID, "string", "Our customer identifier."),
        Column(INDUSTRY, "category", "Industry sector.", allowed=INDUSTRIES),
        Column(REGION, "category", "Region where the customer operates.", allowed=REGIONS),
        Column(LEGAL_FORM, "category", "Legal form from the registration record.", allowed=LEGAL_FORMS),
        Column(FOUNDED_DATE, "date", "Date of incorporation from the registration record."),
        _money(REGISTERED_CAPITAL, "Registered (subscribed) capital."),
        _money(PAID_IN_CAPITAL, "Capital actually paid in."),
        Column(ONBOARDED_DATE, "date", "Date the customer was opened in our ledger."),
        Column(BUSINESS_SCOPE_OK, "bool", "Trades within its licensed business scope (registration check)."),
        Column(ADDRESS_VERIFIED, "bool", "Registered address matches where it really operates."),
        Column(PAYMENT_TERMS_DAYS, "int", "Agreed payment terms in days.", min=0, max=365),
        _money(CREDIT_LIMIT, "Current credit limit granted by us."),
    ),
    checks=(
        Check("onboarded_not_before_founded", (ONBOARDED_DATE, FOUNDED_DATE),
              f"{ONBOARDED_DATE} < {FOUNDED_DATE}",
              "A customer cannot be onboarded before it was founded."),
        Check("paid_in_not_above_registered", (PAID_IN_CAPITAL, REGISTERED_CAPITAL),
              f"{PAID_IN_CAPITAL} > {REGISTERED_CAPITAL} * 1.0001",
              "Paid-in capital above registered capital is unusual.", severity="warning"),
    ),
)

INVOICES_SPEC = TableSpec(
    name=INVOICES,
    description="The receivables ledger: one row per invoice issued to a customer.",
    key=(INVOICE_ID,),
    date_column=INVOICE_DATE,
    columns=(
        Column(INVOICE_ID, "string", "Invoice identifier."),
        Column(CUSTOMER_ID, "string", "Customer invoiced (must exist in customers)."),
        Column(INVOICE_DATE, "date", "Date the invoice was issued."),
        Column(DUE_DATE, "date", "Date payment is due (invoice date + terms)."),
        _money(AMOUNT, "Invoiced amount."),
        Column(PAID_DATE, "date", "Date the invoice was settled; empty while it is open.", nullable=True),
        _money(PAID_AMOUNT, "Amount collected at settlement; empty while open. Below amount on a "
               "short payment or write-off settlement. Overpayment is not allowed.", nullable=True),
    ),
    checks=(
        Check("due_not_before_invoice", (DUE_DATE, INVOICE_DATE), f"{DUE_DATE} < {INVOICE_DATE}",
              "The due date cannot be before the invoice date."),
        Check("paid_not_before_invoice", (PAID_DATE, INVOICE_DATE), f"{PAID_DATE} < {INVOICE_DATE}",
              "An invoice cannot be paid before it was issued."),
        Check("paid_amount_not_above_amount", (PAID_AMOUNT, AMOUNT), f"{PAID_AMOUNT} > {AMOUNT} * 1.000001",
              "Overpayment is not allowed: paid_amount must not exceed amount."),
        Check("paid_date_and_amount_together", (PAID_AMOUNT, PAID_DATE),
              f"{PAID_DATE}.isna() != {PAID_AMOUNT}.isna()",
              "paid_date and paid_amount are both empty (open) or both filled (settled)."),
    ),
)

FINANCIALS_SPEC = TableSpec(
    name=FINANCIALS,
    description="Financial statements: one row per customer and fiscal period (annual).",
    key=(CUSTOMER_ID, PERIOD_END),
    date_column=PERIOD_END,
    columns=(
        Column(CUSTOMER_ID, "string", "Customer (must exist in customers)."),
        Column(PERIOD_END, "date", "Last day of the fiscal period. The statement is assumed known "
               "only after the publication lag in params.yaml (3 months by default)."),
        _money(REVENUE, "Revenue for the period."),
        _money(EBIT, "Earnings before interest and taxes.", signed=True),
        _money(NET_INCOME, "Net income.", signed=True),
        _money(INTEREST_EXPENSE, "Interest expense."),
        _money(OPERATING_CASH_FLOW, "Cash flow from operations.", signed=True),
        _money(TOTAL_ASSETS, "Total assets at period end."),
        _money(CURRENT_ASSETS, "Current assets."),
        _money(CASH, "Cash and equivalents."),
        _money(INVENTORY, "Inventory."),
        _money(RECEIVABLES, "Trade receivables."),
        _money(TOTAL_LIABILITIES, "Total liabilities."),
        _money(CURRENT_LIABILITIES, "Current liabilities."),
        _money(EQUITY, "Book equity (may be negative).", signed=True),
        _money(RETAINED_EARNINGS, "Retained earnings (may be negative); used by Altman Z''.", signed=True),
        Column(AUDITED, "bool", "Statement audited by an external auditor."),
    ),
    checks=(
        Check("balance_sheet_identity", (TOTAL_ASSETS, TOTAL_LIABILITIES, EQUITY),
              f"abs({TOTAL_ASSETS} - {TOTAL_LIABILITIES} - {EQUITY}) > 0.01 * {TOTAL_ASSETS} + 1",
              "Assets should equal liabilities plus equity (1% tolerance).", severity="warning"),
        Check("current_assets_within_total", (CURRENT_ASSETS, TOTAL_ASSETS),
              f"{CURRENT_ASSETS} > {TOTAL_ASSETS} * 1.01 + 1",
              "Current assets should not exceed total assets.", severity="warning"),
        Check("current_assets_components", (CURRENT_ASSETS, CASH, INVENTORY, RECEIVABLES),
              f"{CASH} + {INVENTORY} + {RECEIVABLES} > {CURRENT_ASSETS} * 1.01 + 1",
              "Cash, inventory and receivables should fit within current assets.", severity="warning"),
        Check("current_liabilities_within_total", (CURRENT_LIABILITIES, TOTAL_LIABILITIES),
              f"{CURRENT_LIABILITIES} > {TOTAL_LIABILITIES} * 1.01 + 1",
              "Current liabilities should not exceed total liabilities.", severity="warning"),
    ),
)

VISITS_SPEC = TableSpec(
    name=VISITS,
    description="Visit and contact reports written by our sales staff.",
    key=(VISIT_ID,),
    date_column=VISIT_DATE,
    columns=(
        Column(VISIT_ID, "string", "Report identifier."),
        Column(CUSTOMER_ID, "string", "Customer visited or contacted (must exist in customers)."),
        Column(VISIT_DATE, "date", "Date of the visit or contact."),
        Column(VISITOR_ID, "string", "Member of staff who wrote the report."),
        _rating(CORRESPONDENCE, "Letters and e-mails are formal and complete"),
        _rating(RESPONSIVENESS, "Answers quickly"),
        _rating(EXPERTISE, "Knows its trade"),
        _rating(PREMISES, "Condition of office and plant"),
        _rating(INVENTORY_RATING, "Inventory on hand looks healthy and moving"),
        _rating(MANAGEMENT, "Quality of management"),
        _rating(STAFF_MORALE, "Staff morale; wages paid on time"),
        _rating(DISCLOSURE, "Willingness to disclose information"),
        Column(LICENCE_CHECKED, "bool", "Business licence and asset documents checked against claims."),
        Column(LAVISH_OFFICE, "bool", "Office is lavish for the size of the business (a fraud warning sign)."),
        Column(NOTES, "string", "Free-text notes.", nullable=True),
    ),
)

EVENTS_SPEC = TableSpec(
    name=EVENTS,
    description="External facts: lawsuits, tax arrears, references, agency ratings, collateral.",
    key=(EVENT_ID,),
    date_column=EVENT_DATE,
    columns=(
        Column(EVENT_ID, "string", "Event identifier."),
        Column(CUSTOMER_ID, "string", "Customer concerned (must exist in customers)."),
        Column(EVENT_DATE, "date", "Date the fact became known."),
        Column(EVENT_TYPE, "category", "Kind of fact; see the value column for its meaning.",
               allowed=EVENT_TYPES),
        Column(VALUE, "float", "lawsuit / tax_arrears: amount; bank_reference / trade_reference: "
               "rating 1..5; agency_rating: score 1..10; collateral_pledged / collateral_released: value.",
               min=0.0),
    ),
    checks=(
        Check("reference_rating_in_1_5", (VALUE, EVENT_TYPE),
              f"{EVENT_TYPE}.isin(['bank_reference', 'trade_reference']) & (({VALUE} < 1) | ({VALUE} > 5))",
              "Bank and trade references are rated 1..5."),
        Check("agency_rating_in_1_10", (VALUE, EVENT_TYPE),
              f"({EVENT_TYPE} == 'agency_rating') & (({VALUE} < 1) | ({VALUE} > 10))",
              "Agency ratings are scored 1..10."),
    ),
)

DEFAULTS_SPEC = TableSpec(
    name=DEFAULTS,
    description="Default events. The first default of a customer ends its life as a performing customer.",
    key=(CUSTOMER_ID, DEFAULT_DATE),
    date_column=DEFAULT_DATE,
    columns=(
        Column(CUSTOMER_ID, "string", "Customer in default (must exist in customers)."),
        Column(DEFAULT_DATE, "date", "Date the default was recognised."),
        Column(KIND, "category", "dpd90 (90 days past due), write_off, insolvency, legal_collection.",
               allowed=DEFAULT_KINDS),
    ),
)


def _c(name: str) -> str:
    """A customers column as named in a CustomerCheck expression."""
    return CUSTOMERS_PREFIX + name


CUSTOMER_TERMS_SPEC = TableSpec(
    name=CUSTOMER_TERMS,
    description="Dated history (change log) of the customer facts that change over time: one row "
    "per customer and date from which the row's values hold, until the customer's next row. Every "
    "row carries all five facts (the full state, not only what changed). Features use the latest "
    "row with valid_from strictly before the snapshot; before a customer's first row the facts are "
    "missing. Optional: without this table the five facts are known only as of the extract "
    "(look-ahead), so they and the features built on them are left out of training and scoring.",
    key=(CUSTOMER_ID, VALID_FROM),
    date_column=VALID_FROM,
    optional=True,
    columns=(
        Column(CUSTOMER_ID, "string", "Customer (must exist in customers)."),
        Column(VALID_FROM, "date", "First day on which this row's values hold (the decision or "
               "check date); they hold until the customer's next row."),
        _money(CREDIT_LIMIT, "Credit limit granted by us from valid_from (0 = frozen: no new "
               "credit)."),
        Column(PAYMENT_TERMS_DAYS, "int", "Agreed payment terms in days from valid_from.", min=0, max=365),
        _money(PAID_IN_CAPITAL, "Capital actually paid in, as registered from valid_from."),
        Column(BUSINESS_SCOPE_OK, "bool", "Trades within its licensed business scope, as found by the "
               "registration check dated valid_from."),
        Column(ADDRESS_VERIFIED, "bool", "Registered address matches where it really operates, as found "
               "by the check dated valid_from."),
    ),
    customer_checks=(
        CustomerCheck("valid_from_not_before_founded", (VALID_FROM,),
                      f"{VALID_FROM} < {_c(FOUNDED_DATE)}",
                      "A fact cannot hold before the firm was founded."),
        CustomerCheck("valid_from_not_before_onboarded", (VALID_FROM,),
                      f"({VALID_FROM} < {_c(ONBOARDED_DATE)}) & ({VALID_FROM} >= {_c(FOUNDED_DATE)})",
                      "Terms are usually set when the customer is onboarded; a row before "
                      "onboarded_date is unusual.", severity="warning"),
        CustomerCheck("paid_in_not_above_registered", (PAID_IN_CAPITAL,),
                      f"{PAID_IN_CAPITAL} > {_c(REGISTERED_CAPITAL)} * 1.0001",
                      "Paid-in capital above registered capital is unusual.", severity="warning"),
        CustomerCheck("latest_row_matches_customers", HISTORY_FACTS,
                      f"(abs({CREDIT_LIMIT} - {_c(CREDIT_LIMIT)}) > 0.005) "
                      f"| ({PAYMENT_TERMS_DAYS} != {_c(PAYMENT_TERMS_DAYS)}) "
                      f"| (abs({PAID_IN_CAPITAL} - {_c(PAID_IN_CAPITAL)}) > 0.005) "
                      f"| ({BUSINESS_SCOPE_OK} != {_c(BUSINESS_SCOPE_OK)}) "
                      f"| ({ADDRESS_VERIFIED} != {_c(ADDRESS_VERIFIED)})",
                      "A customer's latest history row should hold the current values of the "
                      "customers table (both describe the state at the extract).",
                      severity="warning", latest_only=True),
    ),
)

SPECS: dict[str, TableSpec] = {
    s.name: s
    for s in (CUSTOMERS_SPEC, INVOICES_SPEC, FINANCIALS_SPEC, VISITS_SPEC, EVENTS_SPEC, DEFAULTS_SPEC,
              CUSTOMER_TERMS_SPEC)
}


#: The dated columns of the contract: where the data starts and ends (``features.build.latest_data_date``,
#: ``data.partition.data_span``).
DATA_DATES: tuple[tuple[str, str], ...] = (
    (INVOICES, INVOICE_DATE),
    (INVOICES, PAID_DATE),
    (FINANCIALS, PERIOD_END),
    (VISITS, VISIT_DATE),
    (EVENTS, EVENT_DATE),
    (DEFAULTS, DEFAULT_DATE),
)
