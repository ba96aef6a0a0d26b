"""Deterministic demo data: generators that write landing files the way producers deliver them."""

from __future__ import annotations

from pathlib import Path

from ingestion.config import SHARED_DATASETS, Settings
from ingestion.registry import QUARANTINE_TABLE, SOURCES
from lakehouse.demo import airline, datamart, events, invoices, telecom


def demo_tables(settings: Settings) -> list[str]:
    """The tables the demo shows, per domain of the registry: its bronze tables, then the silver and
    gold tables dbt builds for it (from the dbt project); the quarantine last."""
    from lakehouse.dbt_runner import list_relations

    built = list_relations(settings)
    tables = []
    for domain in dict.fromkeys(s.domain for s in SOURCES):
        tables += [s.table for s in SOURCES if s.domain == domain]
        for layer in ("silver", "gold"):
            tables += sorted(r.name for r in built if r.domain == domain and r.layer == layer)
    return [*tables, QUARANTINE_TABLE]


def arrivals(outbox: Path, days: int, rows: int) -> list[list[Path]]:
    """Generate every domain's files under ``outbox``; return them grouped by arrival day."""
    subscriptions = telecom.generate(outbox, days=days, rows_per_day=rows)
    shared_airports = SHARED_DATASETS / "airline" / "airports_codes.csv"
    flights = airline.generate(outbox, days=days, rows_per_day=rows * 10, airports_csv=shared_airports)
    user_events = events.generate(outbox, days=days)
    invoice_days = invoices.generate(outbox, days=days, invoices_per_day=rows)
    extracts = datamart.generate(outbox, days=days, accounts=min(max(6, rows // 2), 200))  # a small dimension
    return [
        [sub, *day, ev, *inv, *dm]
        for sub, day, ev, inv, dm in zip(subscriptions, flights, user_events, invoice_days, extracts, strict=True)
    ]
