"""Pure ``DataFrame -> DataFrame`` transformations of ingestion (no I/O).

The read step (``ingestion.ingest``) yields every CSV field as a string under positional names
``_c0.._cN`` plus ``_corrupt_record`` and the file's path. These functions map header names to the
registry's columns, type the values, number the records, attach lineage, and split the rows into
bronze rows and quarantined rows with a reason.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Mapping, Sequence

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from ingestion.registry import LINEAGE_COLUMNS, Column, Source

CORRUPT = "_corrupt_record"
PATH = "_path"
URI = "_file_uri"
ERRORS = "_errors"
HAS_ERRORS = "_has_errors"

INTEGER = r"^\s*[+-]?\d+\s*$"
DECIMAL = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$"


def raw_read_schema(width: int) -> StructType:
    """All-string positional schema for reading a CSV whose header has ``width`` fields."""
    fields = [StructField(f"_c{i}", StringType()) for i in range(width)]
    return StructType([*fields, StructField(CORRUPT, StringType())])


def header_mapping(source: Source, header: Sequence[str]) -> tuple[dict[str, str], list[str], list[str]]:
    """Match header names (case-insensitive, trimmed) to the source's columns, never by position.

    Returns ``(mapping, missing, extra)``: registry column name -> positional field name, registry
    columns absent from the header, header names the registry does not know.
    """
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        positions.setdefault(name.strip().lower(), index)
    mapping: dict[str, str] = {}
    missing: list[str] = []
    for column in source.columns:
        index = positions.get(column.name.lower())
        if index is None:
            missing.append(column.name)
        else:
            mapping[column.name] = f"_c{index}"
    known = {c.name.lower() for c in source.columns}
    extra = [h for h in header if h.strip().lower() not in known]
    return mapping, missing, extra


def extra_columns(source: Source, header: Sequence[str]) -> dict[str, int]:
    """Header columns the registry does not know, kept in bronze as strings (schema evolution).

    Returns bronze column name -> position in the header. Names are lower snake_case; a name
    that collides with a registry or lineage column, or repeats, gets a numeric suffix; blank
    header names (e.g. a trailing delimiter) are not columns.
    """
    known = {c.name.lower() for c in source.columns}
    taken = known | {name for name, _, _ in LINEAGE_COLUMNS}
    extras: dict[str, int] = {}
    for index, raw in enumerate(header):
        if raw.strip().lower() in known or not raw.strip():
            continue
        base = re.sub(r"[^0-9a-z]+", "_", raw.strip().lower()).strip("_") or f"column_{index + 1}"
        if base[0].isdigit():
            base = f"c_{base}"
        name, suffix = base, 2
        while name in taken:
            name, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(name)
        extras[name] = index
    return extras


def normalize_path(path: SparkColumn) -> SparkColumn:
    """Spark's ``file:/a%20b/c.csv`` URI -> the plain absolute path ``/a b/c.csv``."""
    without_scheme = F.regexp_replace(path, r"^file:(//)?", "")
    return F.url_decode(F.replace(without_scheme, F.lit("+"), F.lit("%2B")))


READ_ORDER = "_read_order"
BLOCK_START = "_block_start"


def with_read_order(df: DataFrame) -> DataFrame:
    """Add ``_read_order``: an id that increases along each task's rows (``monotonically_increasing_id``).

    Applied straight over a file scan, the rows of one split (a file, or a block of a large file) get
    consecutive ids in the file's own order; a second scan of the same files (same split plan) gives the
    same ids, which is what lets ``block_offsets`` be counted in one pass and used in another."""
    return df.withColumn(READ_ORDER, read_order_id())


def read_order_id() -> SparkColumn:
    """The ``_read_order`` value (``with_read_order``): both scans of a batch must number rows alike."""
    return F.monotonically_increasing_id()


