"""Payments datamart end to end: generated change extracts land one day at a time; after every run
the singular dbt tests prove incremental == full rebuild; gold is compared with a plain-Python
reference computed from the CSV files; finally `--full-refresh` gives identical tables.

The scenario (lakehouse/demo/datamart.py): day 1 without queue and adjustment (warned), day 2
ties and deletes, day 3 a late extract, an un-delete, a queue moving account, day 4 only
account_risk changes (a dimension-only change must reach gold)."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from lakehouse.demo import datamart
from tests.e2e.helpers import built_tables, scenario

pytestmark = pytest.mark.e2e

DATAMART_ONLY = ["--select", "path:models/staging/datamart+"]
TS = "yyyy-MM-dd HH:mm:ss.SSSSSS"
GOLD_SQL = {
    "account_datamart": f"""
        select account_id, account_name, account_status, country, industry, tier, kyc_status,
               cast(risk_score as string) as risk_score, risk_level, queue_count, transaction_count,
               settlement_currency, cast(total_amount as string) as total_amount,
               date_format(last_transaction_at, '{TS}') as last_transaction_at
        from gold.account_datamart""",
    "enriched": """
        select transaction_id, cast(amount as string) as amount, currency, transaction_status, queue_id,
               queue_name, account_id, account_name
        from gold.settlement_transactions_enriched""",
    "adjustments": """
        select adjustment_id, account_id, transaction_id, cast(amount as string) as amount, reason
        from gold.adjustments""",
}


# --- the reference: plain Python over the delivered CSV files --------------------------------------
def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def parse_ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def current_rows(batches: list[list[tuple[str, Path]]], table: str) -> dict[str, dict[str, str]]:
    """Latest version per key (change timestamp, then batch, file name, record); deleted ones dropped."""
    key, changed = datamart.KEYS[table], datamart.CHANGED_AT[table]
    versions: dict[str, tuple[tuple, dict[str, str]]] = {}
    for batch, files in enumerate(batches, start=1):
        for rel, path in files:
            if not rel.startswith(f"datamart/{table}/"):
                continue
            for record, row in enumerate(read_csv(path), start=1):
                order = (parse_ts(row[changed]), batch, rel, record)
                if row[key] not in versions or order > versions[row[key]][0]:
                    versions[row[key]] = (order, row)
    return {k: row for k, (_, row) in versions.items() if row.get("is_deleted", "") != "true"}


def reference(batches: list[list[tuple[str, Path]]]) -> dict[str, list[tuple]]:
    accounts = current_rows(batches, "account")
    metadata = current_rows(batches, "account_metadata")
    risk = current_rows(batches, "account_risk")
    queues = current_rows(batches, "queue")
    transactions = current_rows(batches, "settlement_transaction")
    adjustments = current_rows(batches, "adjustment")
    gold = []
    for account_id, account in accounts.items():
        meta, score = metadata.get(account_id, {}), risk.get(account_id, {})
        own_queues = {q for q, row in queues.items() if row["account_id"] == account_id}
        settled = [t for t in transactions.values() if t["queue_id"] in own_queues]
        currencies = {t["currency"] for t in settled}
        gold.append(
            (
                account_id,
                account["account_name"],
                account["status"],
                account["country"],
                meta.get("industry", ""),
                meta.get("tier", ""),
                meta.get("kyc_status", ""),
                f"{Decimal(score['risk_score']):.4f}" if score else "",
                score.get("risk_level", ""),
                str(len(own_queues)),
                str(len(settled)),
                (currencies.pop() if len(currencies) == 1 else "MULTIPLE") if currencies else "",
                f"{sum(Decimal(t['amount']) for t in settled):.2f}"
                if len({t["currency"] for t in settled}) == 1
                else "",
                max(parse_ts(t["created_at"]) for t in settled).strftime("%Y-%m-%d %H:%M:%S.%f") if settled else "",
            )
        )
    enriched = []
    for transaction_id, row in transactions.items():
        queue = queues.get(row["queue_id"], {})
        account = accounts.get(queue.get("account_id", ""), {})
        enriched.append(
            (
                transaction_id,
                f"{Decimal(row['amount']):.2f}",
                row["currency"],
                row["status"],
                row["queue_id"],
                queue.get("queue_name", ""),
                account.get("account_id", ""),
                account.get("account_name", ""),
            )
        )
    adjusted = [
        (k, r["account_id"], r["transaction_id"], f"{Decimal(r['amount']):.2f}", r["reason"])
        for k, r in adjustments.items()
    ]
    return {"account_datamart": sorted(gold), "enriched": sorted(enriched), "adjustments": sorted(adjusted)}


def as_tuples(state: dict[str, list[dict[str, str]]]) -> dict[str, list[tuple]]:
    return {name: sorted(tuple(row.values()) for row in state[name]) for name in GOLD_SQL}


# --- the scenario -------------------------------------------------------------------------------
def test_datamart_incremental_equals_reference_and_full_refresh(tmp_path):
    outbox = tmp_path / "outbox"
    days = datamart.generate(outbox, days=4, accounts=8, seed=11)
    delivered = [[(path.relative_to(outbox).as_posix(), path) for path in paths] for paths in days]
    steps = []
    for files in delivered:
        steps += [{"land": [[str(path), rel] for rel, path in files]}, {"cli": ["run", *DATAMART_ONLY]}]
    all_tables = built_tables(*DATAMART_ONLY)  # every silver and gold table of the datamart
    everything = {t: f"select * from {t}" for t in all_tables}
    steps += [
        {"query": {**GOLD_SQL, **everything}},
        {"cli": ["run", "--full-refresh", *DATAMART_ONLY]},
        {"query": everything},
    ]
    *runs, incremental, refreshed, rebuilt = scenario(tmp_path / "home", tmp_path / "landing", steps)
    for day, result in enumerate(runs[1::2], start=1):
        # exit 0 includes the singular tests: every silver and gold table equals a full rebuild
        assert result["code"] == 0, f"day {day}\n{result['stdout']}{result['stderr']}"
        missing = [
            line for line in result["stdout"].splitlines() if line.startswith("warning: datamart: no file has ever")
        ]
        if day == 1:
            assert missing == [
                "warning: datamart: no file has ever arrived for datamart_queue (gold is built without it)",
                "warning: datamart: no file has ever arrived for datamart_adjustment (gold is built without it)",
            ]
        else:
            assert missing == []

    # gold after the last incremental run equals the plain-Python reference
    assert as_tuples(incremental) == reference(delivered)

    # the scenario's cases, asserted directly (independent of the reference)
    gold = {r["account_id"]: r for r in incremental["account_datamart"]}
    assert "ACC-0001" not in gold  # deleted on day 2; the late day-2 extract does not resurrect it
    assert gold["ACC-0002"]["account_status"] == "active"  # deleted, then un-deleted on day 3
    assert gold["ACC-0003"]["account_status"] == "active"  # the late 'review' version lost
    assert gold["ACC-0008"]["account_status"] == "suspended"  # tie on updated_at: later arrival won
    assert gold["ACC-0007"]["account_name"].endswith(" AG")  # same key twice in one extract
    assert gold["ACC-0008"]["industry"] == "" and gold["ACC-0008"]["risk_score"] == ""  # left joins
    assert any(r["settlement_currency"] == "MULTIPLE" and r["total_amount"] == "" for r in gold.values())

    # day 4 delivered only account_risk; the gold rows of those accounts (and only those) differ from
    # the day-3 state, and the incremental gold above has the new values: a dimension-only change
    # reached gold without any new transaction
    assert {rel.split("/")[1] for rel, _ in delivered[3]} == {"account_risk"}
    before = {row[0]: row for row in reference(delivered[:3])["account_datamart"]}
    after = {row[0]: row for row in reference(delivered)["account_datamart"]}
    risk_keys = {row["account_id"] for _, path in delivered[3] for row in read_csv(path)}
    changed = {a for a in after if after[a] != before.get(a)}
    assert changed == risk_keys & after.keys() and changed
    assert all(gold[a]["risk_score"] == after[a][7] != before[a][7] for a in changed)

    # a full refresh from bronze gives exactly the same silver and gold tables (lineage included)
    assert refreshed["code"] == 0, refreshed["stdout"] + refreshed["stderr"]
    for table in all_tables:
        expected = sorted(tuple(r.items()) for r in incremental[table])
        assert sorted(tuple(r.items()) for r in rebuilt[table]) == expected, table
