"""The declarative source registry: every landing source in one file.

Each :class:`Source` says where its files land (a glob relative to the landing root), the explicit
schema (header names and types), CSV options, the primary key where one exists, and how the file
date is derived. Ingestion writes one bronze Iceberg table per source, ``bronze.<name>``, with the
file's columns (typed) plus lineage columns (see ``LINEAGE_COLUMNS``).

Types are Spark SQL types: ``string``, ``int``, ``bigint``, ``double``, ``decimal(p,s)``, ``boolean``,
``date`` and ``timestamp``. Dates and timestamps are parsed with the column's ``formats`` (tried in
order; an empty tuple means ISO-8601). A value that does not parse sends its row to quarantine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TYPES = re.compile(r"^(string|int|bigint|double|boolean|date|timestamp|decimal\(\d+,\s*\d+\))$")

LINEAGE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("_source_file", "string", "Path of the landing file, relative to the landing root."),
    ("_file_date", "date", "Business date of the file, from its name or a date=YYYY-MM-DD/ folder."),
    ("_record_number", "bigint", "1-based position of the record among the file's data records."),
    ("_file_hash", "string", "SHA-256 of the file's bytes: the identity of a delivery."),
    ("_batch_id", "bigint", "Ingestion batch that committed the row (monotonically increasing)."),
    ("_ingested_at", "timestamp", "When the batch committed (UTC)."),
)


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"
    formats: tuple[str, ...] = ()
    required: bool = False
    description: str = ""
    pii: bool = False

    def __post_init__(self) -> None:
        if not TYPES.match(self.type):
            raise ValueError(f"column {self.name}: unsupported type {self.type!r}")


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str = ","
    quote: str = '"'
    escape: str = '"'
    encoding: str = "UTF-8"
    multiline: bool = False
    """Quoted fields may span lines (slower: a file is then read by a single task)."""


@dataclass(frozen=True)
class FileDate:
    """How a file's business date is derived: a regex over the path relative to the landing root,
    with named groups ``year``, ``month`` and ``day``."""

    regex: str
    required: bool = True
    """When the path does not match, reject the file (True) or leave ``_file_date`` null (False)."""


def date_in_name(prefix: str) -> FileDate:
    """``<prefix>YYYY_MM_DD[_suffix].csv``, e.g. ``customer_subscription_2023_08_21.csv``, or with an
    optional suffix after the date for further deliveries of that date (``..._2023_08_22_fix1.csv``,
    ``..._part2.csv``)."""
    return FileDate(
        rf"(^|/){re.escape(prefix)}(?P<year>\d{{4}})_(?P<month>\d{{2}})_(?P<day>\d{{2}})(_[^/]*)?\.csv(\.gz)?$"
    )


def date_in_path() -> FileDate:
    """A ``date=YYYY-MM-DD/`` folder anywhere in the path."""
    return FileDate(r"(^|/)date=(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})/")


@dataclass(frozen=True)
class Source:
    name: str
    """Bronze table name (``bronze.<name>``) and the ``--source`` selector."""
    domain: str
    pattern: str
    """Glob relative to the landing root; ``**`` spans folders. ``.gz`` copies also match."""
    columns: tuple[Column, ...]
    description: str = ""
    primary_key: tuple[str, ...] = ()
    file_date: FileDate | None = None
    csv: CsvOptions = field(default_factory=CsvOptions)
    partition_by: tuple[str, ...] = ()
    """Iceberg partition transforms of the bronze table, e.g. ``("_file_date",)``."""
    archive: bool = False
    """After a file's rows are committed, move it to ``<landing>/../archive/<same relative path>``."""

    def __post_init__(self) -> None:
        names = [c.name.lower() for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"source {self.name}: duplicate column names")
        for key in self.primary_key:
            if key.lower() not in names:
                raise ValueError(f"source {self.name}: primary key {key} is not a column")

    @property
    def table(self) -> str:
        return f"bronze.{self.name}"

    @property
    def required_columns(self) -> tuple[str, ...]:
        keys = {k.lower() for k in self.primary_key}
        return tuple(c.name for c in self.columns if c.required or c.name.lower() in keys)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name.lower() == name.lower():
                return col
        raise KeyError(name)


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------

DATAMART_TIMESTAMP = ("yyyy-MM-dd HH:mm:ss[.SSSSSS]", "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]")
"""``2024-01-01 10:00:00`` with an optional fraction of 1 to 6 digits (UTC); ISO ``T`` accepted."""
UPDATED = "Last change at the source (UTC): the change timestamp of this table."


