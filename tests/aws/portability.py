"""Is compiled SQL portable to Athena (Trino)? The one list of Spark-only constructs, and the check.

sqlglot's Trino parser accepts some Spark syntax (``left anti join``, ``<=>``), so parsing alone proves
little: ``problems`` parses the SQL as Trino AND looks for the constructs below, which Spark runs and
Trino rejects or computes differently. Each entry says what to write instead (macros/cross_engine.sql
has the portable forms). The patterns are deliberately simple; the integer-division and
timestamp-as-double ones are heuristics on names, so a new model can still hide such a case behind an
unusual name: the constructs are a floor, not a proof.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError


@dataclass(frozen=True)
class Construct:
    name: str
    pattern: re.Pattern[str]
    instead: str


def _rx(text: str) -> re.Pattern[str]:
    return re.compile(text, re.IGNORECASE)


SPARK_ONLY: tuple[Construct, ...] = (
    Construct("left anti/semi join", _rx(r"\b(left\s+)?(anti|semi)\s+join\b"), "not exists / exists"),
    Construct("null-safe equality <=>", _rx(r"<=>"), "is not distinct from"),
    Construct("percentile(", _rx(r"\bpercentile(_approx)?\s*\("), "an exact median by row_number()"),
    Construct(
        "timestamp cast to double",
        _rx(r"\bcast\s*\(\s*[\w.]*(time|_at|date)\w*\s+as\s+double\s*\)"),
        "epoch_seconds() (to_unixtime on Trino)",
    ),
    Construct("unix_timestamp(", _rx(r"\bunix_timestamp\s*\("), "epoch_seconds()"),
    Construct("assert_true(", _rx(r"\bassert_true\s*\("), "a portable expression (dbt.datediff on Athena)"),
    Construct("datediff(", _rx(r"\bdatediff\s*\("), "dbt.datediff / days_between()"),
    Construct("Spark date_add/date_sub(", _rx(r"\bdate_(add|sub)\s*\(\s*[^'\s]"), "dbt.dateadd"),
    Construct("nvl/ifnull(", _rx(r"\b(nvl|nvl2|ifnull)\s*\("), "coalesce("),
    Construct("collect_list/collect_set(", _rx(r"\bcollect_(list|set)\s*\("), "array_agg("),
    Construct("cast as string", _rx(r"\bas\s+string\s*\)"), "dbt.type_string() / varchar"),
    Construct("backtick quoting", _rx(r"`"), "double quotes, or no quoting"),
    Construct("current_date()/current_timestamp()", _rx(r"\bcurrent_(date|timestamp)\s*\(\s*\)"), "without ()"),
    Construct("lateral view / explode(", _rx(r"\blateral\s+view\b|\bexplode\s*\("), "cross join unnest"),
    Construct("rlike", _rx(r"\brlike\b"), "regexp_like("),
    Construct("named_struct(", _rx(r"\bnamed_struct\s*\("), "cast(row(...) as row(...))"),
)
"""Spark SQL that Trino/Athena rejects or computes differently: the one list (tests/aws use it)."""


_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_STRINGS = re.compile(r"'(?:[^']|'')*'")


def strip_comments_and_strings(sql: str) -> str:
    """SQL without comments and with string literals blanked, so only code is searched."""
    return _STRINGS.sub("''", _COMMENTS.sub(" ", sql))


def spark_only_constructs(sql: str) -> list[Construct]:
    code = strip_comments_and_strings(sql)
    return [construct for construct in SPARK_ONLY if construct.pattern.search(code)]


INTEGER_DIVISION = "integer division"
"""``x / count(...)`` or ``x / <integer>`` with a numerator that is not cast to a fractional type:
Spark divides as double, Trino truncates (integer / integer is an integer); and ``decimal(p, 0) / n``,
which Trino rounds to scale 0 (Spark keeps at least 6 decimals). Found on the parse tree."""


def _integer_like(node: exp.Expression) -> bool:
    if isinstance(node, exp.Paren):
        return _integer_like(node.this)
    if isinstance(node, exp.Count):
        return True
    if isinstance(node, exp.Literal) and node.is_number:
        return "." not in node.this and "e" not in node.this.lower()
    if isinstance(node, exp.Sum):
        return not isinstance(node.this, exp.Cast)
    if isinstance(node, exp.Cast):
        # decimal(p, 0) too: Trino's decimal quotient keeps the larger scale of its operands (0)
        return node.to.this in exp.DataType.INTEGER_TYPES or _scale_zero_decimal(node.to)
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul)):
        return _integer_like(node.this) and _integer_like(node.expression)
    return False


def _scale_zero_decimal(data_type: exp.DataType) -> bool:
    if data_type.this != exp.DataType.Type.DECIMAL:
        return False
    params = data_type.expressions
    return len(params) < 2 or params[1].sql() == "0"


def integer_divisions(trees: list[exp.Expression]) -> list[str]:
    """The divisions whose two operands both look like integers."""
    found = []
    for tree in trees:
        for division in tree.find_all(exp.Div):
            if _integer_like(division.this) and _integer_like(division.expression):
                found.append(division.sql(dialect="trino"))
    return found


def parse_trino(sql: str) -> tuple[list[exp.Expression], str | None]:
    """The parse trees of ``sql`` as Trino, or sqlglot's message when it does not parse."""
    try:
        trees = sqlglot.parse(sql, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    except ParseError as exc:
        return [], str(exc).splitlines()[0]
    return [tree for tree in trees if tree is not None], None


def problems(sql: str) -> list[str]:
    """Everything found that keeps ``sql`` from running the same on Athena: empty means portable."""
    found = [f"Spark-only {c.name} (use {c.instead})" for c in spark_only_constructs(sql)]
    trees, error = parse_trino(sql)
    if error:
        found.append(f"not Trino SQL: {error}")
    found += [
        f"{INTEGER_DIVISION} {division} (cast the numerator to double or decimal: Trino truncates)"
        for division in integer_divisions(trees)
    ]
    return found