def block_counts(df: DataFrame) -> DataFrame:
    """Per split (``_file_uri``, ``_block_start``): its first ``_read_order`` and its number of records, and
    the file's plain ``_path`` (``normalize_path``, computed once per split rather than once per row).

    Needs no column of the rows, so the CSV reader only splits lines (no field parsing) to answer it."""
    counts = df.groupBy(URI, BLOCK_START).agg(
        F.min(READ_ORDER).alias("_first_read"), F.count(F.lit(1)).alias("_block_rows")
    )
    return counts.select(URI, normalize_path(F.col(URI)).alias(PATH), BLOCK_START, "_first_read", "_block_rows")


def block_offsets(counts: Sequence[tuple[str, int, int, int]]) -> list[tuple[str, int, int, int]]:
    """``(file, block_start, first_read, block_rows)`` per split -> ``(file, block_start, first_read,
    rows_before)``: how many records of the same file precede the split (earlier blocks, by offset)."""
    before: dict[str, int] = {}
    offsets = []
    for path, start, first, rows in sorted(counts, key=lambda c: (c[0], c[1])):
        offsets.append((path, start, first, before.get(path, 0)))
        before[path] = before.get(path, 0) + rows
    return offsets


def with_record_number(df: DataFrame) -> DataFrame:
    """Add ``_record_number``: the 1-based position of each record within its file, from the split's
    ``_first_read`` and ``_rows_before`` (joined from ``block_offsets``) and the row's ``_read_order``.

    No shuffle, no sort: the rows stay in the partitions the scan produced."""
    number = F.col(READ_ORDER) - F.col("_first_read") + F.col("_rows_before") + 1
    return df.withColumn("_record_number", number.cast("bigint")).drop(
        READ_ORDER, BLOCK_START, "_first_read", "_rows_before"
    )


def parse_value(raw: SparkColumn, column: Column) -> SparkColumn:
    """The typed value of ``raw`` (a string column), null when it does not parse."""
    trimmed = F.trim(raw)
    kind = column.type
    if kind == "string":
        return raw
    # The patterns allow surrounding whitespace and the cast ignores it: no trim needed for numbers.
    if kind in ("int", "bigint"):
        return F.when(raw.rlike(INTEGER), raw.cast(kind))
    if kind.startswith("decimal"):
        return F.when(raw.rlike(DECIMAL), raw.cast(kind))
    if kind in ("date", "timestamp"):
        convert = F.to_date if kind == "date" else F.to_timestamp
        if not column.formats:
            return trimmed.cast(kind)
        return F.coalesce(*[convert(trimmed, fmt) for fmt in column.formats])
    return trimmed.cast(kind)


def is_blank(raw: SparkColumn) -> SparkColumn:
    """A missing value: null, or nothing but spaces."""
    return raw.isNull() | (F.trim(raw) == "")


def parse_error(raw: SparkColumn, typed: SparkColumn, column: Column, required: bool) -> SparkColumn:
    """A message when the value is present but unparseable, or required but missing; else null.

    ``typed`` is the column already typed (``with_typed_columns`` reads it by name, so the value is
    parsed once per row, not again for its error)."""
    blank = is_blank(raw)
    if column.pii:  # reasons are printed in run summaries: never a personal value
        message = F.lit(f"{column.name}: cannot parse the value as {column.type} (PII: shown only in raw_record)")
    else:
        shown = F.substring(raw, 1, 80)
        message = F.concat(F.lit(f"{column.name}: cannot parse '"), shown, F.lit(f"' as {column.type}"))
    bad_value = F.when(typed.isNull() & ~blank, message)
    if required:
        return F.when(blank, F.lit(f"{column.name}: required value is missing")).otherwise(bad_value)
    return bad_value


def quoted(name: str) -> str:
    """``name`` as a column reference read literally (a dot is not a struct field)."""
    return "`" + name.replace("`", "``") + "`"


