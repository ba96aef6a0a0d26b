"""Telecom subscription extracts: one ``customer_subscription_YYYY_MM_DD.csv`` per day.

Same shape as the real files (``../shared/datasets/telecom``): header
``CustomerID,FirstName,LastName,PlanType,MonthlyCharge,SubscriptionDate``, integer charges, ISO
dates, no final newline. Later days also re-send some earlier customers with a changed plan, so
"latest file wins" is exercised.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

FIRST = [
    "Aaron",
    "Beatriz",
    "Chen",
    "Dara",
    "Elif",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kemi",
    "Luca",
    "Maya",
    "Nikolai",
    "Olga",
    "Priya",
    "Quentin",
    "Rosa",
    "Sami",
    "Tariq",
]
LAST = ["Smith", "Garcia", "Wang", "Okafor", "Yilmaz", "Haddad", "Kim", "Martin", "Silva", "Berg"]
PLANS = {"Postpaid": (45, 60), "Prepaid": (25, 35)}
HEADER = "CustomerID,FirstName,LastName,PlanType,MonthlyCharge,SubscriptionDate"


def generate(
    out_dir: Path, days: int = 3, rows_per_day: int = 20, seed: int = 7, start: dt.date = dt.date(2023, 8, 21)
) -> list[Path]:
    """Write ``days`` daily files under ``out_dir/telecom/`` and return their paths in arrival order."""
    rng = random.Random(seed)
    folder = out_dir / "telecom"
    folder.mkdir(parents=True, exist_ok=True)
    customers: list[int] = []
    paths = []
    for day in range(days):
        date = start + dt.timedelta(days=day)
        lines = [HEADER]
        resent = rng.sample(customers, k=min(len(customers), rows_per_day // 5)) if day else []
        fresh = [1000 + 100 * (day + 1) + i for i in range(1, rows_per_day - len(resent) + 1)]
        for customer in resent + fresh:
            plan = rng.choice(sorted(PLANS))
            low, high = PLANS[plan]
            since = dt.date(2022, 1, 1) + dt.timedelta(days=rng.randrange(600))
            lines.append(
                f"{customer},{rng.choice(FIRST)},{rng.choice(LAST)},{plan},{rng.randint(low, high)},{since.isoformat()}"
            )
        customers.extend(fresh)
        path = folder / f"customer_subscription_{date:%Y_%m_%d}.csv"
        path.write_text("\n".join(lines))  # the real files have no final newline either
        paths.append(path)
    return paths
