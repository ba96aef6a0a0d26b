"""`lakehouse query` is read-only: which statements it runs is decided from a parsed plan.

The decision is a pure function over a small tree (:class:`PlanNode`: node class names, children,
functions called), so any SQL parser can feed it: :func:`spark_plan` builds the tree from Spark's
own parser (the session's, with the Iceberg extensions: ``CALL`` is parsed too), before anything
runs. A statement is allowed only when every node of its plan is on an allow-list of read nodes:
queries (SELECT/WITH/VALUES/TABLE, joins, subqueries, Iceberg metadata tables such as
``gold.t.snapshots``, time travel ``timestamp as of`` / ``version as of``), SHOW, DESCRIBE and
EXPLAIN. Everything else (INSERT, MERGE, DELETE, UPDATE, DROP, CREATE, ALTER, CACHE, REFRESH, SET,
USE, CALL, ADD JAR, TRANSFORM scripts, ...) is refused, and so is a call of ``reflect`` /
``java_method`` (they run arbitrary Java). Spark's parser takes one statement: ``select 1; drop
table t`` is a syntax error, never two statements.
"""

from __future__ import annotations

from dataclasses import dataclass, field

READ_NODES = frozenset(
    {
        # queries
        "Aggregate",
        "CTERelationDef",
        "CTERelationRef",
        "Deduplicate",
        "Distinct",
        "Except",
        "Expand",
        "Filter",
        "Generate",
        "GlobalLimit",
        "Intersect",
        "Join",
        "LateralJoin",
        "LocalLimit",
        "LocalRelation",
        "Offset",
        "OneRowRelation",
        "Pivot",
        "Project",
        "Range",
        "RebalancePartitions",
        "RelationTimeTravel",
        "Repartition",
        "RepartitionByExpression",
        "Sample",
        "Sort",
        "SubqueryAlias",
        "Tail",
        "Union",
        "UnresolvedHint",
        "UnresolvedInlineTable",
        "UnresolvedRelation",
        "UnresolvedSubqueryColumnAliases",
        "UnresolvedTVFAliases",
        "UnresolvedTableValuedFunction",
        "UnresolvedWith",
        "Unpivot",
        "Window",
        "WithCTE",
        "WithWindowDefinition",
        # SHOW / DESCRIBE / EXPLAIN and the names they take
        "DescribeColumn",
        "DescribeFunction",
        "DescribeNamespace",
        "DescribeRelation",
        "ExplainCommand",
        "ShowColumns",
        "ShowCreateTable",
        "ShowFunctions",
        "ShowNamespaces",
        "ShowPartitions",
        "ShowTableExtended",
        "ShowTableProperties",
        "ShowTables",
        "ShowTablesExtended",
        "ShowViews",
        "UnresolvedFunctionName",
        "UnresolvedNamespace",
        "UnresolvedTableOrView",
    }
)
UNSAFE_FUNCTIONS = frozenset({"reflect", "java_method", "try_reflect"})
"""Functions that call arbitrary Java methods."""

ALLOWED = "SELECT/WITH, SHOW, DESCRIBE, EXPLAIN, metadata tables, time travel"


@dataclass(frozen=True)
class PlanNode:
    name: str
    """The parser's class name of the node, e.g. ``Project``, ``DropTable``."""
    children: tuple[PlanNode, ...] = ()
    """Child plans, CTE definitions and subqueries."""
    functions: frozenset[str] = field(default_factory=frozenset)
    """Lower-case names of the functions the node's expressions call."""


def refusal(plan: PlanNode) -> str | None:
    """Why the statement is not read-only (one line, no values from it), or None when it is."""
    stack = [plan]
    while stack:
        node = stack.pop()
        if node.name not in READ_NODES:
            return (
                f"query is read-only: {node.name} is not a read statement (allowed: {ALLOWED}); "
                "writes belong to ingestion and dbt models"
            )
        unsafe = sorted(node.functions & UNSAFE_FUNCTIONS)
        if unsafe:
            return f"query is read-only: {', '.join(unsafe)}() calls arbitrary Java methods and is not allowed"
        stack.extend(node.children)
    return None


class SqlSyntaxError(ValueError):
    """The SQL does not parse (message: the parser's first line)."""