def datamart_source(table: str, description: str, *columns: Column) -> Source:
    """One table of the payments datamart: ``datamart/<table>/*.csv`` change extracts keyed by the
    first column, plus the optional soft-delete flag ``is_deleted``."""
    return Source(
        name=f"datamart_{table}",
        domain="datamart",
        pattern=f"datamart/{table}/*.csv",
        description=description,
        columns=(*columns, Column("is_deleted", "boolean", description="Soft delete at the source (optional).")),
        primary_key=(columns[0].name,),
    )


SOURCES: tuple[Source, ...] = (
    Source(
        name="telecom_subscriptions",
        domain="telecom",
        pattern="telecom/customer_subscription_*.csv",
        description="Daily customer subscription extracts; a customer may appear again in a later file.",
        columns=(
            Column("CustomerID", "bigint", description="Customer identifier."),
            Column("FirstName", description="Customer first name.", pii=True),
            Column("LastName", description="Customer last name.", pii=True),
            Column("PlanType", description="Postpaid or Prepaid."),
            Column("MonthlyCharge", "decimal(10,2)", description="Monthly charge of the plan."),
            Column("SubscriptionDate", "date", formats=("yyyy-MM-dd",), description="Start date."),
        ),
        primary_key=("CustomerID",),
        file_date=date_in_name("customer_subscription_"),
    ),
    Source(
        name="airline_airport_codes",
        domain="airline",
        pattern="airline/airport_codes/*.csv",
        description="US DOT airport dimension; each file is a full new version of the reference table.",
        columns=(
            Column("airport_id", "bigint", description="US DOT airport id (e.g. 10397 = Atlanta)."),
            Column("city", description="City served, as published (e.g. 'Atlanta, GA')."),
            Column("state", description="State code."),
            Column("name", description="Airport name."),
        ),
        primary_key=("airport_id",),
    ),
    Source(
        name="airline_daily_flights",
        domain="airline",
        pattern="airline/daily_flights/**/*.csv",
        description="Daily flight files under date=YYYY-MM-DD/; the flight date exists only in the path.",
        columns=(
            Column("Carrier", required=True, description="Carrier code (e.g. DL)."),
            Column("OriginAirportID", "bigint", required=True, description="Departure airport id."),
            Column("DestAirportID", "bigint", required=True, description="Arrival airport id."),
            Column("DepDelay", "int", description="Departure delay in minutes; negative = early; empty = unknown."),
            Column("ArrDelay", "int", description="Arrival delay in minutes; negative = early; empty = unknown."),
        ),
        file_date=date_in_path(),
        partition_by=("_file_date",),
    ),
    Source(
        name="events_user_events",
        domain="events",
        pattern="events/**/*.csv",
        description="User activity events; files are archived after their rows are committed.",
        columns=(
            Column("user_id", required=True, description="User identifier."),
            Column("event_type", description="What the user did (login, click, logout, ...)."),
            Column(
                "event_time",
                "timestamp",
                formats=("M/d/yyyy H:mm", "M/d/yyyy H:mm:ss", "yyyy-MM-dd'T'HH:mm:ss[.SSS]XXX", "yyyy-MM-dd HH:mm:ss"),
                required=True,
                description="When it happened (UTC): M/d/yyyy H:mm or ISO-8601.",
            ),
        ),
        partition_by=("days(event_time)",),
        archive=True,
    ),
    Source(
        name="invoices_accounts",
        domain="invoices",
        pattern="invoices/accounts/*.csv",
        description="Customer accounts; a later file adds accounts or updates them by account_id.",
        columns=(
            Column("account_id", "bigint", description="Account identifier."),
            Column("company_name", description="Company name."),
            Column("company_address", description="Postal address; a quoted field spanning two lines.", pii=True),
            Column("contact_person", description="Name of the contact person.", pii=True),
            Column("contact_phone", description="Phone number of the contact person.", pii=True),
            Column("gender", description="Gender of the contact person.", pii=True),
            Column("joining_date", "date", formats=("d/M/yyyy",), description="Date the account joined (d/m/yyyy)."),
        ),
        primary_key=("account_id",),
        csv=CsvOptions(multiline=True),
    ),
    Source(
        name="invoices_invoices",
        domain="invoices",
        pattern="invoices/invoices/*.csv",
        description="Invoices (append-only facts): one row per invoice.",
        columns=(
            Column("invoice_id", "bigint", description="Invoice identifier."),
            Column("account_id", "bigint", required=True, description="Account invoiced."),
            Column("date_issued", "date", formats=("yyyy-MM-dd",), required=True, description="Issue date (ISO)."),
        ),
        primary_key=("invoice_id",),
    ),
    Source(
        name="invoices_line_items",
        domain="invoices",
        pattern="invoices/invoice_line_items/*.csv",
        description="Invoice lines (append-only facts): every delivered row is one line.",
        columns=(
            Column("invoice_id", "bigint", required=True, description="Invoice the line belongs to."),
            Column("item_id", required=True, description="SKU of the item (an ISBN-like string)."),
            Column("quantity", "int", required=True, description="Units sold."),
        ),
    ),
    Source(
        name="invoices_skus",
        domain="invoices",
        pattern="invoices/skus/*.csv",
        description="Stock keeping units with prices; a later file adds or updates SKUs by item_id.",
        columns=(
            Column("item_id", description="SKU identifier: a string that looks like an ISBN (0-19-815284-1)."),
            Column("item_name", description="Item name."),
            Column("item_description", description="Item description."),
            Column("item_cost_price", "decimal(18,8)", description="Cost price per unit."),
            Column("item_retail_price", "decimal(18,8)", required=True, description="Retail price per unit."),
        ),
        primary_key=("item_id",),
    ),
    # --- datamart: six tables of an operational payments database, delivered as change extracts ------
    # Ids are strings (the contract does not promise numbers); keys and the change timestamp are
    # required (a row without them is quarantined); `is_deleted` (optional) is a soft delete.
    datamart_source(
        "account",
        "Change extracts of payment accounts (new or changed rows, by updated_at).",
        Column("account_id", required=True, description="Account identifier."),
        Column("account_name", description="Account (merchant) name.", pii=True),
        Column("status", description="Account status at the source (active, suspended, ...)."),
        Column("country", description="Country code of the account."),
        Column("created_at", "timestamp", formats=DATAMART_TIMESTAMP, description="Creation time (UTC)."),
        Column("updated_at", "timestamp", formats=DATAMART_TIMESTAMP, required=True, description=UPDATED),
    ),
    datamart_source(
        "account_metadata",
        "Change extracts of account metadata (one row per account).",
        Column("account_id", required=True, description="Account identifier."),
        Column("industry", description="Industry of the account."),
        Column("tier", description="Commercial tier."),
        Column("kyc_status", description="Know-your-customer status."),
        Column("updated_at", "timestamp", formats=DATAMART_TIMESTAMP, required=True, description=UPDATED),
    ),
    datamart_source(
        "account_risk",
        "Change extracts of account risk assessments (one row per account).",
        Column("account_id", required=True, description="Account identifier."),
        Column("risk_score", "decimal(9,4)", description="Risk score."),
        Column("risk_level", description="Risk level (low, medium, high)."),
        Column("updated_at", "timestamp", formats=DATAMART_TIMESTAMP, required=True, description=UPDATED),
    ),
    datamart_source(
        "queue",
        "Change extracts of settlement queues; each queue belongs to one account.",
        Column("queue_id", required=True, description="Queue identifier."),
        Column("account_id", description="Account owning the queue."),
        Column("queue_name", description="Queue name."),
        Column("status", description="Queue status."),
        Column("updated_at", "timestamp", formats=DATAMART_TIMESTAMP, required=True, description=UPDATED),
    ),
    datamart_source(
        "settlement_transaction",
        "Extracts of settlement transactions, by created_at; a transaction may be re-sent when it changes.",
        Column("transaction_id", required=True, description="Transaction identifier."),
        Column("queue_id", description="Queue the transaction was settled through."),
        Column("amount", "decimal(18,2)", description="Amount in `currency`."),
        Column("currency", description="ISO currency code."),
        Column("status", description="Transaction status."),
        Column(
            "created_at",
            "timestamp",
            formats=DATAMART_TIMESTAMP,
            required=True,
            description="Creation time (UTC): the change timestamp of this table.",
        ),
    ),
    datamart_source(
        "adjustment",
        "Change extracts of adjustments (corrections booked against an account or transaction).",
        Column("adjustment_id", required=True, description="Adjustment identifier."),
        Column("account_id", description="Account adjusted."),
        Column("transaction_id", description="Transaction adjusted (optional)."),
        Column("amount", "decimal(18,2)", description="Adjustment amount."),
        Column("reason", description="Why the adjustment was booked."),
        Column("updated_at", "timestamp", formats=DATAMART_TIMESTAMP, required=True, description=UPDATED),
    ),
)

QUARANTINE_TABLE = "bronze.quarantine"


def get_source(name: str, sources: tuple[Source, ...] = SOURCES) -> Source:
    for source in sources:
        if source.name == name:
            return source
    known = ", ".join(s.name for s in sources)
    raise KeyError(f"unknown source {name!r}; known sources: {known}")
