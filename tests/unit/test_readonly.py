"""`lakehouse query` is read-only: the decision over a parsed plan (no JVM here; the end-to-end
telecom test feeds it Spark's own parser and shows that refused writes change nothing)."""

from __future__ import annotations

import pytest

from lakehouse.readonly import PlanNode, refusal

relation = PlanNode("UnresolvedRelation")


@pytest.mark.parametrize(
    "plan",
    [
        PlanNode("Project", (relation,)),  # select * from gold.t / gold.t.snapshots
        PlanNode("Project", (PlanNode("RelationTimeTravel"),)),  # ... timestamp as of / version as of
        PlanNode("UnresolvedWith", (PlanNode("Project", (relation,)), PlanNode("SubqueryAlias", (relation,)))),
        PlanNode("ShowTables", (PlanNode("UnresolvedNamespace"),)),
        PlanNode("DescribeRelation", (PlanNode("UnresolvedTableOrView"),)),
        PlanNode("ExplainCommand"),
        PlanNode("Project", (relation,), frozenset({"round", "avg"})),
    ],
)
def test_reads_are_allowed(plan):
    assert refusal(plan) is None


@pytest.mark.parametrize(
    ("plan", "named"),
    [
        (PlanNode("DropTable", (PlanNode("UnresolvedIdentifier"),)), "DropTable"),
        (PlanNode("DeleteFromTable", (relation,)), "DeleteFromTable"),
        # with x as (...) insert into ...: the write hides under a read root
        (PlanNode("UnresolvedWith", (PlanNode("InsertIntoStatement", (relation,)),)), "InsertIntoStatement"),
        (PlanNode("CallStatement"), "CallStatement"),
        (PlanNode("SetCommand"), "SetCommand"),
        (PlanNode("CacheTable", (relation,)), "CacheTable"),
        (PlanNode("ScriptTransformation", (relation,)), "ScriptTransformation"),  # select transform(...) using
        (PlanNode("SomethingNew", (relation,)), "SomethingNew"),  # unknown nodes are refused, not guessed
        (PlanNode("Project", (PlanNode("Filter", (relation,), frozenset({"reflect"})),)), "reflect()"),
    ],
)
def test_anything_else_is_refused_by_name(plan, named):
    why = refusal(plan)
    assert why is not None and why.startswith("query is read-only: ") and named in why
