"""Payments datamart extracts: six tables of an operational database, one change extract per table
and day under ``datamart/<table>/<table>_<YYYYmmddTHHMMSS>.csv`` (named after the extract time).

An extract holds the rows that were new or changed since the previous one; a key appears again
when it changes. The scenario is scripted so every rule of the datamart is exercised:

- day 1: accounts, metadata, risk and settlement transactions arrive; ``queue`` and ``adjustment``
  have not arrived yet (the run warns that they never did); the last account has no metadata or
  risk at all;
- day 2: queue and adjustment extracts arrive (including the day-1 extract, delivered late);
  updates; a *tie* (a new version of an account with the same ``updated_at`` as the current one:
  the later arrival wins); the same key twice in one extract (the later record wins); transaction
  status changes re-sent with the same ``created_at``; two accounts and an adjustment soft-deleted.
  An early account extract of the day (older ``updated_at`` than the one delivered) is held back;
- day 3: that held-back extract arrives *late* (it must not overwrite newer rows, nor resurrect a
  deleted account); one deleted account is un-deleted; a queue moves to another account; a queue,
  a transaction and a metadata row are soft-deleted; new accounts and transactions;
- days 4..n-1: random inserts and updates on a coarse time grid (many equal timestamps);
- the last day (when there are at least 4): only ``account_risk`` changes, so a dimension-only
  change must reach gold without any new transaction.

``is_deleted`` is a column of an extract only when one of its rows carries a flag (a column absent
from a file is null). Timestamps are ``yyyy-MM-dd HH:mm:ss``, some with a fraction. Deterministic
for a given seed.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from ingestion.registry import SOURCES as REGISTRY

# The tables and their columns are the registry's (ingestion/registry.py, the one list): an extract
# has every registry column but the optional soft-delete flag, added only when a row carries it.
SOURCES = {source.name.removeprefix("datamart_"): source for source in REGISTRY if source.domain == "datamart"}
TABLES = tuple(SOURCES)
COLUMNS = {
    table: tuple(column.name for column in source.columns if column.name != "is_deleted")
    for table, source in SOURCES.items()
}
KEYS = {table: source.primary_key[0] for table, source in SOURCES.items()}
CHANGED_AT = {table: "created_at" if table == "settlement_transaction" else "updated_at" for table in TABLES}

NAMES = ["Acme", "Borealis", "Cobalt", "Dunmore", "Elbe", "Fjord", "Granite", "Harbor", "Iris", "Juniper"]
SUFFIXES = ["Trading", "Foods", "Labs", "Travel", "Retail", "Logistics"]
COUNTRIES = {"DE": "EUR", "FR": "EUR", "GB": "GBP", "US": "USD"}
INDUSTRIES = ["retail", "travel", "software", "food", "logistics"]
TIERS = ["bronze", "silver", "gold"]
KYC = ["pending", "verified", "verified", "rejected"]
REASONS = ["chargeback", "fee refund", "manual correction", "fx difference"]


def _stamp(at: dt.datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` with the fraction only when there is one (1 to 6 digits)."""
    text = at.strftime("%Y-%m-%d %H:%M:%S")
    if at.microsecond:
        text += "." + f"{at.microsecond:06d}".rstrip("0")
    return text


