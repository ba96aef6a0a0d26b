"""Invoice case study: the four tables under ``invoices/<table>/``, one delivery per day.

Same shapes as the real files (``../shared/datasets/invoices``): ``company_address`` is a quoted
field spanning two lines, ``joining_date`` is ``d/m/yyyy``, ``item_id`` looks like an ISBN, prices
have eight decimals. Day by day: new accounts (some never invoiced), invoices with their lines,
and changes that must reach the features of EARLIER invoices: a SKU re-priced, a SKU that lines
referenced before it was known (spending null, then priced), an account renamed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from pathlib import Path

COMPANIES = ["Apex Auto", "Velocity Motors", "Prime Cars", "Metro Wheels", "Summit Dealers", "Harbor Autos"]
PEOPLE = ["Brent Barnes", "Ana Ruiz", "Wei Zhang", "Ola Nordmann", "Kofi Mensah", "Sara Cohen"]
ITEMS = ["AutoAdBoost", "CarPromoPro", "DriveMarketMax", "LeadFinder", "ShowroomPlus"]
TABLES = ("accounts", "skus", "invoices", "invoice_line_items")


def isbn(rng: random.Random) -> str:
    return f"{rng.randint(0, 1)}-{rng.randint(10, 99999)}-{rng.randint(100, 999)}-{rng.choice('0123456789X')}"


def to_csv(header: list[str], rows: list[list[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def generate(
    out_dir: Path,
    days: int = 3,
    accounts_per_day: int = 6,
    invoices_per_day: int = 25,
    seed: int = 9,
    start: dt.date = dt.date(2021, 3, 1),
) -> list[list[Path]]:
    """Write each day's files under ``out_dir/invoices/<table>/``; return them grouped by day."""
    rng = random.Random(seed)
    skus: dict[str, tuple[str, str, str, str]] = {}
    for _ in range(12):
        cost = rng.uniform(2, 60)
        skus[isbn(rng)] = (rng.choice(ITEMS), "High-Performance", f"{cost:.8f}", f"{cost * rng.uniform(0.8, 2):.8f}")
    held_back = sorted(skus)[0]  # referenced by lines from day one, delivered on day two
    account_ids: list[int] = []
    next_invoice = 1
    days_out = []
    for day in range(days):
        date = start + dt.timedelta(days=day)
        files: dict[str, str] = {}
        accounts = []
        for n in range(accounts_per_day):
            account = len(account_ids) + 1
            account_ids.append(account)
            joined = dt.date(2016, 1, 1) + dt.timedelta(days=rng.randrange(1900))
            address = f"{rng.randint(1, 99999)} {rng.choice(['Crystal', 'Ramp', 'Landing'])} St\nTown {n}, AR 24780"
            accounts.append(
                [
                    account,
                    rng.choice(COMPANIES),
                    address,
                    rng.choice(PEOPLE),
                    f"001-470-{rng.randint(100, 999)}-0187",
                    rng.choice("MF"),
                    f"{joined.day}/{joined.month}/{joined.year}",
                ]
            )
        if day >= 1:  # an earlier account is renamed (same key, later delivery wins)
            renamed = list(accounts[0])
            renamed[0] = account_ids[0]
            renamed[1] = f"{renamed[1]} (renamed day {day})"
            accounts.append(renamed)
        files["accounts"] = to_csv(
            [
                "account_id",
                "company_name",
                "company_address",
                "contact_person",
                "contact_phone",
                "gender",
                "joining_date",
            ],
            accounts,
        )
        sku_rows = []
        if day == 0:
            sku_rows = [[item, *values] for item, values in sorted(skus.items()) if item != held_back]
        else:
            repriced = sorted(skus)[1 + day % (len(skus) - 1)]
            name, description, cost, retail = skus[repriced]
            skus[repriced] = (name, description, cost, f"{float(retail) * 1.1:.8f}")
            sku_rows.append([repriced, *skus[repriced]])
            if day == 1:
                sku_rows.append([held_back, *skus[held_back]])
        files["skus"] = to_csv(
            ["item_id", "item_name", "item_description", "item_cost_price", "item_retail_price"], sku_rows
        )
        invoices, lines = [], []
        invoiced = account_ids[: max(1, len(account_ids) - 2)]  # the newest accounts have no invoice yet
        for _ in range(invoices_per_day):
            issued = date - dt.timedelta(days=rng.randrange(0, 400))
            invoices.append([next_invoice, rng.choice(invoiced), issued.isoformat()])
            for item in rng.sample(sorted(skus), k=rng.randint(1, 4)):
                lines.append([next_invoice, item, rng.randint(1, 9)])
            next_invoice += 1
        files["invoices"] = to_csv(["invoice_id", "account_id", "date_issued"], invoices)
        files["invoice_line_items"] = to_csv(["invoice_id", "item_id", "quantity"], lines)
        paths = []
        for table in TABLES:
            path = out_dir / "invoices" / table / f"{table}_{date:%Y_%m_%d}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[table])
            paths.append(path)
        days_out.append(paths)
    return days_out