def spark_plan(spark, sql: str) -> PlanNode:
    """The parsed (unresolved) plan of ``sql`` from the session's parser; nothing is executed."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    parser = spark._jsparkSession.sessionState().sqlParser()
    try:
        plan = parser.parsePlan(sql)
    except (PySparkException, Py4JJavaError) as exc:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        raise SqlSyntaxError(lines[0].strip() if lines else "syntax error") from None
    return _node(plan)


def _node(plan) -> PlanNode:
    children = []
    for seq in (plan.children(), plan.innerChildren(), plan.subqueries()):
        children += [_node(seq.apply(i)) for i in range(seq.size())]
    functions: set[str] = set()
    expressions = plan.expressions()
    stack = [expressions.apply(i) for i in range(expressions.size())]
    while stack:
        expression = stack.pop()
        if expression.getClass().getSimpleName() == "UnresolvedFunction":
            functions.add(str(expression.nameParts().last()).lower())
        kids = expression.children()
        stack += [kids.apply(i) for i in range(kids.size())]
    return PlanNode(plan.getClass().getSimpleName().rstrip("$"), tuple(children), frozenset(functions))


def run_read_only(spark, sql: str) -> tuple[list[str], list[tuple]]:
    """``lakehouse query``: run ``sql`` if it is read-only; (columns, rows). Raises ``ConfigError`` for a
    statement that would write, ``RunFailed`` for one that does not parse or fails."""
    from pyspark.errors import PySparkException

    from ingestion.config import ConfigError
    from lakehouse.errors import RunFailed, friendly

    try:
        why = refusal(spark_plan(spark, sql))
    except SqlSyntaxError as exc:
        raise RunFailed(f"query failed: {exc}") from None
    if why:
        raise ConfigError(why)
    try:
        df = spark.sql(sql)
        return df.columns, [tuple(r) for r in df.collect()]
    except PySparkException as exc:
        first = str(exc).strip().splitlines()[0]
        raise RunFailed(friendly(exc) or f"query failed: {first}") from None


def as_of_sql(spark, sql: str, millis: int, moment: str) -> str:
    """``sql`` with every table it reads (``schema.table``) read as of ``millis`` (``TIMESTAMP AS OF``),
    placed after each name at the position Spark's own parser gives; CTE names and metadata tables
    (``gold.t.snapshots``) are left as they are. A table without a snapshot at or before ``millis`` is an
    error naming it (``moment`` is how the message says the time)."""
    from ingestion.config import ConfigError
    from lakehouse.errors import RunFailed

    try:
        plan = spark._jsparkSession.sessionState().sqlParser().parsePlan(sql)
    except Exception:  # noqa: BLE001 - run_read_only reports the syntax error
        return sql
    if why := refusal(_node(plan)):  # refused as written, before any rewriting
        raise ConfigError(why)
    positions: dict[int, str] = {}
    stack = [plan]
    while stack:
        node = stack.pop()
        name = node.getClass().getSimpleName()
        if name == "RelationTimeTravel":
            raise ConfigError("--as-of and a time travel clause (timestamp/version as of) in the SQL: use one")
        if name == "UnresolvedRelation":
            ident = node.multipartIdentifier()
            parts = [str(ident.apply(i)) for i in range(ident.size())]
            if len(parts) == 3 and parts[0].lower() == "spark_catalog":
                parts = parts[1:]
            stop = node.origin().stopIndex()
            if len(parts) == 2 and stop.isDefined():  # not a CTE (one part) nor a metadata table (three)
                positions[int(stop.get())] = ".".join(parts)
        for seq in (node.children(), node.innerChildren(), node.subqueries()):
            stack += [seq.apply(i) for i in range(seq.size())]
    util = spark._jvm.org.apache.iceberg.spark.Spark3Util
    for table in sorted(set(positions.values())):
        try:
            history = util.loadIcebergTable(spark._jsparkSession, table).history()
        except Exception:  # noqa: BLE001 - not an Iceberg table (a view): Spark says why when it runs
            continue
        if not any(history.get(i).timestampMillis() <= millis for i in range(history.size())):
            raise RunFailed(f"{table} did not exist at {moment} (--as-of): its first snapshot is later")
    for stop in sorted(positions, reverse=True):
        sql = f"{sql[: stop + 1]} TIMESTAMP AS OF timestamp_millis({millis}){sql[stop + 1 :]}"
    return sql