class _Database:
    """The operational database: current rows per table, and the extract rows of the day."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.rows: dict[str, dict[str, dict[str, str]]] = {table: {} for table in TABLES}
        self.changes: dict[str, list[dict[str, str]]] = {table: [] for table in TABLES}
        self.counters = dict.fromkeys(TABLES, 0)

    def next_id(self, table: str, prefix: str) -> str:
        self.counters[table] += 1
        return f"{prefix}-{self.counters[table]:04d}"

    def put(self, table: str, row: dict[str, str], at: dt.datetime | None = None, **flags: str) -> dict[str, str]:
        """Write a version of a row (at ``at``) and record it for the day's extract."""
        row = dict(row)
        if at is not None:
            row[CHANGED_AT[table]] = _stamp(at)
        row.pop("is_deleted", None)
        row.update(flags)
        self.rows[table][row[KEYS[table]]] = row
        self.changes[table].append(row)
        return row

    def live(self, table: str) -> list[dict[str, str]]:
        return [r for k, r in sorted(self.rows[table].items()) if r.get("is_deleted") != "true"]

    def take_changes(self) -> dict[str, list[dict[str, str]]]:
        taken, self.changes = self.changes, {table: [] for table in TABLES}
        return taken

    # --- entities -------------------------------------------------------------------------
    def new_account(self, at: dt.datetime, with_profile: bool = True) -> str:
        rng = self.rng
        account_id = self.next_id("account", "ACC")
        country = rng.choice(sorted(COUNTRIES))
        self.put(
            "account",
            {
                "account_id": account_id,
                "account_name": f"{rng.choice(NAMES)} {rng.choice(SUFFIXES)}",
                "status": "active",
                "country": country,
                "created_at": _stamp(at),
            },
            at,
        )
        if with_profile:
            self.put(
                "account_metadata",
                {
                    "account_id": account_id,
                    "industry": rng.choice(INDUSTRIES),
                    "tier": rng.choice(TIERS),
                    "kyc_status": rng.choice(KYC),
                },
                at,
            )
            self.put_risk(account_id, at)
        for _ in range(rng.randint(1, 2)):
            self.new_queue(account_id, at)
        return account_id

    def put_risk(self, account_id: str, at: dt.datetime) -> None:
        score = self.rng.randint(0, 10000) / 100
        level = "high" if score >= 70 else "medium" if score >= 40 else "low"
        self.put("account_risk", {"account_id": account_id, "risk_score": f"{score:.2f}", "risk_level": level}, at)

    def new_queue(self, account_id: str, at: dt.datetime) -> str:
        queue_id = self.next_id("queue", "Q")
        kind = self.rng.choice(["cards", "sepa", "wire", "payouts"])
        self.put("queue", {"queue_id": queue_id, "account_id": account_id, "queue_name": kind, "status": "open"}, at)
        return queue_id

    def new_transaction(self, at: dt.datetime) -> None:
        rng = self.rng
        queue = rng.choice(self.live("queue"))
        account = self.rows["account"].get(queue["account_id"], {})
        currency = COUNTRIES.get(account.get("country", ""), "EUR")
        if rng.random() < 0.1:
            currency = "USD" if currency != "USD" else "EUR"  # a few accounts settle in two currencies
        self.put(
            "settlement_transaction",
            {
                "transaction_id": self.next_id("settlement_transaction", "TX"),
                "queue_id": queue["queue_id"],
                "amount": f"{rng.randint(100, 500000) / 100:.2f}",
                "currency": currency,
                "status": rng.choice(["pending", "settled"]),
            },
            at,
        )

    def new_adjustment(self, at: dt.datetime) -> None:
        rng = self.rng
        transaction = rng.choice(list(self.rows["settlement_transaction"].values()))
        queue = self.rows["queue"].get(transaction["queue_id"], {})
        self.put(
            "adjustment",
            {
                "adjustment_id": self.next_id("adjustment", "ADJ"),
                "account_id": queue.get("account_id", ""),
                "transaction_id": transaction["transaction_id"] if rng.random() < 0.8 else "",
                "amount": f"{rng.randint(-20000, 20000) / 100:.2f}",
                "reason": rng.choice(REASONS),
            },
            at,
        )

    def update_some(self, table: str, count: int, at: dt.datetime | None, change) -> list[str]:
        """New versions of ``count`` live rows (``at=None`` keeps their change timestamp: a tie)."""
        rows = self.live(table)
        chosen = self.rng.sample(rows, k=min(count, len(rows)))
        for row in chosen:
            self.put(table, {**row, **change(row)}, at)
        return [row[KEYS[table]] for row in chosen]


