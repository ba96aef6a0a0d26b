"""PII is tagged where it enters and wherever it flows; gold exposes only what its contract names.

The registry marks PII columns (``Column(pii=True)``); every dbt YAML that documents a column of
that name (sources, staging, silver, gold) must carry ``meta: {pii: true}``, so `dbt docs` and any
policy tooling reading the manifest see it. Gold may expose a PII column only when it is listed
here on purpose (a reviewed decision, not an accident of `select *`)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ingestion.registry import SOURCES

MODELS = Path(__file__).resolve().parents[2] / "models"
GOLD_PII_ALLOWED = {
    ("account_datamart", "account_name"),  # the datamart's purpose: accounts by name for operations
    ("settlement_transactions_enriched", "account_name"),
}


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def documented_columns():
    """(yaml file, model or source table, column, pii flag) for every documented column."""
    for path in sorted(MODELS.rglob("*.yml")):
        doc = yaml.safe_load(path.read_text()) or {}
        owners = [(m["name"], m.get("columns") or []) for m in doc.get("models") or []]
        owners += [(t["name"], t.get("columns") or []) for s in doc.get("sources") or [] for t in s.get("tables", [])]
        for owner, columns in owners:
            for column in columns:
                meta = {**(column.get("meta") or {}), **((column.get("config") or {}).get("meta") or {})}
                yield path.relative_to(MODELS).as_posix(), owner, column["name"], bool(meta.get("pii"))


PII_NAMES = {snake(c.name) for s in SOURCES for c in s.columns if c.pii}


def test_registry_marks_the_personal_columns():
    assert {"first_name", "last_name", "contact_person", "contact_phone", "company_address"} <= PII_NAMES


def test_every_documented_pii_column_is_tagged():
    untagged = [
        (path, owner, name) for path, owner, name, pii in documented_columns() if snake(name) in PII_NAMES and not pii
    ]
    assert untagged == []


def test_gold_exposes_only_reviewed_pii_columns():
    exposed = {
        (owner, name)
        for path, owner, name, pii in documented_columns()
        if path.startswith("gold/") and (pii or snake(name) in PII_NAMES)
    }
    assert exposed == GOLD_PII_ALLOWED