def has_error(raw: SparkColumn, typed: SparkColumn, column: Column, required: bool) -> SparkColumn | None:
    """True exactly when ``parse_error`` gives a message, tested without building it (None: never).

    A blank value types to null whatever the type, so for a typed column the null test comes first and
    the blank test (a trim) runs only for the rare null; a string column can only lack a required value."""
    blank = is_blank(raw)
    if column.type == "string":
        return blank if required else None
    return typed.isNull() if required else typed.isNull() & ~blank


def with_typed_columns(
    df: DataFrame, source: Source, mapping: Mapping[str, str], read_order: bool = False
) -> DataFrame:
    """Add each registry column, typed, ``_errors`` (array of messages) and ``_has_errors`` for the row.

    A column absent from the file's header is null (it was reported when the header was read).
    A malformed record (wrong number of fields, broken quoting) gets one error naming the problem.

    The values are typed in one projection and the error tests read the typed columns by name. With
    ``read_order`` that projection also adds ``_read_order`` (``with_read_order``): a projection holding a
    non-deterministic column is one Spark's optimizer cannot push a filter through, so the filter on
    ``_has_errors`` (``split_quarantine``) tests the values typed there instead of inlining the whole
    parse (regular expression, cast, date formats) a second time for every row.
    """
    required = {c.lower() for c in source.required_columns}
    typed: list[SparkColumn] = []
    errors: list[SparkColumn] = [
        F.when(F.col(CORRUPT).isNotNull(), F.lit("malformed CSV record (field count or quoting)"))
    ]
    tests: list[SparkColumn] = [F.col(CORRUPT).isNotNull()]
    for column in source.columns:
        is_required = column.name.lower() in required
        if column.name in mapping:
            raw = F.col(mapping[column.name])
            typed.append(parse_value(raw, column).cast(column.type).alias(column.name))
            value = F.col(quoted(column.name))
            errors.append(parse_error(raw, value, column, is_required))
            test = has_error(raw, value, column, is_required)
            if test is not None:
                tests.append(test)
        else:
            typed.append(F.lit(None).cast(column.type).alias(column.name))
            if is_required:
                errors.append(F.lit(f"{column.name}: required column is missing from the header"))
                tests.append(F.lit(True))
    order = [read_order_id().alias(READ_ORDER)] if read_order else []
    return df.select("*", *typed, *order).withColumns(
        {
            ERRORS: F.filter(F.array(*errors), lambda e: e.isNotNull()),
            # The same test without building the array (a lambda Spark cannot compile): bronze's filter.
            HAS_ERRORS: functools.reduce(operator.or_, tests),
        }
    )


def raw_record(mapping_width: int, header: Sequence[str]) -> SparkColumn:
    """The record as it arrived: the malformed line itself, else the fields as a JSON object."""
    fields = F.struct(*[F.col(f"_c{i}").alias(header[i]) for i in range(mapping_width)])
    return F.coalesce(F.col(CORRUPT), F.to_json(fields))


def split_quarantine(df: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(rows without errors, rows with errors)."""
    return df.filter(~F.col(HAS_ERRORS)), df.filter(F.col(HAS_ERRORS))


def bronze_columns(df: DataFrame, table_columns: Sequence[str], extras: Mapping[str, int]) -> DataFrame:
    """The bronze table's columns in table order: registry columns and lineage from ``df``, extra
    header columns as their raw strings, and null for columns this file does not have."""
    selected = []
    for name in table_columns:
        if name in extras:
            selected.append(F.col(f"_c{extras[name]}").alias(name))
        elif name in df.columns:
            selected.append(F.col(name))
        else:
            selected.append(F.lit(None).cast("string").alias(name))
    return df.select(*selected)


def quarantine_columns(df: DataFrame, source: Source) -> DataFrame:
    """The ``bronze.quarantine`` columns; lineage under the names it has in bronze."""
    return df.select(
        F.lit(source.name).alias("source"),
        "_source_file",
        "_record_number",
        F.col("_raw_record").alias("raw_record"),
        F.array_join(ERRORS, "; ").alias("reason"),
        "_file_hash",
        "_batch_id",
        F.col("_ingested_at").alias("quarantined_at"),
    )
