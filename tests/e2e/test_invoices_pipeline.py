"""Invoice ML features end to end: the original job's check values on the real files, then three
generated daily deliveries fed one run at a time; after them the features equal a single load of
the same files, and both equal an independent plain-Python computation (exact decimals)."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import itertools
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from lakehouse.demo import invoices
from tests.conftest import REPO
from tests.e2e.helpers import scenario

pytestmark = pytest.mark.e2e

INVOICES_ONLY = ["--select", "path:models/staging/invoices+"]
QUERIES = {
    "accounts": "select * from gold.account_features",
    "invoices": "select * from gold.invoice_features",
    "history": "select * from gold.account_features_history",
    "quarantine": "select count(*) as n from bronze.quarantine",
}
ACCOUNT_COLUMNS = (
    "account_id",
    "company_name",
    "joining_date",
    "feature_account_age_day",
    "feature_account_age_year",
    "feature_customer_age_over_one_year",
    "feature_total_invoices",
    "feature_avg_invoice_interval_day",
    "as_of_date",
)


def half_up(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), ROUND_HALF_UP)


def text(value: object) -> str:
    return "" if value is None else str(value)


def reference(deliveries: list[list[Path]], as_of: dt.date):
    """Features from the CSV files, deliveries in arrival order (within one delivery, file names in
    order): the last delivery of an account or SKU wins; every line counts."""
    accounts, invoice_rows, lines, prices = {}, {}, [], {}
    for delivery in deliveries:
        for path in sorted(delivery, key=lambda p: p.as_posix()):
            with open(path, newline="") as handle:
                rows = list(csv.DictReader(handle))
            table = path.stem if path.stem in invoices.TABLES else path.parent.name
            for row in rows:
                if table == "accounts":
                    day, month, year = (int(x) for x in row["joining_date"].split("/"))
                    accounts[int(row["account_id"])] = (row["company_name"], dt.date(year, month, day))
                elif table == "invoices":
                    invoice_rows[int(row["invoice_id"])] = (
                        int(row["account_id"]),
                        dt.date.fromisoformat(row["date_issued"]),
                    )
                elif table == "invoice_line_items":
                    lines.append((int(row["invoice_id"]), row["item_id"], int(row["quantity"])))
                else:
                    prices[row["item_id"]] = Decimal(row["item_retail_price"])
    account_features = {}
    for account, (company, joined) in accounts.items():
        if joined > as_of:
            continue
        days = (as_of - joined).days
        years = half_up(Decimal(days) / 365, "0.01")
        dates = sorted(d for a, d in invoice_rows.values() if a == account and d <= as_of)
        gaps = [(b - a).days for a, b in itertools.pairwise(dates)]
        interval = half_up(Decimal(sum(gaps)) / len(gaps), "1") if gaps else None
        account_features[str(account)] = tuple(
            text(v) for v in (account, company, joined, days, years, int(years > 1), len(dates), interval, as_of)
        )
    spending: dict[int, Decimal | None] = dict.fromkeys(invoice_rows, Decimal(0))
    for invoice, item, quantity in lines:
        if invoice in spending:
            price = prices.get(item)
            current = spending[invoice]
            spending[invoice] = None if price is None or current is None else current + quantity * price
    invoice_features = {
        str(invoice): (text(account), text(issued), text(None if total is None else half_up(total, "0.01")))
        for invoice, ((account, issued), total) in ((i, (invoice_rows[i], spending[i])) for i in invoice_rows)
    }
    return account_features, invoice_features


def features(state) -> tuple[dict, dict]:
    accounts = {r["account_id"]: tuple(r[c] for c in ACCOUNT_COLUMNS) for r in state["accounts"]}
    invoices_ = {
        r["invoice_id"]: (r["account_id"], r["date_issued"], r["feature_invoice_spending"]) for r in state["invoices"]
    }
    return accounts, invoices_


def land(paths: list[Path], outbox: Path) -> dict:
    return {"land": [[str(p), str(p.relative_to(outbox))] for p in paths]}


def readme_sql() -> list[str]:
    """Every statement of the README's ```sql blocks, as a reader pastes it into `lakehouse query`
    (blocks split on `;` at the end of a statement; comment-only pieces dropped)."""
    statements = []
    for block in re.findall(r"```sql\n(.*?)```", (REPO / "README.md").read_text(), re.S):
        for piece in re.split(r";[ \t]*(?=--|\n|$)", block):
            if any(line.strip() and not line.strip().startswith("--") for line in piece.splitlines()):
                statements.append(piece.strip())
    return statements


def assert_ok(step: dict) -> None:
    assert step["code"] == 0, step["stdout"] + step["stderr"]


def test_real_files_give_the_original_check_values(tmp_path, shared_datasets):
    real = [shared_datasets / "invoices" / f"{table}.csv" for table in invoices.TABLES]
    as_of = dt.date(2021, 3, 19)
    # the README's SQL, run as written (its time-travel commands are run by the daily-deliveries test)
    sql = readme_sql()
    assert len(sql) == 1 and sql[0].startswith("-- every run keeps")
    result, state, *from_readme = scenario(
        tmp_path / "home",
        tmp_path / "landing",
        [
            {"land": [[str(p), f"invoices/{p.stem}/{p.name}"] for p in real]},
            {"cli": ["run", *INVOICES_ONLY, "--vars", "{as_of_date: 2021-03-19}"]},
            {"query": QUERIES},
            *[{"cli": ["query", statement, "--format", "csv"]} for statement in sql],
        ],
    )[1:]
    assert_ok(result)
    for step in from_readme:
        assert_ok(step)
    [compared] = (list(csv.DictReader(io.StringIO(s["stdout"]))) for s in from_readme)
    assert compared == []  # one as-of date so far: nothing a month before it
    assert from_readme[0]["stdout"].split()[0] == "account_id,feature_total_invoices,invoices_a_month_ago"
    accounts, invoice_features = features(state)

    assert accounts["1"][6:8] == ("50", "7") and accounts["2"][6:8] == ("21", "15")
    assert invoice_features["1"][2] == "208.23" and invoice_features["2"][2] == "1245.30"
    assert accounts["1"][1:3] == ("Apex Auto Group", "2018-10-27")  # d/m/yyyy parsed, two-line address read
    assert state["quarantine"] == [{"n": "0"}]
    assert len(accounts) == 200 and len(invoice_features) == 10_253
    expected_accounts, expected_invoices = reference([real], as_of)
    assert accounts == expected_accounts
    assert invoice_features == expected_invoices


def test_daily_deliveries_equal_a_single_load_and_keep_history(tmp_path):
    """Three daily deliveries, one run each; then every run's gold is read back by Iceberg time
    travel (also after a full refresh, which keeps the history partitions), and no table folder
    holds a file that no snapshot references."""
    outbox = tmp_path / "outbox"
    days = invoices.generate(outbox, days=3, accounts_per_day=5, invoices_per_day=20, seed=3)
    dates = ["2021-03-01", "2021-03-02"]

    steps = []
    for index, delivery in enumerate(days):
        as_of = ["--vars", f"{{as_of_date: {dates[index]}}}"] if index < len(dates) else []  # last: today
        steps += [land(delivery, outbox), {"cli": ["run", *INVOICES_ONLY, *as_of]}, {"query": {"now": NOW}}]
    home = tmp_path / "incremental"
    played = scenario(home, tmp_path / "landing_a", [*steps, {"query": {**QUERIES, **SNAPSHOTS}}])
    *per_day, incremental = played
    runs = per_day[1::3]
    moments = [step["now"][0]["at"] for step in per_day[2::3]]  # after each run, before the next one
    for result in runs:
        assert_ok(result)
    # day one: lines of a SKU delivered only on day two are counted, their spending unknown (null)
    assert "warn_line_items_with_unknown_sku" in runs[0]["stdout"]
    assert "warn_line_items_with_unknown_sku" not in runs[1]["stdout"]

    everything = [p for delivery in days for p in delivery]
    _, result, single = scenario(
        tmp_path / "single",
        tmp_path / "landing_b",
        [land(everything, outbox), {"cli": ["run", *INVOICES_ONLY]}, {"query": QUERIES}],
    )
    assert_ok(result)

    assert features(incremental) == features(single)
    [as_of_text] = {r["as_of_date"] for r in single["accounts"]}  # the default: today in UTC
    today = dt.datetime.now(dt.UTC).date()
    assert dt.date.fromisoformat(as_of_text) in (today, today - dt.timedelta(days=1))
    expected_accounts, expected_invoices = reference(days, dt.date.fromisoformat(as_of_text))
    assert features(single) == (expected_accounts, expected_invoices)
    assert all(spending != "" for _, _, spending in expected_invoices.values())  # every SKU known by now

    # One history partition per as-of date; each equals the features computed from what had
    # arrived by then (the day-one partition predates the renamed account and later invoices).
    as_of_dates = [*dates, as_of_text]
    assert history_by_date(incremental["history"]) == {
        date: reference(days[: index + 1], dt.date.fromisoformat(date))[0] for index, date in enumerate(as_of_dates)
    }

    # Time travel: what each run wrote, by the moment after it and by its snapshot id; then a full
    # refresh replaces the tables in place (one more snapshot each) and keeps the history.
    snapshot_ids = {table: [row["snapshot_id"] for row in incremental[table]] for table in TRAVELLED.values()}
    assert all(len(ids) == 3 for ids in snapshot_ids.values()), snapshot_ids  # one per run, none lost
    travel = time_travel(moments, snapshot_ids)
    # the same moments with --as-of on the default engine (DuckDB, the published tables): no JVM
    as_of = {
        f"{name} timestamp {run}": ["query", f"select * from {table}", "--as-of", moment, "--format", "csv"]
        for name, table in TRAVELLED.items()
        for run, moment in enumerate(moments)
    }
    *travelled_before, refreshed, after_refresh, referenced = scenario(
        home,
        tmp_path / "landing_a",
        [
            *[{"cli": ["query", sql, "--engine", "spark", "--format", "csv"]} for sql in travel.values()],  # README
            *[{"cli": command} for command in as_of.values()],
            {"cli": ["run", "--full-refresh", *INVOICES_ONLY]},
            {"query": {**travel, **QUERIES}},
            {"query": referenced_files_queries(home)},
        ],
    )
    for step in travelled_before:
        assert_ok(step)
    before_refresh = {
        name: list(csv.DictReader(io.StringIO(step["stdout"])))
        for name, step in zip([*travel, *[f"duckdb {n}" for n in as_of]], travelled_before, strict=True)
    }
    for name in as_of:  # DuckDB as of a moment == Spark's `timestamp as of` the same moment, value for value
        key = functools.partial(json.dumps, sort_keys=True)
        assert sorted(before_refresh.pop(f"duckdb {name}"), key=key) == sorted(before_refresh[name], key=key), name
    assert_ok(refreshed)
    for state in (before_refresh, after_refresh):
        for run, moment in enumerate(moments):
            expected_invoices_then = reference(days[: run + 1], dt.date.fromisoformat(as_of_dates[run]))[1]
            for how in ("timestamp", "version"):
                assert features({"accounts": [], "invoices": state[f"invoices {how} {run}"]})[1] == (
                    expected_invoices_then
                ), (how, run, moment)
                assert history_by_date(state[f"history {how} {run}"]) == {
                    date: reference(days[: index + 1], dt.date.fromisoformat(date))[0]
                    for index, date in enumerate(as_of_dates[: run + 1])
                }, (how, run)
    assert features(after_refresh) == features(single)
    assert history_by_date(after_refresh["history"]) == history_by_date(incremental["history"])  # kept

    # Every silver and gold table folder: no file outside what the table's snapshots reference.
    assert unreferenced_files(home, referenced) == {}


NOW = "select cast(current_timestamp() as string) as at"
TRAVELLED = {"invoices": "gold.invoice_features", "history": "gold.account_features_history"}
SNAPSHOTS = {table: f"select snapshot_id from {table}.snapshots order by committed_at" for table in TRAVELLED.values()}


def time_travel(moments: list[str], snapshot_ids: dict[str, list[str]]) -> dict[str, str]:
    queries = {}
    for name, table in TRAVELLED.items():
        for run, (moment, snapshot) in enumerate(zip(moments, snapshot_ids[table], strict=True)):
            queries[f"{name} timestamp {run}"] = f"select * from {table} timestamp as of '{moment}'"
            queries[f"{name} version {run}"] = f"select * from {table} version as of {snapshot}"
    return queries


def history_by_date(rows: list[dict]) -> dict[str, dict]:
    history: dict[str, dict] = {}
    for row in rows:
        history.setdefault(row["as_of_date"], {})[row["account_id"]] = tuple(row[c] for c in ACCOUNT_COLUMNS)
    return history


def table_dirs(home: Path) -> dict[str, Path]:
    """Every silver and gold Iceberg table folder in the warehouse, by table name."""
    warehouse = home / "warehouse"
    return {
        f"{db.stem}.{table.name}": table
        for db in (warehouse / "silver.db", warehouse / "gold.db")
        for table in sorted(db.iterdir())
        if any(not p.name.endswith(".gz.metadata.json") for p in table.glob("metadata/*.metadata.json"))
    }  # (Iceberg views, i.e. staging, keep only gzipped view metadata)


def referenced_files_queries(home: Path) -> dict[str, str]:
    """Per table, every file its metadata references: the metadata log (which ends with the current
    metadata file), every snapshot's manifest list, every manifest and every data or delete file."""
    return {
        name: f"""
        select file as path from {name}.metadata_log_entries
        union all select manifest_list from {name}.snapshots
        union all select path from {name}.all_manifests
        union all select file_path from {name}.all_files
        """
        for name in table_dirs(home)
    }


def unreferenced_files(home: Path, referenced: dict[str, list[dict]]) -> dict[str, list[str]]:
    orphans = {}
    for name, folder in table_dirs(home).items():
        known = {row["path"].removeprefix("file:").replace("///", "/") for row in referenced[name]}
        present = {str(p) for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".crc")}
        if present - known:
            orphans[name] = sorted(present - known)
    return orphans