def _write(folder: Path, table: str, at: dt.datetime, rows: list[dict[str, str]]) -> Path:
    columns = list(COLUMNS[table])
    if any(row.get("is_deleted") for row in rows):
        columns.append("is_deleted")
    lines = [",".join(columns)] + [",".join(row.get(c, "") for c in columns) for row in rows]
    path = folder / table / f"{table}_{at:%Y%m%dT%H%M%S}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def generate(
    out_dir: Path, days: int = 3, accounts: int = 8, seed: int = 11, start: dt.date = dt.date(2024, 1, 1)
) -> list[list[Path]]:
    """Write the extracts under ``out_dir/datamart/`` and return their paths grouped by arrival day."""
    if accounts < 6:
        raise ValueError("the scenario needs at least 6 accounts")
    rng = random.Random(seed)
    db = _Database(rng)
    folder = out_dir / "datamart"
    arrivals: list[list[Path]] = [[] for _ in range(days)]

    def deliver(day: int, at: dt.datetime, changes: dict[str, list[dict[str, str]]], late: bool = False) -> None:
        """Write one extract per changed table, arriving on ``day`` (or the next day when late)."""
        arrival = day + 1 if late else day
        if arrival >= len(arrivals):
            return  # not delivered within the window
        for table in TABLES:
            if changes.get(table):
                arrivals[arrival].append(_write(folder, table, at, changes[table]))

    for day in range(days):
        base = dt.datetime.combine(start + dt.timedelta(days=day), dt.time())
        grid = [base + dt.timedelta(hours=h) for h in (6, 12, 18)]  # coarse: many equal timestamps
        if day == 0:
            for _ in range(accounts - 1):
                db.new_account(rng.choice(grid))
            db.new_account(grid[0], with_profile=False)  # never gets metadata or risk
            for _ in range(accounts * 3):
                db.new_transaction(rng.choice(grid))
            for _ in range(accounts // 2):
                db.new_adjustment(grid[2])
            changes = db.take_changes()
            later = ("queue", "adjustment")  # these tables start arriving a day after the others
            deliver(day, grid[2], {t: rows for t, rows in changes.items() if t not in later})
            deliver(day, grid[2], {t: rows for t, rows in changes.items() if t in later}, late=True)
        elif day == 1:
            _day_two_early(db, grid, accounts)
            deliver(day, grid[0], db.take_changes(), late=True)  # an early extract, delivered a day late
            _day_two(db, rng, grid, accounts)
            deliver(day, grid[2], db.take_changes())
        elif day == 2:
            _day_three(db, rng, grid, accounts)
            deliver(day, grid[2], db.take_changes())
        elif day == days - 1:
            db.update_some("account_risk", 2, grid[1], lambda row: _risk_change(rng, row))
            deliver(day, grid[2], db.take_changes())
        else:
            _random_day(db, rng, grid, accounts)
            deliver(day, grid[2], db.take_changes())
    return arrivals


def _risk_change(rng: random.Random, row: dict[str, str]) -> dict[str, str]:
    score = float(row["risk_score"] or 0)
    delta = rng.randint(5, 40)
    score = score + delta if score + delta <= 99.99 else score - delta  # always a real change
    return {"risk_score": f"{score:.2f}", "risk_level": "high" if score >= 70 else "medium" if score >= 40 else "low"}


def _day_two_early(db: _Database, grid: list[dt.datetime], accounts: int) -> None:
    """Account versions superseded later the same day; their extract is delivered a day late."""
    for row in db.live("account")[: max(2, accounts // 3)]:
        db.put("account", {**row, "status": "review"}, grid[0])


def _day_two(db: _Database, rng: random.Random, grid: list[dt.datetime], accounts: int) -> None:
    live = db.live("account")
    # newer versions of the held-back keys, and of a few more
    for row in live[: max(2, accounts // 3) + 1]:
        db.put("account", {**row, "status": "active", "country": row["country"]}, grid[1])
    # a tie: the same updated_at as the current version, other values; the later arrival wins
    tie = db.rows["account"][live[-1]["account_id"]]
    db.put("account", {**tie, "status": "suspended"})
    # the same key twice in one extract, same timestamp: the later record wins
    twice = db.rows["account"][live[-2]["account_id"]]
    db.put("account", {**twice, "account_name": twice["account_name"] + " GmbH"}, grid[2])
    db.put("account", {**twice, "account_name": twice["account_name"] + " AG"}, grid[2])
    # two accounts soft-deleted (both also have versions in the late extract)
    for row in live[:2]:
        db.put("account", db.rows["account"][row["account_id"]], grid[2], is_deleted="true")
    db.update_some("account_metadata", 2, grid[1], lambda row: {"tier": rng.choice(TIERS), "kyc_status": "verified"})
    db.update_some("account_risk", 2, grid[1], lambda row: _risk_change(rng, row))
    # transactions re-sent with a new status and the same created_at (a tie: arrival order wins)
    db.update_some("settlement_transaction", 3, None, lambda row: {"status": "settled"})
    for _ in range(accounts):
        db.new_transaction(rng.choice(grid))
    for _ in range(2):
        db.new_adjustment(grid[1])
    deleted = rng.choice(db.live("adjustment"))
    db.put("adjustment", deleted, grid[2], is_deleted="true")


def _day_three(db: _Database, rng: random.Random, grid: list[dt.datetime], accounts: int) -> None:
    deleted = sorted(k for k, r in db.rows["account"].items() if r.get("is_deleted") == "true")
    db.put("account", {**db.rows["account"][deleted[-1]]}, grid[0], is_deleted="false")  # un-delete
    queues = db.live("queue")
    live_accounts = [r["account_id"] for r in db.live("account")]
    moved = next(q for q in queues if q["account_id"] in live_accounts)  # its old account stays live
    target = next(a for a in live_accounts if a != moved["account_id"])
    db.put("queue", {**moved, "account_id": target}, grid[1])  # a queue changes account
    db.put("queue", queues[-1], grid[1], is_deleted="true")
    db.put("settlement_transaction", rng.choice(db.live("settlement_transaction")), None, is_deleted="true")
    db.put("account_metadata", db.live("account_metadata")[-1], grid[1], is_deleted="true")
    for _ in range(2):
        db.new_account(rng.choice(grid))
    for _ in range(accounts):
        db.new_transaction(rng.choice(grid))
    db.update_some("account_risk", 1, grid[0].replace(microsecond=500000), lambda row: _risk_change(rng, row))
    db.new_adjustment(grid[2].replace(microsecond=123456))


def _random_day(db: _Database, rng: random.Random, grid: list[dt.datetime], accounts: int) -> None:
    db.update_some("account", 2, rng.choice(grid), lambda row: {"status": rng.choice(["active", "suspended"])})
    db.update_some("account_metadata", 1, rng.choice(grid), lambda row: {"tier": rng.choice(TIERS)})
    db.update_some("account_risk", 2, rng.choice(grid), lambda row: _risk_change(rng, row))
    if rng.random() < 0.5:
        db.new_account(rng.choice(grid))
    for _ in range(accounts):
        db.new_transaction(rng.choice(grid))
    db.new_adjustment(rng.choice(grid))
