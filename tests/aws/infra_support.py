"""Shared by the tests of infra/: the deploy module, the parsed template, and waiting on executions."""

from __future__ import annotations

import importlib.util
import json
import time
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


@cache
def deploy_module() -> ModuleType:
    """``infra/deploy.py`` (a script, not a package of the project)."""
    spec = importlib.util.spec_from_file_location("infra_deploy", INFRA / "deploy.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def template() -> dict[str, Any]:
    """``infra/lakehouse.yaml`` as plain data (intrinsics as ``{"Ref": ...}``/``{"Fn::Sub": ...}`` dicts)."""
    from cfnlint.decode import decode_str

    parsed, problems = decode_str((INFRA / "lakehouse.yaml").read_text())
    assert not problems, problems
    return json.loads(json.dumps(parsed))


def definition_text() -> str:
    return (INFRA / "statemachine" / "pipeline.asl.json").read_text()


def wait_for_execution(sfn: Any, arn: str, timeout: float = 60) -> dict[str, Any]:
    """The execution once it left RUNNING (moto runs it in a thread of the server)."""
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, f"execution still RUNNING after {timeout}s"
        time.sleep(0.2)


def history(sfn: Any, arn: str) -> str:
    """An execution's history in short (state names, errors and causes): the message of a failed assertion."""
    lines = []
    for event in sfn.get_execution_history(executionArn=arn)["events"]:
        details = next((value for key, value in event.items() if key.endswith("EventDetails")), {})
        lines.append(" ".join(str(details.get(key, ""))[:300] for key in ("name", "error", "cause")).strip())
        lines[-1] = f"{event['type']} {lines[-1]}"
    return "\n".join(lines)


def placeholders_of_template() -> set[str]:
    """The names the template's DefinitionSubstitutions give the state machine definition."""
    return set(template()["Resources"]["PipelineStateMachine"]["Properties"]["DefinitionSubstitutions"])
