"""The package line: `ingestion/` is what a Glue job ships, so it never imports the operator tooling."""

import ast
from pathlib import Path

INGESTION = Path(__file__).resolve().parents[2] / "ingestion"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_ingestion_never_imports_lakehouse():
    # nor rich: `lakehouse run` shows ingestion's progress through a plain callable (ingest.Progress)
    offenders = {
        str(path.relative_to(INGESTION.parent)): sorted(
            name for name in imported_modules(path) if name.split(".")[0] in ("lakehouse", "rich")
        )
        for path in sorted(INGESTION.rglob("*.py"))
    }
    offenders = {path: names for path, names in offenders.items() if names}
    assert offenders == {}, f"ingestion/ must not import lakehouse/ (or rich): {offenders}"


def test_the_check_sees_the_package():
    # guards the test above against passing vacuously on an empty or moved folder
    assert {"ingest.py", "ledger.py", "spark.py"} <= {path.name for path in INGESTION.glob("*.py")}
