"""`make bench` composes the modules under tests/bench: each one must exist, follow the contract
(a ``run(args)`` returning figures and ratios) and parse its own command line; the runner's table
shows every figure and ratio. (The timings themselves are never asserted: BENCHMARKS.md.)"""

from __future__ import annotations

import importlib
import inspect

import pytest

from tests.bench import run as bench


@pytest.mark.parametrize("topic", bench.MODULES)
def test_each_bench_module_has_the_contract(topic):
    module = importlib.import_module(f"tests.bench.{topic}")
    assert callable(getattr(module, "run", None)), f"tests/bench/{topic}.py has no run(args)"
    assert list(inspect.signature(module.run).parameters) == ["args"]
    assert callable(getattr(module, "main", None)), f"tests/bench/{topic}.py cannot run alone"


def test_the_table_shows_figures_ratios_and_failures():
    table = bench.render(
        {
            "ingest": {
                "figures": [{"name": "ingest (first run)", "seconds": 40.4, "rows": 1_000_000, "note": "10 files"}],
                "ratios": [
                    {"name": "ingest / floor", "value": 2.74, "goal": "<= 1.5", "met": False},
                    {"name": "audited day / day", "value": 1.31, "goal": "info"},  # a figure, no verdict
                ],
            },
            "query": {"figures": [], "ratios": [], "error": "RuntimeError: no java"},
        }
    )
    assert "ingest: ingest (first run)" in table and "1,000,000" in table
    assert "ingest: ingest / floor" in table and "missed" in table
    [audited] = [line for line in table.splitlines() if "audited day / day" in line]
    assert audited.split()[-2:] == ["1.31", "info"]
    assert "query: FAILED: RuntimeError: no java" in table


def test_an_unknown_module_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--only", "nonsense"])
    assert exit_info.value.code == 2
    assert "unknown module(s) nonsense" in capsys.readouterr().err
