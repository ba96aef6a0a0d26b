"""Deterministic demo data: generators that write landing files the way producers deliver them."""

from __future__ import annotations

from pathlib import Path

from ingestion.config import SHARED_DATASETS
from lakehouse.demo import airline, datamart, events, invoices, telecom

DEMO_TABLES = [
    "bronze.telecom_subscriptions",
    "silver.subscriptions",
    "gold.subscriptions_by_plan",
    "gold.subscription_loads",
    "bronze.airline_airport_codes",
    "bronze.airline_daily_flights",
    "silver.airports",
    "silver.flights",
    "gold.daily_flights_processed",
    "gold.flight_delay_summary",
    "bronze.events_user_events",
    "silver.user_events",
    "gold.user_event_lag",
    "gold.user_activity_daily",
    "bronze.invoices_accounts",
    "bronze.invoices_invoices",
    "bronze.invoices_line_items",
    "bronze.invoices_skus",
    "silver.invoice_spending",
    "gold.account_features",
    "gold.invoice_features",
    "bronze.datamart_account",
    "bronze.datamart_settlement_transaction",
    "silver.accounts",
    "silver.settlement_transactions",
    "gold.account_datamart",
    "gold.settlement_transactions_enriched",
    "gold.adjustments",
    "bronze.quarantine",
]


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
